"""Timing fidelity under concurrency: how late each event is seen, client side.

    python benchmarks/concurrency.py [--streams 128] [--rate 50] [--chunks N] [--modes a,b,...]
    python benchmarks/concurrency.py --streams 200 --rate 0 --chunks 100   # as fast as sent

The reference server runs in its own process (so client and server do not share an
event loop or a core) and stamps each chunk with its send time (``?stamp=1``). The
client opens ``--streams`` streams at once, each paced at ``--rate`` events per second
and as long as the server's answer (one character per event: about 200 events), and
notes for every event the lag from the server's stamp to the moment the client had it:
for a transport, when its read returned the bytes; for the suite's ``capture()``, when
the checks were handed the chunk. Both clocks are this machine's ``time.time()``.
Goal: p99 lag under 10 ms at 128 streams of 50 events per second. With ``--rate 0`` the
server sends without pause, and the wall and CPU times say what each client costs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
from collections.abc import Awaitable, Callable

import httpx
from _common import machine, server_process, table

from conformance import EventStreamParser, Limits, RequestSpec, capture, load_profile
from conformance._rules import instantiate, watching
from conformance._transcript import Chunk, Evidence
from conformance._transport import HttpxTransport, Transport, make_client, make_concurrent_client

SERVE_FOR = 1800  # s: the server stops by itself after this long
BODY = {"prompt": "How late is each event, when many streams run?", "stream": True}
CHUNKS = 1000  # the reference server's most: one character of its answer per chunk


def serve() -> None:
    from reference_server import ServerThread

    server = ServerThread().start()
    print(server.port, flush=True)
    time.sleep(SERVE_FOR)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)]


class Lags:
    """Send-to-receipt lags, in seconds, of every event of every stream of one run."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.failures = 0

    def bytes_read(self, parser: EventStreamParser, piece: bytes) -> None:
        now = time.time()
        for event in parser.feed(piece, now):
            if event.data != "[DONE]":
                self.values.append(now - json.loads(event.data)["sent_at"])


async def httpx_stream(client: httpx.AsyncClient, url: str, lags: Lags) -> None:
    parser = EventStreamParser()
    async with client.stream("POST", url, json=BODY) as response:
        async for piece in response.aiter_raw():
            lags.bytes_read(parser, piece)


def httpx_fresh(url: str, lags: Lags, n: int) -> list[Awaitable[None]]:
    async def one() -> None:
        async with httpx.AsyncClient(timeout=None) as client:
            await httpx_stream(client, url, lags)

    return [one() for _ in range(n)]


def httpx_fresh_one_tls(url: str, lags: Lags, n: int) -> list[Awaitable[None]]:
    tls = httpx.create_ssl_context()  # a client builds one by default, reading the CA bundle

    async def one() -> None:
        async with httpx.AsyncClient(timeout=None, verify=tls) as client:
            await httpx_stream(client, url, lags)

    return [one() for _ in range(n)]


def httpx_shared(limits: httpx.Limits) -> Callable[[str, Lags, int], list[Awaitable[None]]]:
    def streams(url: str, lags: Lags, n: int) -> list[Awaitable[None]]:
        client = httpx.AsyncClient(timeout=None, limits=limits)

        async def one() -> None:
            await httpx_stream(client, url, lags)

        async def all_then_close() -> None:
            async with client:
                await asyncio.gather(*(one() for _ in range(n)))

        return [all_then_close()]

    return streams


async def aiohttp_stream(session, url: str, lags: Lags) -> None:
    parser = EventStreamParser()
    async with session.post(url, json=BODY) as response:
        async for piece in response.content.iter_any():
            lags.bytes_read(parser, piece)


def aiohttp_fresh(url: str, lags: Lags, n: int) -> list[Awaitable[None]]:
    import aiohttp

    async def one() -> None:
        async with aiohttp.ClientSession() as session:
            await aiohttp_stream(session, url, lags)

    return [one() for _ in range(n)]


def aiohttp_shared(url: str, lags: Lags, n: int) -> list[Awaitable[None]]:
    import aiohttp

    async def all_then_close() -> None:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            await asyncio.gather(*(aiohttp_stream(session, url, lags) for _ in range(n)))

    return [all_then_close()]


class LagWatcher:
    """An observer of capture(): the lag of each chunk when the checks get it."""

    def __init__(self, lags: Lags) -> None:
        self.lags = lags

    def on_chunk(self, chunk: Chunk) -> None:
        if not chunk.terminator:
            self.lags.values.append(time.time() - chunk.value["sent_at"])


PROFILE = load_profile("simple")  # once per run, as the suite loads it


async def suite_capture(client: Transport, url: str, lags: Lags) -> None:
    profile = PROFILE
    limits = Limits(timeout=10, stream_timeout=120)
    evidence = Evidence()
    observers = [*watching(instantiate(profile, limits, evidence)), LagWatcher(lags)]
    t = await capture(client, RequestSpec(url, json.dumps(BODY).encode()), profile, limits, observers, evidence)
    if t.terminators != 1:
        lags.failures += 1


def capture_fresh(url: str, lags: Lags, n: int) -> list[Awaitable[None]]:
    async def one() -> None:
        async with make_client(url) as client:
            await suite_capture(client, url, lags)

    return [one() for _ in range(n)]


def capture_shared(make: Callable[[str], Transport]) -> Callable[[str, Lags, int], list[Awaitable[None]]]:
    def streams(url: str, lags: Lags, n: int) -> list[Awaitable[None]]:
        async def all_then_close() -> None:
            async with make(url) as client:
                await asyncio.gather(*(suite_capture(client, url, lags) for _ in range(n)))

        return [all_then_close()]

    return streams


def httpx_unlimited(url: str) -> Transport:
    return HttpxTransport(httpx.AsyncClient(timeout=None, limits=httpx.Limits(max_connections=None)))


# name: (what it is, the streams it opens)
MODES: dict[str, tuple[str, Callable[[str, Lags, int], list[Awaitable[None]]]]] = {
    "httpx-fresh": ("httpx AsyncClient, one per stream", httpx_fresh),
    "httpx-fresh-tls": ("httpx AsyncClient, one per stream, one TLS context", httpx_fresh_one_tls),
    "httpx-shared": ("httpx AsyncClient, one for all (pool unlimited)",
                     httpx_shared(httpx.Limits(max_connections=None))),
    "httpx-shared-100": ("httpx AsyncClient, one for all (default pool, 100)",
                         httpx_shared(httpx.Limits(max_connections=100))),
    "aiohttp-fresh": ("aiohttp ClientSession, one per stream", aiohttp_fresh),
    "aiohttp-shared": ("aiohttp ClientSession, one for all", aiohttp_shared),
    "capture-fresh": ("suite capture(), an httpx client per stream (make_client)", capture_fresh),
    "capture-shared": ("suite capture(), one httpx client for all", capture_shared(httpx_unlimited)),
    "capture-aiohttp": ("suite capture(), aiohttp (make_concurrent_client), as the probe",
                        capture_shared(make_concurrent_client)),
}


def run(mode: str, url: str, streams: int) -> tuple[Lags, float, float]:
    lags = Lags()

    async def main() -> None:
        results = await asyncio.gather(*MODES[mode][1](url, lags, streams), return_exceptions=True)
        lags.failures += sum(isinstance(r, BaseException) for r in results)

    wall, cpu = time.perf_counter(), time.process_time()
    asyncio.run(main())
    return lags, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("--streams", type=int, default=128)
    cli.add_argument("--rate", type=float, default=50, help="events per second per stream (0: no pause)")
    cli.add_argument("--chunks", type=int, default=CHUNKS, help="events per stream, at most the answer's length")
    cli.add_argument("--modes", default=",".join(MODES), help="comma-separated, from: " + ",".join(MODES))
    cli.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # see _common.server_process
    args = cli.parse_args()
    if args.serve:
        serve()
        return
    print(f"machine: {machine()}")
    pace = f"{args.rate:g} events/s" if args.rate else "no pause between events"
    print(f"{args.streams} streams at once, each at {pace}; server in its own process\n")
    rows = []
    with server_process(__file__) as port:
        delay = 1000 / args.rate if args.rate else 0
        url = f"http://127.0.0.1:{port}/chat/stream?stamp=1&chunks={args.chunks}&delay={delay:g}"
        for mode in args.modes.split(","):
            lags, wall, cpu = run(mode, url, args.streams)
            ms = [v * 1000 for v in lags.values]
            rows.append([MODES[mode][0], f"{len(ms):,}", str(lags.failures), f"{percentile(ms, 50):.1f}",
                         f"{percentile(ms, 99):.1f}", f"{max(ms):.1f}", f"{wall:.1f}", f"{cpu:.1f}"])
            print(f"  {mode}: p99 {percentile(ms, 99):.1f} ms", flush=True)
    print()
    print(table(["client", "events", "failed streams", "p50 ms", "p99 ms", "max ms", "wall s", "client CPU s"], rows))


if __name__ == "__main__":
    main()
