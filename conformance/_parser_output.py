"""What the event-stream parser (``_parser.py``) gives: the events it dispatches, the
notices of what a client ignores silently, what ``close()`` discarded, and the limit a line
or an event outgrew. Plain records, each with the byte offset it is about.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["Event", "LimitExceeded", "Notice", "Unterminated"]


class Event(NamedTuple):
    """One dispatched event.

    ``offset`` is the byte offset of the event's first line in the body as received (a
    stripped BOM counts), ``end`` the offset of the blank line that dispatched it (so the
    event's bytes are ``body[offset:end]`` however the body was cut), ``time`` the
    arrival time given with the piece that completed it, ``index`` its number, from 0.

    A named tuple, not a dataclass: a long stream makes millions of these, and a tuple
    is built several times faster than a frozen dataclass.
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
