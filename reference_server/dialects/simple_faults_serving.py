"""The ``simple`` dialect's faults in how its stream is served: its timing (buffered, stalled,
endless, cut), how requests are handled (bad bodies, methods, a dropped client, concurrent
streams), and what of it reaches the reports (markup, an echoed credential)."""

from __future__ import annotations

import functools
import json

from ..faults import PACED, PATIENT, SHORT_STREAM, SMALL_LINE, STALL_SECONDS, Fault, edit
from ..faults import fault as _fault
from ..handling import Handling
from ..plan import Frames, Plan

__all__ = ["FAULTS", "HOSTILE_MARKUP"]

FAULTS: dict[str, Fault] = {}
fault = functools.partial(_fault, registry=FAULTS)


# -- delivery --------------------------------------------------------------------------


@fault("buffered", "holds the whole answer, then writes it in one piece at the end",
       "DELIVERY-INCREMENTAL", suite_args=PATIENT)
def _buffered(plan: Plan) -> None:
    plan.write = "once"


# A short answer, buffered: below DELIVERY-INCREMENTAL's 1 s span, judged by what else it shows.
SHORT_HOLD = 0.4  # s: longer than the rule's 0.25 s of silence before a burst


@fault("gzip-unflushed", "compresses the stream without flushing after each event (as Starlette's "
       "GZipMiddleware did before 1.5): every event arrives at the end, 0.4 s after the headers",
       "DELIVERY-INCREMENTAL", "HTTP-NO-CONTENT-ENCODING")
def _gzip_unflushed(plan: Plan) -> None:
    plan.encoding, plan.flush = "gzip", False
    plan.delay = max(plan.delay, SHORT_HOLD / len(plan.chunks))


@fault("buffered-short", "holds a short answer 0.4 s after the headers, then writes it in one piece",
       "DELIVERY-INCREMENTAL")
def _buffered_short(plan: Plan) -> None:
    plan.write, plan.hold = "once", SHORT_HOLD


@fault("whole-body", "builds the whole body, then sends it with its headers and a Content-Length (a plain "
       "Response, not a streaming one)", "DELIVERY-INCREMENTAL", "HTTP-NO-CONTENT-LENGTH")
def _whole_body(plan: Plan) -> None:
    plan.stall_before_headers = 0.2  # the time the answer takes to generate
    plan.write, plan.hold, plan.content_length = "once", 0.0, True


@fault("stall-before-headers", "sends nothing at all, not even the status line", "HTTP-STATUS")
def _stall_before_headers(plan: Plan) -> None:
    plan.stall_before_headers = STALL_SECONDS


@fault("stall-after-headers", "sends the headers, then nothing, and keeps the connection open", "DELIVERY-IDLE")
def _stall_after_headers(plan: Plan) -> None:
    plan.stall_after = 0
    plan.stall_for = STALL_SECONDS


@fault("stall-mid", "stops sending after two events and keeps the connection open", "DELIVERY-IDLE")
def _stall_mid(plan: Plan) -> None:
    plan.stall_after = 2
    plan.stall_for = STALL_SECONDS


@fault("endless", "never ends: chunk after chunk, no terminator", "DELIVERY-DURATION", suite_args=SHORT_STREAM)
def _endless(plan: Plan) -> None:
    plan.endless = True


@fault("huge-line", "sends one huge line with no line ending (4 MiB, or ?size=BYTES)", "DELIVERY-LIMITS",
       suite_args=SMALL_LINE)
def _huge_line(plan: Plan) -> None:
    plan.huge_line = True


@fault("trickle", "writes one byte at a time, slowly, never quite silent", "DELIVERY-DURATION",
       suite_args=SHORT_STREAM)
def _trickle(plan: Plan) -> None:
    plan.write = "trickle"


@fault("reset-mid-stream", "resets the connection (TCP RST) after three events", "HTTP-COMPLETE", raw=True)
def _reset_mid_stream(plan: Plan) -> None:
    plan.reset_after = 3


@fault("chunked-cut", "sends [DONE] in a chunked body, then closes the connection without the last chunk",
       "HTTP-COMPLETE", raw=True)
def _chunked_cut(plan: Plan) -> None:
    plan.headers["transfer-encoding"] = "chunked"
    plan.unfinished = True


@fault("length-short", "promises 64 bytes more in its Content-Length than it sends, [DONE] included",
       "HTTP-COMPLETE", "HTTP-NO-CONTENT-LENGTH", raw=True)
def _length_short(plan: Plan) -> None:
    plan.content_length, plan.length_extra = True, 64
    plan.delay = max(plan.delay, PACED)


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


@fault("break-after-drop", "answers the next request like a dropped stream's with 500 (as a cache the drop "
       "poisoned would)", "LIFECYCLE-DISCONNECT",
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

    edit(plan, insert)


@fault("echo-credentials", "echoes the request's Authorization in a header and in its last chunk (benign)")
def _echo_credentials(plan: Plan) -> None:
    echoed = plan.request_headers.get("authorization", "")
    plan.headers["x-echo-authorization"] = echoed
    plan.chunks[-1] = {**plan.chunks[-1], "content": f" (you sent {echoed})"}
