"""Run the reference server on loopback ports, in a background thread of this process."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from urllib.parse import parse_qs

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from .app import REQUEST_TIMEOUT, create_app
from .dialects import DIALECTS, dialect_for
from .raw import RawListener

__all__ = ["ServerThread"]


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit TCP_NODELAY: every write goes out at once, rather than
    # waiting behind the client's delayed ACK of the one before (40 ms on Linux), which made
    # a two-write answer (headers, then body) take 40 ms.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    return sock


class _TimedH11(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request head has not arrived whole
    within ``request_timeout`` of the connection opening or of the last response ending.

    uvicorn times only an idle keep-alive connection, and its timer stops at the first byte:
    a client sending its head a byte at a time (slowloris) held a connection, and a server
    task, for as long as it liked. (The body is timed by the app, which reads it.)"""

    request_timeout = REQUEST_TIMEOUT
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._time_the_head()

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None and not self.cycle.response_complete and self._head_timer is not None:
            self._head_timer.cancel()  # a head arrived whole: the app has the request
            self._head_timer = None

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._time_the_head()  # the next request on this connection

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)

    def _time_the_head(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        waiting = self.cycle is None or self.cycle.response_complete  # not if a pipelined request began
        self._head_timer = self.loop.call_later(self.request_timeout, self._too_slow) if waiting else None

    def _too_slow(self) -> None:
        self._head_timer = None
        if (self.cycle is None or self.cycle.response_complete) and not self.transport.is_closing():
            self.transport.close()


class ServerThread:
    """The reference app on ``host`` (loopback unless given): uvicorn on ``port`` and the
    byte-exact listener (``raw.py``) on ``raw_port``, free ports unless given.

    Use as a context manager, or call ``start()`` and ``stop()``. A client that takes longer
    than ``request_timeout`` seconds to send its request is cut off.
    """

    def __init__(
        self,
        port: int = 0,
        raw_port: int = 0,
        host: str = "127.0.0.1",
        request_timeout: float = REQUEST_TIMEOUT,
        **app_options: float,
    ) -> None:
        self.host = host
        self._sock = _bind(host, port)
        self._raw_sock = _bind(host, raw_port)
        self.port = self._sock.getsockname()[1]
        self.raw_port = self._raw_sock.getsockname()[1]
        app = create_app(request_timeout=request_timeout, **app_options)
        # h11 whatever else is installed (uvicorn would take httptools), so the server behaves
        # the same everywhere, timed as _TimedH11 says.
        protocol = type("TimedH11", (_TimedH11,), {"request_timeout": request_timeout})
        config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1,
                                access_log=False, http=protocol)
        self._server = uvicorn.Server(config)
        self._raw = RawListener(app, request_timeout)
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), name="reference-server", daemon=True)

    async def _serve(self) -> None:
        await self._raw.start(self._raw_sock)
        try:
            await self._server.serve(sockets=[self._sock])
        finally:
            await self._raw.stop()

    def url(self, path: str = "/", query: str = "") -> str:
        """The URL of ``path`` with ``query``, on the listener its faults need. ``path`` may
        carry a query of its own (a profile's: Gemini's ``?alt=sse``), which ``query`` extends."""
        path, _, own = path.partition("?")
        query = "&".join(q for q in (own, query) if q)
        names = ",".join(parse_qs(query).get("fault", [])).split(",")
        # The path's dialect names the faults; on an unknown path, any dialect's may be meant.
        dialects = [d] if (d := dialect_for(path)) is not None else DIALECTS.values()
        raw = any(d.faults[n].raw for d in dialects for n in names if n in d.faults)
        return f"http://{self.host}:{self.raw_port if raw else self.port}{path}" + (f"?{query}" if query else "")

    def start(self, wait: float = 10.0) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + wait
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the reference server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._sock.close()
        self._raw_sock.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
