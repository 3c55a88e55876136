"""The reference server's send-time stamp (``?stamp=1``), which the timing benchmarks
read: every chunk carries when the server wrote it, and the stream still conforms."""

from __future__ import annotations

import json
import time

import httpx

from conformance import EventStreamParser


def test_each_chunk_carries_the_time_it_was_written(reference):
    before = time.time()
    with httpx.Client(timeout=10) as client:
        with client.stream("POST", reference.url("/chat/stream?stamp=1&chunks=5&delay=20"),
                           json={"prompt": "hi", "stream": True}) as response:
            parser, received = EventStreamParser(), []
            for piece in response.iter_raw():
                received += [(event, time.time()) for event in parser.feed(piece)]
    chunks = [(json.loads(event.data), at) for event, at in received if event.data != "[DONE]"]
    assert len(chunks) == 5
    stamps = [chunk["sent_at"] for chunk, _ in chunks]
    assert all(isinstance(s, float) for s in stamps)
    assert before <= stamps[0] and stamps == sorted(stamps)
    assert all(chunk["sent_at"] <= at for chunk, at in chunks)  # sent before received, on one clock
    assert stamps[-1] - stamps[0] >= 4 * 0.02 * 0.9  # written as paced, not all at once


def test_without_stamp_chunks_are_unchanged(reference):
    with httpx.Client(timeout=10) as client:
        body = client.post(reference.url("/chat/stream?chunks=2"), json={"prompt": "hi", "stream": True}).content
    assert b"sent_at" not in body


def test_a_stamped_stream_conforms(suite):
    run = suite("stamp=1")
    assert run.ret == 0, run.output
    assert run.failed == set()
