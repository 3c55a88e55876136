"""The HTTP clients ``capture()`` reads through: httpx for single exchanges, aiohttp for
many streams at once.

Both do the same thing for the recording in ``_transcript.py``: send the request with the
headers given (plus the client's own: Host, Accept-Encoding, Connection, User-Agent,
Content-Length), wait for the response head, then hand over the body as it arrives,
content-decoded, one piece per read. Neither follows redirects, enforces a timeout (the
recording does, per read and per exchange) or reads proxy settings for a loopback host.

Why two: httpx parses HTTP in Python (h11, under httpcore and anyio), about 140 us of CPU
per read here, against some 70 us for aiohttp's C parser; with 128 streams of 50 events a
second, the suite's recording sees a p99 lag of 40-145 ms over httpx and 5-37 ms over
aiohttp (``benchmarks/README.md``, goal 4). One exchange at a time, httpx is as exact and loads
faster, so the canonical exchange and the sequential probes keep it.

Where the two still differ (the lag figures aside): aiohttp names itself in User-Agent
and sends Accept-Encoding and User-Agent after the suite's headers, not before; its
parser (llhttp) refuses some malformed response heads h11 accepts; and when no
connection could be made, the headers it would have sent are not known, so the
transcript records the suite's own.
"""

from __future__ import annotations

import functools
import ssl
import zlib
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

import httpx

__all__ = [
    "Response", "Transport", "HttpxTransport", "make_client", "make_concurrent_client", "bounded_decoder", "decoded"
]

Headers = list[tuple[str, str]]
# h11 (under httpx) accepts a response head of up to 100 KiB (httpcore's
# MAX_INCOMPLETE_EVENT_SIZE); aiohttp's own limits are 8 KiB a line and 128 lines.
HEAD_LIMIT = 100 * 1024


class Response(Protocol):
    status: int
    reason: str
    http_version: str  # "HTTP/1.1"
    headers: Headers  # as received: names as sent, in arrival order, repeats kept

    def pieces(self) -> AsyncIterator[bytes]:
        """The body, content-decoded, a piece per read, as soon as it arrives."""
        ...

    async def aclose(self) -> None:
        """Give the connection back if the body was read to its end; otherwise close it."""
        ...


class Transport(Protocol):
    async def send(self, method: str, url: str, body: bytes, headers: Headers, sent: Headers) -> Response:
        """Send a request and wait for the response head. ``sent`` is filled with the
        headers as sent, the client's own included, as soon as they are known."""
        ...

    async def __aenter__(self) -> Transport: ...

    async def __aexit__(self, *exc: object) -> None: ...


def strings(raw: Sequence[tuple[bytes, bytes]]) -> Headers:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw]


class _HttpxResponse:
    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.status = response.status_code
        self.reason = response.reason_phrase
        self.http_version = response.http_version
        self.headers = strings(response.headers.raw)

    def pieces(self) -> AsyncIterator[bytes]:
        decoder = bounded_decoder(self._response.headers.get("content-encoding", ""))
        if decoder is None:
            return self._response.aiter_bytes()
        return decoded(self._response.aiter_raw(), decoder)

    async def aclose(self) -> None:
        await self._response.aclose()


# httpx and aiohttp inflate a whole read at once: a 64 KiB read of a gzip bomb is some
# 64 MiB before the body limit can look at it. Both paths inflate gzip and deflate here
# instead, at most this much at a time, so the recording's limits act between pieces.
DECODED_PIECE = 64 * 1024


def bounded_decoder(content_encoding: str) -> zlib._Decompress | None:
    """A zlib decoder for a gzip or deflate body; None for other codings (left to httpx; the
    aiohttp path passes them through undecoded, as httpx does without their libraries)."""
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip().lower() not in ("", "identity")]
    if codings in (["gzip"], ["x-gzip"]):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if codings == ["deflate"]:
        return zlib.decompressobj(32 + zlib.MAX_WBITS)  # zlib-wrapped, as RFC 9110 says (auto-detected)
    return None


async def decoded(raw: AsyncIterator[bytes], decoder: zlib._Decompress) -> AsyncIterator[bytes]:
    async for data in raw:
        while data:
            piece = decoder.decompress(data, DECODED_PIECE)
            data = decoder.unconsumed_tail
            if piece:
                yield piece
    rest = decoder.flush()
    if rest:
        yield rest


class HttpxTransport:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def send(self, method: str, url: str, body: bytes, headers: Headers, sent: Headers) -> Response:
        request = self.client.build_request(method, url, content=body, headers=headers)
        sent[:] = strings(request.headers.raw)
        return _HttpxResponse(await self.client.send(request, stream=True))

    async def __aenter__(self) -> HttpxTransport:
        await self.client.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.__aexit__(*exc)


@functools.cache
def _tls_context(trust_env: bool) -> ssl.SSLContext:
    # Built once per process: each reads the CA bundle, some 30 ms of CPU, and exchanges
    # started together (concurrency checks, xdist workers' probes) would each build one.
    # aiohttp uses it too, so both verify against the same CA bundle.
    return httpx.create_ssl_context(trust_env=trust_env)


def _target(url: str) -> tuple[bool, ssl.SSLContext | bool]:
    """Whether the host is loopback (no proxy settings from the environment then), and
    the TLS context to use: none for plain HTTP (redirects are not followed)."""
    parsed = httpx.URL(url)
    loopback = parsed.host in ("localhost", "::1") or parsed.host.startswith("127.")
    return loopback, (_tls_context(not loopback) if parsed.scheme != "http" else False)


def make_client(url: str) -> HttpxTransport:
    """The client for exchanges made one at a time."""
    loopback, verify = _target(url)
    client = httpx.AsyncClient(timeout=None, trust_env=not loopback, follow_redirects=False, verify=verify)
    return HttpxTransport(client)


def make_concurrent_client(url: str) -> Transport:
    """The client for many streams at once: one connection each, no pool limit."""
    from ._aiohttp import AiohttpTransport  # only the concurrent probes need aiohttp: ~0.1 s to import

    loopback, tls = _target(url)
    return AiohttpTransport(tls, trust_env=not loopback, head_limit=HEAD_LIMIT)
