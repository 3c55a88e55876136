"""What the checks of the canonical exchange share: their sources, how they quote what
arrived, and the helpers more than one area needs. The checks themselves, one class per
requirement, are in ``_checks_http.py``, ``_checks_frame.py``, ``_checks_done.py``,
``_checks_delivery.py`` and ``_checks_events.py``, registered in that (the catalogue's) order.

Each failure message says what was expected, what arrived, and where; near misses (a
terminator that is almost right, NDJSON served as an event stream, events run together)
are named, because they are what an engineer fixing the endpoint needs to hear.
"""

from __future__ import annotations

import json

from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator

from ._model import Level
from ._rules import BROKEN, CUT_BY, VIOLATIONS_KEPT, Rule
from ._transcript import Chunk, Transcript

MUST, SHOULD = Level.MUST, Level.SHOULD

WHATWG = "https://html.spec.whatwg.org/multipage/server-sent-events.html"
SSE_PARSING = "WHATWG HTML 9.2.6 Interpreting an event stream"
SSE_PARSING_URL = f"{WHATWG}#event-stream-interpretation"
SSE_FORMAT = "WHATWG HTML 9.2.5 Parsing an event stream"
SSE_FORMAT_URL = f"{WHATWG}#parsing-an-event-stream"
SSE_AUTHORING = "WHATWG HTML 9.2.7 Authoring notes"
SSE_AUTHORING_URL = f"{WHATWG}#authoring-notes"
SSE_PROCESSING = "WHATWG HTML 9.2.3 Processing model"
SSE_PROCESSING_URL = f"{WHATWG}#sse-processing-model"
RFC9111 = "https://www.rfc-editor.org/rfc/rfc9111#section-5.2.2"
RFC9110_CODING = "https://www.rfc-editor.org/rfc/rfc9110#section-8.4"
PROTOCOL = "protocol document, streaming response"
SUITE = "sse-conformance limits"

PREVIEW = 80


def preview(text: str | bytes, limit: int = PREVIEW) -> str:
    """A short, single-line rendering of untrusted text, for messages."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    shown = repr(text[:limit])
    return shown + ("..." if len(text) > limit else "")


def _media_params(value: str) -> dict[str, str]:
    params = {}
    for part in value.split(";")[1:]:
        name, _, val = part.partition("=")
        params[name.strip().lower()] = val.strip().strip('"')
    return params


def content_codings(t: Transcript) -> list[str]:
    """The content codings applied to the body, from every Content-Encoding field line."""
    codings = [c.strip() for v in t.header_values("content-encoding") for c in v.split(",")]
    return [c for c in codings if c and c.lower() != "identity"]


# -- shared by the checks of the payload, its end and the dialects ----------------------


def near_miss(data: str, terminator: str | None) -> str | None:
    """Why an event's data, not the terminator, was surely meant to be it; None if not.

    Such an event is reported once, by DONE-PRESENT: the payload checks pass over it.
    """
    # Every near miss holds the terminator: most events are ruled out by one search.
    if terminator is None or data == terminator or terminator not in data:
        return None
    if data.strip() == terminator:
        return f"whitespace around {terminator}"
    if data == json.dumps(terminator):
        return f"{terminator} as a quoted JSON string"
    if data.startswith("data:") and data[5:].strip() == terminator:
        return "the 'data:' prefix written twice"
    return None


# Endings that cut the stream short, and the requirement that reports each: the suite's
# limits, or a response the server broke off (one root cause, reported once).
ENDED_EARLY = {**CUT_BY, **BROKEN}


def _cut_blocker(rule_: Rule, t: Transcript) -> bool:
    """Block a rule about the stream's end when it was cut short before the terminator."""
    if t.terminators == 0 and t.ending.kind in ENDED_EARLY:
        rule_.block(ENDED_EARLY[t.ending.kind], t.ending.detail)
        return True
    return False


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def check_schema(rule_: Rule, chunk: Chunk, validator: Validator, what: str = "") -> None:
    """Fail ``rule_`` at ``chunk`` unless its JSON matches the schema, naming the one error
    a person should read first (jsonschema's best_match) and where it is."""
    if validator.is_valid(chunk.value):
        return
    if rule_.count >= VIOLATIONS_KEPT:  # past what is kept, count without computing the message
        rule_.count += 1
        return
    error = best_match(validator.iter_errors(chunk.value))
    rule_.fail_at(
        chunk,
        f"{what}event {chunk.event.index} at {error.json_path}: {error.message}",
        expected=f"{error.validator} {preview(json.dumps(error.validator_value), 60)}",
        received=preview(json.dumps(error.instance), 60),
    )
