"""Both transports under ``capture()`` meet the same situations and record them alike:
the same endings, figures and headers, over a real loopback socket."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections.abc import Callable
from dataclasses import replace

import pytest

from conformance import EndKind, Limits, RequestSpec, Transcript, capture, load_profile
from conformance._transcript import Evidence
from conformance._transport import Transport, make_client, make_concurrent_client
from reference_server import ServerThread

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



def test_a_gzip_bomb_is_inflated_a_bounded_piece_at_a_time():
    import asyncio
    import gzip

    import httpx

    from conformance import load_profile
    from conformance._model import EndKind
    from conformance._transcript import Limits, RequestSpec, capture
    from conformance._transport import DECODED_PIECE, HttpxTransport

    inflated = 64 * 1024 * 1024  # 64 MiB of "a" compresses to some 64 KiB
    bomb = gzip.compress(b"data: " + b"a" * inflated, compresslevel=9)
    sizes = []

    def answer(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": "text/event-stream", "content-encoding": "gzip"}
        return httpx.Response(200, headers=headers, stream=httpx.ByteStream(bomb))

    async def run():
        transport = HttpxTransport(httpx.AsyncClient(transport=httpx.MockTransport(answer)))
        async with transport:
            response = await transport.send("POST", "http://127.0.0.1/x", b"{}", [], [])
            async for piece in response.pieces():
                sizes.append(len(piece))
            limits = Limits(max_body=1 << 20, max_line=2 << 20)
            return await capture(transport, RequestSpec("http://127.0.0.1/x", b"{}"), load_profile("simple"), limits)

    t = asyncio.run(run())
    assert max(sizes) <= DECODED_PIECE and sum(sizes) == len(b"data: ") + inflated
    assert t.ending.kind is EndKind.LIMIT and t.body_bytes == 1 << 20
