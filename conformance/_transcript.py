"""One real HTTP exchange, recorded: the request and the limits it ran under, the status
and headers, the timings, the events as the checks see them (``Chunk``), the evidence
kept of the body, and how the exchange ended. ``capture`` (``_capture.py``) makes the
exchange and fills the :class:`Transcript` in.

Nothing the target sends is kept whole. The transcript holds counts, timings, the first
and last KiB of the body and a window of recent bytes; observers (the checks) see every
event as it is parsed and keep their own bounded evidence. A 1 GiB stream costs the same
memory as a 1 KiB one.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ._model import Ending
from ._parser_output import Event, Notice, Unterminated

__all__ = ["Chunk", "Evidence", "Limits", "RequestSpec", "Transcript"]

HEAD_BYTES = 1024
WINDOW_BYTES = 16 * 1024  # recent bytes kept for excerpts around a violation
EXCERPT_BEFORE = 48
EXCERPT_AFTER = 208


@dataclass(frozen=True)
class Limits:
    timeout: float = 30.0  # longest wait for headers or for the next byte
    stream_timeout: float = 300.0  # longest a whole exchange may take
    done_grace: float = 2.0  # how long the server may keep the response open after the terminator
    max_line: int = 1 << 20
    max_event: int = 8 << 20
    max_body: int = 64 << 20


@dataclass(frozen=True)
class RequestSpec:
    url: str
    body: bytes
    headers: Sequence[tuple[str, str]] = ()  # sent as given, after the suite's own
    method: str = "POST"


class Chunk(NamedTuple):
    """An event as the checks see it: parsed once, JSON decoded once. (A named tuple, as
    :class:`Event` is, because a long stream makes millions.)"""

    event: Event
    terminator: bool  # the profile's end-of-stream event
    after_terminator: bool  # dispatched after the first terminator
    value: Any = None  # the decoded JSON, when json_error is None
    json_error: str | None = None


class Evidence:
    """The first KiB of the body and a sliding window of its most recent bytes."""

    def __init__(self, head_bytes: int = HEAD_BYTES) -> None:
        self.head_bytes = head_bytes
        self.head = b""
        self._window = bytearray()
        self._window_start = 0
        self.size = 0

    def add(self, piece: bytes) -> None:
        if len(self.head) < self.head_bytes:
            self.head += piece[: self.head_bytes - len(self.head)]
        self._window += piece
        self.size += len(piece)
        excess = len(self._window) - WINDOW_BYTES
        if excess > 0:
            del self._window[:excess]
            self._window_start += excess

    @property
    def tail(self) -> bytes:
        return bytes(self._window[-HEAD_BYTES:])

    def around(self, offset: int, end: int | None = None) -> tuple[int, bytes]:
        """Bytes around ``offset`` (through ``end`` if given, within bounds) still held,
        starting at a line start where one is near; at the end of the body, its last lines."""
        anchor = min(offset, max(self.size - EXCERPT_BEFORE * 3, 0)) if offset >= self.size else offset
        start = max(anchor - EXCERPT_BEFORE, 0)
        stop = min(max(end or 0, offset) + EXCERPT_AFTER, self.size)
        if start < self._window_start:
            if stop <= self.head_bytes:
                return start, self.head[start:stop]
            start = self._window_start
        if stop <= start:
            return offset, b""
        rel = start - self._window_start
        # Start after the last line ending before the anchor's own line, so rows are whole lines.
        before = bytes(self._window[rel : rel + max(anchor - start - 1, 0)])
        cut = max(before.rfind(b"\n"), before.rfind(b"\r"))
        if cut >= 0:
            start, rel = start + cut + 1, rel + cut + 1
        return start, bytes(self._window[rel : rel + (stop - start)])


@dataclass
class Transcript:
    """What one exchange showed. Times are seconds since the request was sent."""

    request: RequestSpec
    ending: Ending
    sent_headers: list[tuple[str, str]] = field(default_factory=list)  # as sent, the client's own included
    status: int | None = None
    reason: str = ""
    http_version: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    headers_at: float | None = None
    first_byte_at: float | None = None
    first_event_at: float | None = None
    terminator_at: float | None = None
    first_terminator: int | None = None  # the index of the first terminator event
    first_data_at: float | None = None
    first_text_at: float | None = None  # the first chunk whose text delta is not empty
    last_data_at: float | None = None
    body_bytes: int = 0
    events: int = 0
    data_events: int = 0  # events other than the terminator
    terminators: int = 0
    arrivals: array = field(default_factory=lambda: array("d"))  # sampled, see arrival_stride
    arrival_stride: int = 1
    # For each sampled arrival, the seconds the client had spent waiting for the body by then:
    # a silence before an event is proven only as far as the client waited through it (a
    # client too busy to read, for a moment, finds what arrived meanwhile all at once).
    arrival_waits: array = field(default_factory=lambda: array("d"))
    max_gap: float = 0.0
    max_gap_at: float | None = None  # when the longest gap began (the arrival of the event before it)
    last_event: Event | None = None
    unterminated: Unterminated | None = None
    busy: str | None = None  # an in-stream error saying "not now", as the profile's [errors] busy names it
    notices: list[Notice] = field(default_factory=list)
    notice_counts: dict[str, int] = field(default_factory=dict)
    head: bytes = b""
    tail: bytes = b""

    @property
    def responded(self) -> bool:
        return self.status is not None

    def header(self, name: str) -> str | None:
        """The first value of a header, by case-insensitive name."""
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    def header_values(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    @property
    def media_types(self) -> list[str]:
        """Every media type the Content-Type field lines give, as sent: the lines joined and
        split at commas outside quoted strings, as fetch's "get, decode, and split" does."""
        return _split_list(", ".join(self.header_values("content-type")))

    @property
    def media_type(self) -> str | None:
        """The media type (lowercase, without parameters) a browser reads: the last of
        :attr:`media_types` that parses (WHATWG Fetch, "extract a MIME type")."""
        for value in reversed(self.media_types):
            essence = value.split(";", 1)[0].strip().lower()
            if _MEDIA_TYPE.match(essence) and essence != "*/*":
                return essence
        return None


_MEDIA_TYPE = re.compile(r"^[!#$%&'*+.^_`|~0-9a-z-]+/[!#$%&'*+.^_`|~0-9a-z-]+$")


def _split_list(value: str) -> list[str]:
    """A header value split at commas that are not inside a quoted string, each part
    stripped, empty parts dropped."""
    parts, current, quoted, escaped = [], [], False, False
    for ch in value:
        if escaped:
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]
