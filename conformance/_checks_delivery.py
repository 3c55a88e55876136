"""The delivery checks: how the stream arrived over time. The suite's own limits (idle,
duration, size) and whether the events were delivered as they were generated or held
back and released at once.

DELIVERY-INCREMENTAL reads the arrival time of every data event (events read from the
network together share one) and, on a short answer, what else the response says: a
Content-Length fixed before the first byte, a Content-Encoding whose compressor may hold
events back. Its tolerances are named below, and the README states them.
"""

from __future__ import annotations

from array import array

from ._checks import PROTOCOL, SUITE, content_codings
from ._model import EndKind, Level, Requirement
from ._rules import Rule, rule
from ._transcript import Transcript

MUST = Level.MUST


class _EndingRule(Rule):
    """Fails when the exchange ended one particular way: the suite cut it at a limit."""

    kind: EndKind

    def finish(self, t: Transcript) -> None:
        if t.ending.kind is self.kind:
            self.fail(t.ending.detail, expected=self.expected(), offset=t.ending.offset, time=t.ending.time)

    def expected(self) -> str:
        raise NotImplementedError


@rule
class DeliveryIdle(_EndingRule):
    requirement = Requirement(
        "DELIVERY-IDLE", MUST, "No silence longer than --sse-timeout while the stream is open", PROTOCOL
    )
    kind = EndKind.IDLE_TIMEOUT

    def expected(self) -> str:
        return f"a byte at least every {self.limits.timeout:g} s (--sse-timeout)"


@rule
class DeliveryDuration(_EndingRule):
    requirement = Requirement(
        "DELIVERY-DURATION", MUST, "The whole stream completes within --sse-stream-timeout", PROTOCOL
    )
    kind = EndKind.STREAM_TIMEOUT

    def expected(self) -> str:
        return f"the stream ends within {self.limits.stream_timeout:g} s (--sse-stream-timeout)"


@rule
class DeliveryLimits(_EndingRule):
    requirement = Requirement(
        "DELIVERY-LIMITS",
        MUST,
        "No line, event or body exceeds the suite's limits (--sse-max-line, --sse-max-event, --sse-max-body)",
        SUITE,
    )
    kind = EndKind.LIMIT

    def expected(self) -> str:
        lim = self.limits
        return (f"lines up to {lim.max_line} bytes (--sse-max-line), events up to {lim.max_event} "
                f"(--sse-max-event), a body up to {lim.max_body} (--sse-max-body)")


# Tolerances of DELIVERY-INCREMENTAL, named so the rule can be read and argued with.
BUFFERED_MIN_CHUNKS = 3  # fewer data events cannot show a spread
# Data events spanning this long or more (from the request) are judged by the final window:
BUFFERED_MIN_SPAN = 1.0  # s
BUFFERED_SHARE = 0.9  # this share of data events ...
BUFFERED_WINDOW_MIN = 0.1  # s: ... inside the final max(0.1 s, 5% of the span) means buffered
BUFFERED_WINDOW_SHARE = 0.05
BUFFERED_PER_READ = 2.0  # ... arriving this many per network read on average means a burst
# A shorter span is judged by its last moments: the data events that arrived within
# BURST_WINDOW of the last are its burst, late when at most one event in ten (at least one)
# came before it. A late burst is surely held back with a Content-Length (the body's length
# was fixed before its first byte); without one, when it followed BURST_SILENCE of silence
# (since the headers, or the data event before it) and holds BURST_MIN_EVENTS or more events
# read at BUFFERED_PER_READ or more a read: a model that fast, after a first token that slow,
# would have to generate that many events within one network read.
BURST_WINDOW = 0.01  # s
BURST_SILENCE = 0.25  # s
BURST_MIN_EVENTS = 5


def _reads(n: int) -> str:
    return f"{n} network read{'s' * (n != 1)}"


def _compressed(t: Transcript) -> str:
    codings = content_codings(t)
    if not codings:
        return ""
    return (f"; the stream is compressed (Content-Encoding: {', '.join(codings)[:40]}), and a compressor not "
            "flushed after each event holds them all until the end")


@rule
class DeliveryIncremental(Rule):
    """The stream is delivered while it is generated, not buffered until the end.

    Two rules, by how long the data events took to arrive (their *span*, from sending the
    request to the last data event); fewer than 3 data events are not judged.

    A span of 1 s or more: the stream was buffered if at least 90% of the data events
    arrived within the final max(0.1 s, 5% of the span), AND they came batched, at least 2
    per network read on average (events read together share their arrival time).

    A shorter span: the *burst* is the data events that arrived within 10 ms of the last;
    it is *late* when at most one event in ten (at least one) arrived before it. A stream
    without a late burst was paced: it passes. A late burst was held back for sure when a
    Content-Length fixed the body's length before its first byte, or when it followed at
    least 0.25 s of silence (since the headers, or the data event before it) and holds 5
    or more events arriving at 2 or more per read. Silence counts only as far as the client
    waited through it: while it was busy, what arrived waited for it, so a burst read after
    the client was busy for longer than 10 ms is not judged either. Any other late burst
    cannot be told from a fast answer (a short one from a fast model, or a cache, may come
    in one read): it is not judged, with the reason.

    Tolerance: a slow first token followed by events written one by one passes, however
    fast; so does an answer with one event in ten delivered earlier. What fails is a
    held-back answer released at once, as a buffering proxy, an unflushed compressor or a
    server that builds the whole response releases it.
    """

    requirement = Requirement(
        "DELIVERY-INCREMENTAL",
        MUST,
        "Events are delivered as they are generated, not buffered until the end",
        PROTOCOL,
    )

    def finish(self, t: Transcript) -> None:
        if t.data_events < BUFFERED_MIN_CHUNKS or t.last_data_at is None or t.first_data_at is None:
            self.not_applicable = f"{t.data_events} data events: too few to judge"
        elif t.last_data_at >= BUFFERED_MIN_SPAN:
            self._long(t, t.last_data_at)
        else:
            self._short(t, t.last_data_at)

    def _long(self, t: Transcript, span: float) -> None:
        times: array = t.arrivals
        window = max(BUFFERED_WINDOW_MIN, BUFFERED_WINDOW_SHARE * span)
        # The sample is every stride-th arrival, so shares computed on it stand for the whole.
        late_times = [x for x in times if x >= span - window]
        share = len(late_times) / len(times) if times else 1.0
        reads = len(set(late_times)) or 1  # events read together share the read's arrival time
        per_read = len(late_times) * t.arrival_stride / reads
        if share >= BUFFERED_SHARE and per_read >= BUFFERED_PER_READ:
            self.fail(
                f"{share:.0%} of {t.data_events} data events arrived in the last {window:.2f} s of a "
                f"{span:.2f} s exchange (first at {t.first_data_at:.2f} s), {per_read:.0f} per network read: "
                "the stream was held back and released in a burst, not streamed" + _compressed(t),
                expected=f"under {BUFFERED_SHARE:.0%} of events in the final {window:.2f} s",
                received=f"{share:.0%}",
                time=t.first_data_at,
            )

    def _short(self, t: Transcript, last: float) -> None:
        total, stride = t.data_events, t.arrival_stride
        burst_times = [x for x in t.arrivals if x >= last - BURST_WINDOW]
        burst = min(len(burst_times) * stride, total)
        if total - burst > max(1, total // 10):
            return  # paced: more than one event in ten came before the last moments
        earlier = [x for x in t.arrivals if x < last - BURST_WINDOW]
        since = max(earlier) if earlier else t.headers_at or 0.0
        start = min(burst_times, default=last)
        # The silence is what the client waited through before the burst: time it spent
        # busy (or not scheduled) between two reads is no proof that nothing was sent.
        waits = dict(zip(t.arrivals, t.arrival_waits))
        wall = start - since
        silence = min(wall, waits.get(start, 0.0) - (waits[since] if earlier else 0.0))
        before = "the data event before" if earlier else "the headers"
        per_read = burst / (len(set(burst_times)) or 1)
        together = (f"{burst} of {total} data events arrived within {BURST_WINDOW * 1000:.0f} ms at "
                    f"{last:.3f} s ({per_read:.0f} per network read)")
        after = f", after {silence:.3f} s of silence since {before}"
        lengths = t.header_values("content-length")
        busy = wall - silence > BURST_WINDOW  # the client could not read just before: the burst may be its own
        if lengths and not busy:
            self.fail(
                f"the body's length was fixed before its first byte (Content-Length: {', '.join(lengths)[:40]}), "
                f"and {together}: the whole answer was generated before any of it was sent",
                expected="events sent as they are generated (no Content-Length: chunked, or ended by a close)",
                received=f"Content-Length: {', '.join(lengths)[:40]}; {burst} events at once",
                time=start,
            )
        elif not busy and silence >= BURST_SILENCE and burst >= BURST_MIN_EVENTS and per_read >= BUFFERED_PER_READ:
            self.fail(
                f"{together}{after}: the answer was held back and released at once, not streamed" + _compressed(t),
                expected=f"events sent as they are generated, not {burst} at once after a silence",
                received=f"{burst} events in {_reads(len(set(burst_times)))} after {silence:.3f} s",
                time=start,
            )
        else:
            if busy:
                why = (f"the client waited only {silence * 1000:.0f} ms for them: it was busy for the rest of the "
                       f"{wall:.3f} s since {before}, when they may have come")
            elif silence < BURST_SILENCE:
                why = f"they came {silence * 1000:.0f} ms after {before}"
            elif burst < BURST_MIN_EVENTS:
                why = f"{burst} events{after} are too few to rule out a fast model"
            else:
                why = f"they came{after}, but in separate reads, as a fast model's would"
            self.not_applicable = (
                f"cannot tell: {together}; {why}, so a streamed answer and one sent whole look alike "
                "(a longer answer, e.g. with --sse-request, lets the suite judge)"
            )
