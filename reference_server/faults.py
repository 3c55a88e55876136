"""Fault modes: each breaks one rule of a correct response on purpose, selected by
``?fault=NAME`` (several, comma-separated, where they combine).

A fault names the requirement IDs the suite must fail for it; a benign variant (``trips``
empty) is a legal response a correct suite must pass. ``GET /faults`` lists them all, and
the self-tests run the suite against every one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .handling import Handling
from .plan import Frames, Plan

__all__ = ["Fault", "FAULTS", "STALL_SECONDS"]

# How long a stall lasts unless the client leaves first: longer than any test's timeout,
# short enough that a forgotten server frees itself.
STALL_SECONDS = 60.0


@dataclass(frozen=True)
class Fault:
    name: str
    breaks: str  # what it does, in one sentence
    trips: frozenset[str]  # the requirement IDs the suite must fail; empty for a benign variant
    apply: Callable[[Any], None]  # edits the Plan, or for stage "request" the Handling
    stage: str = "response"  # "request": applied before the request is validated

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "breaks": self.breaks, "trips": sorted(self.trips), "benign": not self.trips}


FAULTS: dict[str, Fault] = {}


def fault(name: str, breaks: str, *trips: str, stage: str = "response") -> Callable[[Callable[[Any], None]], Callable[[Any], None]]:
    def register(apply: Callable[[Any], None]) -> Callable[[Any], None]:
        if name in FAULTS:
            raise ValueError(f"fault {name} registered twice")
        FAULTS[name] = Fault(name, breaks, frozenset(trips), apply, stage)
        return apply

    return register


def _edit(plan: Plan, edit: Callable[[Frames], Frames]) -> None:
    plan.edits.append(edit)


# -- HTTP ------------------------------------------------------------------------------


@fault("content-type-json", "serves the stream as application/json", "HTTP-CONTENT-TYPE")
def _content_type_json(plan: Plan) -> None:
    plan.headers["content-type"] = "application/json"


# -- termination -----------------------------------------------------------------------


@fault("no-done", "never sends the [DONE] terminator", "DONE-PRESENT")
def _no_done(plan: Plan) -> None:
    plan.terminator = None


@fault("after-done", "sends one more chunk after the terminator", "DONE-LAST")
def _after_done(plan: Plan) -> None:
    extra = plan.encode_chunk({**plan.chunks[-1], "content": " (late)"})
    _edit(plan, lambda frames: frames + [extra])


# -- payload ---------------------------------------------------------------------------


@fault("invalid-json", "cuts the JSON of the second chunk short", "PAYLOAD-JSON")
def _invalid_json(plan: Plan) -> None:
    def cut(frames: Frames) -> Frames:
        broken = frames[1].rstrip(b"\r\n")[:-6] + plan.sep.encode() * 2
        return [frames[0], broken, *frames[2:]]

    _edit(plan, cut)


# -- delivery --------------------------------------------------------------------------


@fault("stall-mid", "stops sending after two events and keeps the connection open", "DELIVERY-IDLE")
def _stall_mid(plan: Plan) -> None:
    plan.stall_after = 2
    plan.stall_for = STALL_SECONDS


# -- requests and lifecycle: faults in how requests are handled ------------------------


@fault("accept-not-json", "streams an answer to a body that is not a JSON object", "REQUEST-NOT-JSON-4XX",
       stage="request")
def _accept_not_json(handling: Handling) -> None:
    handling.reject_bad_json = False


@fault("500-on-bad-json", "answers a body that is not JSON with 500", "REQUEST-BAD-NO-5XX", stage="request")
def _500_on_bad_json(handling: Handling) -> None:
    handling.bad_json_status = 500


@fault("lenient-schema", "streams an answer to a request that breaks the request schema", "REQUEST-SCHEMA-4XX",
       stage="request")
def _lenient_schema(handling: Handling) -> None:
    handling.validate_schema = False


@fault("any-content-type", "accepts a JSON body sent as text/plain", "REQUEST-SCHEMA-4XX", stage="request")
def _any_content_type(handling: Handling) -> None:
    handling.require_json_content_type = False


@fault("error-not-json", "sends error bodies as plain text", "REQUEST-ERROR-BODY", stage="request")
def _error_not_json(handling: Handling) -> None:
    handling.error_json = False


@fault("get-streams", "streams an answer to GET as to POST", "REQUEST-METHOD-405", stage="request")
def _get_streams(handling: Handling) -> None:
    handling.methods = ("GET", "POST")


@fault("405-no-allow", "refuses other methods with 405 but no Allow header", "REQUEST-METHOD-405", stage="request")
def _405_no_allow(handling: Handling) -> None:
    handling.allow_header = False


@fault("break-after-drop", "answers the request after a dropped stream with 500", "LIFECYCLE-DISCONNECT",
       stage="request")
def _break_after_drop(handling: Handling) -> None:
    handling.fail_after_drop = True


@fault("shared-id", "gives every response the same chunk id", "LIFECYCLE-CONCURRENT-IDS", stage="request")
def _shared_id(handling: Handling) -> None:
    handling.response_id = "msg_shared"


@fault("concurrent-drops-done", "omits the terminator while other streams are in flight", "LIFECYCLE-CONCURRENT")
def _concurrent_drops_done(plan: Plan) -> None:
    plan.omit_done_if_concurrent = True


@fault("non-ascii-request", "drops the terminator when the request holds a non-ASCII character", "REQUEST-ANY-VALID")
def _non_ascii_request(plan: Plan) -> None:
    if not json.dumps(plan.request, ensure_ascii=False).isascii():
        plan.terminator = None


# -- report safety ---------------------------------------------------------------------
# What a target sends ends up in the reports: these make sure it is shown as text, and that
# a credential it echoes back is redacted like the one the suite sent.

HOSTILE_MARKUP = """</td></tr></table><script>alert("sse")</script><img src=x onerror="alert('sse')"> & 'quoted'"""


@fault(
    "hostile-content",
    "streams markup, quotes, a NUL and a byte that is not UTF-8 (in chunks, a field name and a header)",
    "FRAME-UTF8",
    "PAYLOAD-JSON",
    "FRAME-KNOWN-FIELDS",
)
def _hostile_content(plan: Plan) -> None:
    plan.headers["x-hostile"] = HOSTILE_MARKUP  # a header value can hold anything but CR, LF and NUL
    sep = plan.sep.encode()

    def insert(frames: Frames) -> Frames:
        markup = plan.encode_chunk({**plan.chunks[0], "content": HOSTILE_MARKUP})
        raw = b'data: {"content": "' + HOSTILE_MARKUP.encode() + b'\x00\xff"}' + sep * 2
        field_line = b"<script>alert(1)</script>: x" + sep
        return [frames[0], markup, raw, field_line + frames[1], *frames[2:]]

    _edit(plan, insert)


@fault("echo-credentials", "echoes the request's Authorization in a header and in its last chunk (benign)")
def _echo_credentials(plan: Plan) -> None:
    echoed = plan.request_headers.get("authorization", "")
    plan.headers["x-echo-authorization"] = echoed
    plan.chunks[-1] = {**plan.chunks[-1], "content": f" (you sent {echoed})"}
