"""Helpers shared by the rule sets of the dialects (``openai_chat``, ``anthropic_messages``,
``openai_responses``, ``gemini``)."""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from typing import Any

from .._checks import PREVIEW, preview
from .._rules import Rule
from .._transcript import Chunk

__all__ = ["location", "Fragments", "TRACKED", "MAX_ARGUMENTS", "MAX_ARGUMENTS_TOTAL", "stable_fields", "FirstEvent"]

# How many choices, content blocks or tool calls a rule follows in one stream. Real
# responses have a handful; the cap keeps a hostile stream from growing the suite's memory.
TRACKED = 256

_JSON_TYPES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}


def location(chunk: Chunk) -> dict[str, Any]:
    """Where an event is, as ``Rule.fail`` takes it, to report it after the event is gone."""
    ev = chunk.event
    return {"offset": ev.offset, "end": ev.end, "event": ev.index, "time": ev.time}


# How many bytes of fragments are kept to be joined: per tool call, and for all the calls of
# a stream together. Real arguments are a few kilobytes; without a bound, a target streaming
# fragments for as long as --sse-max-body allows would grow the suite's memory by as much.
# Past a bound a call's fragments are dropped, and it is failed as not joined.
MAX_ARGUMENTS = 1 << 20  # 1 MiB per call
MAX_ARGUMENTS_TOTAL = 8 << 20  # 8 MiB in all


@dataclass(frozen=True)
class TooLong:
    """What a key joins to when its pieces passed a bound and were dropped."""

    reason: str


def _size(piece: str) -> int:
    return len(piece.encode("utf-8", "surrogatepass"))  # a JSON escape can make a lone surrogate


class Fragments:
    """JSON texts streamed in pieces (tool-call arguments), joined per key, each with the
    place of its first piece; bounded in size (MAX_ARGUMENTS, MAX_ARGUMENTS_TOTAL)."""

    def __init__(self) -> None:
        self._parts: dict[Hashable, list[str]] = {}
        self._where: dict[Hashable, dict[str, Any]] = {}
        self._sizes: dict[Hashable, int] = {}
        self._too_long: dict[Hashable, TooLong] = {}
        self._total = 0

    def __bool__(self) -> bool:
        return bool(self._parts)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._parts

    def open(self, key: Hashable, chunk: Chunk) -> None:
        if key not in self._parts and len(self._parts) < TRACKED:
            self._parts[key] = []
            self._where[key] = location(chunk)
            self._sizes[key] = 0

    def add(self, key: Hashable, piece: str, chunk: Chunk) -> None:
        self.open(key, chunk)
        if key not in self._parts or key in self._too_long:
            return
        size = _size(piece)
        if self._sizes[key] + size > MAX_ARGUMENTS:
            self._drop(key, f"longer than {MAX_ARGUMENTS} bytes")
        elif self._total + size > MAX_ARGUMENTS_TOTAL:
            self._drop(key, f"past {MAX_ARGUMENTS_TOTAL} bytes of fragments in the stream")
        else:
            self._parts[key].append(piece)
            self._sizes[key] += size
            self._total += size

    def _drop(self, key: Hashable, reason: str) -> None:
        self._too_long[key] = TooLong(reason)
        self._total -= self._sizes[key]
        self._parts[key], self._sizes[key] = [], 0

    def pop(self, key: Hashable) -> tuple[str | TooLong, dict[str, Any]] | None:
        if key not in self._parts:
            return None
        self._total -= self._sizes.pop(key)
        text = "".join(self._parts.pop(key))
        return self._too_long.pop(key, text), self._where.pop(key)

    def drain(self) -> Iterator[tuple[Hashable, str | TooLong, dict[str, Any]]]:
        for key in list(self._parts):
            text, where = self.pop(key)  # type: ignore[misc]
            yield key, text, where

    @staticmethod
    def judge(rule: Rule, what: str, text: str | TooLong, where: dict[str, Any], *, empty_ok: bool = False) -> None:
        """Fail ``rule`` unless the joined text is a JSON object."""
        if isinstance(text, TooLong):
            rule.fail(f"{what}: the fragments are {text.reason}: not joined",
                      expected=f"a JSON object of at most {MAX_ARGUMENTS} bytes (the suite's bound)",
                      received=f"fragments {text.reason}", **where)
            return
        if empty_ok and text == "":
            return
        try:
            value = json.loads(text)
        except RecursionError:  # valid JSON perhaps, nested deeper than Python recurses
            problem = "which is nested too deeply to read (RecursionError)"
        except ValueError as exc:
            problem = f"which is not JSON ({exc})"
        else:
            if isinstance(value, dict):
                return
            problem = f"a JSON {_JSON_TYPES.get(type(value), 'value')}, not an object"
        rule.fail(f"{what}: the fragments join to {preview(text)}, {problem}",
                  expected="a JSON object", received=preview(text), **where)


def stable_fields(rule: Rule, chunk: Chunk, value: dict[str, Any], names: tuple[str, ...],
                  first: dict[str, tuple[Any, int]], whole: str) -> None:
    """Fail ``rule`` where a field of ``names`` differs from its value in the first chunk that
    had it (kept in ``first``: name -> value, event); ``whole`` names what the chunks make up."""
    for name in names:
        if name not in value:
            continue
        now = value[name]
        if name not in first:
            first[name] = (now, chunk.event.index)
        elif now != first[name][0]:
            was, where = first[name]
            rule.fail_at(
                chunk,
                f"{name!r} changed from {preview(json.dumps(was))} (event {where}) to {preview(json.dumps(now))} "
                f"in event {chunk.event.index}: every chunk of one {whole} carries the same {name}",
                expected=json.dumps(was)[:PREVIEW],
                received=json.dumps(now)[:PREVIEW],
            )


class FirstEvent:
    """A rule's state for "the first event is ``kind``, and it comes once"; ``without`` says
    what a client lacks when it is not first."""

    def __init__(self, kind: str, without: str) -> None:
        self.kind, self.without = kind, without
        self.first: int | None = None  # the first event's number
        self.seen: int | None = None  # the event of the first ``kind``

    def see(self, rule: Rule, chunk: Chunk, kind: str) -> None:
        index = chunk.event.index
        if self.first is None:
            self.first = index
            if kind != self.kind:
                rule.fail_at(chunk, f"the first event is {preview(kind)}, not {self.kind}: {self.without}",
                             expected=self.kind, received=kind[:PREVIEW])
        if kind != self.kind:
            return
        if self.seen is not None:
            rule.fail_at(chunk, f"a second {self.kind} in event {index} (the first: event {self.seen})",
                         expected=f"one {self.kind}", received="another")
        else:
            self.seen = index
