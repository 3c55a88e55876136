"""Helpers shared by the rule sets of the dialects (``_checks_openai``, ``_checks_anthropic``)."""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterator
from typing import Any

from ._checks import preview
from ._rules import Rule
from ._transcript import Chunk

__all__ = ["location", "Fragments", "TRACKED"]

# How many choices, content blocks or tool calls a rule follows in one stream. Real
# responses have a handful; the cap keeps a hostile stream from growing the suite's memory.
TRACKED = 256

_JSON_TYPES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}


def location(chunk: Chunk) -> dict[str, Any]:
    """Where an event is, as ``Rule.fail`` takes it, to report it after the event is gone."""
    ev = chunk.event
    return {"offset": ev.offset, "end": ev.end, "event": ev.index, "time": ev.time}


class Fragments:
    """JSON texts streamed in pieces (tool-call arguments), joined per key, each with the
    place of its first piece."""

    def __init__(self) -> None:
        self._parts: dict[Hashable, list[str]] = {}
        self._where: dict[Hashable, dict[str, Any]] = {}

    def __bool__(self) -> bool:
        return bool(self._parts)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._parts

    def open(self, key: Hashable, chunk: Chunk) -> None:
        if key not in self._parts and len(self._parts) < TRACKED:
            self._parts[key] = []
            self._where[key] = location(chunk)

    def add(self, key: Hashable, piece: str, chunk: Chunk) -> None:
        self.open(key, chunk)
        if key in self._parts:
            self._parts[key].append(piece)

    def pop(self, key: Hashable) -> tuple[str, dict[str, Any]] | None:
        if key not in self._parts:
            return None
        return "".join(self._parts.pop(key)), self._where.pop(key)

    def drain(self) -> Iterator[tuple[Hashable, str, dict[str, Any]]]:
        for key in list(self._parts):
            text, where = self.pop(key)  # type: ignore[misc]
            yield key, text, where

    @staticmethod
    def judge(rule: Rule, what: str, text: str, where: dict[str, Any], *, empty_ok: bool = False) -> None:
        """Fail ``rule`` unless the joined text is a JSON object."""
        if empty_ok and text == "":
            return
        try:
            value = json.loads(text)
        except ValueError as exc:
            problem = f"which is not JSON ({exc})"
        else:
            if isinstance(value, dict):
                return
            problem = f"a JSON {_JSON_TYPES.get(type(value), 'value')}, not an object"
        rule.fail(f"{what}: the fragments join to {preview(text)}, {problem}",
                  expected="a JSON object", received=preview(text), **where)
