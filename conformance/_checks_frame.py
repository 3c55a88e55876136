"""FRAME-* and PAYLOAD-*: the event stream's framing (WHATWG HTML 9.2.5-9.2.6) and the JSON
chunks it carries."""

from __future__ import annotations

from ._checks import (
    ENDED_EARLY,
    MUST,
    PREVIEW,
    PROTOCOL,
    SHOULD,
    SSE_FORMAT,
    SSE_FORMAT_URL,
    SSE_PARSING,
    SSE_PARSING_URL,
    _cut_blocker,
    _is_json,
    check_schema,
    near_miss,
    preview,
)
from ._model import EndKind, Requirement
from ._rules import Rule, rule
from ._transcript import Chunk, Transcript

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
