"""An incremental event-stream parser, exact to the WHATWG HTML text.

Spec: HTML Living Standard, section 9.2.6 "Interpreting an event stream"
(https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation).

The parser does no I/O. Feed it bytes in whatever pieces the network gives, with the
arrival time of each piece; it returns the events each piece completes. Besides the
events it records, bounded, what a conformance check needs to know and a browser would
silently drop: invalid UTF-8, unknown field names, a bogus ``retry``, an ``id`` with NUL,
and an event left unterminated at end of stream. Those records (``Event``, ``Notice``,
``Unterminated``, ``LimitExceeded``) are defined in ``_parser_output.py``.
"""

from __future__ import annotations

from collections import Counter
from itertools import accumulate, count, islice, repeat
from operator import sub

from ._parser_output import Event, LimitExceeded, Notice, Unterminated
from ._parser_repeats import PLAIN, READ_AT_ONCE_MIN, Repeats, opening, plain, split_run

__all__ = ["EventStreamParser"]

_BOM = b"\xef\xbb\xbf"
# Notices kept per kind; the rest are only counted, so a hostile stream cannot grow memory.
NOTICES_KEPT_PER_KIND = 20
_LINE_PREVIEW = 120
# A retry of more digits than this is clamped to RETRY_CAP ms (31 million years): exact big
# integers cost quadratic time to convert, and a hostile line may hold a megabyte of digits.
RETRY_DIGITS = 18
RETRY_CAP = 10**RETRY_DIGITS - 1


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
        self._partial_len = 0  # of that line
        self._held = 0  # bytes of whole lines before it in _partial, not read yet (see _text)
        self._offset = 0  # stream offset of _partial's first byte
        self._skip_lf = False  # the last piece ended with CR: a leading LF completes CRLF
        self._at_start = True  # a leading BOM is still possible
        self._data: list[str] = []
        self._data_len = 0
        self._type = ""
        self._last_id = ""
        self._event_retry: int | None = None
        self._event_start = -1
        self._framing: tuple[str, ...] | None = None  # of the last run of repeats read at once

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
                self.exceeded = LimitExceeded("line", self.max_line, self._offset + self._held)
            return []
        if self._partial:
            self._partial.append(piece)
            buf = b"".join(self._partial)
            self._partial, self._partial_len, self._held = [], 0, 0
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
        # A CR ends its line now, even if an LF follows in the next piece.
        self._skip_lf = buf[-1] == 0x0D
        # The fast path takes a piece that is ASCII (decoded once, a byte is a character)
        # and too short to take a line or an event over its limit.
        events = None
        if buf.isascii() and len(buf) <= self.max_line and self._data_len + len(buf) <= self.max_event:
            events = self._text(buf.decode("ascii"), time)
        if events is None:
            events = self._byte_lines(buf, time)
        if self._partial_len > self.max_line and not self.exceeded:
            self.exceeded = LimitExceeded("line", self.max_line, self._offset + self._held)
        return events

    def close(self) -> None:
        """End of stream: "any pending data must be discarded"; note what was."""
        partial = b"".join(self._partial)
        if self._held:
            # Whole lines held back to be read with the rest of their event: read them now.
            held, partial = partial[: self._held], partial[self._held :]
            self._partial, self._held = [], 0
            self._byte_lines(held, 0.0)
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

    # -- splitting a piece into lines --------------------------------------------

    def _text(self, text: str, time: float) -> list[Event] | None:
        """The fast path: ASCII text whose lines all end alike. None, having done nothing,
        if line endings are mixed.

        Events that repeat one framing are read at once (:mod:`._parser_repeats`); the
        lines before them (the end of a block the previous piece began) and after them
        (the start of one the next piece ends) go line by line, as does a short piece or
        one that repeats no framing. The lines after may instead be held back, unread,
        for the next piece to start with the event they begin.
        """
        eol = "\n" if "\r" not in text else "\r" if "\n" not in text else "\r\n"
        # A CR that ends the piece ends its line now, alone (feed() skips an LF that follows).
        cr_last = eol == "\r\n" and text[-1] == "\r"
        if cr_last:
            text = text[:-1]
        size = len(eol)
        at_once, at_block = len(text) >= READ_AT_ONCE_MIN, self._event_start < 0
        found = plain(text, eol, at_block) if at_once and self._framing in (None, PLAIN) else None
        if found is None:
            lines = text.split(eol)
            if eol == "\r\n" and not _no_cr_lf(lines):
                return None
            before, repeats, after = split_run(lines, size, self._framing, at_block) if at_once else ([], None, lines)
        else:
            before, repeats, after = found
            if eol == "\r\n" and not _no_cr_lf(before + after):
                return None
        rest = after.pop()  # the last line: unfinished, unless the piece ended with a CR
        events = self._text_lines(before, size, time) if before else []
        if repeats is not None:
            events += self._repeated(repeats, size, time)
            self._framing = repeats.shape  # a guess at the next piece's framing (checked there)
            if after and not cr_last and opening(after, repeats.shape):
                # The first lines of the next repeat, short of its blank line, only fill the
                # event's buffers: read now or with the rest of their event in the next piece
                # (or at close()), they dispatch nothing, note nothing, set no retry, and fit
                # the limits (this piece did). Held back, they let the next piece start with
                # a repeat, to be read at once.
                held = eol.join(after) + eol
                self._held = len(held)
                self._partial, self._partial_len = [(held + rest).encode("ascii")], len(rest)
                return events
        if after:
            events += self._text_lines(after, size, time)
        if cr_last:
            events += self._text_lines([rest], 1, time)
        elif rest:
            self._partial, self._partial_len = [rest.encode("ascii")], len(rest)
        return events

    def _repeated(self, repeats: Repeats, eol: int, time: float) -> list[Event]:
        """The events read at once, the first block starting at the current offset, as
        _dispatch() makes them: no retry (no repeat has a ``retry`` line), the last event
        ID as the event's own id line left it, the time of this piece (its blank line came
        in it). After the last, the blank line has reset the event type buffer; the last
        event ID buffer stays as it is."""
        data, types, ids, lead, steps, spans, _ = repeats
        if spans:
            # Alternately where an event starts and where the blank line that dispatches it starts.
            bounds = list(accumulate(steps, initial=self._offset + lead))
            offsets, ends = bounds[::2], bounds[1::2]
        else:
            offsets = list(accumulate(steps, initial=self._offset + lead))
            # Where the blank line that dispatches each event starts.
            ends = map(sub, islice(offsets, 1, None), repeat(eol))
        index = self.events_dispatched
        fields = zip(data, types, repeat(self._last_id) if ids is None else ids, repeat(None), offsets, ends,
                     repeat(time), count(index))
        events = list(map(_new_event, repeat(Event), fields))
        last = events[-1]
        self._offset, self.events_dispatched, self._last_id = last.end + eol, index + len(events), last.last_event_id
        return events

    def _text_lines(self, lines: list[str], eol: int, time: float) -> list[Event]:
        """Lines of ASCII text, each ended by ``eol`` bytes, too short to outgrow a limit.

        Blank lines, comments, and ``data``, ``event`` and ``id`` lines in their usual
        forms are handled inline, on local copies of the parser's state (written back on the
        way out, and around each call to :meth:`_field`, which takes every other line): a local
        costs a fraction of an attribute, and this loop may run once per line of a stream of
        millions.
        """
        events: list[Event] = []
        append = events.append
        data = self._data  # cleared in place, never replaced: it stays self._data
        start, offset, index = self._event_start, self._offset, self.events_dispatched
        event_type, last_id, retry = self._type, self._last_id, self._event_retry
        first_index, first_values, first_len = index, len(data), self._data_len
        for line in lines:
            if line:
                if start < 0:
                    start = offset
                # The field "data", as _field() reads it (here a character is a byte).
                if line[:6] == "data: ":
                    data.append(line[6:])
                elif line[0] == ":":  # "If the line starts with a U+003A COLON (:) Ignore the line."
                    pass
                elif line[:5] == "data:":
                    data.append(line[5:])
                elif line[:7] == "event: ":  # "Set the event type buffer to field value."
                    event_type = line[7:]
                elif line[:4] == "id: " and "\0" not in line:  # "... set the last event ID buffer"
                    last_id = line[4:]
                else:
                    self._event_start, self._type, self._last_id, self._event_retry = start, event_type, last_id, retry
                    self._field(line, len(line), offset)
                    event_type, last_id, retry = self._type, self._last_id, self._event_retry
                offset += len(line) + eol
            else:
                # "If the line is empty (a blank line): dispatch the event." As _dispatch().
                if data:
                    value = data[0] if len(data) == 1 else "\n".join(data)
                    append(_new_event(Event, (value, event_type or "message", last_id, retry, start, offset, time,
                                              index)))
                    index += 1
                    data.clear()
                event_type, retry, start = "", None, -1
                offset += eol
        self._offset, self._event_start, self.events_dispatched = offset, start, index
        self._type, self._last_id, self._event_retry = event_type, last_id, retry
        # The data buffer's size in bytes, counted here once rather than per line: a value
        # and its LF, as _field() counts them (here _field() may count too: this overrides it).
        # Values from before this call, if none was dispatched since, may not be ASCII.
        if index == first_index:
            self._data_len = first_len + sum(map(len, data[first_values:])) + len(data) - first_values
        else:
            self._data_len = sum(map(len, data)) + len(data)
        return events

    def _byte_lines(self, buf: bytes, time: float) -> list[Event]:
        """Any piece: each line found and decoded on its own."""
        # bytes.splitlines breaks on exactly CRLF, LF and CR: the spec's three line endings.
        lines = buf.splitlines(keepends=True)
        tail = lines[-1]
        if tail[-1] != 0x0D and tail[-1] != 0x0A:
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
                if self._event_start < 0:
                    self._event_start = offset
                line = self._decode(body, offset)
                if line[0] != ":":  # "If the line starts with a U+003A COLON (:) Ignore the line."
                    self._field(line, len(body), offset)
                    if self.exceeded:
                        return events
            offset += n
        self._offset = offset
        return events

    # -- the spec's steps --------------------------------------------------------

    def _decode(self, body: bytes, offset: int) -> str:
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = body.decode("utf-8", "replace")
            self._notice("invalid-utf8", offset + exc.start, line, body[exc.start : exc.end + 3].hex(" "))
            return line

    def _field(self, line: str, size: int, offset: int) -> None:
        """A line that is not blank and not a comment; ``size`` is its length in bytes."""
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
            self._data_len += size - (len(line) - len(value)) + 1
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
        data = self._data
        if not data:
            self._type = ""
            return None
        event = _new_event(
            Event,
            (
                data[0] if len(data) == 1 else "\n".join(data),
                self._type or "message",
                self._last_id,
                retry,
                start,
                end,
                time,
                self.events_dispatched,
            ),
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


# Event's own constructor takes keywords through a Python-level __new__; the parser,
# which makes millions, builds the tuple directly.
_new_event = tuple.__new__


def _no_cr_lf(lines: list[str]) -> bool:
    """Whether none of ``lines`` holds a CR or an LF (split at CRLF: the piece had no other)."""
    joined = "".join(lines)
    return "\r" not in joined and "\n" not in joined
