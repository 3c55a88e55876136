"""The ``simple`` dialect's faults in what its stream says: the HTTP head (status, media type,
encoding, length), the terminator, and the events' framing and payloads. Each breaks one rule
on purpose and names the requirement IDs the suite must fail for it (``faults.py``)."""

from __future__ import annotations

import functools
import json

from ..faults import PACED, STALL_SECONDS, Fault, edit
from ..faults import fault as _fault
from ..plan import Frames, Plan, Refusal

__all__ = ["FAULTS"]

FAULTS: dict[str, Fault] = {}
fault = functools.partial(_fault, registry=FAULTS)


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
    edit(plan, lambda frames: [HTML_ERROR_PAGE])


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
    edit(plan, lambda frames: [*frames[:-1], frames[-1][: -len(plan.sep)]])


@fault("done-twice", "sends the terminator twice", "DONE-ONCE")
def _done_twice(plan: Plan) -> None:
    edit(plan, lambda frames: frames + frames[-1:])


@fault("after-done", "sends one more chunk after the terminator", "DONE-LAST")
def _after_done(plan: Plan) -> None:
    extra = plan.encode_chunk({**plan.chunks[-1], "content": " (late)"})
    edit(plan, lambda frames: frames + [extra])


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

    edit(plan, bare)


@fault("no-blank-lines", "leaves out the blank lines between chunk events, so they run together",
       "PAYLOAD-JSON")
def _no_blank_lines(plan: Plan) -> None:
    def run_together(frames: Frames) -> Frames:
        last_chunk, sep = len(plan.chunks) - 1, len(plan.sep)
        return [frame[:-sep] if i < last_chunk else frame for i, frame in enumerate(frames)]

    edit(plan, run_together)


@fault("invalid-json", "cuts the JSON of the second chunk short", "PAYLOAD-JSON")
def _invalid_json(plan: Plan) -> None:
    def cut(frames: Frames) -> Frames:
        broken = frames[1].rstrip(b"\r\n")[:-6] + plan.sep.encode() * 2
        return [frames[0], broken, *frames[2:]]

    edit(plan, cut)


@fault("deep-json", "nests the second chunk's JSON 2,000 levels deep", "PAYLOAD-JSON")
def _deep_json(plan: Plan) -> None:
    plan.chunks[1]["content"] = {}  # replaced below by raw text: json.dumps would refuse the depth
    deep = "[" * 2000 + "]" * 2000

    def nest(frames: Frames) -> Frames:
        sep = plan.sep.encode()
        raw = b'data: {"id": "' + plan.chunks[0]["id"].encode() + b'", "content": ' + deep.encode() + b"}" + sep * 2
        return [frames[0], raw, *frames[2:]]

    edit(plan, nest)


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
    edit(plan, lambda frames: [frames[0], f"data:{plan.sep}{plan.sep}".encode(), *frames[1:]])


@fault("invalid-utf8", "puts a byte that is not UTF-8 (0xff) inside the second chunk's text", "FRAME-UTF8")
def _invalid_utf8(plan: Plan) -> None:
    def corrupt(frames: Frames) -> Frames:
        end = frames[1].rindex(b'"}')
        return [frames[0], frames[1][:end] + b"\xff" + frames[1][end:], *frames[2:]]

    edit(plan, corrupt)


@fault("unknown-field", "adds a 'model: demo' line (a field clients ignore) to the first event",
       "FRAME-KNOWN-FIELDS")
def _unknown_field(plan: Plan) -> None:
    edit(plan, lambda frames: [f"model: demo{plan.sep}".encode() + frames[0], *frames[1:]])


@fault("bogus-retry", "sends 'retry: 3s' (a retry that is not all digits)", "FRAME-RETRY-DIGITS")
def _bogus_retry(plan: Plan) -> None:
    edit(plan, lambda frames: [f"retry: 3s{plan.sep}".encode() + frames[0], *frames[1:]])


@fault("id-nul", "sends an id field containing NUL", "FRAME-ID-NO-NUL")
def _id_nul(plan: Plan) -> None:
    edit(plan, lambda frames: [f"id: 1\x002{plan.sep}".encode() + frames[0], *frames[1:]])


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

    edit(plan, escape)
