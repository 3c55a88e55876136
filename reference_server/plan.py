"""A response plan: what the reference server will send, before any fault edits it.

The dialect fills in a correct plan; each selected fault changes one thing in it; the
writer in ``app.py`` carries it out byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .encoder import encode_event

__all__ = ["Plan"]

Frames = list[bytes]


@dataclass
class Plan:
    chunks: list[dict[str, Any]]  # the JSON payloads, in order
    request: dict[str, Any] = field(default_factory=dict)  # the request body this plan answers
    terminator: str | None = "[DONE]"
    sep: str = "\n"  # line separator of the encoder
    status: int = 200
    headers: dict[str, str] = field(
        default_factory=lambda: {
            "content-type": "text/event-stream; charset=utf-8",
            "cache-control": "no-cache",
            "x-accel-buffering": "no",
        }
    )
    delay: float = 0.02  # seconds between frames
    write: str = "frames"  # "frames": one write per frame; "bytes": one per byte; "once": all at the end
    stall_before_headers: float = 0.0
    stall_after: int | None = None  # frames written before the stall
    stall_for: float = 0.0
    linger: float = 0.0  # the response stays open this long after the last frame
    endless: bool = False  # keep sending chunks until the client leaves (or the cap)
    omit_done_if_concurrent: bool = False  # no terminator while other streams are in flight
    edits: list[Callable[[Frames], Frames]] = field(default_factory=list)  # byte-level changes, in order
    request_headers: dict[str, str] = field(default_factory=dict)  # as received, for faults that echo them

    def encode_chunk(self, chunk: dict[str, Any]) -> bytes:
        return encode_event(json.dumps(chunk, ensure_ascii=False), sep=self.sep)

    def frames(self) -> Frames:
        frames = [self.encode_chunk(c) for c in self.chunks]
        if self.terminator is not None:
            frames.append(encode_event(self.terminator, sep=self.sep))
        for edit in self.edits:
            frames = edit(frames)
        return frames
