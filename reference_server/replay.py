"""``python -m reference_server --replay FILE``: a saved transcript served byte for byte.

Any request, on any path and with any method, gets the recorded response: the status line
and headers as recorded, then the body in its recorded pieces, each written at its recorded
time (divided by ``speed``), and the end as recorded: closed, or the connection reset where
it broke, or held open where the suite had stopped reading (a timeout, a limit), until the
client leaves. So an SDK author sees a vendor's stream as the suite saw it, timing included,
and the suite judges it as it judged the original.

Framing and codings are made again, since the transcript keeps the body as the parser got it:
chunked if the original was chunked (one chunk per piece), the recorded Content-Length if it
had one, else the body ends when the connection closes; a gzip or deflate Content-Encoding is
applied again, each piece compressed and flushed so it still goes out alone.

``identity=True`` (the interop step's use, ``conformance/_interop.py``) serves the body as the
parser got it, with no Content-Encoding, as fast as the pieces can go out as separate reads.
"""

from __future__ import annotations

import asyncio
import http
import socket
import struct
import threading
import time
import zlib
from collections.abc import Iterator

import h11

from conformance._model import EndKind
from conformance._saved import Saved
from conformance._transport import content_codings

from .faults import STALL_SECONDS
from .writer import RESET_PAUSE

__all__ = ["ReplayServer", "FAST_PAUSE"]

REQUEST_TIMEOUT = 10.0  # s a client may take to send its request
MAX_REQUEST_BODY = 1 << 20
READ_SIZE = 64 * 1024
# identity mode: a pause between pieces, so that each reaches the client as a read of its own
# (on loopback, writes a few microseconds apart arrive together), up to FAST_PAUSES in all.
FAST_PAUSE = 0.001
FAST_PAUSES = 1.0
FRAMING = ("connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection")


class ReplayServer:
    """Serves ``saved`` on ``host``:``port`` (a free loopback port unless given), in a thread.

    Use as a context manager, or ``start()`` and ``stop()``; ``url(path)`` is where to ask.
    """

    def __init__(self, saved: Saved, host: str = "127.0.0.1", port: int = 0, speed: float = 1.0,
                 identity: bool = False, hold: float = STALL_SECONDS) -> None:
        if not speed > 0:
            raise ValueError("speed must be positive")
        self.saved = saved
        self.speed = speed
        self.identity = identity
        self.hold = hold  # longest a response is held open where the recording stopped
        self.host = host
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.bind((host, port))
        self.port = self._sock.getsockname()[1]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._started = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="replay-server", daemon=True)

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def start(self, wait: float = 10.0) -> ReplayServer:
        self._thread.start()
        if not self._started.wait(wait):
            raise RuntimeError("the replay server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=5)
        self._sock.close()

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._server = await asyncio.start_server(self._serve, sock=self._sock)
        self._started.set()
        await self._stopping.wait()
        self._server.close()
        for writer in list(self._open):
            writer.transport.abort()  # a held response must not hold the shutdown
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                asked = await _read_request(reader)
            if asked:
                await self._respond(reader, writer)
        except (OSError, h11.ProtocolError, TimeoutError):
            pass  # the client left, sent something that is not HTTP, or took too long
        finally:
            self._open.discard(writer)
            writer.close()

    async def _respond(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        saved, ending = self.saved, self.saved.ending
        start = time.monotonic()
        gone = asyncio.ensure_future(_until_gone(reader))

        async def at(recorded: float) -> bool:
            """Wait for the recorded time (scaled); False if the client left meanwhile."""
            delay = start + recorded / self.speed - time.monotonic()
            if delay > 0 and not self.identity:
                await asyncio.wait([gone], timeout=delay)
            return not gone.done()

        try:
            if saved.response is None:
                if ending.kind is EndKind.NO_RESPONSE and ending.detail.startswith("no response headers within"):
                    await asyncio.wait([gone], timeout=self.hold)  # the original sent nothing at all
                return  # otherwise it failed before answering: the connection closes now
            if not await at(saved.response.headers_at):
                return
            chunked, codings, head = self._head()
            writer.write(head)
            await writer.drain()
            encode = _Encoder(codings)
            pauses = 0.0
            for piece, arrived in saved.pieces():
                if not await at(arrived):
                    return
                if self.identity and pauses < FAST_PAUSES:
                    await asyncio.sleep(FAST_PAUSE)
                    pauses += FAST_PAUSE
                data = encode(piece)
                if data:
                    writer.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
                    await writer.drain()
            if self.identity or ending.kind is EndKind.CLOSED:
                if not self.identity and not await at(ending.time):
                    return
                rest = encode(b"", final=True)
                if rest:
                    writer.write(b"%x\r\n%s\r\n" % (len(rest), rest) if chunked else rest)
                if chunked:
                    writer.write(b"0\r\n\r\n")
                await writer.drain()
            elif ending.kind is EndKind.READ_ERROR:
                # At the recorded time, and never at once: a reset discards what the client has
                # not read yet, and the recording holds only what the suite had read.
                if await at(ending.time):
                    await asyncio.wait([gone], timeout=RESET_PAUSE / self.speed)
                    if not gone.done():
                        _reset(writer)
            else:  # the suite had stopped reading: what came next was not recorded
                await asyncio.wait([gone], timeout=self.hold)
        finally:
            gone.cancel()

    def _head(self) -> tuple[bool, list[str], bytes]:
        """Whether the body goes chunked, the codings to apply again, and the response head."""
        response = self.saved.response
        assert response is not None
        headers = [(k, v) for k, v in response.headers if k.lower() not in FRAMING]
        original = {k.lower(): v for k, v in response.headers}
        codings = [] if self.identity else content_codings(response.headers)
        if self.identity:
            headers = [(k, v) for k, v in headers if k.lower() != "content-encoding"]
        elif any(c not in ("gzip", "x-gzip", "deflate") for c in codings):
            codings = []  # refused by the suite: no body was recorded to encode
        chunked = not self.identity and "chunked" in original.get("transfer-encoding", "").lower()
        if chunked:
            headers.append(("Transfer-Encoding", "chunked"))
        elif "content-length" in original and not self.identity:
            length = original["content-length"]
            if self.saved.ending.kind is EndKind.CLOSED:
                length = str(sum(len(piece) for piece in _encoded_pieces(self.saved, codings)))
            headers.append(("Content-Length", length))
        headers.append(("Connection", "close"))
        status = response.status
        reason = response.reason or _phrase(status)
        lines = [f"HTTP/1.1 {status} {reason}".encode("latin-1", "replace")]
        lines += [f"{k}: {v}".encode("latin-1", "replace") for k, v in headers]
        return chunked, codings, b"\r\n".join(lines) + b"\r\n\r\n"


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


class _Encoder:
    """Applies content codings again, each piece compressed and flushed (so it goes out alone)."""

    def __init__(self, codings: list[str]) -> None:
        # Applied in the order listed (RFC 9110 8.4): the first listed is applied first.
        self.layers = [zlib.compressobj(wbits=31 if c in ("gzip", "x-gzip") else 15) for c in codings]

    def __call__(self, data: bytes, final: bool = False) -> bytes:
        for layer in self.layers:
            data = layer.compress(data) + layer.flush(zlib.Z_FINISH if final else zlib.Z_SYNC_FLUSH)
        return data


def _encoded_pieces(saved: Saved, codings: list[str]) -> Iterator[bytes]:
    encode = _Encoder(codings)
    for piece, _ in saved.pieces():
        yield encode(piece)
    yield encode(b"", final=True)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset, as the original connection broke."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _until_gone(reader: asyncio.StreamReader) -> None:
    """Returns when the client closes its side (anything it sends meanwhile is ignored)."""
    try:
        while await reader.read(READ_SIZE):
            pass
    except OSError:
        pass


async def _read_request(reader: asyncio.StreamReader) -> bool:
    """Reads one request, whatever it asks; False if the client left before sending it whole."""
    conn = h11.Connection(h11.SERVER)
    size = 0
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(READ_SIZE))
        elif isinstance(event, h11.Data):
            size += len(event.data)
            if size > MAX_REQUEST_BODY:
                return False
        elif isinstance(event, h11.EndOfMessage):
            return True
        elif isinstance(event, h11.ConnectionClosed):
            return False
