"""DELIVERY-INCREMENTAL on short answers: real servers over loopback sockets, buffering
the way real stacks buffer (an unflushed gzip middleware, a response built whole) and
streaming the way real vendors stream (a slow first token, keep-alive comments, a fast
model), judged over both transports."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import pytest
import starlette.middleware.gzip
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware, GZipResponder
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from conformance import Limits, RequestSpec, load_profile
from conformance._rules import Outcome, Verdict
from conformance._suite import checked_exchange
from conformance._transport import make_client, make_concurrent_client

PROFILE = load_profile("simple")
LIMITS = Limits(timeout=2, stream_timeout=10, done_grace=0.5)
TRANSPORTS = {"httpx": make_client, "aiohttp": make_concurrent_client}
EVENTS = 8


def event(n: int) -> bytes:
    return b"data: " + json.dumps({"id": "msg_1", "content": f"word {n} "}).encode() + b"\n\n"


async def events(first: float, gap: float, comments: float = 0.0) -> AsyncIterator[bytes]:
    """EVENTS chunks and [DONE]: the first after ``first`` s (keep-alive comments every
    ``comments`` s meanwhile), then one every ``gap`` s, each its own write."""
    waited = 0.0
    while comments and waited + comments < first:
        await asyncio.sleep(comments)
        waited += comments
        yield b": keep-alive\n\n"
    await asyncio.sleep(first - waited)
    for n in range(EVENTS):
        if n:
            await asyncio.sleep(gap)
        yield event(n)
    yield b"data: [DONE]\n\n"


def app() -> Starlette:
    async def stream(request: Request) -> Response:
        q = request.query_params
        body = events(float(q.get("first", "0.05")), float(q.get("gap", "0.05")), float(q.get("comments", "0")))
        return StreamingResponse(body, media_type="text/event-stream", headers={"cache-control": "no-cache"})

    async def whole(request: Request) -> Response:
        # A plain Response: the handler collects the answer, then returns it with a Content-Length.
        chunks = [chunk async for chunk in events(0.02, 0.025)]
        return Response(b"".join(chunks), media_type="text/event-stream", headers={"cache-control": "no-cache"})

    routes = [Route(path, handler, methods=["POST"]) for path, handler in (("/stream", stream), ("/whole", whole))]
    # Starlette 1.5 and later exclude text/event-stream from compression by default: include it.
    return Starlette(routes=routes, middleware=[Middleware(GZipMiddleware, minimum_size=0, exclude_content_types=())])


class UnflushedGZipResponder(GZipResponder):
    """Starlette's GZipResponder as it was before 1.5: a streamed chunk is compressed but
    not flushed, so the compressor keeps it (a short body, all of it) until the end."""

    def _compress_body(self, body: bytes, more_body: bool) -> bytes:
        if more_body:
            return self.compressor.compress(body)
        return self.compressor.compress(body) + self.compressor.flush()


@contextmanager
def served() -> Iterator[str]:
    sock = socket.socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app(), log_level="warning", lifespan="off", access_log=False))
    thread = threading.Thread(target=lambda: server.run(sockets=[sock]), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.005)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with served() as url:
        yield url


def judge(url: str, transport: str = "httpx", accept_gzip: bool = False) -> dict[str, Verdict]:
    # The suite's clients offer gzip; a stream that should not be compressed is asked not to be.
    headers = () if accept_gzip else (("Accept-Encoding", "identity"),)

    async def run() -> list[Verdict]:
        async with TRANSPORTS[transport](url) as client:
            spec = RequestSpec(url, json.dumps(PROFILE.example).encode(), headers=headers)
            return (await checked_exchange(client, spec, PROFILE, LIMITS))[1]

    return {v.requirement.id: v for v in asyncio.run(run())}


def failed(verdicts: dict[str, Verdict]) -> set[str]:
    return {rid for rid, v in verdicts.items() if v.outcome is Outcome.FAILED}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_an_unflushed_gzip_middleware_holding_a_short_answer_fails(server, transport, monkeypatch):
    monkeypatch.setattr(starlette.middleware.gzip, "GZipResponder", UnflushedGZipResponder)
    verdicts = judge(f"{server}/stream", transport, accept_gzip=True)
    assert failed(verdicts) == {"DELIVERY-INCREMENTAL", "HTTP-NO-CONTENT-ENCODING"}
    (violation,) = verdicts["DELIVERY-INCREMENTAL"].violations
    assert f"{EVENTS} of {EVENTS} data events arrived within 10 ms at" in violation.message
    # The middleware sends the headers with the first chunk (its 10-byte gzip header), at 0.05 s.
    assert "(8 per network read), after 0.3" in violation.message
    assert "s of silence since the headers: the answer was held back and released at once" in violation.message
    assert "compressed (Content-Encoding: gzip), and a compressor not flushed after each event" in violation.message


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_gzip_middleware_that_flushes_each_event_streams(server, transport):
    verdicts = judge(f"{server}/stream", transport, accept_gzip=True)
    assert failed(verdicts) == {"HTTP-NO-CONTENT-ENCODING"}  # a SHOULD: compression risks buffering
    assert verdicts["DELIVERY-INCREMENTAL"].outcome is Outcome.PASSED


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_response_built_whole_with_a_content_length_fails(server, transport):
    verdicts = judge(f"{server}/whole", transport)
    assert failed(verdicts) == {"DELIVERY-INCREMENTAL", "HTTP-NO-CONTENT-LENGTH"}
    (violation,) = verdicts["DELIVERY-INCREMENTAL"].violations
    assert violation.message.startswith("the body's length was fixed before its first byte (Content-Length: ")
    assert violation.message.endswith("the whole answer was generated before any of it was sent")


@pytest.mark.parametrize(
    "query",
    [
        "first=0.6&gap=0.01",  # a slow first token, then events written one by one, fast
        "first=0.6&gap=0.03&comments=0.1",  # keep-alive comments while the model thinks
        "first=0.02&gap=0.05",  # a steady stream, all of it under a second
    ],
    ids=["slow-first-token", "keep-alive-comments", "steady"],
)
def test_vendor_like_short_streams_pass(server, query):
    verdicts = judge(f"{server}/stream?{query}")
    assert verdicts["DELIVERY-INCREMENTAL"].outcome is Outcome.PASSED, verdicts["DELIVERY-INCREMENTAL"]
    assert failed(verdicts) == set()


def test_a_fast_model_after_a_slow_first_token_is_never_failed(server):
    # 2 ms a token (some 500 tokens a second) after 0.4 s: each event its own write.
    verdicts = judge(f"{server}/stream?first=0.4&gap=0.002")
    assert verdicts["DELIVERY-INCREMENTAL"].outcome in (Outcome.PASSED, Outcome.NOT_APPLICABLE)


def test_a_short_answer_sent_whole_at_once_is_not_judged_saying_why(suite):
    run = suite("fault=answer-at-once", "-rs")
    assert run.outcomes["DELIVERY-INCREMENTAL"] == "skipped"
    assert "so a streamed answer and one sent whole look alike" in run.output
    assert "ms after the headers" in run.output


def test_the_unflushed_writer_holds_a_short_body_whole():
    # The reference server's gzip-unflushed fault compresses as the middleware above did.
    gzip = zlib.compressobj(wbits=31)
    pieces = [gzip.compress(event(n)) for n in range(EVENTS)]
    assert pieces[0] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" and not any(pieces[1:])


@contextmanager
def in_a_thread(handler) -> Iterator[str]:
    """A raw asyncio server on its own loop and thread, serving one request."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()

    async def serve() -> None:
        server = await asyncio.start_server(handler, sock=sock)
        async with server:
            await asyncio.sleep(5)

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/chat/stream"


class BusyOnFirstEvent:
    """An observer that keeps the client busy after the first event, as a loaded machine
    may: whatever arrives meanwhile is read at once when it is done."""

    def on_chunk(self, chunk) -> None:
        if chunk.event.index == 0:
            time.sleep(0.4)


@pytest.mark.parametrize("length", [False, True], ids=["chunked", "content-length"])
def test_a_client_too_busy_to_read_does_not_take_its_own_delay_for_a_held_answer(length):
    rest = b"".join(event(n) for n in range(1, EVENTS)) + b"data: [DONE]\n\n"

    async def first_then_the_rest(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        framing = b"Content-Length: %d\r\n" % (len(event(0)) + len(rest)) if length else b""
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n" + framing
                     + b"Connection: close\r\n\r\n" + event(0))
        await writer.drain()
        for n in range(1, EVENTS):  # streamed, one event every 20 ms, while the client is busy
            await asyncio.sleep(0.02)
            writer.write(event(n))
            await writer.drain()
        writer.write(b"data: [DONE]\n\n")
        await writer.drain()
        writer.close()

    async def run(url: str) -> list[Verdict]:
        async with make_client(url) as client:
            spec = RequestSpec(url, json.dumps(PROFILE.example).encode())
            return (await checked_exchange(client, spec, PROFILE, LIMITS, [BusyOnFirstEvent()]))[1]

    with in_a_thread(first_then_the_rest) as url:  # the server goes on while the client is busy
        verdict = {v.requirement.id: v for v in asyncio.run(run(url))}["DELIVERY-INCREMENTAL"]
    # 7 of 8 events were read together 0.4 s after the first, but the client waited for none of it.
    assert verdict.outcome is Outcome.NOT_APPLICABLE, verdict
    assert re.search(r"the client waited only \d ms for them: it was busy for the rest of the 0\.4\d\d s since "
                     r"the data event before", verdict.reason), verdict.reason
