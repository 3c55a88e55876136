"""The data the stages pass along: requirements, violations, and how an exchange ended."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Level", "Requirement", "Violation", "Ending", "EndKind", "ordinal"]


class Level(str, enum.Enum):
    MUST = "MUST"
    SHOULD = "SHOULD"
    # Not the protocol's: whether a real client library reads the stream as the spec says.
    # Counted only when the run asks for it (--sse-interop fail), whatever --sse-strict says.
    INTEROP = "INTEROP"


@dataclass(frozen=True)
class Requirement:
    """A stable ID, a level, what it demands, and where that demand comes from."""

    id: str
    level: Level
    title: str
    source: str
    url: str = ""


@dataclass(frozen=True)
class Violation:
    """One failure of one requirement: what was expected, what arrived, and where."""

    requirement: str
    message: str
    expected: str = ""
    received: str = ""
    offset: int | None = None  # byte offset in the body as received
    event: int | None = None  # event number, from 0
    time: float | None = None  # seconds since the request was sent
    excerpt: bytes = b""  # raw bytes around the place, starting at excerpt_offset
    excerpt_offset: int | None = None

    def where(self) -> str:
        """Event, byte offset and time, as a reader reads them. Events are numbered from 0
        in every message (the parser's index), so the number says which one it is too:
        "event 7 (the 8th)" beside "8 events" leaves no doubt."""
        parts = []
        if self.event is not None:
            parts.append(f"event {self.event} (the {ordinal(self.event + 1)})")
        if self.offset is not None:
            parts.append(f"byte {self.offset}")
        if self.time is not None:
            parts.append(f"{self.time:.3f} s")
        return ", ".join(parts)


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, ... 11th, 12th, 13th, ... 21st."""
    suffix = "th" if n % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class EndKind(str, enum.Enum):
    """How an exchange ended. Only CLOSED is the server's own doing."""

    CLOSED = "closed"  # the server ended the response
    GRACE_EXPIRED = "grace-expired"  # the terminator came, the response did not end within the grace
    IDLE_TIMEOUT = "idle-timeout"  # no byte for --sse-timeout
    STREAM_TIMEOUT = "stream-timeout"  # the whole stream took longer than --sse-stream-timeout
    LIMIT = "limit"  # a line, event or body limit was hit
    UNREACHABLE = "unreachable"  # no connection could be made: refused, DNS, no route, TLS
    NO_RESPONSE = "no-response"  # connected, but no status line and headers: closed, reset, timeout
    READ_ERROR = "read-error"  # the connection broke mid-body
    INCOMPLETE = "incomplete"  # the body ended short of what its framing promised (RFC 9112 section 8)
    DROPPED = "dropped"  # the client went away on purpose (a lifecycle probe)


@dataclass(frozen=True)
class Ending:
    kind: EndKind
    detail: str  # a sentence naming the cause and the figures
    time: float  # seconds since the request was sent
    offset: int  # body bytes received by then
