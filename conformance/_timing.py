"""How fast an exchange was: the latency figures of one transcript, as plain numbers.

All times are seconds since the request was sent; a figure the exchange could not show
(no headers, fewer than two content events) is None. "Content events" are the data events
other than the terminator.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from dataclasses import dataclass

from ._transcript import Transcript

__all__ = ["Latency", "latency", "percentile"]


@dataclass(frozen=True)
class Latency:
    headers: float | None  # the response headers arrived
    first_event: float | None  # the first event of any kind was dispatched
    first_content: float | None  # the first content event
    first_text: float | None  # the first content event whose text delta is not empty (the profile's [chunk] text)
    last_content: float | None
    total: float  # the exchange ended, however it ended
    content_events: int
    gap_p50: float | None  # median gap between consecutive content events
    gap_p95: float | None
    gap_max: float | None  # longest gap between any two consecutive events (terminator included); exact
    gap_max_at: float | None  # when that gap began
    gaps_sampled: bool  # p50/p95 come from every n-th arrival, on streams too long to keep every one
    events_per_second: float | None  # arrival rate while streaming: (content events - 1) / streaming

    @property
    def streaming(self) -> float | None:
        """Seconds from the first to the last content event."""
        if self.first_content is None or self.last_content is None:
            return None
        return self.last_content - self.first_content


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank percentile: the smallest value with at least p% of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(math.ceil(p / 100 * len(ordered)), 1)
    return ordered[rank - 1]


def latency(t: Transcript) -> Latency:
    """The latency figures of a transcript.

    The transcript keeps the arrival of every ``arrival_stride``-th content event; on a
    sample, one gap stands for ``arrival_stride`` consecutive ones and is divided evenly,
    so p50/p95 are then averages over that many gaps (``gaps_sampled``). The maximum is
    always exact: the transcript tracks it on every event.
    """
    times = t.arrivals
    stride = t.arrival_stride
    gaps = [(b - a) / stride for a, b in pairwise(times)]
    rate = None
    if t.data_events >= 2 and t.first_data_at is not None and t.last_data_at is not None:
        span = t.last_data_at - t.first_data_at
        rate = (t.data_events - 1) / span if span > 0 else None
    return Latency(
        headers=t.headers_at,
        first_event=t.first_event_at,
        first_content=t.first_data_at,
        first_text=t.first_text_at,
        last_content=t.last_data_at,
        total=t.ending.time,
        content_events=t.data_events,
        gap_p50=percentile(gaps, 50),
        gap_p95=percentile(gaps, 95),
        gap_max=t.max_gap if t.events >= 2 else None,
        gap_max_at=t.max_gap_at if t.events >= 2 else None,
        gaps_sampled=stride > 1,
        events_per_second=rate,
    )
