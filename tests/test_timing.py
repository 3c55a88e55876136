"""The latency figures of a transcript."""

from __future__ import annotations

from array import array

import pytest

from conformance import Ending, EndKind, RequestSpec, Transcript
from conformance._timing import latency, percentile


def transcript(arrivals: list[float], stride: int = 1, **fields: object) -> Transcript:
    t = Transcript(RequestSpec("http://127.0.0.1/", b"{}"), Ending(EndKind.CLOSED, "", 2.0, 0), **fields)
    t.arrivals, t.arrival_stride = array("d", arrivals), stride
    return t


def test_percentile_is_nearest_rank():
    values = [0.4, 0.1, 0.3, 0.2]
    assert [percentile(values, p) for p in (1, 25, 50, 51, 95, 100)] == [0.1, 0.1, 0.2, 0.3, 0.4, 0.4]
    assert percentile([], 50) is None


def test_latency_of_a_stream():
    t = transcript(
        [0.1, 0.2, 0.4, 1.0],
        headers_at=0.05, first_event_at=0.1, first_data_at=0.1, last_data_at=1.0,
        events=5, data_events=4, max_gap=0.6, max_gap_at=0.4,
    )  # fmt: skip
    lat = latency(t)
    assert (lat.headers, lat.first_event, lat.first_content, lat.total) == (0.05, 0.1, 0.1, 2.0)
    assert lat.gap_p50 == pytest.approx(0.2) and lat.gap_p95 == pytest.approx(0.6)
    assert (lat.gap_max, lat.gap_max_at, lat.gaps_sampled) == (0.6, 0.4, False)
    assert lat.events_per_second == pytest.approx(3 / 0.9)
    assert lat.streaming == pytest.approx(0.9)


def test_sampled_arrivals_spread_each_gap_over_its_stride():
    # Every 4th arrival kept: one sampled gap of 0.4 s stands for four gaps of 0.1 s.
    lat = latency(transcript([0.4, 0.8, 1.2], stride=4, data_events=12, first_data_at=0.1, last_data_at=1.2))
    assert lat.gap_p50 == pytest.approx(0.1) and lat.gaps_sampled is True


def test_a_stream_with_no_content_has_no_gaps_or_rate():
    lat = latency(transcript([], headers_at=0.01, events=1, first_event_at=0.02))
    assert (lat.first_content, lat.gap_p50, lat.gap_max, lat.events_per_second) == (None, None, None, None)


def test_first_text_waits_for_a_chunk_whose_text_is_not_empty(suite):
    # openai-chat's first chunk carries only the role: content arrives, text comes later.
    run = suite("", "--sse-profile", "openai-chat", "--sse-examples", "0", path="/v1/chat/completions")
    timings = run.report["timings"]
    assert timings["first_content"] < timings["first_text"] <= timings["last_content"]
