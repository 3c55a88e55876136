"""The HTTP clients ``capture()`` reads through: httpx for single exchanges, aiohttp for
many streams at once.

Both do the same thing for the recording in ``_capture.py``: send the request with the
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

from ._redact import basic_credentials

__all__ = [
    "Response", "Transport", "HttpxTransport", "UndecodableBody", "make_client", "make_concurrent_client", "decoded",
    "ACCEPT_ENCODING", "with_credentials",
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
        if self._response.is_stream_consumed:  # given whole (by a mock transport), and decoded by httpx then
            return _whole(self._response.content)
        return decoded(self._response.aiter_raw(), self.headers)

    async def aclose(self) -> None:
        await self._response.aclose()


async def _whole(content: bytes) -> AsyncIterator[bytes]:
    if content:
        yield content


# httpx and aiohttp inflate a whole read at once, and httpx hands any coding list it does
# not know by heart to a decoder that does the same per layer: a 6 KB body of gzip inside
# gzip is gigabytes in one read, before the body limit can look at it. Both paths inflate
# here instead, every layer at most this much at a time, so the recording's limits act
# between pieces whatever the layers hold.
DECODED_PIECE = 64 * 1024
# The codings the suite asks for (Accept-Encoding), pinned: httpx and aiohttp would also
# offer br and zstd when their libraries are installed, and decode them unbounded.
ACCEPT_ENCODING = "gzip, deflate"
# Layers of content coding inflated; a longer list is refused. One is what servers send;
# each layer costs a zlib state and a piece in flight (some 100 KiB).
MAX_CODINGS = 4
_GZIP = ("gzip", "x-gzip")  # RFC 9110 8.4.1.3: x-gzip is gzip
_DEFLATE = ("deflate",)


class UndecodableBody(Exception):
    """A content coding the suite does not inflate (unknown, or too many layers): the body
    is not read, and the exchange ends at a limit of the suite's, named in the message."""


def content_codings(headers: Headers) -> list[str]:
    """The codings of every Content-Encoding field, in the order they were applied (RFC
    9110 8.4: a list, possibly over several fields), identity left out."""
    codings = []
    for name, value in headers:
        if name.lower() == "content-encoding":
            codings += [c.strip().lower() for c in value.split(",")]
    return [c for c in codings if c not in ("", "identity")]


def _refusal(codings: list[str]) -> str | None:
    listed = ", ".join(codings)
    shown = repr(listed[:60]) + ("..." if len(listed) > 60 else "")
    if len(codings) > MAX_CODINGS:
        return (f"Content-Encoding {shown} applies {len(codings)} codings, more than the {MAX_CODINGS} layers "
                "the suite inflates: the body was not read")
    unknown = next((c for c in codings if c not in _GZIP + _DEFLATE), None)
    if unknown is not None:
        return (f"Content-Encoding {shown} names a coding the suite does not decode ({unknown[:40]!r}); it asks "
                f"for {ACCEPT_ENCODING} (Accept-Encoding): the body was not read")
    return None


def decoded(raw: AsyncIterator[bytes], headers: Headers) -> AsyncIterator[bytes]:
    """The body with its content codings undone, each layer a bounded piece at a time;
    raises UndecodableBody when read if the suite does not inflate them."""
    codings = content_codings(headers)
    refusal = _refusal(codings)
    if refusal is not None:
        return _refused(refusal)
    for coding in reversed(codings):  # the last applied is undone first
        raw = _inflated(raw, coding in _GZIP)
    return raw


async def _refused(reason: str) -> AsyncIterator[bytes]:
    raise UndecodableBody(reason)
    yield b""  # pragma: no cover - makes this an async generator


def _deflate_wbits(start: bytes) -> int:
    """Deflate is zlib-wrapped (RFC 9110 8.4.1.2), but some servers send it raw, and
    clients accept both (as httpx and aiohttp do): told apart by the zlib header."""
    if start[:2] == b"\x1f\x8b":
        return 16 + zlib.MAX_WBITS
    if len(start) >= 2 and start[0] & 0x0F == 8 and (start[0] << 8 | start[1]) % 31 == 0:
        return zlib.MAX_WBITS
    return -zlib.MAX_WBITS


async def _inflated(raw: AsyncIterator[bytes], gzip: bool) -> AsyncIterator[bytes]:
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
    start = b""  # deflate: the first bytes, until its wrapper is known
    async for data in raw:
        if decoder is None:
            start += data
            if len(start) < 2:
                continue
            decoder, data, start = zlib.decompressobj(_deflate_wbits(start)), start, b""
        while data:
            piece = decoder.decompress(data, DECODED_PIECE)
            data = decoder.unconsumed_tail
            if piece:
                yield piece
    if decoder is None and start:
        decoder = zlib.decompressobj(_deflate_wbits(start))
        if piece := decoder.decompress(start):
            yield piece
    if decoder is not None and (rest := decoder.flush()):
        yield rest


def with_credentials(url: str, headers: Headers) -> tuple[str, Headers]:
    """The URL without its user info, and the headers with the Authorization it stands for.

    Both transports send the same, and the transcript records what was sent: httpx would
    turn user info into Basic credentials in place of an Authorization header given with
    --sse-header (while the headers recorded showed that one), aiohttp refuses the pair.
    Here the header given wins, and the user info is not sent at all; alone, it goes out
    as Basic credentials (RFC 7617), percent-decoded and UTF-8-encoded, as httpx makes them.
    """
    parsed = httpx.URL(url)
    if not parsed.userinfo:
        return url, headers
    url = str(parsed.copy_with(userinfo=b""))
    if any(name.lower() == "authorization" for name, _ in headers):
        return url, headers
    user, _, password = parsed.userinfo.decode("ascii").partition(":")
    return url, [*headers, ("Authorization", basic_credentials(user, password))]


class HttpxTransport:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def send(self, method: str, url: str, body: bytes, headers: Headers, sent: Headers) -> Response:
        url, headers = with_credentials(url, headers)
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
    client = httpx.AsyncClient(timeout=None, trust_env=not loopback, follow_redirects=False, verify=verify,
                               headers={"Accept-Encoding": ACCEPT_ENCODING})
    return HttpxTransport(client)


def make_concurrent_client(url: str) -> Transport:
    """The client for many streams at once: one connection each, no pool limit."""
    from ._aiohttp import AiohttpTransport  # only the concurrent probes need aiohttp: ~0.1 s to import

    loopback, tls = _target(url)
    return AiohttpTransport(tls, trust_env=not loopback, head_limit=HEAD_LIMIT)
