"""An incremental event-stream parser, exact to the WHATWG HTML text.

Spec: HTML Living Standard, section 9.2.6 "Interpreting an event stream"
(https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation).

The parser does no I/O. Feed it bytes in whatever pieces the network gives, with the
arrival time of each piece; it returns the events each piece completes. Besides the
events it records, bounded, what a conformance check needs to know and a browser would
silently drop: invalid UTF-8, unknown field names, a bogus ``retry``, an ``id`` with NUL,
and an event left unterminated at end of stream.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

__all__ = ["Event", "EventStreamParser", "Notice", "Unterminated", "LimitExceeded"]

_BOM = b"\xef\xbb\xbf"
# Notices kept per kind; the rest are only counted, so a hostile stream cannot grow memory.
NOTICES_KEPT_PER_KIND = 20
_LINE_PREVIEW = 120
# A retry of more digits than this is clamped to RETRY_CAP ms (31 million years): exact big
# integers cost quadratic time to convert, and a hostile line may hold a megabyte of digits.
RETRY_DIGITS = 18
RETRY_CAP = 10**RETRY_DIGITS - 1


@dataclass(frozen=True, slots=True)
class Event:
    """One dispatched event.

    ``offset`` is the byte offset of the event's first line in the body as received (a
    stripped BOM counts), ``end`` the offset of the blank line that dispatched it (so the
    event's bytes are ``body[offset:end]`` however the body was cut), ``time`` the
    arrival time given with the piece that completed it, ``index`` its number, from 0.
    """

    data: str
    type: str
    last_event_id: str
    retry: int | None
    offset: int
    end: int
    time: float
    index: int


@dataclass(frozen=True, slots=True)
class Notice:
    """Something in the stream a client ignores silently, with where it was."""

    kind: str  # "invalid-utf8", "unknown-field", "bogus-retry", "id-nul"
    offset: int
    line: str  # the line (a prefix of it), as decoded
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Unterminated:
    """What ``close()`` discarded: an event, or a line, the stream left unfinished."""

    offset: int
    data: str  # the data buffer that would have been dispatched ("" if none)
    partial_line: str  # a trailing line with no line ending, discarded unprocessed


@dataclass(frozen=True, slots=True)
class LimitExceeded:
    """A line or an event grew past its limit: the parser stopped, the read must too."""

    what: str  # "line" or "event"
    limit: int
    offset: int

    def __str__(self) -> str:
        return f"{self.what} longer than {self.limit} bytes, starting at byte {self.offset}"


class EventStreamParser:
    """Feed bytes, get :class:`Event` objects. Call :meth:`close` at end of stream."""

    def __init__(self, *, max_line: int = 1 << 20, max_event: int = 8 << 20) -> None:
        self.max_line = max_line
        self.max_event = max_event
        self.notices: list[Notice] = []
        self.notice_counts: Counter[str] = Counter()
        self.unterminated: Unterminated | None = None
        self.exceeded: LimitExceeded | None = None  # once set, the parser takes no more input
        self.retry: int | None = None  # the stream's reconnection time, last valid `retry`
        self.events_dispatched = 0
        self._partial: list[bytes] = []  # pieces of a line not yet ended, joined once it ends
        self._partial_len = 0
        self._offset = 0  # stream offset of the partial line's first byte
        self._skip_lf = False  # the last piece ended with CR: a leading LF completes CRLF
        self._at_start = True  # a leading BOM is still possible
        self._data: list[str] = []
        self._data_len = 0
        self._type = ""
        self._last_id = ""
        self._event_retry: int | None = None
        self._event_start = -1

    # -- input -----------------------------------------------------------------

    def feed(self, piece: bytes, time: float = 0.0) -> list[Event]:
        """Parse one piece of the body; return the events it completes.

        After a line or an event outgrows its limit, ``exceeded`` is set and the events
        completed before that point are returned; later pieces are ignored.
        """
        if not piece or self.exceeded:
            return []
        if self._skip_lf:
            # "CRLF" split across two reads is one line ending, already acted on.
            self._skip_lf = False
            if piece[0] == 0x0A:
                self._offset += 1
                piece = piece[1:]
                if not piece:
                    return []
        if self._partial and not self._at_start and b"\n" not in piece and b"\r" not in piece:
            # Still inside one long line: keep the piece, join once (a slow drip stays linear).
            self._partial.append(piece)
            self._partial_len += len(piece)
            if self._partial_len > self.max_line:
                self.exceeded = LimitExceeded("line", self.max_line, self._offset)
            return []
        if self._partial:
            self._partial.append(piece)
            buf = b"".join(self._partial)
            self._partial, self._partial_len = [], 0
        else:
            buf = piece
        if self._at_start:
            # "The UTF-8 decode algorithm strips one leading UTF-8 Byte Order Mark."
            if len(buf) < 3 and _BOM.startswith(buf):
                self._partial, self._partial_len = [buf], len(buf)
                return []
            self._at_start = False
            if buf.startswith(_BOM):
                buf = buf[3:]
                self._offset += 3
                if not buf:
                    return []
        # bytes.splitlines breaks on exactly CRLF, LF and CR: the spec's three line endings.
        lines = buf.splitlines(keepends=True)
        tail = lines[-1]
        if tail[-1] == 0x0D:
            self._skip_lf = True  # a CR ends its line now, even if an LF follows next read
        elif tail[-1] != 0x0A:
            rest = lines.pop()
            self._partial, self._partial_len = [rest], len(rest)
        events: list[Event] = []
        offset = self._offset
        for raw in lines:
            n = len(raw)
            if raw[-1] == 0x0A and n > 1 and raw[-2] == 0x0D:
                body = raw[:-2]
            else:
                body = raw[:-1]
            if not body:
                # "If the line is empty (a blank line): dispatch the event."
                event = self._dispatch(offset, time)
                if event is not None:
                    events.append(event)
            elif len(body) > self.max_line:
                self.exceeded = LimitExceeded("line", self.max_line, offset)
                return events
            else:
                self._line(body, offset)
                if self.exceeded:
                    return events
            offset += n
        self._offset = offset
        if self._partial_len > self.max_line:
            self.exceeded = LimitExceeded("line", self.max_line, offset)
        return events

    def close(self) -> None:
        """End of stream: "any pending data must be discarded"; note what was."""
        partial = b"".join(self._partial)
        if partial or self._data:
            start = self._event_start if self._event_start >= 0 else self._offset
            self.unterminated = Unterminated(
                offset=start,
                data="\n".join(self._data),
                partial_line=partial[:_LINE_PREVIEW].decode("utf-8", "replace"),
            )
        self._partial, self._partial_len = [], 0
        self._data = []
        self._data_len = 0

    # -- the spec's steps --------------------------------------------------------

    def _line(self, body: bytes, offset: int) -> None:
        try:
            line = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = body.decode("utf-8", "replace")
            self._notice("invalid-utf8", offset + exc.start, line, body[exc.start : exc.end + 3].hex(" "))
        if self._event_start < 0:
            self._event_start = offset
        # "If the line starts with a U+003A COLON character (:) Ignore the line."
        if line[0] == ":":
            return
        colon = line.find(":")
        if colon < 0:
            # "Otherwise, the string is not empty but does not contain a U+003A COLON
            # character: process the field using the whole line as the field name, and
            # the empty string as the field value."
            name, value = line, ""
        else:
            name = line[:colon]
            value = line[colon + 1 :]
            # "If value starts with a U+0020 SPACE character, remove it from value."
            if value[:1] == " ":
                value = value[1:]
        # Field names are compared case-sensitively; only these four mean anything.
        if name == "data":
            # "Append the field value to the data buffer, then append a single U+000A LF."
            self._data.append(value)
            # Count bytes, as the limit says: the line's bytes less its ASCII "data:" prefix.
            self._data_len += len(body) - (len(line) - len(value)) + 1
            if self._data_len > self.max_event:
                self.exceeded = LimitExceeded("event", self.max_event, self._event_start)
        elif name == "event":
            self._type = value
        elif name == "id":
            # "If the field value does not contain U+0000 NULL, then set the last event ID buffer."
            if "\x00" in value:
                self._notice("id-nul", offset, line)
            else:
                self._last_id = value
        elif name == "retry":
            # "If the field value consists of only ASCII digits, then interpret [it] as an
            # integer in base ten ... Otherwise, ignore the field."
            if value and value.isascii() and value.isdigit():
                self.retry = self._event_retry = int(value) if len(value) <= RETRY_DIGITS else RETRY_CAP
            else:
                self._notice("bogus-retry", offset, line, value)
        else:
            # "Otherwise: The field is ignored."
            self._notice("unknown-field", offset, line, name)

    def _dispatch(self, end: int, time: float) -> Event | None:
        start = self._event_start
        self._event_start = -1
        retry, self._event_retry = self._event_retry, None
        # "If the data buffer is an empty string, set the data buffer and the event type
        # buffer to the empty string and return." (Lines were kept without their LF.)
        if not self._data:
            self._type = ""
            return None
        data = self._data[0] if len(self._data) == 1 else "\n".join(self._data)
        event = Event(
            data=data,
            type=self._type or "message",
            last_event_id=self._last_id,
            retry=retry,
            offset=start,
            end=end,
            time=time,
            index=self.events_dispatched,
        )
        self.events_dispatched += 1
        self._data = []
        self._data_len = 0
        self._type = ""
        return event

    def _notice(self, kind: str, offset: int, line: str, detail: str = "") -> None:
        self.notice_counts[kind] += 1
        if self.notice_counts[kind] <= NOTICES_KEPT_PER_KIND:
            self.notices.append(Notice(kind, offset, line[:_LINE_PREVIEW], detail[:_LINE_PREVIEW]))
