"""Both transports under ``capture()`` meet the same situations and record them alike:
the same endings, figures and headers, over a real loopback socket."""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
import socket
import struct
import tracemalloc
import zlib
from collections.abc import Callable
from dataclasses import replace

import pytest

from conformance import EndKind, Limits, RequestSpec, Transcript, capture, load_profile
from conformance._transcript import Evidence
from conformance._transport import ACCEPT_ENCODING, DECODED_PIECE, Transport, make_client, make_concurrent_client
from reference_server import ServerThread
from tests.hostile_server import hostile_server, response

PROFILE = load_profile("simple")
BODY = json.dumps(PROFILE.example).encode()
FAST = Limits(timeout=0.5, stream_timeout=5, done_grace=0.5)


async def record(
    make: Callable[[str], Transport], url: str, limits: Limits, drop_after: int | None, request: dict[str, object]
) -> Transcript:
    spec = RequestSpec(url, request.get("body", BODY), **{k: v for k, v in request.items() if k != "body"})
    async with make(url) as client:
        return await capture(client, spec, PROFILE, limits, (), Evidence(), drop_after_events=drop_after)


def both(
    url: str, limits: Limits = FAST, drop_after: int | None = None, **request: object
) -> tuple[Transcript, Transcript]:
    """The same exchange through httpx, then through aiohttp."""
    return tuple(  # type: ignore[return-value]
        asyncio.run(record(make, url, limits, drop_after, request)) for make in (make_client, make_concurrent_client)
    )


def same_record(a: Transcript, b: Transcript) -> None:
    """What a check reads of an exchange, timings aside."""
    for name in ("status", "reason", "http_version", "body_bytes", "events", "data_events", "terminators",
                 "unterminated", "notice_counts"):
        assert getattr(a, name) == getattr(b, name), name
    assert (len(a.head), len(a.tail)) == (len(b.head), len(b.tail))  # each response has its own id
    assert a.ending.kind is b.ending.kind
    assert a.ending.detail == b.ending.detail
    assert a.ending.offset == b.ending.offset
    # The server stamps a Date that may tick between the two exchanges.
    assert [h for h in a.headers if h[0].lower() != "date"] == [h for h in b.headers if h[0].lower() != "date"]


@pytest.mark.parametrize("query", ["", "fault=gzip", "fault=close-delimited", "fault=content-length",
                                   "fault=byte-writes", "fault=status-500"])
def test_a_stream_is_recorded_alike(reference: ServerThread, query: str):
    a, b = both(reference.url("/chat/stream", query))
    same_record(a, b)
    assert a.ending.kind is EndKind.CLOSED
    assert a.http_version == "HTTP/1.1"


def test_the_request_goes_out_alike_but_for_the_user_agent(reference: ServerThread):
    a, b = both(reference.url("/chat/stream"), headers=(("X-Trace", "1"), ("Accept", "*/*")))
    ua = "user-agent"
    assert sorted((k.lower(), v) for k, v in a.sent_headers if k.lower() != ua) == sorted(
        (k.lower(), v) for k, v in b.sent_headers if k.lower() != ua
    )
    assert dict(a.sent_headers)["User-Agent"].startswith("python-httpx/")
    assert "aiohttp" in dict(b.sent_headers)["User-Agent"]
    assert ("Accept", "*/*") in b.sent_headers and ("Accept", "text/event-stream") not in b.sent_headers


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_other_methods_and_empty_bodies_go_out_alike(reference: ServerThread, method: str):
    a, b = both(reference.url("/chat/stream"), method=method, body=b"")
    assert {k.lower() for k, _ in a.sent_headers} == {k.lower() for k, _ in b.sent_headers}
    same_record(a, b)


@pytest.mark.parametrize("fault, kind", [
    ("stall-after-headers", EndKind.IDLE_TIMEOUT),
    ("stall-mid", EndKind.IDLE_TIMEOUT),
    ("done-linger", EndKind.GRACE_EXPIRED),
    ("stall-before-headers", EndKind.NO_RESPONSE),
])
def test_a_stall_ends_alike(reference: ServerThread, fault: str, kind: EndKind):
    a, b = both(reference.url("/chat/stream", f"fault={fault}"))
    same_record(a, b)
    assert a.ending.kind is kind


def test_a_stream_past_its_time_ends_alike(reference: ServerThread):
    limits = Limits(timeout=0.5, stream_timeout=0.6)
    a, b = both(reference.url("/chat/stream", "fault=endless"), limits)
    assert a.ending.kind is b.ending.kind is EndKind.STREAM_TIMEOUT
    assert a.ending.detail == b.ending.detail


def test_a_refused_connection_is_named_alike():
    with socket.socket() as s:  # a port just freed: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    a, b = both(f"http://127.0.0.1:{port}/chat/stream")
    for t in (a, b):
        assert t.ending.kind is EndKind.UNREACHABLE  # not judged, rather than the target's fault
        assert t.ending.detail.startswith("connection refused: nothing is listening on that port (")


def test_a_reset_mid_stream_is_named_alike(reference: ServerThread):
    a, b = both(reference.url("/chat/stream", "fault=reset-mid-stream"))
    for t in (a, b):
        assert t.ending.kind is EndKind.READ_ERROR
        assert t.ending.detail.startswith("the connection broke: reset by the peer ("), t.ending.detail
    assert (a.events, a.body_bytes) == (b.events, b.body_bytes)


@pytest.mark.parametrize("limit", [{"max_body": 300}, {"max_line": 64}], ids=["body", "line"])
def test_a_body_over_a_limit_is_cut_alike(reference: ServerThread, limit: dict[str, int]):
    a, b = both(reference.url("/chat/stream"), replace(FAST, **limit))
    same_record(a, b)
    assert a.ending.kind is EndKind.LIMIT
    assert a.body_bytes <= limit.get("max_body", a.body_bytes)


def test_a_client_that_goes_away_ends_alike(reference: ServerThread):
    a, b = both(reference.url("/chat/stream"), drop_after=1)
    same_record(a, b)
    assert a.ending.kind is EndKind.DROPPED


async def _reset_chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A chunked response reset after its first event (the reference server's raw
    listener ends every body by closing, so it cannot send this)."""
    await reader.readuntil(b"\r\n\r\n")
    event = b'data: {"content": "a"}\n\n'
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                 + b"%x\r\n%s\r\n" % (len(event), event))
    await writer.drain()
    await asyncio.sleep(0.05)
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def test_a_reset_in_a_chunked_body_is_named_alike():
    async def run() -> list[Transcript]:
        server = await asyncio.start_server(_reset_chunked, "127.0.0.1", 0)
        url = "http://127.0.0.1:%d/chat/stream" % server.sockets[0].getsockname()[1]
        async with server:
            return [await record(make, url, FAST, None, {}) for make in (make_client, make_concurrent_client)]

    a, b = asyncio.run(run())
    same_record(a, b)
    assert a.ending.kind is EndKind.READ_ERROR
    assert a.ending.detail.startswith("the connection broke: reset by the peer ("), a.ending.detail


# -- content codings: every list inflated a bounded piece at a time, or refused --------------

EVENT = b'data: {"id":"b","content":"a"}\n\n'
INFLATED = 64 << 20  # what the bombs below hold: 64 MiB of events, in a few KiB


def _deflate(data: bytes) -> bytes:
    return zlib.compress(data, 9)


def _raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, 9)


@functools.cache
def _plain() -> bytes:
    return EVENT * (INFLATED // len(EVENT))


@functools.cache
def bomb(*layers: Callable[[bytes], bytes]) -> bytes:
    body = _plain()
    for layer in layers:  # in the order applied, as Content-Encoding lists them
        body = layer(body)
    return body


async def _pieces(make: Callable[[str], Transport], url: str, stop: int) -> tuple[list[int], int]:
    """The sizes of the decoded pieces, up to ``stop`` bytes, and the peak of Python's
    allocations meanwhile."""
    sizes: list[int] = []
    tracemalloc.start()
    try:
        async with make(url) as client:
            response = await client.send("POST", url, BODY, [], [])
            try:
                async for piece in response.pieces():
                    sizes.append(len(piece))
                    if sum(sizes) >= stop:
                        break
            finally:
                await response.aclose()
        return sizes, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


BOMBS = {
    "gzip, gzip": ([("Content-Encoding", "gzip, gzip")], (_gzip, _gzip)),
    "two fields": ([("Content-Encoding", "gzip"), ("Content-Encoding", "gzip")], (_gzip, _gzip)),
    "gzip inside deflate": ([("Content-Encoding", "gzip, deflate")], (_gzip, _deflate)),
    "deflate inside gzip, upper case, identity": ([("Content-Encoding", "Deflate, identity, X-GZIP")],
                                                  (_deflate, _gzip)),
    "raw deflate": ([("Content-Encoding", "deflate")], (_raw_deflate,)),
    "four layers": ([("Content-Encoding", "gzip, deflate, gzip, gzip")], (_gzip, _deflate, _gzip, _gzip)),
}


@pytest.mark.parametrize("name", BOMBS)
def test_every_content_coding_list_is_inflated_a_bounded_piece_at_a_time(name):
    headers, layers = BOMBS[name]
    body = bomb(*layers)
    assert len(body) * 300 < INFLATED  # at most some 200 KiB that hold 64 MiB
    answer = response("200 OK", [("Content-Type", "text/event-stream"), *headers], body)
    with hostile_server(lambda request: answer) as (base, _):
        for make in (make_client, make_concurrent_client):
            sizes, peak = asyncio.run(_pieces(make, base + "/chat/stream", 8 << 20))
            assert max(sizes) <= DECODED_PIECE, (make.__name__, max(sizes))
            assert sum(sizes) >= 8 << 20  # decoded, not passed through
            assert peak < 8 << 20, (make.__name__, peak)
        limits = replace(FAST, max_body=1 << 20)
        a, b = both(base + "/chat/stream", limits)
    for t in (a, b):
        assert t.ending.kind is EndKind.LIMIT
        assert t.ending.detail == f"body longer than {1 << 20} bytes (--sse-max-body)"
        assert t.body_bytes == 1 << 20 and t.head.startswith(EVENT)


def test_a_whole_layered_body_is_decoded_byte_for_byte():
    body = EVENT * 3 + b"data: [DONE]\n\n"
    answer = response("200 OK", [("Content-Type", "text/event-stream"), ("Content-Encoding", "deflate, gzip")],
                      _gzip(_raw_deflate(body)))
    with hostile_server(lambda request: answer) as (base, seen):
        a, b = both(base + "/chat/stream")
    same_record(a, b)
    assert a.ending.kind is EndKind.CLOSED and a.body_bytes == len(body) and a.terminators == 1
    # Both ask for no more than they inflate themselves.
    assert [r.header("accept-encoding") for r in seen.requests] == [ACCEPT_ENCODING] * 2


@pytest.mark.parametrize(("coding", "why"), [
    ("br", "names a coding the suite does not decode ('br')"),
    ("gzip, zstd", "names a coding the suite does not decode ('zstd')"),
    ("compress", "names a coding the suite does not decode ('compress')"),
    ("gzip, gzip, gzip, gzip, gzip", "applies 5 codings, more than the 4 layers the suite inflates"),
    ("gzip," * 20000, "applies 20000 codings, more than the 4 layers"),
])
def test_a_content_coding_the_suite_does_not_inflate_ends_the_exchange_at_a_limit(coding, why):
    answer = response("200 OK", [("Content-Type", "text/event-stream"), ("Content-Encoding", coding)], EVENT * 4)
    with hostile_server(lambda request: answer) as (base, _):
        a, b = both(base + "/chat/stream")
    same_record(a, b)
    assert a.ending.kind is EndKind.LIMIT
    assert why in a.ending.detail and a.ending.detail.endswith("the body was not read"), a.ending.detail
    assert a.body_bytes == 0 and a.events == 0


def test_a_body_that_does_not_inflate_is_named_alike():
    answer = response("200 OK", [("Content-Type", "text/event-stream"), ("Content-Encoding", "gzip")],
                      _gzip(EVENT * 4)[:-30] + b"not gzip at all" * 4)
    with hostile_server(lambda request: answer) as (base, _):
        a, b = both(base + "/chat/stream")
    same_record(a, b)
    assert a.ending.kind is EndKind.READ_ERROR
    assert a.ending.detail.startswith("the connection broke: the body is not what its Content-Encoding says: "
                                      "it does not inflate (error: Error -3 while decompressing data"), a.ending.detail
