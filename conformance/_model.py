"""The data the stages pass along: requirements, violations, and how an exchange ended."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Level", "Requirement", "Violation", "Ending", "EndKind"]


class Level(str, enum.Enum):
    MUST = "MUST"
    SHOULD = "SHOULD"


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
        parts = []
        if self.event is not None:
            parts.append(f"event {self.event}")
        if self.offset is not None:
            parts.append(f"byte {self.offset}")
        if self.time is not None:
            parts.append(f"{self.time:.3f} s")
        return ", ".join(parts)


class EndKind(str, enum.Enum):
    """How an exchange ended. Only CLOSED is the server's own doing."""

    CLOSED = "closed"  # the server ended the response
    GRACE_EXPIRED = "grace-expired"  # the terminator came, the response did not end within the grace
    IDLE_TIMEOUT = "idle-timeout"  # no byte for --sse-timeout
    STREAM_TIMEOUT = "stream-timeout"  # the whole stream took longer than --sse-stream-timeout
    LIMIT = "limit"  # a line, event or body limit was hit
    NO_RESPONSE = "no-response"  # no status line and headers: refused, DNS, TLS, timeout
    READ_ERROR = "read-error"  # the connection broke mid-body
    INCOMPLETE = "incomplete"  # the body ended short of what its framing promised (RFC 9112 section 8)
    DROPPED = "dropped"  # the client went away on purpose (a lifecycle probe)


@dataclass(frozen=True)
class Ending:
    kind: EndKind
    detail: str  # a sentence naming the cause and the figures
    time: float  # seconds since the request was sent
    offset: int  # body bytes received by then
