"""A response plan: what the reference server will send, before any fault edits it.

The dialect fills in a correct plan; each selected fault changes one thing in it; the
writer in ``writer.py`` carries it out byte for byte.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from .encoder import encode_event

__all__ = ["Plan", "Refusal", "Frames", "WriteMode", "stamp"]

Frames = list[bytes]
# How the body goes out: "frames" one write per event; "bytes" one write per byte;
# "split" each event in two writes, cut inside its first multi-byte character;
# "once" everything in one write at the end (buffered); "trickle" one byte per write, slowly.
WriteMode = Literal["frames", "bytes", "split", "once", "trickle"]
# How the end of the body is marked: "server" as the HTTP server does it (chunked encoding
# under uvicorn); "close" by closing the connection, with neither chunking nor a length.


@dataclass(frozen=True)
class Refusal:
    """A JSON error answered instead of the stream."""

    status: int
    message: str
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> bytes:
        return json.dumps({"error": {"message": self.message, "type": "refused"}}).encode()


# With ``stamp`` on, each chunk is encoded with this placeholder for its send time, and
# the writer puts the time in just before it writes the frame (see ``stamp``), padded to
# the placeholder's width so that a length computed beforehand stays right.
_SENT_AT = "\x00sent_at\x00"
_SENT_AT_JSON = json.dumps(_SENT_AT).encode()


@dataclass
class Plan:
    chunks: list[dict[str, Any]]  # the JSON payloads, in order
    request: dict[str, Any] = field(default_factory=dict)  # the request body this plan answers
    terminator: str | None = "[DONE]"
    sep: str = "\n"  # line separator of the encoder
    indent: int | None = None  # JSON indentation of the payloads (several data: lines when set)
    status: int = 200
    headers: dict[str, str] = field(
        default_factory=lambda: {
            "content-type": "text/event-stream",
            "cache-control": "no-cache",
            "x-accel-buffering": "no",
        }
    )
    more_headers: list[tuple[str, str]] = field(default_factory=list)  # sent after ``headers``, repeats kept
    refusal: Refusal | None = None  # answer this error instead of the stream
    delay: float = 0.02  # seconds between frames
    write: WriteMode = "frames"
    encoding: str | None = None  # "gzip": each write compressed and flushed
    flush: bool = True  # with an encoding: False holds the compressed bytes until the end of the body
    hold: float | None = None  # with write "once": how long the answer is held (default writer.BUFFER_SECONDS)
    content_length: bool = False  # send a Content-Length (the body is computed up front anyway)
    length_extra: int = 0  # bytes the Content-Length promises beyond the body (a body cut short)
    unfinished: bool = False  # the end of the body is never marked: the connection just closes (raw.py)
    stall_before_headers: float = 0.0
    preamble: list[tuple[float, bytes]] = field(default_factory=list)  # (pause, bytes) written before the frames
    stall_after: int | None = None  # frames written before the stall
    stall_for: float = 0.0
    linger: float = 0.0  # the response stays open this long after the last frame
    endless: bool = False  # chunks keep coming, no terminator, until the client leaves (or a cap)
    huge_line: bool = False  # the body is one line with no line ending, ``size`` bytes long
    size: int | None = None  # bytes the endless stream or the huge line runs to (``?size=``)
    reset_after: int | None = None  # frames written before the connection is reset (TCP RST)
    omit_done_if_concurrent: bool = False  # no terminator while other streams are in flight
    edits: list[Callable[[Frames], Frames]] = field(default_factory=list)  # byte-level changes, in order
    request_headers: dict[str, str] = field(default_factory=dict)  # as received, for faults that echo them
    stamp: bool = False  # each chunk carries "sent_at": the server's time.time() when its frame is written

    def encode_chunk(self, chunk: dict[str, Any]) -> bytes:
        if self.stamp:
            chunk = {**chunk, "sent_at": _SENT_AT}
        return encode_event(json.dumps(chunk, ensure_ascii=False, indent=self.indent), sep=self.sep)

    def frames(self) -> Frames:
        frames = [self.encode_chunk(c) for c in self.chunks]
        if self.terminator is not None and not self.endless:
            frames.append(encode_event(self.terminator, sep=self.sep))
        for edit in self.edits:
            frames = edit(frames)
        return frames


def stamp(data: bytes) -> bytes:
    """The bytes about to be written, with the time now for each chunk's ``sent_at``.
    (A placeholder cut across two writes, or compressed, is not found and stays.)"""
    return data.replace(_SENT_AT_JSON, f"{time.time():.6f}".ljust(len(_SENT_AT_JSON)).encode())
