"""A byte-exact HTTP/1.1 listener for the few faults uvicorn cannot express.

uvicorn (through h11) frames every body of unknown length with chunked encoding, and
offers no way to reset a connection or to leave a body unfinished. This listener serves
the same ASGI app, one request per connection: the request is parsed with h11, the
response head is written as the app gives it plus ``Connection: close``, the body bytes go
out exactly as sent, and the connection is closed after the body (RFC 9112 section 6.3,
rule 8, marks the end of a body with neither framing so). A head that names
``Transfer-Encoding: chunked`` gets its body framed in chunks, each message one chunk, the
last message followed by the last (zero-size) chunk. An app that returns without that last
message leaves the body unfinished: the connection is closed all the same. An app that
sees the ``sse-conformance.raw`` scope extension may send ``{"type": RESET_MESSAGE}`` to
end the connection with a TCP reset instead.
"""

from __future__ import annotations

import asyncio
import http
import socket
import struct
from typing import Any

import h11
from starlette.types import ASGIApp, Message

from .writer import RESET_MESSAGE

__all__ = ["RawListener", "RAW_EXTENSION"]

RAW_EXTENSION = "sse-conformance.raw"
MAX_REQUEST_BODY = 1 << 20  # a request is a prompt: a larger body is refused
READ_SIZE = 64 * 1024


class RawListener:
    """``await RawListener(app).start(sock)`` serves ``app`` on an already bound socket."""

    def __init__(self, app: ASGIApp, request_timeout: float = 10.0) -> None:
        self.app = app
        self.request_timeout = request_timeout  # for the whole request: a slow sender is cut off
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    async def start(self, sock: socket.socket) -> None:
        self._server = await asyncio.start_server(self._serve, sock=sock)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._open):
                writer.transport.abort()  # a stalled response must not hold the shutdown
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        try:
            async with asyncio.timeout(self.request_timeout):
                request, body = await _read_request(reader)
            if request is not None:
                await self._respond(request, body, reader, writer)
        except (OSError, h11.ProtocolError, TimeoutError):
            pass  # the client left, sent something that is not HTTP, or took too long to send it
        finally:
            self._open.discard(writer)
            writer.close()

    async def _respond(
        self, request: h11.Request, body: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        path, _, query = request.target.partition(b"?")
        host, port = writer.get_extra_info("sockname")[:2]
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": request.http_version.decode(),
            "method": request.method.decode(),
            "scheme": "http",
            "path": path.decode("latin-1"),
            "raw_path": path,
            "query_string": query,
            "headers": [(k.lower(), v) for k, v in request.headers],
            "server": (host, port),
            "client": writer.get_extra_info("peername")[:2],
            "extensions": {RAW_EXTENSION: {}},
        }
        delivered = False
        chunked = False

        async def receive() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            while await reader.read(READ_SIZE):  # anything more is ignored, until end of file:
                pass  # the client went away
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal chunked
            if writer.transport.is_closing():
                raise ConnectionResetError("the client went away")
            kind = message["type"]
            if kind == "http.response.start":
                headers = message.get("headers", [])
                chunked = any(k.lower() == b"transfer-encoding" and v.lower().rstrip().endswith(b"chunked")
                              for k, v in headers)
                writer.write(_head(message["status"], headers))
            elif kind == "http.response.body":
                body, last = message.get("body", b""), not message.get("more_body", False)
                if chunked:
                    body = (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + (b"0\r\n\r\n" if last else b"")
                writer.write(body)
                if last:
                    writer.write_eof()
            elif kind == RESET_MESSAGE:
                # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
                writer.get_extra_info("socket").setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                writer.transport.abort()
                return
            await writer.drain()

        await self.app(scope, receive, send)


async def _read_request(reader: asyncio.StreamReader) -> tuple[h11.Request | None, bytes]:
    conn = h11.Connection(h11.SERVER)
    request, body = None, bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(READ_SIZE))
        elif isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > MAX_REQUEST_BODY:
                return None, b""
        elif isinstance(event, h11.EndOfMessage):
            return request, bytes(body)
        else:  # ConnectionClosed
            return None, b""


def _head(status: int, headers: list[tuple[bytes, bytes]]) -> bytes:
    try:
        reason = http.HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    lines = [f"HTTP/1.1 {status} {reason}".encode()]
    lines += [name + b": " + value for name, value in headers]
    lines.append(b"connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n"
