"""Peak memory of the suite against hostile targets: ``python benchmarks/hostile_memory.py [WORD...]``
(only the cases whose names hold one of the words, if any are given).

Starts the reference server in this process, and a server of compression bombs beside it,
then runs the suite (``pytest --target``) in a fresh subprocess per case and reads that
process's peak RSS from ``wait4``. Every case ends by itself: the server stops the endless
stream at ``size`` bytes, and the suite stops reading at its limits.
"""

from __future__ import annotations

import asyncio
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from reference_server import ServerThread

GiB, MiB = 1 << 30, 1 << 20
BUDGET_MIB = 100  # the suite's peak RSS must stay within this, whatever the target sends
# Events of ~16 KiB: a 1 GiB stream is then 65,000 events, parsed and judged in seconds.
# (With the default ~60-byte chunks the same gigabyte is 17 million events: minutes of CPU,
# and the memory it needs is the same.)
PAD = 16 * 1024


@dataclass(frozen=True)
class Case:
    name: str
    query: str  # on the reference server's /chat/stream; or, with bomb, the coding list
    args: tuple[str, ...] = ()
    budgeted: bool = True  # held to BUDGET_MIB (a case that raises a limit on purpose is not)
    bomb: bool = False  # served by the bomb server: BOMB_BYTES of events under the codings in query


CASES = [
    # The hostile cases fail the canonical exchange, so the suite makes no requests of its own
    # for them (they would repeat that failure): the like-for-like baseline is the canonical
    # exchange alone. The default and thorough runs show what the suite's own requests cost.
    Case("baseline: a correct stream, canonical exchange only", "",
         ("--sse-examples", "0", "--sse-disconnects", "0", "--sse-concurrency", "0")),
    Case("a correct stream, default run (3 drawn requests, 3 dropped, 3 at once)", ""),
    Case("a correct stream, thorough run (10 drawn requests, 20 dropped, 8 at once)", "", ("--sse-depth", "thorough")),
    Case(
        "endless stream, 1 GiB",
        f"fault=endless&delay=0&pad={PAD}&size={GiB}",
        ("--sse-max-body", "2GiB", "--sse-stream-timeout", "600"),
    ),
    Case("one 64 MiB line, no newline (default --sse-max-line 1MiB)", f"fault=huge-line&size={64 * MiB}"),
    Case(
        "one 64 MiB line, --sse-max-line raised to 128MiB",
        f"fault=huge-line&size={64 * MiB}",
        ("--sse-max-line", "128MiB", "--sse-max-event", "128MiB"),
        budgeted=False,
    ),
    Case("gzip bomb: 1 GiB of events in 1 MiB, Content-Encoding: gzip", "gzip", bomb=True),
    Case("layered gzip bomb: 1 GiB of events in gzip inside gzip, Content-Encoding: gzip, gzip", "gzip, gzip",
         bomb=True),
]
# The bombs' content: events of one 512 KiB line each (under --sse-max-line), so the suite
# reads them up to --sse-max-body (64 MiB), as it would a stream of that size.
BOMB_BYTES = GiB
BOMB_EVENT = b"data: " + b"a" * (512 * 1024 - 8) + b"\n\n"


def _gzip_repeated(piece: bytes, times: int) -> bytes:
    """gzip of ``piece`` repeated ``times`` times, made in a second rather than a minute: after
    a full flush the compressor starts afresh, so every repetition compresses to the same block."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = deflate.compress(piece) + deflate.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(times):
        crc = zlib.crc32(piece, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # RFC 1952: deflate, no name, no time
    trailer = crc.to_bytes(4, "little") + (len(piece) * times % (1 << 32)).to_bytes(4, "little")
    return header + block * times + deflate.flush() + trailer


def bomb(codings: str) -> bytes:
    """BOMB_BYTES of events under each gzip coding listed (the first applied first)."""
    body = _gzip_repeated(BOMB_EVENT, BOMB_BYTES // len(BOMB_EVENT))
    for _ in codings.split(",")[1:]:
        body = zlib.compress(body, 9, wbits=31)
    return body


@contextmanager
def bomb_server(cases: list[Case]) -> Iterator[int]:
    """A loopback server in a thread of its own: ``/N`` answers with the bomb of CASES[N]."""
    bodies = {str(CASES.index(case)): (case.query, bomb(case.query)) for case in cases if case.bomb}
    started = threading.Event()
    port: list[int] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
            await reader.readexactly(int(length.group(1)) if length else 0)
            codings, body = bodies[head.split(b" ")[1].decode().lstrip("/").partition("?")[0]]
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                         b"Content-Encoding: %s\r\nConnection: close\r\n\r\n%s" % (codings.encode(), body))
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, KeyError):
            pass
        finally:
            writer.close()

    async def serve() -> None:
        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        port.append(server.sockets[0].getsockname()[1])
        started.set()
        async with server:
            await server.serve_forever()

    threading.Thread(target=lambda: asyncio.run(serve()), name="bombs", daemon=True).start()
    started.wait(10)
    yield port[0]  # the thread is a daemon: it ends with the benchmark


@dataclass(frozen=True)
class Result:
    case: Case
    peak_mib: float
    body_bytes: int
    seconds: float
    ended: str


def run_case(server: ServerThread, bombs: int, case: Case) -> Result:
    url = f"http://127.0.0.1:{bombs}/{CASES.index(case)}" if case.bomb else server.url("/chat/stream", case.query)
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--target", url, *case.args]
    with tempfile.TemporaryDirectory() as cwd, tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage: peak RSS in KiB on Linux
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
        seconds = time.perf_counter() - started
        out.seek(0)
        output = out.read().decode("utf-8", "replace")
    match = re.search(r"exchange status \d+, (\d+) bytes, .*; ended: (.*) at [\d.]+ s", output)
    if match is None:
        raise RuntimeError(f"no summary in the suite's output:\n{output[-2000:]}")
    return Result(case, usage.ru_maxrss / 1024, int(match.group(1)), seconds, match.group(2))


def _size(n: int) -> str:
    return f"{n / MiB:,.1f} MiB" if n >= MiB else f"{n:,} bytes"


def main() -> int:
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Linux {platform.release()}, "
          f"Python {platform.python_version()}")
    print("| case | body read | how it ended | time | suite peak RSS |\n| --- | ---: | --- | ---: | ---: |")
    over = []
    words = sys.argv[1:]
    cases = [case for case in CASES if not words or any(word in case.name for word in words)]
    with ServerThread() as server, bomb_server(cases) as bombs:
        for case in cases:
            r = run_case(server, bombs, case)
            print(f"| {case.name} | {_size(r.body_bytes)} | {r.ended} | {r.seconds:.1f} s | {r.peak_mib:.0f} MiB |",
                  flush=True)
            if case.budgeted and r.peak_mib > BUDGET_MIB:
                over.append(case.name)
    if over:
        print(f"over the {BUDGET_MIB} MiB budget: {', '.join(over)}")
        return 1
    print(f"every budgeted case within {BUDGET_MIB} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
