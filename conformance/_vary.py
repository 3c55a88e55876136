"""Drawn requests: the canonical request, varied where a client legitimately varies it.

A profile names those places in ``profile.toml``'s ``[requests.vary]``: JSON paths into the
request body (``prompt``; ``messages[*].content``, every message's content;
``stream_options.include_usage``), each with a schema that narrows what is drawn there
(``{}`` takes the request schema's subschema at the path as it is). Everything else (the
model, token limits, vendor fields the user put in the request) stays exactly as the
canonical request has it: a real endpoint serves only the models it knows, and a request
naming another is refused, rightly.

Each drawn value comes from hypothesis-jsonschema, from the request schema's subschema at its
path and the narrowing schema together. Only what the canonical request holds is varied: a
place it leaves out stays out. A varied request the request schema rejects as a whole is never
drawn: it is not a valid request.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

__all__ = ["VaryPath", "subschema", "varied_requests", "WILDCARD"]

WILDCARD = "*"
_STEP = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)((?:\[(?:\d+|\*)\])*)")


class VaryPath:
    """A JSON path whose list steps may be ``[*]``: every item of the list there."""

    def __init__(self, text: str) -> None:
        steps: list[str | int] = []
        for part in text.split("."):
            match = _STEP.fullmatch(part)
            if match is None:
                raise ValueError(f"{text!r} is not a path like 'messages[*].content'")
            steps.append(match.group(1))
            steps.extend(WILDCARD if i == WILDCARD else int(i) for i in re.findall(r"\[(\d+|\*)\]", match.group(2)))
        self.text = text
        self.steps = tuple(steps)

    def places(self, body: Any) -> Iterator[tuple[str | int, ...]]:
        """The concrete paths this one names in ``body``, a wildcard expanded over the lists
        there. Only what the canonical request holds is varied: a field it leaves out stays
        out (a server that does not know ``stream_options`` refuses it, rightly), and so does
        a part that holds other data than the field named (Gemini's inline data)."""

        def walk(value: Any, done: tuple[str | int, ...], rest: tuple[str | int, ...]) -> Iterator[Any]:
            if not rest:
                yield done
                return
            step, rest = rest[0], rest[1:]
            if isinstance(step, str) and step != WILDCARD:
                if isinstance(value, dict) and step in value:
                    yield from walk(value[step], (*done, step), rest)
            elif isinstance(value, list):
                indexes = range(len(value)) if step == WILDCARD else [step] if step < len(value) else []
                for i in indexes:
                    yield from walk(value[i], (*done, i), rest)

        yield from walk(body, (), self.steps)

    def __str__(self) -> str:
        return self.text


def _resolve(schema: Any, root: dict[str, Any]) -> Any:
    """A schema with its own local ``$ref`` (``#/$defs/x``) followed."""
    seen = 0
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#/"):
        target: Any = root
        for part in schema["$ref"][2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, dict) else None
        if target is None or (seen := seen + 1) > 32:
            return None
        schema = target
    return schema


def _step(schema: Any, step: str | int, root: dict[str, Any]) -> list[Any]:
    """The subschemas that constrain ``step`` under ``schema`` (several through allOf)."""
    schema = _resolve(schema, root)
    if not isinstance(schema, dict):
        return []
    found = []
    for member in schema.get("allOf", []):
        found += _step(member, step, root)
    if isinstance(step, str) and step != WILDCARD:
        if isinstance(schema.get("properties"), dict) and step in schema["properties"]:
            found.append(schema["properties"][step])
    else:
        prefix = schema.get("prefixItems")
        if isinstance(step, int) and isinstance(prefix, list) and step < len(prefix):
            found.append(prefix[step])
        elif isinstance(schema.get("items"), dict):
            found.append(schema["items"])
    return found


def subschema(root: dict[str, Any], path: VaryPath) -> dict[str, Any] | None:
    """The request schema's subschema at ``path``, or None if the schema does not name it."""
    level: list[Any] = [root]
    for step in path.steps:
        level = [sub for schema in level for sub in _step(schema, step, root)]
        if not level:
            return None
    found: dict[str, Any] = level[0] if len(level) == 1 else {"allOf": level}
    # A $ref left inside resolves against the root's definitions, carried along.
    defs = {k: root[k] for k in ("$defs", "definitions") if k in root}
    return {**defs, **found} if isinstance(found, dict) else None


def _set(body: Any, place: tuple[str | int, ...], value: Any) -> None:
    for step in place[:-1]:
        body = body[step]
    body[place[-1]] = value


def varied_requests(request_schema: dict[str, Any], vary: dict[str, dict[str, Any]], canonical: dict[str, Any],
                    is_valid: Any) -> Any:
    """A Hypothesis strategy of request bodies: ``canonical`` with every place ``vary``
    names drawn anew. None when the canonical request has no such place."""
    from hypothesis import strategies as st  # imported on use: Hypothesis is slow to import
    from hypothesis_jsonschema import from_schema

    plan = []
    for text, narrowing in vary.items():
        path = VaryPath(text)
        sub = subschema(request_schema, path)
        assert sub is not None, text  # checked when the profile was loaded
        # codec=None: hypothesis-jsonschema's default, codec="utf-8", has Hypothesis list every
        # code point UTF-8 encodes, once per storage directory, at a peak of some 200 MiB. Drawn
        # text with a lone surrogate (rare) is left out below instead.
        values = from_schema({"allOf": [sub, narrowing]} if narrowing else sub, codec=None)
        for place in path.places(canonical):
            plan.append((place, values))
    if not plan:
        return None

    @st.composite
    def bodies(draw: Any) -> dict[str, Any]:
        body = copy.deepcopy(canonical)
        for place, values in plan:
            _set(body, place, draw(values))
        return body

    return bodies().filter(lambda body: _utf8(body) and is_valid(body))


def _utf8(body: Any) -> bool:
    """Whether the body can be sent as UTF-8 JSON (no lone surrogate in its text)."""
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
