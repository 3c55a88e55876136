"""Fault modes: each breaks one rule of a correct response on purpose, selected by
``?fault=NAME`` (several, comma-separated, where they combine).

A fault names the requirement IDs the suite must fail for it; a benign variant (``trips``
empty) is a legal response a correct suite must pass. Each is a small function that
changes one thing in the :class:`Plan`. ``GET /faults`` lists them all, and the
self-tests run the suite against every one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .handling import Handling
from .plan import Frames, Plan, Refusal

__all__ = ["Fault", "FAULTS", "STALL_SECONDS", "FRAMING", "share_framing"]

# How long a stall lasts unless the client leaves first: longer than any test's timeout,
# short enough that a forgotten server frees itself.
STALL_SECONDS = 60.0

# Seconds between the events of a paced stream: they reach the client as separate reads even
# when the client lags, so a Content-Length alone does not make it look buffered.
PACED = 0.03

# Suite options some faults need to be judged quickly and exactly. Without them the suite
# would still fail them, only later (after its 30 s or 300 s defaults) or for a bigger limit.
SHORT_STREAM = ("--sse-stream-timeout", "1")  # an endless stream or a trickle is cut after 1 s
PATIENT = ("--sse-timeout", "3")  # a buffered stream is silent for writer.BUFFER_SECONDS (1.2 s) first
SMALL_LINE = ("--sse-max-line", "64KiB")  # a huge line is cut at 64 KiB, not at the default 1 MiB
# A slow stream is judged on the canonical exchange alone: each of the suite's own requests
# (drawn, dropped, concurrent) would take as long again and show nothing new.
CANONICAL_ONLY = ("--sse-examples", "0", "--sse-disconnects", "0", "--sse-concurrency", "0")


@dataclass(frozen=True)
class Fault:
    name: str
    breaks: str  # what it does, in one sentence
    trips: frozenset[str]  # the requirement IDs the suite must fail; empty for a benign variant
    apply: Callable[[Any], None]  # edits the Plan, or for stage "request" the Handling
    stage: str = "response"  # "request": applied before the request is validated
    raw: bool = False  # served only by the byte-exact listener (raw.py): uvicorn cannot send it
    suite_args: tuple[str, ...] = ()  # suite options that judge it quickly (see SHORT_STREAM ...)
    not_judged: bool = False  # the suite cannot judge the endpoint at all: its verdict is NOT JUDGED

    @property
    def verdict(self) -> str:
        """The run's verdict the suite must reach, as the JSON report names it."""
        return "not-judged" if self.not_judged else "does-not-conform" if self.trips else "conforms"

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "breaks": self.breaks,
            "trips": sorted(self.trips),
            "benign": self.verdict == "conforms",
            "verdict": self.verdict,
            "listener": "raw" if self.raw else "main",
            "suite_args": list(self.suite_args),
        }


FAULTS: dict[str, Fault] = {}


def fault(
    name: str,
    breaks: str,
    *trips: str,
    stage: str = "response",
    raw: bool = False,
    suite_args: tuple[str, ...] = (),
    registry: dict[str, Fault] = FAULTS,
    not_judged: bool = False,
) -> Callable[[Callable[[Any], None]], Callable[[Any], None]]:
    """Register a fault in ``registry``: FAULTS (the simple profile's) unless a dialect names its own."""

    def register(apply: Callable[[Any], None]) -> Callable[[Any], None]:
        if name in registry:
            raise ValueError(f"fault {name} registered twice")
        registry[name] = Fault(name, breaks, frozenset(trips), apply, stage, raw, suite_args, not_judged)
        return apply

    return register


def variant(
    name: str, breaks: str, raw: bool = False, suite_args: tuple[str, ...] = ()
) -> Callable[[Callable[[Plan], None]], Callable[[Plan], None]]:
    """A benign variant: a legal response the suite must pass (it trips nothing)."""
    return fault(name, breaks, raw=raw, suite_args=suite_args)


def _edit(plan: Plan, edit: Callable[[Frames], Frames]) -> None:
    plan.edits.append(edit)


def _each_line(plan: Plan, frames: Frames, change: Callable[[bytes], bytes]) -> Frames:
    """Apply ``change`` to every line of every frame (the blank lines included)."""
    sep = plan.sep.encode()
    return [sep.join(change(line) for line in frame.split(sep)) for frame in frames]


# -- HTTP ------------------------------------------------------------------------------


@fault("content-type-json", "serves the stream as application/json", "HTTP-CONTENT-TYPE")
def _content_type_json(plan: Plan) -> None:
    plan.headers["content-type"] = "application/json"


@fault("content-type-text", "serves the stream as text/plain", "HTTP-CONTENT-TYPE")
def _content_type_text(plan: Plan) -> None:
    plan.headers["content-type"] = "text/plain; charset=utf-8"


@fault("no-content-type", "sends no Content-Type header", "HTTP-CONTENT-TYPE")
def _no_content_type(plan: Plan) -> None:
    del plan.headers["content-type"]


@fault("content-type-twice", "sends two Content-Type fields, text/event-stream and then application/json",
       "HTTP-CONTENT-TYPE")
def _content_type_twice(plan: Plan) -> None:
    plan.more_headers.append(("content-type", "application/json"))


@fault("content-type-json-first", "sends two Content-Type fields, application/json and then text/event-stream",
       "HTTP-CONTENT-TYPE")
def _content_type_json_first(plan: Plan) -> None:
    plan.headers["content-type"] = "application/json"
    plan.more_headers.append(("content-type", "text/event-stream"))


@fault("status-500", "answers 500 with a well-formed event stream as its body", "HTTP-STATUS")
def _status_500(plan: Plan) -> None:
    plan.status = 500


@fault("status-204", "answers 204 No Content, with no body", "HTTP-STATUS")
def _status_204(plan: Plan) -> None:
    plan.status = 204


@fault("post-405", "refuses the POST with 405 Method Not Allowed and a JSON error", "HTTP-STATUS")
def _post_405(plan: Plan) -> None:
    plan.refusal = Refusal(405, "use GET for this endpoint", {"allow": "GET"})


@fault("json-error-200", "answers a JSON error body (application/json) with status 200", "HTTP-CONTENT-TYPE")
def _json_error_200(plan: Plan) -> None:
    plan.refusal = Refusal(200, "the model is overloaded, try again later")


HTML_ERROR_PAGE = (
    "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n"
    "<center><h1>502 Bad Gateway</h1></center>\n<hr><center>nginx</center>\n</body>\n</html>\n"
).encode()


@fault(
    "html-error-page",
    "sends a proxy's HTML error page as the body, with status 200 and text/event-stream",
    "PAYLOAD-CHUNKS",
    "DONE-PRESENT",
    "FRAME-KNOWN-FIELDS",
)
def _html_error_page(plan: Plan) -> None:
    _edit(plan, lambda frames: [HTML_ERROR_PAGE])


@fault("gzip", "compresses the stream (Content-Encoding: gzip, flushed after every write)",
       "HTTP-NO-CONTENT-ENCODING")
def _gzip(plan: Plan) -> None:
    plan.encoding = "gzip"


@fault("gzip-two-fields", "compresses the stream and names the coding in two Content-Encoding fields, "
       "'identity' and then 'gzip' (a list field: clients must read both)", "HTTP-NO-CONTENT-ENCODING")
def _gzip_two_fields(plan: Plan) -> None:
    plan.encoding = "gzip"
    plan.more_headers.append(("content-encoding", "gzip"))
    plan.headers["content-encoding"] = "identity"


@fault("no-cache-control", "sends no Cache-Control header", "HTTP-CACHE-CONTROL")
def _no_cache_control(plan: Plan) -> None:
    del plan.headers["cache-control"]


@fault("charset-latin1", "declares charset=iso-8859-1 (the bytes stay UTF-8)", "HTTP-CHARSET")
def _charset_latin1(plan: Plan) -> None:
    plan.headers["content-type"] = "text/event-stream; charset=iso-8859-1"


@fault("content-length", "sends a Content-Length: the body's length is fixed before its first byte",
       "HTTP-NO-CONTENT-LENGTH")
def _content_length(plan: Plan) -> None:
    plan.content_length = True
    plan.delay = max(plan.delay, PACED)


# -- termination -----------------------------------------------------------------------


@fault("no-done", "never sends the [DONE] terminator", "DONE-PRESENT")
def _no_done(plan: Plan) -> None:
    plan.terminator = None


@fault("no-chunks", "sends the terminator and no chunk before it", "PAYLOAD-CHUNKS")
def _no_chunks(plan: Plan) -> None:
    plan.chunks = []


@fault(
    "done-unterminated",
    "ends the body right after 'data: [DONE]', with no blank line to dispatch it",
    "DONE-PRESENT",
    "FRAME-TERMINATED",
)
def _done_unterminated(plan: Plan) -> None:
    _edit(plan, lambda frames: [*frames[:-1], frames[-1][: -len(plan.sep)]])


@fault("done-twice", "sends the terminator twice", "DONE-ONCE")
def _done_twice(plan: Plan) -> None:
    _edit(plan, lambda frames: frames + frames[-1:])


@fault("after-done", "sends one more chunk after the terminator", "DONE-LAST")
def _after_done(plan: Plan) -> None:
    extra = plan.encode_chunk({**plan.chunks[-1], "content": " (late)"})
    _edit(plan, lambda frames: frames + [extra])


@fault("done-data-prefix", "writes the terminator as 'data: data: [DONE]'", "DONE-PRESENT")
def _done_data_prefix(plan: Plan) -> None:
    plan.terminator = "data: [DONE]"


@fault("done-trailing-space", "writes the terminator as '[DONE] ', with a trailing space", "DONE-PRESENT")
def _done_trailing_space(plan: Plan) -> None:
    plan.terminator = "[DONE] "


@fault("done-quoted", "writes the terminator as the JSON string '\"[DONE]\"'", "DONE-PRESENT")
def _done_quoted(plan: Plan) -> None:
    plan.terminator = '"[DONE]"'


@fault("done-linger", "keeps the response open after the terminator", "DONE-CLOSE")
def _done_linger(plan: Plan) -> None:
    plan.linger = STALL_SECONDS


# -- framing and payload ---------------------------------------------------------------


@fault(
    "ndjson",
    "writes each payload as a bare JSON line (NDJSON): no 'data:' prefix, no blank line",
    "PAYLOAD-CHUNKS",
    "DONE-PRESENT",
    "FRAME-KNOWN-FIELDS",
)
def _ndjson(plan: Plan) -> None:
    def bare(frames: Frames) -> Frames:
        sep = plan.sep.encode()
        return [frame.removeprefix(b"data: ").removesuffix(sep) for frame in frames]

    _edit(plan, bare)


@fault("no-blank-lines", "leaves out the blank lines between chunk events, so they run together",
       "PAYLOAD-JSON")
def _no_blank_lines(plan: Plan) -> None:
    def run_together(frames: Frames) -> Frames:
        last_chunk, sep = len(plan.chunks) - 1, len(plan.sep)
        return [frame[:-sep] if i < last_chunk else frame for i, frame in enumerate(frames)]

    _edit(plan, run_together)


@fault("invalid-json", "cuts the JSON of the second chunk short", "PAYLOAD-JSON")
def _invalid_json(plan: Plan) -> None:
    def cut(frames: Frames) -> Frames:
        broken = frames[1].rstrip(b"\r\n")[:-6] + plan.sep.encode() * 2
        return [frames[0], broken, *frames[2:]]

    _edit(plan, cut)


@fault("deep-json", "nests the second chunk's JSON 2,000 levels deep", "PAYLOAD-JSON")
def _deep_json(plan: Plan) -> None:
    plan.chunks[1]["content"] = {}  # replaced below by raw text: json.dumps would refuse the depth
    deep = "[" * 2000 + "]" * 2000

    def nest(frames: Frames) -> Frames:
        sep = plan.sep.encode()
        raw = b'data: {"id": "' + plan.chunks[0]["id"].encode() + b'", "content": ' + deep.encode() + b"}" + sep * 2
        return [frames[0], raw, *frames[2:]]

    _edit(plan, nest)


@fault("nan-json", "puts NaN and -Infinity in the second chunk (Python's json reads them; JSON.parse throws)",
       "PAYLOAD-JSON")
def _nan_json(plan: Plan) -> None:
    plan.chunks[1] = {**plan.chunks[1], "score": float("nan"), "floor": float("-inf")}  # json.dumps writes NaN


@fault("missing-property", "leaves the required 'content' property out of the second chunk", "PAYLOAD-SCHEMA")
def _missing_property(plan: Plan) -> None:
    del plan.chunks[1]["content"]


@fault("wrong-type", "sends 'content' as a number in the second chunk", "PAYLOAD-SCHEMA")
def _wrong_type(plan: Plan) -> None:
    plan.chunks[1]["content"] = 42


@fault("empty-data", "sends an event whose data is empty ('data:' and nothing else)", "PAYLOAD-JSON")
def _empty_data(plan: Plan) -> None:
    _edit(plan, lambda frames: [frames[0], f"data:{plan.sep}{plan.sep}".encode(), *frames[1:]])


@fault("invalid-utf8", "puts a byte that is not UTF-8 (0xff) inside the second chunk's text", "FRAME-UTF8")
def _invalid_utf8(plan: Plan) -> None:
    def corrupt(frames: Frames) -> Frames:
        end = frames[1].rindex(b'"}')
        return [frames[0], frames[1][:end] + b"\xff" + frames[1][end:], *frames[2:]]

    _edit(plan, corrupt)


@fault("unknown-field", "adds a 'model: demo' line (a field clients ignore) to the first event",
       "FRAME-KNOWN-FIELDS")
def _unknown_field(plan: Plan) -> None:
    _edit(plan, lambda frames: [f"model: demo{plan.sep}".encode() + frames[0], *frames[1:]])


@fault("bogus-retry", "sends 'retry: 3s' (a retry that is not all digits)", "FRAME-RETRY-DIGITS")
def _bogus_retry(plan: Plan) -> None:
    _edit(plan, lambda frames: [f"retry: 3s{plan.sep}".encode() + frames[0], *frames[1:]])


@fault("id-nul", "sends an id field containing NUL", "FRAME-ID-NO-NUL")
def _id_nul(plan: Plan) -> None:
    _edit(plan, lambda frames: [f"id: 1\x002{plan.sep}".encode() + frames[0], *frames[1:]])


@fault("id-changes", "changes the chunk id from the fourth chunk on", "PAYLOAD-ID-STABLE")
def _id_changes(plan: Plan) -> None:
    for chunk in plan.chunks[3:]:
        chunk["id"] = "msg_other"


@fault("id-lone-surrogate", "changes the chunk id of the fourth chunk to one holding an escaped lone surrogate "
       "(JSON allows it; no UTF-8 text can hold it)", "PAYLOAD-ID-STABLE")
def _id_lone_surrogate(plan: Plan) -> None:
    def escape(frames: Frames) -> Frames:
        # Written as text: the server encodes its frames as UTF-8, which cannot hold the character.
        old_id = json.dumps(plan.chunks[3]["id"]).encode()
        return [*frames[:3], frames[3].replace(old_id, b'"msg_\\ud800"', 1), *frames[4:]]

    _edit(plan, escape)


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

    _edit(plan, insert)


@fault("echo-credentials", "echoes the request's Authorization in a header and in its last chunk (benign)")
def _echo_credentials(plan: Plan) -> None:
    echoed = plan.request_headers.get("authorization", "")
    plan.headers["x-echo-authorization"] = echoed
    plan.chunks[-1] = {**plan.chunks[-1], "content": f" (you sent {echoed})"}


# -- benign variants: legal responses the suite must pass ------------------------------


@variant("crlf", "ends lines with CRLF")
def _crlf(plan: Plan) -> None:
    plan.sep = "\r\n"


@variant("cr", "ends lines with a lone CR")
def _cr(plan: Plan) -> None:
    plan.sep = "\r"


@variant("crlf-split", "ends lines with CRLF and cuts every write between a CR and its LF")
def _crlf_split(plan: Plan) -> None:
    def split(frames: Frames) -> Frames:
        crlf = [frame.replace(b"\n", b"\r\n") for frame in frames]
        return [(b"\n" if i else b"") + frame[:-1] for i, frame in enumerate(crlf)] + [b"\n"]

    _edit(plan, split)


@variant("data-no-space", "writes 'data:' with no space before the value")
def _data_no_space(plan: Plan) -> None:
    _edit(plan, lambda frames: _each_line(plan, frames, lambda line: line.replace(b"data: ", b"data:", 1)))


@variant("comments", "sends a comment line before every event")
def _comments(plan: Plan) -> None:
    _edit(plan, lambda frames: [f": tick{plan.sep}".encode() + frame for frame in frames])


@variant("comment-padding", "starts the body with a 2 KiB comment (padding that defeats proxy buffering)")
def _comment_padding(plan: Plan) -> None:
    _edit(plan, lambda frames: [(":" + " " * 2048 + plan.sep).encode(), *frames])


@variant("fields", "gives every event 'event:' and 'id:' fields, and the first a 'retry:'")
def _fields(plan: Plan) -> None:
    def add(frames: Frames) -> Frames:
        sep = plan.sep
        out = [f"event: message{sep}id: {i}{sep}".encode() + frame for i, frame in enumerate(frames)]
        return [f"retry: 3000{sep}".encode() + out[0], *out[1:]]

    _edit(plan, add)


@variant("multiline-data", "pretty-prints each chunk's JSON over several 'data:' lines")
def _multiline_data(plan: Plan) -> None:
    plan.indent = 2


@variant("bom", "starts the body with a UTF-8 byte order mark")
def _bom(plan: Plan) -> None:
    _edit(plan, lambda frames: [b"\xef\xbb\xbf" + frames[0], *frames[1:]])


@variant("byte-writes", "writes the body one byte at a time")
def _byte_writes(plan: Plan) -> None:
    plan.write = "bytes"


@variant("split-multibyte", "cuts writes in the middle of multi-byte characters")
def _split_multibyte(plan: Plan) -> None:
    plan.write = "split"


@variant("charset-utf8", "declares 'text/event-stream; charset=utf-8'")
def _charset_utf8(plan: Plan) -> None:
    plan.headers["content-type"] = "text/event-stream; charset=utf-8"


@variant("media-type-upper", "writes the media type in capitals, 'TEXT/EVENT-STREAM'")
def _media_type_upper(plan: Plan) -> None:
    plan.headers["content-type"] = "TEXT/EVENT-STREAM"


@variant("close-delimited", "ends the body by closing the connection: no chunked encoding, no length", raw=True)
def _close_delimited(plan: Plan) -> None:
    """Nothing to change: the byte-exact listener always ends its bodies by closing the
    connection (``raw=True`` sends the request there)."""


@variant("long-integer", "gives the second chunk an integer of 5,000 digits (JSON sets no limit; Python's int does)")
def _long_integer(plan: Plan) -> None:
    def lengthen(frames: Frames) -> Frames:
        # Written as text: json.dumps refuses an int of more than 4,300 digits.
        head, brace, tail = frames[1].rpartition(b"}")
        return [frames[0], head + b', "tokens": ' + b"7" * 5000 + brace + tail, *frames[2:]]

    _edit(plan, lengthen)


@variant("chunked-raw", "frames the body in chunks byte for byte, its last chunk included, then closes", raw=True)
def _chunked_raw(plan: Plan) -> None:
    plan.headers["transfer-encoding"] = "chunked"


@variant("empty-content", "starts with a chunk whose content is the empty string")
def _empty_content(plan: Plan) -> None:
    plan.chunks.insert(0, {**plan.chunks[0], "content": ""})


@variant("extra-properties", "adds properties the schema does not name to every chunk")
def _extra_properties(plan: Plan) -> None:
    for n, chunk in enumerate(plan.chunks):
        chunk.update(model="reference", index=n, usage=None)


@variant("answer-at-once", "sends a short answer whole, right after its headers, as a cache might (too quick "
         "to tell from a stream: DELIVERY-INCREMENTAL is not judged)")
def _answer_at_once(plan: Plan) -> None:
    plan.write, plan.hold = "once", 0.0


@variant("slow-first-token", "is silent for 1.2 s after the headers, then writes its events one by one, fast",
         suite_args=(*PATIENT, *CANONICAL_ONLY))
def _slow_first_token(plan: Plan) -> None:
    plan.stall_after, plan.stall_for = 0, 1.2
    plan.delay = 0.01


@variant("slow-steady", "sends an event every 0.2 s: slow, but never silent for long", suite_args=CANONICAL_ONLY)
def _slow_steady(plan: Plan) -> None:
    plan.delay = 0.2


@variant("extra-blank-lines", "sends two blank lines after every event (an empty event is not dispatched)")
def _extra_blank_lines(plan: Plan) -> None:
    _edit(plan, lambda frames: [frame + plan.sep.encode() for frame in frames])


@variant("retry-only", "sends a block holding only 'retry: 3000' before the second event (no data: nothing is "
         "dispatched)")
def _retry_only(plan: Plan) -> None:
    _edit(plan, lambda frames: [frames[0], f"retry: 3000{plan.sep}{plan.sep}".encode(), *frames[1:]])


@variant("event-no-data", "sends a block holding only 'event: keep-alive' before the second event (no data: "
         "nothing is dispatched)")
def _event_no_data(plan: Plan) -> None:
    _edit(plan, lambda frames: [frames[0], f"event: keep-alive{plan.sep}{plan.sep}".encode(), *frames[1:]])


LINE_SEPARATORS = "You\u2028asked\u2029:\u0085"  # in place of "You asked:", which every answer starts with


@variant("line-separators", "puts U+2028, U+2029 and U+0085 in the answer's text, unescaped (legal in a JSON "
         "string; only CR and LF end a line)")
def _line_separators(plan: Plan) -> None:
    mark = LINE_SEPARATORS.encode()
    _edit(plan, lambda frames: [frame.replace(b"You asked:", mark) for frame in frames])


# The framing variants any dialect's stream can take: the dialects of the client libraries the
# interop step runs have them too (app.py), so that each SDK is shown reading them.
FRAMING = ("bom", "crlf", "cr", "data-no-space", "comments", "fields", "retry-only", "event-no-data",
           "line-separators")


def share_framing(registry: dict[str, Fault]) -> None:
    """Register the framing variants in a dialect's registry too (its own of a name stay)."""
    for name in FRAMING:
        registry.setdefault(name, FAULTS[name])
