"""A hostile target for self-tests: a raw asyncio server on a loopback port, in a thread of
its own (the suite under test runs its own event loop in the test's thread), that reads
each request and answers it with whatever bytes the test hands it, unchecked."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from tests.conftest import SuiteRun

__all__ = ["Request", "hostile_server", "response", "artifacts_of"]


@dataclass
class Request:
    head: bytes  # request line and headers, CRLF-separated
    body: bytes

    def header(self, name: str) -> str | None:
        for line in self.head.decode("latin-1").split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None


@dataclass
class Seen:
    requests: list[Request] = field(default_factory=list)


def response(status: str, headers: list[tuple[str, str]] | list[tuple[bytes, bytes]], body: bytes) -> bytes:
    """A response ended by closing the connection: the head exactly as given, then the body."""
    lines = [b"HTTP/1.1 " + status.encode("latin-1")]
    for name, value in headers:
        name_b = name if isinstance(name, bytes) else name.encode("latin-1")
        value_b = value if isinstance(value, bytes) else value.encode("latin-1")
        lines.append(name_b + b": " + value_b)
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


async def _read_request(reader: asyncio.StreamReader) -> Request:
    head = await reader.readuntil(b"\r\n\r\n")
    request = Request(head, b"")
    length = int(request.header("content-length") or 0)
    request.body = await reader.readexactly(length) if length else b""
    return request


@contextmanager
def hostile_server(answer: Callable[[Request], bytes]) -> Iterator[tuple[str, Seen]]:
    """``with hostile_server(answer) as (base_url, seen):`` every request gets ``answer(request)``
    and the connection is closed after it; ``seen.requests`` holds what arrived."""
    seen = Seen()
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    holder: dict[str, object] = {}

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(_read_request(reader), 10)
            seen.requests.append(request)
            writer.write(answer(request))
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass
        finally:
            writer.close()

    async def start() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        holder["server"] = server
        holder["port"] = server.sockets[0].getsockname()[1]
        ready.set()
        async with server:
            await server.serve_forever()

    def run() -> None:
        try:
            loop.run_until_complete(start())
        except asyncio.CancelledError:
            pass

    thread = threading.Thread(target=run, name="hostile-server", daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the hostile server did not start")
    try:
        yield f"http://127.0.0.1:{holder['port']}", seen
    finally:
        server = holder["server"]
        loop.call_soon_threadsafe(server.close)  # type: ignore[attr-defined]
        for task in asyncio.all_tasks(loop):
            loop.call_soon_threadsafe(task.cancel)
        thread.join(10)
        loop.close()


def artifacts_of(run: SuiteRun, pytester: pytest.Pytester) -> dict[str, str]:
    """Everything a run showed or wrote, as text: its output and every file it left."""
    found = {"stdout": run.output, "stderr": run.result.stderr.str()}
    cache = pytester.path / ".cache"  # pytester's HOME: Hypothesis's Unicode table, nothing of the target's
    for path in pytester.path.rglob("*"):
        if path.is_file() and cache not in path.parents:
            name = str(path.relative_to(pytester.path))
            if path.suffix == ".gz":  # a saved exchange: its JSON, and the body it holds as base64
                text = gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
                found[name + " (body)"] = base64.b64decode(json.loads(text)["body"]["base64"]).decode(
                    "utf-8", "replace")
                found[name] = text
            else:
                found[name] = path.read_text(encoding="utf-8", errors="replace")
    return found
