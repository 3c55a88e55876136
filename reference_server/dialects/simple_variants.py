"""The ``simple`` dialect's benign variants: legal responses (other line endings, comments,
fields, byte order mark, odd write sizes, slow or quick answers) that a correct suite must pass.

``FRAMING`` names the variants every dialect's stream can take: the dialects of the client
libraries the interop step runs share them (``dialects/__init__.py``), so that each SDK is
shown reading them.
"""

from __future__ import annotations

import functools

from ..faults import CANONICAL_ONLY, PATIENT, Fault, each_line, edit
from ..faults import variant as _variant
from ..plan import Frames, Plan

__all__ = ["FAULTS", "FRAMING"]

FAULTS: dict[str, Fault] = {}
variant = functools.partial(_variant, registry=FAULTS)

FRAMING = ("bom", "crlf", "cr", "data-no-space", "comments", "fields", "retry-only", "event-no-data",
           "line-separators")


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

    edit(plan, split)


@variant("data-no-space", "writes 'data:' with no space before the value")
def _data_no_space(plan: Plan) -> None:
    edit(plan, lambda frames: each_line(plan, frames, lambda line: line.replace(b"data: ", b"data:", 1)))


@variant("comments", "sends a comment line before every event")
def _comments(plan: Plan) -> None:
    edit(plan, lambda frames: [f": tick{plan.sep}".encode() + frame for frame in frames])


@variant("comment-padding", "starts the body with a 2 KiB comment (padding that defeats proxy buffering)")
def _comment_padding(plan: Plan) -> None:
    edit(plan, lambda frames: [(":" + " " * 2048 + plan.sep).encode(), *frames])


@variant("fields", "gives every event 'event:' and 'id:' fields, and the first a 'retry:'")
def _fields(plan: Plan) -> None:
    def add(frames: Frames) -> Frames:
        sep = plan.sep
        out = [f"event: message{sep}id: {i}{sep}".encode() + frame for i, frame in enumerate(frames)]
        return [f"retry: 3000{sep}".encode() + out[0], *out[1:]]

    edit(plan, add)


@variant("multiline-data", "pretty-prints each chunk's JSON over several 'data:' lines")
def _multiline_data(plan: Plan) -> None:
    plan.indent = 2


@variant("bom", "starts the body with a UTF-8 byte order mark")
def _bom(plan: Plan) -> None:
    edit(plan, lambda frames: [b"\xef\xbb\xbf" + frames[0], *frames[1:]])


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

    edit(plan, lengthen)


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
    edit(plan, lambda frames: [frame + plan.sep.encode() for frame in frames])


@variant("retry-only", "sends a block holding only 'retry: 3000' before the second event (no data: nothing is "
         "dispatched)")
def _retry_only(plan: Plan) -> None:
    edit(plan, lambda frames: [frames[0], f"retry: 3000{plan.sep}{plan.sep}".encode(), *frames[1:]])


@variant("event-no-data", "sends a block holding only 'event: keep-alive' before the second event (no data: "
         "nothing is dispatched)")
def _event_no_data(plan: Plan) -> None:
    edit(plan, lambda frames: [frames[0], f"event: keep-alive{plan.sep}{plan.sep}".encode(), *frames[1:]])


LINE_SEPARATORS = "You\u2028asked\u2029:\u0085"  # in place of "You asked:", which every answer starts with


@variant("line-separators", "puts U+2028, U+2029 and U+0085 in the answer's text, unescaped (legal in a JSON "
         "string; only CR and LF end a line)")
def _line_separators(plan: Plan) -> None:
    mark = LINE_SEPARATORS.encode()
    edit(plan, lambda frames: [frame.replace(b"You asked:", mark) for frame in frames])
