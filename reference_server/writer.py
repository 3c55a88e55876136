"""Carries out a plan: the response head, then the body as timed writes, byte for byte.

The body is a sequence of steps (wait this long, then write these bytes); the plan's
faults decide the steps, this module only times and sends them as ASGI messages.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import anyio
from starlette.types import Send

from .plan import Plan, stamp

__all__ = ["write_plan", "RESET_MESSAGE", "ENDLESS_CAP", "BUFFER_SECONDS", "TRICKLE_PAUSE"]

# The ASGI message that asks the byte-exact listener (``raw.py``) to reset the connection.
RESET_MESSAGE = "sse-conformance.reset"
RESET_PAUSE = 0.3  # seconds between the last write and a reset
# An endless stream ends by itself after this long, so a forgotten client frees the server.
ENDLESS_CAP = 120.0
# A buffered stream holds everything this long, then writes it at once: longer than the
# suite's 1 s minimum span for judging DELIVERY-INCREMENTAL.
BUFFER_SECONDS = 1.2
# A trickle writes one byte this often: never silent long enough for an idle timeout,
# yet a 600-byte answer takes 12 s.
TRICKLE_PAUSE = 0.02
# The halves of a split write are this far apart, so they reach the client as two reads.
SPLIT_PAUSE = 0.002
WRITE_SIZE = 64 * 1024  # pieces of a huge line or of an endless stream sent without pause
HUGE_LINE_BYTES = 4 << 20  # a huge line's length unless ?size= says otherwise
NO_BODY_STATUSES = (204, 304)


@dataclass(frozen=True, slots=True)
class Step:
    pause: float  # seconds to wait first
    data: bytes = b""
    reset: bool = False  # reset the connection instead of writing


async def write_plan(plan: Plan, send: Send) -> None:
    if plan.stall_before_headers:
        await anyio.sleep(plan.stall_before_headers)
    status, headers = plan.status, dict(plan.headers)
    if plan.refusal is not None:
        status = plan.refusal.status
        headers = {"content-type": "application/json", **plan.refusal.headers}
        steps: Iterable[Step] = [Step(0.0, plan.refusal.body())]
    else:
        steps = _encoded(_steps(plan), plan.encoding, plan.flush)
        if plan.encoding:
            headers.setdefault("content-encoding", plan.encoding)  # unless a fault names it its own way
        if plan.content_length:
            steps = list(steps)
            headers["content-length"] = str(sum(len(s.data) for s in steps) + plan.length_extra)
    more = plan.more_headers if plan.refusal is None else []
    raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in [*headers.items(), *more]]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    if status not in NO_BODY_STATUSES:
        for step in steps:
            # Even a zero pause is a checkpoint: where the client has left, and the server
            # only drops what is sent to it, this is where the writer is cancelled.
            await anyio.sleep(step.pause)
            if step.reset:
                await send({"type": RESET_MESSAGE})
                return
            if step.data:
                data = stamp(step.data) if plan.stamp else step.data
                await send({"type": "http.response.body", "body": data, "more_body": True})
    if plan.unfinished and plan.refusal is None:
        return  # the byte-exact listener closes the connection with the body's end unmarked
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def _steps(plan: Plan) -> Iterator[Step]:
    if plan.huge_line:
        yield from _huge_line(plan.size or HUGE_LINE_BYTES)
        return
    for pause, data in plan.preamble:
        yield Step(pause, data)
    frames = plan.frames()
    if plan.write == "once":
        yield Step(BUFFER_SECONDS if plan.hold is None else plan.hold, b"".join(frames))
        frames = []
    for i, frame in enumerate(frames):
        pause = plan.delay if i else 0.0
        if i == plan.reset_after:
            # A reset discards what the client has not read yet: the pause lets a loaded client
            # read the events sent before it, so the exchange it records does not depend on load.
            yield Step(max(pause, RESET_PAUSE), reset=True)
            return
        if i == plan.stall_after:
            pause += plan.stall_for
        yield from _writes(frame, plan, pause)
    if plan.endless:
        yield from _endless(plan)
    if plan.stall_after is not None and plan.stall_after >= len(frames):
        yield Step(plan.stall_for)
    if plan.linger:
        yield Step(plan.linger)


def _writes(frame: bytes, plan: Plan, pause: float) -> Iterator[Step]:
    """One frame as the plan's write mode cuts it."""
    if plan.write in ("bytes", "trickle"):
        gap = TRICKLE_PAUSE if plan.write == "trickle" else 0.0
        for n in range(len(frame)):
            yield Step(pause if n == 0 else gap, frame[n : n + 1])
    elif plan.write == "split" and (cut := _inside_multibyte(frame)):
        yield Step(pause, frame[:cut])
        yield Step(SPLIT_PAUSE, frame[cut:])
    else:
        yield Step(pause, frame)


def _inside_multibyte(frame: bytes) -> int:
    """The offset just after the first byte of the first multi-byte character, or 0."""
    for n, byte in enumerate(frame):
        if byte >= 0xC0:  # a UTF-8 lead byte: the character continues past it
            return n + 1
    return 0


def _endless(plan: Plan) -> Iterator[Step]:
    """Chunk after chunk until ``size`` bytes or ENDLESS_CAP seconds; without a delay, in
    writes of about WRITE_SIZE, so a fast stream is not bound by the cost of one write."""
    template = plan.chunks[-1] if plan.chunks else {}
    started, sent, n = time.monotonic(), 0, 0
    limit = plan.size if plan.size is not None else float("inf")
    batch = bytearray()
    while sent < limit and time.monotonic() - started < ENDLESS_CAP:
        n += 1
        frame = plan.encode_chunk({**template, "content": f"{template.get('content', '')} {n}"})
        frame = frame[: int(min(len(frame), limit - sent))]
        sent += len(frame)
        if plan.delay:
            yield Step(plan.delay, frame)
            continue
        batch += frame
        if len(batch) >= WRITE_SIZE or sent >= limit:
            yield Step(0.0, bytes(batch))
            batch.clear()


def _huge_line(size: int) -> Iterator[Step]:
    """``data: xxx...`` with no line ending, ``size`` bytes in all."""
    head = b"data: "
    yield Step(0.0, head[:size])
    left = size - len(head)
    piece = b"x" * WRITE_SIZE
    while left > 0:
        yield Step(0.0, piece[:left])
        left -= WRITE_SIZE


def _encoded(steps: Iterable[Step], encoding: str | None, flush: bool = True) -> Iterator[Step]:
    """The steps with each write gzip-compressed and flushed, so it still goes out at once;
    unflushed, the compressor keeps what it is given (a short body, all of it) until the end."""
    if encoding is None:
        yield from steps
        return
    if encoding != "gzip":
        raise ValueError(f"unsupported encoding {encoding!r}")
    gzip = zlib.compressobj(wbits=31)  # 16 + 15: a gzip wrapper
    for step in steps:
        if step.reset:
            yield step
            return
        yield Step(step.pause, gzip.compress(step.data) + (gzip.flush(zlib.Z_SYNC_FLUSH) if flush else b""))
    yield Step(0.0, gzip.flush())
