"""The checks of the canonical exchange, one class per requirement, in catalogue order.

Each failure message says what was expected, what arrived, and where; near misses (a
terminator that is almost right, NDJSON served as an event stream, events run together)
are named, because they are what an engineer fixing the endpoint needs to hear.
"""

from __future__ import annotations

import json

from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator

from ._model import EndKind, Level, Requirement
from ._rules import BROKEN, CUT_BY, VIOLATIONS_KEPT, Rule, rule
from ._transcript import Chunk, Transcript, framing

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


# -- framing ---------------------------------------------------------------------------


class _NoticeRule(Rule):
    """Fails once per parser notice of one kind (the parser keeps the first few)."""

    kind: str

    def finish(self, t: Transcript) -> None:
        for notice in t.notices:
            if notice.kind == self.kind:
                self.fail(self.describe(notice.line, notice.detail), offset=notice.offset, received=notice.line)
        self.count = max(self.count, t.notice_counts.get(self.kind, 0))

    def describe(self, line: str, detail: str) -> str:
        raise NotImplementedError


@rule
class FrameUtf8(_NoticeRule):
    requirement = Requirement("FRAME-UTF8", MUST, "The body is valid UTF-8", SSE_FORMAT, SSE_FORMAT_URL)
    kind = "invalid-utf8"

    def describe(self, line: str, detail: str) -> str:
        return f"invalid UTF-8 (bytes {detail}); a client shows U+FFFD instead: {preview(line)}"


@rule
class FrameTerminated(Rule):
    requirement = Requirement(
        "FRAME-TERMINATED",
        MUST,
        "The last event is followed by a blank line (else clients discard it)",
        SSE_PARSING,
        SSE_PARSING_URL,
    )

    def finish(self, t: Transcript) -> None:
        if (cut_by := ENDED_EARLY.get(t.ending.kind)) is not None:
            self.block(cut_by, t.ending.detail)  # an unfinished event then says nothing of the server's framing
            return
        if t.ending.kind not in (EndKind.CLOSED, EndKind.GRACE_EXPIRED):
            # The client left: an unfinished event says nothing here.
            self.not_applicable = f"the stream did not end normally: {t.ending.detail}"
            return
        u = t.unterminated
        if u is None:
            return
        if u.data:
            what = f"an event with data {preview(u.data)} was not followed by a blank line"
        else:
            what = f"a last line without a line ending, {preview(u.partial_line)}"
        self.fail(
            f"the stream ended inside an event: {what}, so clients discard it",
            expected="a blank line after the last event",
            received=preview(u.partial_line or u.data),
            offset=u.offset,
        )


@rule
class FrameKnownFields(_NoticeRule):
    requirement = Requirement(
        "FRAME-KNOWN-FIELDS",
        SHOULD,
        "Only the fields data, event, id and retry are used (clients drop others silently)",
        SSE_PARSING,
        SSE_PARSING_URL,
    )
    kind = "unknown-field"

    def describe(self, line: str, detail: str) -> str:
        if line[:1] in "{[":
            return f"a line that looks like JSON without a 'data:' prefix (NDJSON served as SSE?): {preview(line)}"
        if detail.lower() in ("data", "event", "id", "retry"):
            return f"field {detail!r} is ignored: field names are case-sensitive ({detail.lower()!r})"
        return f"unknown field {preview(detail)} is ignored by clients: {preview(line)}"


@rule
class FrameRetryDigits(_NoticeRule):
    requirement = Requirement(
        "FRAME-RETRY-DIGITS", SHOULD, "A retry field holds only ASCII digits", SSE_PARSING, SSE_PARSING_URL
    )
    kind = "bogus-retry"

    def describe(self, line: str, detail: str) -> str:
        return f"retry value {preview(detail)} is not all ASCII digits, so clients ignore it"


@rule
class FrameIdNoNul(_NoticeRule):
    requirement = Requirement(
        "FRAME-ID-NO-NUL", SHOULD, "An id field contains no NUL character", SSE_PARSING, SSE_PARSING_URL
    )
    kind = "id-nul"

    def describe(self, line: str, detail: str) -> str:
        return f"an id containing U+0000 is ignored by clients: {preview(line)}"


# -- payload ---------------------------------------------------------------------------


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


@rule
class PayloadChunks(Rule):
    requirement = Requirement(
        "PAYLOAD-CHUNKS", MUST, "At least one data event arrives before the terminator", PROTOCOL
    )

    def start(self) -> None:
        self.before_terminator = 0

    def on_chunk(self, chunk: Chunk) -> None:
        if not chunk.terminator and not chunk.after_terminator:
            self.before_terminator += 1

    def finish(self, t: Transcript) -> None:
        if self.before_terminator or _cut_blocker(self, t):
            return
        if t.body_bytes == 0:
            found = "the body is empty"
        elif t.events:
            found = "the first event is the terminator"
        else:
            found = f"no event was dispatched; the body starts {preview(t.head)}"
            json_lines = [n for n in t.notices if n.kind == "unknown-field" and n.line[:1] in "{["]
            if json_lines:
                found += "; its lines look like JSON without 'data:' (NDJSON served as SSE?)"
            elif t.head.lstrip()[:1] == b"<":
                found += "; it looks like an HTML page (an error page from a proxy?)"
        self.fail(found, expected="one or more data events", received=f"{t.data_events} data events", offset=0)


@rule
class PayloadJson(Rule):
    requirement = Requirement(
        "PAYLOAD-JSON", MUST, "Every data payload other than the terminator is JSON", PROTOCOL
    )

    def on_chunk(self, chunk: Chunk) -> None:
        if chunk.terminator or chunk.json_error is None:
            return
        data = chunk.event.data
        if near_miss(data, self.profile.terminator.data):
            return
        hint = ""
        lines = data.split("\n")
        if len(lines) > 1 and all(_is_json(line) for line in lines if line):
            hint = f"; it holds {len(lines)} JSON values on separate data lines: blank lines missing between events?"
        elif data.lstrip().startswith("data:"):
            hint = "; the payload itself starts with 'data:' (prefix written twice?)"
        self.fail_at(
            chunk,
            f"event {chunk.event.index} is not JSON ({chunk.json_error}): {preview(data)}{hint}",
            expected="a JSON value",
            received=preview(data),
        )


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


@rule
class PayloadSchema(Rule):
    requirement = Requirement(
        "PAYLOAD-SCHEMA", MUST, "Every chunk matches the profile's chunk schema", "profile chunk schema"
    )

    def start(self) -> None:
        self.validator = self.profile.chunk_validator
        self.is_valid = self.profile.chunk_is_valid
        self.checked = 0

    def on_chunk(self, chunk: Chunk) -> None:
        if chunk.terminator or chunk.json_error is not None or not self.profile.is_chunk(chunk.event, chunk.value):
            return
        self.checked += 1
        # The fast check decides a chunk is valid; only jsonschema, the reference, decides it is
        # not (check_schema asks it). A near miss of the terminator is DONE-PRESENT's to name.
        if not self.is_valid(chunk.value) and not near_miss(chunk.event.data, self.profile.terminator.data):
            check_schema(self, chunk, self.validator)

    def finish(self, t: Transcript) -> None:
        if not self.checked and not self.count:
            self.not_applicable = "no JSON chunk arrived to validate"


@rule
class PayloadIdStable(Rule):
    requirement = Requirement(
        "PAYLOAD-ID-STABLE", SHOULD, "The chunk id is the same in every chunk of one response", PROTOCOL
    )

    def start(self) -> None:
        self.first: tuple[object, int] | None = None

    def on_chunk(self, chunk: Chunk) -> None:
        value = self.profile.id_of(chunk.value)
        if value is None:
            return
        if self.first is None:
            self.first = (value, chunk.event.index)
        elif value != self.first[0]:
            self.fail_at(
                chunk,
                f"'{self.profile.id_path}' changed from {preview(str(self.first[0]))} (event {self.first[1]}) "
                f"to {preview(str(value))} in event {chunk.event.index}",
                expected=str(self.first[0])[:PREVIEW],
                received=str(value)[:PREVIEW],
            )

    def finish(self, t: Transcript) -> None:
        if self.profile.id_path is None:
            self.not_applicable = f"profile {self.profile.name} names no id ([chunk] id)"
        elif self.first is None and not self.count:
            self.not_applicable = "no chunk carried an id"


# -- termination -----------------------------------------------------------------------


def _ends_at_close(rule_: Rule) -> bool:
    """A profile whose streams end when the server closes the response has no terminator
    event: the rules about one say so, rather than passing. (Whether the response ended
    cleanly, rather than broken off, is HTTP-COMPLETE's to judge.)"""
    if rule_.profile.terminator.at_close:
        rule_.not_applicable = (
            f"profile {rule_.profile.name} ends a stream by closing the response: it has no terminator event "
            "(HTTP-COMPLETE judges that the response ended cleanly)"
        )
        return True
    return False


@rule
class DonePresent(Rule):
    requirement = Requirement("DONE-PRESENT", MUST, "The terminator event arrives", PROTOCOL)

    def start(self) -> None:
        self.near_miss: tuple[str, Chunk] | None = None

    def on_chunk(self, chunk: Chunk) -> None:
        term = self.profile.terminator.data
        if self.near_miss is not None or chunk.terminator:
            return
        name = self.profile.terminator.event
        if name is not None and chunk.event.type.strip().lower() == name.lower():
            named = preview(chunk.event.type)
            self.near_miss = (f"event {chunk.event.index} is named {named}, not {name!r}", chunk)
        if term is None:
            return
        data = chunk.event.data
        why = near_miss(data, term)
        if why is not None:
            self.near_miss = (f"event {chunk.event.index} is {preview(data)}: {why}", chunk)
        elif data.endswith("\n" + term):
            self.near_miss = (
                f"event {chunk.event.index} ends with a {term} line: the blank line before it is missing",
                chunk,
            )

    def finish(self, t: Transcript) -> None:
        if _ends_at_close(self) or t.terminators or _cut_blocker(self, t):
            return
        terminator = self.profile.terminator
        expected = str(terminator)
        if self.near_miss is not None:
            message, chunk = self.near_miss
            self.fail_at(chunk, f"no exact terminator; near miss: {message}", expected=expected)
            return
        term = terminator.data
        for notice in t.notices if term is not None else ():
            if notice.kind == "unknown-field" and notice.line.strip() == term:
                self.fail(
                    f"no terminator; a line {notice.line!r} has no 'data:' prefix",
                    expected=expected,
                    received=notice.line,
                    offset=notice.offset,
                )
                return
        u = t.unterminated
        marker = term if term is not None else str(terminator.event)
        if u is not None and marker in (u.data + u.partial_line):
            self.fail(
                f"the terminator was sent but never dispatched: no blank line after it before the end "
                f"({preview(u.partial_line or u.data)})",
                expected=expected,
                offset=u.offset,
            )
            return
        last = t.last_event
        self.fail(
            f"the stream ended ({t.ending.detail}) "
            f"{f'after event {last.index}' if last else 'before any event'} without {terminator.label}",
            expected=expected,
            received=f"{t.events} events, none of them the terminator",
            offset=last.offset if last else 0,
            end=t.body_bytes,
            event=last.index if last else None,
        )


@rule
class DoneOnce(Rule):
    requirement = Requirement("DONE-ONCE", MUST, "The terminator arrives exactly once", PROTOCOL)

    def finish(self, t: Transcript) -> None:
        _ends_at_close(self)

    def on_chunk(self, chunk: Chunk) -> None:
        if chunk.terminator and chunk.after_terminator:
            self.fail_at(chunk, f"event {chunk.event.index} is a second terminator", expected="one terminator")


@rule
class DoneLast(Rule):
    requirement = Requirement("DONE-LAST", MUST, "No event follows the terminator", PROTOCOL)

    def finish(self, t: Transcript) -> None:
        _ends_at_close(self)

    def on_chunk(self, chunk: Chunk) -> None:
        if chunk.after_terminator and not chunk.terminator:
            self.fail_at(
                chunk,
                f"event {chunk.event.index} arrived after the terminator: {preview(chunk.event.data)}",
                expected="nothing after the terminator",
                received=preview(chunk.event.data),
            )


@rule
class DoneClose(Rule):
    requirement = Requirement(
        "DONE-CLOSE", MUST, "The server ends the response soon after the terminator", PROTOCOL
    )

    def finish(self, t: Transcript) -> None:
        if _ends_at_close(self):
            return
        if t.terminator_at is None:
            self.not_applicable = "no terminator arrived"
        elif t.ending.kind is EndKind.GRACE_EXPIRED:
            self.fail(
                f"the terminator arrived at {t.terminator_at:.3f} s and the response was still open "
                f"{self.limits.done_grace:g} s later (--sse-done-grace)",
                expected=f"the response ends within {self.limits.done_grace:g} s",
                received="still open",
                time=t.ending.time,
            )
