"""The aiohttp transport (see ``_transport.py``), in a module of its own: aiohttp takes a
tenth of a second to import, and only exchanges made many at once need it."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import Any

import aiohttp

from ._transport import Headers, Response, bounded_decoder, decoded, strings

__all__ = ["AiohttpTransport"]

# The connection an exchange runs on, as it ends: set by the connector in the exchange's
# own task, read by its response (see _AiohttpResponse.pieces).
_connection_end: ContextVar[list[asyncio.Future[None]]] = ContextVar("connection_end")


class _Connector(aiohttp.TCPConnector):
    async def connect(self, req: Any, traces: Any, timeout: Any) -> aiohttp.client.Connection:
        connection = await super().connect(req, traces, timeout)
        slot = _connection_end.get(None)
        if slot is not None and connection.protocol is not None:
            # Asked for now, the future records how the connection ends, cleanly or with an error.
            end = connection.protocol.closed
            if end is not None:
                end.add_done_callback(_retrieved)
                slot.append(end)
        return connection


def _retrieved(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()  # looked at: asyncio would log it as never retrieved


class _AiohttpResponse:
    def __init__(self, response: aiohttp.ClientResponse, connection_end: asyncio.Future[None] | None) -> None:
        self._response = response
        self._connection_end = connection_end
        self.status = response.status
        self.reason = response.reason or ""
        self.http_version = f"HTTP/{response.version.major}.{response.version.minor}"
        self.headers = strings(response.raw_headers)

    async def pieces(self) -> AsyncIterator[bytes]:
        # readany(): whatever arrived since the last read, joined, never split or held back.
        # gzip and deflate are inflated a bounded piece at a time, as on the httpx path.
        raw = self._response.content.iter_any()
        # Every Content-Encoding field line, as httpx reads them: a list may span several.
        decoder = bounded_decoder(", ".join(self._response.headers.getall("content-encoding", [])))
        try:
            async for piece in raw if decoder is None else decoded(raw, decoder):
                yield piece
        except aiohttp.ClientPayloadError:
            self._raise_broken()
            raise
        # A body framed by the connection's end (no length, not chunked) ends there, and
        # aiohttp takes a reset for that end too; httpx, rightly, for a broken connection.
        self._raise_broken()

    def _raise_broken(self) -> None:
        """Raise the error the connection ended with, if it ended with one: it names the
        cause (a reset) where aiohttp's own payload error only quotes it."""
        end = self._connection_end
        if end is not None and end.done() and not end.cancelled() and (error := end.exception()) is not None:
            raise error

    async def aclose(self) -> None:
        # release() keeps the connection only if the body was read to its end.
        self._response.release()


class AiohttpTransport:
    def __init__(self, tls: ssl.SSLContext | bool, trust_env: bool, head_limit: int) -> None:
        self.session = aiohttp.ClientSession(
            connector=_Connector(limit=0, ssl=tls),
            timeout=aiohttp.ClientTimeout(total=None),  # capture() enforces its own
            auto_decompress=False,  # pieces() inflates, bounded
            trust_env=trust_env,
            max_line_size=head_limit,
            max_field_size=head_limit,
            max_headers=head_limit // 4,  # the shortest header line: "a:\r\n"
        )

    async def send(self, method: str, url: str, body: bytes, headers: Headers, sent: Headers) -> Response:
        sent[:] = headers  # all that is known until the request is written
        # As httpx: a body-less GET goes without Content-Length; aiohttp would send one.
        data = body if body or method not in ("GET", "HEAD") else None
        slot: list[asyncio.Future[None]] = []
        token = _connection_end.set(slot)
        try:
            response = await self.session.request(
                method, url, data=data, headers=[("Connection", "keep-alive"), *headers], allow_redirects=False
            )
        finally:
            _connection_end.reset(token)
        sent[:] = list(response.request_info.headers.items())
        return _AiohttpResponse(response, slot[-1] if slot else None)

    async def __aenter__(self) -> AiohttpTransport:
        await self.session.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.__aexit__(*exc)
