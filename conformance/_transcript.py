"""One real HTTP exchange, recorded: the request, the status and headers, the body as
timed pieces fed to the parser, and how the exchange ended.

Nothing the target sends is kept whole. The transcript holds counts, timings, the first
and last KiB of the body and a window of recent bytes; observers (the checks) see every
event as it is parsed and keep their own bounded evidence. A 1 GiB stream costs the same
memory as a 1 KiB one.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from array import array
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple, Protocol, TypeVar

import httpx

from ._causes import transport_cause, unreachable
from ._model import Ending, EndKind
from ._parser import Event, EventStreamParser, Notice, Unterminated
from ._profile import Profile
from ._transport import Response, Transport, UndecodableBody, make_client, make_concurrent_client

__all__ = ["Limits", "RequestSpec", "Chunk", "Evidence", "Transcript", "Observer", "Clock", "Tap", "capture",
           "make_client", "make_concurrent_client"]

HEAD_BYTES = 1024
ERROR_BODY_BYTES = 64 * 1024  # read of an answer other than 200: enough for any error body, and no stream
WINDOW_BYTES = 16 * 1024  # recent bytes kept for excerpts around a violation
EXCERPT_BEFORE = 48
EXCERPT_AFTER = 208
ARRIVALS_KEPT = 4096
# Sent unless the request names the header itself (a probe may send another Content-Type).
DEFAULT_HEADERS = (
    ("Content-Type", "application/json"),
    ("Accept", "text/event-stream"),
    ("Cache-Control", "no-cache"),
)  # event arrival times kept; past that, every other one is dropped


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


class Observer(Protocol):
    def on_chunk(self, chunk: Chunk) -> None: ...


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
                value = _json_loads(event.data)
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


class _NotJsonConstant(ValueError):
    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.token = token


def _refuse_constant(token: str) -> Any:
    # Python's json reads NaN, Infinity and -Infinity; RFC 8259 has no such values, and
    # JavaScript's JSON.parse throws on them. The scanner calls this only for those three
    # tokens, so refusing them costs the usual chunk nothing.
    raise _NotJsonConstant(token)


def _big_int(digits: str) -> int | float:
    # RFC 8259 sets no limit on a number's digits; Python refuses to convert more than
    # sys.get_int_max_str_digits() (4300) of them, where JavaScript reads a Number. Read
    # as JavaScript does, so a long integer is judged, not refused.
    try:
        return int(digits)
    except ValueError:
        return float(digits)


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
_BIG_INT_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_int=_big_int)
_scan_json = _DECODER.scan_once  # the C scanner json.loads runs, without its wrapping
# A JSON string, or one of the tokens Python takes for a number and RFC 8259 does not.
_CONSTANT_OR_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)', re.DOTALL)


# Deeper than any API's chunk, and far below Python's recursion limit, which the checks'
# own recursion (schema validation, messages quoting the value) must not reach either.
MAX_JSON_DEPTH = 100


def _json_depth(text: str) -> int:
    """How deep arrays and objects nest in a JSON text (strings skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _constant_error(text: str, token: str) -> ValueError:
    where = next((m.start(1) for m in _CONSTANT_OR_STRING.finditer(text) if m.group(1) is not None), None)
    at = f" at character {where}" if where is not None else ""
    return ValueError(f"{token}{at}: RFC 8259 has no NaN or Infinity (JavaScript's JSON.parse throws on it; "
                      "Python's json.loads reads it)")


def _json_loads(text: str) -> Any:
    """The JSON value of ``text`` by RFC 8259, as a JavaScript client reads it: what
    ``json.loads(text)`` returns, except that NaN, Infinity and -Infinity are refused and
    an integer longer than Python converts is read as a float. The usual chunk, a JSON
    value with no whitespace around it, takes the C scanner's fast path; anything else is
    left to the decoder, for its verdict and its message. A value nested deeper than
    MAX_JSON_DEPTH is refused as ValueError."""
    # Counting brackets is fast; only a text with that many is measured exactly.
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _json_depth(text) > MAX_JSON_DEPTH:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels: too deep to judge safely")
    try:
        try:
            value, end = _scan_json(text, 0)
            if end == len(text):
                return value
        except _NotJsonConstant:
            raise
        except (StopIteration, ValueError):
            pass
        if text.startswith("\ufeff"):
            return json.loads(text)  # refused, with json.loads's own message (JSON.parse refuses it too)
        try:
            return _DECODER.decode(text)
        except ValueError as exc:
            if "integer string conversion" not in str(exc):
                raise
        return _BIG_INT_DECODER.decode(text)
    except _NotJsonConstant as exc:
        raise _constant_error(text, exc.token) from None


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
