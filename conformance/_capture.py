"""Making one exchange and recording it: ``capture`` sends the request through a client
(``_transport.py``), reads the body as it arrives within the limits, feeds each piece to the
parser and each event to the observers (the checks), and says how the exchange ended. What
it fills in is a :class:`Transcript` (``_transcript.py``).

No read waits without a bound, and nothing the target does makes ``capture`` raise: a
failure to connect, a stall, a broken or overlong body all end the exchange with an
:class:`Ending` that says what happened and where.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from typing import Protocol, TypeVar

import httpx

from ._causes import transport_cause, unreachable
from ._json_text import json_loads
from ._model import Ending, EndKind
from ._parser import EventStreamParser
from ._parser_output import Event
from ._profile import Profile
from ._transcript import Chunk, Evidence, Limits, RequestSpec, Transcript
from ._transport import Response, Transport, UndecodableBody

__all__ = ["ERROR_BODY_BYTES", "WALL_CLOCK", "Clock", "Observer", "Tap", "capture", "framing"]

ERROR_BODY_BYTES = 64 * 1024  # read of an answer other than 200: enough for any error body, and no stream
ARRIVALS_KEPT = 4096  # event arrival times kept; past that, every other one is dropped
# Sent unless the request names the header itself (a probe may send another Content-Type).
DEFAULT_HEADERS = (
    ("Content-Type", "application/json"),
    ("Accept", "text/event-stream"),
    ("Cache-Control", "no-cache"),
)


class Observer(Protocol):
    """Sees each event as it is parsed (the rules, ``_rules.py``). One that also has a
    ``crashed(exc, event)`` method is told of its own exception, which then does not end
    the exchange."""

    def on_chunk(self, chunk: Chunk) -> None: ...


T = TypeVar("T")
Tap = Callable[[bytes, float], None]  # sees every piece of the body as read, with its arrival time


class Clock:
    """The time an exchange is recorded by: the wall clock (``perf_counter``), and waits
    bounded by ``asyncio.timeout``. A replay (``_replay.py``) substitutes the times it
    recorded, so a saved exchange is judged as it happened, not as fast as it is read back."""

    now = staticmethod(time.perf_counter)

    async def within(self, seconds: float, awaitable: Awaitable[T]) -> T:
        """``awaitable``'s result, or TimeoutError once ``seconds`` have passed."""
        async with asyncio.timeout(seconds):
            return await awaitable


WALL_CLOCK = Clock()


class _Recorder:
    """Feeds the parser and the observers while the body arrives.

    It runs once per event of streams of millions: what it needs per event is looked up
    once, here, rather than on every call.
    """

    def __init__(
        self, t: Transcript, profile: Profile, limits: Limits, observers: Iterable[Observer], evidence: Evidence
    ) -> None:
        self.t = t
        self.is_terminator = profile.is_terminator
        self.text_of = profile.text_of if profile.text_path is not None else None
        self.observers = list(observers)
        self.parser = EventStreamParser(max_line=limits.max_line, max_event=limits.max_event)
        self.evidence = evidence
        self._last_time: float | None = None
        self.waited = 0.0  # seconds spent waiting for the body's pieces so far

    def piece(self, data: bytes, now: float) -> None:
        t = self.t
        if t.first_byte_at is None:
            t.first_byte_at = now
        self.evidence.add(data)
        for event in self.parser.feed(data, now):
            self._event(event, now)

    def _event(self, event: Event, now: float) -> None:
        t = self.t
        terminator = self.is_terminator(event)
        after_terminator = t.terminators > 0
        t.events += 1
        t.last_event = event
        if self._last_time is None:
            t.first_event_at = now
        elif now - self._last_time > t.max_gap:
            t.max_gap = now - self._last_time
            t.max_gap_at = self._last_time
        self._last_time = now
        value, json_error = None, None
        if terminator:
            t.terminators += 1
            if t.terminator_at is None:
                t.terminator_at, t.first_terminator = now, event.index
        else:
            t.data_events += 1
            if t.first_data_at is None:
                t.first_data_at = now
            t.last_data_at = now
            if t.data_events % t.arrival_stride == 0:
                t.arrivals.append(now)
                t.arrival_waits.append(self.waited)
                if len(t.arrivals) >= ARRIVALS_KEPT:
                    # Keep memory flat on long streams: halve the sample, double the stride.
                    t.arrivals = t.arrivals[1::2]
                    t.arrival_waits = t.arrival_waits[1::2]
                    t.arrival_stride *= 2
            try:
                value = json_loads(event.data)
            except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than Python recurses
                json_error = str(exc) or type(exc).__name__
            if t.first_text_at is None and self.text_of is not None and json_error is None and self.text_of(value):
                t.first_text_at = now
        chunk = _new_chunk(Chunk, (event, terminator, after_terminator, value, json_error))
        for observer in self.observers:
            try:
                observer.on_chunk(chunk)
            except Exception as exc:  # noqa: BLE001 - one check's trouble must not end the exchange
                if not hasattr(observer, "crashed"):
                    raise
                observer.crashed(exc, event)

    def finish(self) -> None:
        t = self.t
        self.parser.close()
        t.body_bytes = self.evidence.size
        t.unterminated = self.parser.unterminated
        t.notices = self.parser.notices
        t.notice_counts = dict(self.parser.notice_counts)
        t.head = self.evidence.head
        t.tail = self.evidence.tail



_new_chunk = tuple.__new__  # as the parser makes events: without the keyword constructor


async def capture(
    client: Transport,
    request: RequestSpec,
    profile: Profile,
    limits: Limits,
    observers: Iterable[Observer] = (),
    evidence: Evidence | None = None,
    drop_after_events: int | None = None,
    clock: Clock = WALL_CLOCK,
    tap: Tap | None = None,
) -> Transcript:
    """Make one exchange through ``client`` (``_transport.py``) and record it. Never
    raises for anything the target does.

    Observers see each event as it is parsed; ``evidence`` (the body's head and recent
    bytes) is where they cut their excerpts from. With ``drop_after_events``, the client
    closes the connection once that many events have arrived, as a client that goes away.
    ``tap`` sees every piece of the body as it was read (before any limit cuts it), with the
    time ``clock`` gives it.
    """
    given = {name.lower() for name, _ in request.headers}
    headers = [(k, v) for k, v in DEFAULT_HEADERS if k.lower() not in given] + list(request.headers)
    t0 = clock.now()
    deadline = t0 + limits.stream_timeout
    t = Transcript(request=request, ending=Ending(EndKind.CLOSED, "", 0.0, 0))
    rec = _Recorder(t, profile, limits, observers, evidence or Evidence())
    wait = min(limits.timeout, limits.stream_timeout)
    try:
        response = await clock.within(
            wait, client.send(request.method, request.url, request.body, headers, t.sent_headers))
    except TimeoutError:
        detail = f"no response headers within {wait:g} s (--sse-timeout)"
        t.ending = Ending(EndKind.NO_RESPONSE, detail, clock.now() - t0, 0)
        return t
    except Exception as exc:  # noqa: BLE001 - whatever the transport raises, the target caused it
        kind = EndKind.UNREACHABLE if unreachable(exc) else EndKind.NO_RESPONSE
        t.ending = Ending(kind, transport_cause(exc), clock.now() - t0, 0)
        return t
    t.headers_at = clock.now() - t0
    t.status = response.status
    t.reason = response.reason
    t.http_version = response.http_version
    t.headers = response.headers
    if t.status != 200:
        # An error answer is not read as a stream: its start says what it is, and one that
        # goes on (a 429 whose body never ends) must not hold a slot for a whole stream.
        limits = replace(limits, max_body=min(limits.max_body, ERROR_BODY_BYTES))
        deadline = min(deadline, clock.now() + limits.timeout)
    try:
        t.ending = await _read_body(response, rec, limits, t0, deadline, drop_after_events, clock, tap)
    finally:
        await response.aclose()
        rec.finish()
    if t.status != 200 and t.ending.kind in (EndKind.STREAM_TIMEOUT, EndKind.IDLE_TIMEOUT, EndKind.LIMIT):
        t.ending = replace(t.ending, detail=f"{t.ending.detail}: an answer with status {t.status} is read for at "
                                            f"most {ERROR_BODY_BYTES // 1024} KiB, within one --sse-timeout")
    return t


async def _read_body(
    response: Response, rec: _Recorder, limits: Limits, t0: float, deadline: float, drop_after: int | None,
    clock: Clock, tap: Tap | None,
) -> Ending:
    t = rec.t
    pieces = response.pieces()
    grace_deadline: float | None = None
    while True:
        now = started = clock.now()
        if grace_deadline is not None:
            # After the terminator, only the grace and the whole stream's deadline apply.
            if grace_deadline <= deadline:
                wait, why = grace_deadline - now, EndKind.GRACE_EXPIRED
            else:
                wait, why = deadline - now, EndKind.STREAM_TIMEOUT
        elif deadline - now < limits.timeout:
            wait, why = deadline - now, EndKind.STREAM_TIMEOUT
        else:
            wait, why = limits.timeout, EndKind.IDLE_TIMEOUT
        try:
            piece = await clock.within(max(wait, 0), anext(pieces))
        except StopAsyncIteration:
            return Ending(EndKind.CLOSED, "the server ended the response", clock.now() - t0, rec.evidence.size)
        except TimeoutError:
            return _timeout_ending(why, rec, limits, clock.now() - t0)
        except UndecodableBody as exc:  # a content coding the suite will not inflate: one of its limits
            return Ending(EndKind.LIMIT, str(exc), clock.now() - t0, rec.evidence.size)
        except Exception as exc:  # noqa: BLE001 - as above: a broken read is the target's doing
            return _broken_ending(exc, t, rec.evidence.size, clock.now() - t0)
        now = clock.now() - t0
        rec.waited += t0 + now - started
        if tap is not None:
            tap(piece, now)
        if rec.evidence.size + len(piece) > limits.max_body:
            rec.piece(piece[: limits.max_body - rec.evidence.size], now)
            detail = f"body longer than {limits.max_body} bytes (--sse-max-body)"
            return Ending(EndKind.LIMIT, detail, now, rec.evidence.size)
        rec.piece(piece, now)
        if (exceeded := rec.parser.exceeded) is not None:
            return Ending(EndKind.LIMIT, f"{exceeded} (--sse-max-{exceeded.what})", now, rec.evidence.size)
        if drop_after is not None and t.events >= drop_after:
            return Ending(EndKind.DROPPED, f"the client went away after {t.events} events", now, rec.evidence.size)
        if grace_deadline is None and t.terminator_at is not None:
            grace_deadline = t0 + t.terminator_at + limits.done_grace


def framing(headers: Sequence[tuple[str, str]]) -> tuple[str, int | None]:
    """How the response marks the end of its body (RFC 9112 section 6.3): ("chunked",
    None), ("length", N) for a Content-Length of N, or ("close", None) for a body that
    ends when the connection closes."""
    codings = [c.strip().lower() for k, v in headers if k.lower() == "transfer-encoding" for c in v.split(",")]
    if codings and codings[-1] == "chunked":
        return "chunked", None
    lengths = {v.strip() for k, v in headers if k.lower() == "content-length"}
    if not codings and len(lengths) == 1 and (length := lengths.pop()).isdigit():
        return "length", int(length)
    return "close", None


def _framing_complaint(exc: BaseException) -> bool:
    """Whether the client raised because the body broke its framing (it ended short, or a
    chunk was malformed), rather than because the connection failed (a reset, TLS)."""
    if isinstance(exc, httpx.RemoteProtocolError):
        return True
    aiohttp = sys.modules.get("aiohttp")  # loaded only if the concurrent transport is in use
    return aiohttp is not None and isinstance(exc, aiohttp.ClientPayloadError)


def _broken_ending(exc: BaseException, t: Transcript, size: int, now: float) -> Ending:
    kind, length = framing(t.headers)
    if _framing_complaint(exc) and kind == "chunked":
        detail = ("the response ended before its body was complete: the body is chunked, and its last "
                  "(zero-size) chunk never came (an incomplete message, RFC 9112 section 8)")
        return Ending(EndKind.INCOMPLETE, detail, now, size)
    if _framing_complaint(exc) and kind == "length":
        if t.header_values("content-encoding"):  # ``size`` counts decoded bytes: the promise counts sent ones
            arrived = f"the connection closed before all of them arrived ({size} bytes once decoded)"
        else:
            arrived = f"{size} arrived"
        detail = (f"the response ended before its body was complete: its Content-Length promised {length} "
                  f"bytes, and {arrived} (an incomplete message, RFC 9112 section 8)")
        return Ending(EndKind.INCOMPLETE, detail, now, size)
    return Ending(EndKind.READ_ERROR, f"the connection broke: {transport_cause(exc)}", now, size)


def _timeout_ending(why: EndKind, rec: _Recorder, limits: Limits, now: float) -> Ending:
    t = rec.t
    size = rec.evidence.size
    if why is EndKind.GRACE_EXPIRED:
        return Ending(why, f"the response stayed open {limits.done_grace:g} s after the terminator", now, size)
    if why is EndKind.STREAM_TIMEOUT:
        detail = f"the stream was still open after {limits.stream_timeout:g} s (--sse-stream-timeout)"
        return Ending(why, detail, now, size)
    if t.last_event is not None:
        after = f"after event {t.last_event.index} at offset {t.last_event.offset}"
    elif size:
        after = f"after byte {size}, before any event"
    else:
        after = "after the headers, before any byte of the body"
    return Ending(why, f"no byte for {limits.timeout:g} s {after} (--sse-timeout)", now, size)
