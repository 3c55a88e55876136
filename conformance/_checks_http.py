"""HTTP-*: the response's status and header fields, and whether the message is complete
(RFC 9110, RFC 9112), as the WHATWG processing model and clients read them."""

from __future__ import annotations

from ._capture import framing
from ._checks import (
    MUST,
    PREVIEW,
    PROTOCOL,
    RFC9110_CODING,
    SHOULD,
    SSE_AUTHORING,
    SSE_AUTHORING_URL,
    SSE_FORMAT,
    SSE_FORMAT_URL,
    SSE_PROCESSING,
    SSE_PROCESSING_URL,
    _media_params,
    content_codings,
    preview,
)
from ._model import EndKind, Requirement
from ._rules import BROKEN, CUT_BY, Rule, rule
from ._transcript import Transcript

# -- HTTP ------------------------------------------------------------------------------


@rule
class HttpStatus(Rule):
    requirement = Requirement("HTTP-STATUS", MUST, "The response status is 200", SSE_PROCESSING, SSE_PROCESSING_URL)
    needs_stream = False

    def finish(self, t: Transcript) -> None:
        if not t.responded:
            self.fail(f"no response: {t.ending.detail}", expected="status 200", received="no response")
        elif t.status != 200:
            self.fail(
                f"status {t.status} {t.reason}; the body starts {preview(t.head)}",
                expected="200",
                received=str(t.status),
                offset=0,
            )


@rule
class HttpContentType(Rule):
    requirement = Requirement(
        "HTTP-CONTENT-TYPE",
        MUST,
        "The media type is text/event-stream, given once (case-insensitive, parameters allowed)",
        SSE_PROCESSING,
        SSE_PROCESSING_URL,
    )
    needs_stream = False

    def finish(self, t: Transcript) -> None:
        if t.status != 200:
            # An error response is not meant to be an event stream: its type is moot.
            self.block("HTTP-STATUS", f"status {t.status}")
            return
        values, types = t.header_values("content-type"), t.media_types
        if not values:
            self.fail("the response has no Content-Type header", expected="text/event-stream", received="(none)")
        elif len(types) > 1:
            # RFC 9110 5.3: a field whose value is not a list must not be repeated (nor be a
            # list); clients then disagree on which value counts.
            shown = ", ".join(preview(v, 40) for v in types[:4]) + (", ..." if len(types) > 4 else "")
            lines = f"{len(values)} Content-Type fields" if len(values) > 1 else "a Content-Type field"
            self.fail(
                f"{lines} give {len(types)} media types, {shown}: Content-Type is a single value (RFC 9110 "
                f"section 5.3), and clients disagree on which counts: a browser's fetch, and so EventSource, "
                f"reads the last that parses ({t.media_type or 'none'}); httpx joins them all into one value",
                expected="one Content-Type: text/event-stream",
                received="; ".join(values)[:PREVIEW],
                offset=0,
            )
        elif t.media_type != "text/event-stream":
            hint = ""
            if t.media_type == "application/json" and t.head.lstrip()[:1] == b"[":
                hint = "; a JSON array, not an event stream"
                if ":streamGenerateContent" in t.request.url and "alt=sse" not in t.request.url:
                    hint += " (Gemini answers so unless the URL asks for events with ?alt=sse)"
            self.fail(
                f"Content-Type is {preview(values[0])}; the body starts {preview(t.head)}{hint}",
                expected="text/event-stream",
                received=values[0][:PREVIEW],
                offset=0,
            )


@rule
class HttpCharset(Rule):
    requirement = Requirement(
        "HTTP-CHARSET", SHOULD, "A charset parameter, if any, is utf-8", SSE_FORMAT, SSE_FORMAT_URL
    )

    def finish(self, t: Transcript) -> None:
        # Every media type given: which one a client reads differs (HTTP-CONTENT-TYPE says so).
        charsets = [c for v in t.media_types if (c := _media_params(v).get("charset")) is not None]
        for charset in charsets:
            if charset.lower() not in ("utf-8", "utf8"):
                self.fail(
                    f"Content-Type names charset {preview(charset)}; an event stream is always UTF-8",
                    expected="charset=utf-8 or none",
                    received=charset[:PREVIEW],
                )


@rule
class HttpCacheControl(Rule):
    requirement = Requirement(
        "HTTP-CACHE-CONTROL",
        SHOULD,
        "Cache-Control forbids caching (no-cache or no-store)",
        SSE_AUTHORING,
        SSE_AUTHORING_URL,
    )

    def finish(self, t: Transcript) -> None:
        values = t.header_values("cache-control")
        directives = {d.split("=", 1)[0].strip().lower() for v in values for d in v.split(",")}
        if not directives & {"no-cache", "no-store"}:
            received = ", ".join(values)[:PREVIEW] if values else "(none)"
            self.fail(
                "a cache or proxy may hold the stream back: Cache-Control has neither no-cache nor no-store",
                expected="Cache-Control: no-cache",
                received=received,
            )


@rule
class HttpNoContentEncoding(Rule):
    requirement = Requirement(
        "HTTP-NO-CONTENT-ENCODING",
        SHOULD,
        "The stream is not compressed (no Content-Encoding)",
        "RFC 9110 8.4 Content-Encoding; compressors buffer",
        RFC9110_CODING,
    )

    def finish(self, t: Transcript) -> None:
        codings = content_codings(t)
        if codings:
            self.fail(
                f"the stream is sent with Content-Encoding {preview(', '.join(codings))}; "
                "compression buffers events and breaks incremental delivery through proxies",
                expected="no Content-Encoding",
                received=", ".join(codings)[:PREVIEW],
            )


@rule
class HttpNoContentLength(Rule):
    requirement = Requirement(
        "HTTP-NO-CONTENT-LENGTH",
        SHOULD,
        "The stream has no Content-Length (its length is not known until it ends)",
        PROTOCOL,
    )

    def finish(self, t: Transcript) -> None:
        lengths = t.header_values("content-length")
        if lengths:
            length = ", ".join(lengths)
            self.fail(
                f"the stream is sent with Content-Length {preview(length)}: its whole length was fixed before "
                "the first byte, so it was generated (or buffered) in full before it was sent",
                expected="no Content-Length (chunked, or ended by closing the connection)",
                received=f"Content-Length: {length[:PREVIEW]}",
            )


RFC9112_INCOMPLETE = "https://www.rfc-editor.org/rfc/rfc9112#section-8"


def promised(framing_: tuple[str, int | None]) -> str:
    """What a framing (RFC 9112 section 6.3) promises a client, for messages."""
    kind, length = framing_
    if kind == "length":
        return f"Content-Length: {length} bytes"
    if kind == "chunked":
        return "a chunked body, ended by its last (zero-size) chunk"
    return "a body ended by the server closing the connection cleanly"


@rule
class HttpComplete(Rule):
    requirement = Requirement(
        "HTTP-COMPLETE",
        MUST,
        "The response is complete as its framing promises (the last chunk; every byte of a Content-Length; "
        "a clean close)",
        "RFC 9112 8 Handling Incomplete Messages",
        RFC9112_INCOMPLETE,
    )

    def finish(self, t: Transcript) -> None:
        ending = t.ending
        if ending.kind in CUT_BY:
            self.block(CUT_BY[ending.kind], ending.detail)
        elif ending.kind is EndKind.GRACE_EXPIRED:
            self.block("DONE-CLOSE", ending.detail)  # the suite stopped reading: how it would end is unknown
        elif ending.kind is EndKind.DROPPED:
            self.not_applicable = ending.detail
        elif ending.kind in BROKEN:
            if t.terminators:
                after = (f"; the terminator had arrived (event {t.first_terminator}), but a client records the "
                         "whole response as incomplete: proxies log an upstream error, and some clients raise")
            else:
                after = "; the answer was cut short"
            self.fail(
                f"{ending.detail}, after {t.body_bytes} bytes and {t.events} events{after}",
                expected=promised(framing(t.headers)),
                received=f"{t.body_bytes} bytes, then the connection "
                         f"{'closed' if ending.kind is EndKind.INCOMPLETE else 'broke'}",
                offset=t.body_bytes,
                time=ending.time,
            )
