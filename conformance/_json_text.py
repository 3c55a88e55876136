"""A chunk's JSON text read by RFC 8259, as a JavaScript client reads it.

Python's ``json`` is more lenient than ``JSON.parse`` (it reads NaN and Infinity) and
stricter in one (by default it refuses integers of more than 4300 digits): ``json_loads`` closes
both gaps and refuses a value nested too deep to judge safely. It runs once per event, so
the usual chunk takes the C scanner's fast path.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["MAX_JSON_DEPTH", "json_loads"]


class _NotJsonConstant(ValueError):
    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.token = token


def _refuse_constant(token: str) -> Any:
    # Python's json reads NaN, Infinity and -Infinity; RFC 8259 has no such values, and
    # JavaScript's JSON.parse throws on them. The scanner calls this only for those three
    # tokens, so refusing them costs the usual chunk nothing.
    raise _NotJsonConstant(token)


def _big_int(digits: str) -> int | float:
    # RFC 8259 sets no limit on a number's digits; Python refuses to convert more than
    # sys.get_int_max_str_digits() (4300) of them, where JavaScript reads a Number. Read
    # as JavaScript does, so a long integer is judged, not refused.
    try:
        return int(digits)
    except ValueError:
        return float(digits)


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
_BIG_INT_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_int=_big_int)
_scan_json = _DECODER.scan_once  # the C scanner json.loads runs, without its wrapping
# A JSON string, or one of the tokens Python takes for a number and RFC 8259 does not.
_CONSTANT_OR_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)', re.DOTALL)


# Deeper than any API's chunk, and far below Python's recursion limit, which the checks'
# own recursion (schema validation, messages quoting the value) must not reach either.
MAX_JSON_DEPTH = 100


def _json_depth(text: str) -> int:
    """How deep arrays and objects nest in a JSON text (strings skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _constant_error(text: str, token: str) -> ValueError:
    where = next((m.start(1) for m in _CONSTANT_OR_STRING.finditer(text) if m.group(1) is not None), None)
    at = f" at character {where}" if where is not None else ""
    return ValueError(f"{token}{at}: RFC 8259 has no NaN or Infinity (JavaScript's JSON.parse throws on it; "
                      "Python's json.loads reads it)")


def json_loads(text: str) -> Any:
    """The JSON value of ``text`` by RFC 8259, as a JavaScript client reads it: what
    ``json.loads(text)`` returns, except that NaN, Infinity and -Infinity are refused and
    an integer longer than Python converts is read as a float. The usual chunk, a JSON
    value with no whitespace around it, takes the C scanner's fast path; anything else is
    left to the decoder, for its verdict and its message. A value nested deeper than
    MAX_JSON_DEPTH is refused as ValueError."""
    # Counting brackets is fast; only a text with that many is measured exactly.
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _json_depth(text) > MAX_JSON_DEPTH:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels: too deep to judge safely")
    try:
        try:
            value, end = _scan_json(text, 0)
            if end == len(text):
                return value
        except _NotJsonConstant:
            raise
        except (StopIteration, ValueError):
            pass
        if text.startswith("\ufeff"):
            return json.loads(text)  # refused, with json.loads's own message (JSON.parse refuses it too)
        try:
            return _DECODER.decode(text)
        except ValueError as exc:
            if "integer string conversion" not in str(exc):
                raise
        return _BIG_INT_DECODER.decode(text)
    except _NotJsonConstant as exc:
        raise _constant_error(text, exc.token) from None
