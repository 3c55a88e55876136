"""Memory on long streams: peak RSS of the suite checking a 1 MiB stream and a 1 GiB one.

    python benchmarks/memory.py [--sizes 1MiB,1GiB]

A stream server runs in its own process and writes ``_common.corpus`` events (and a
``[DONE]``) as fast as the socket takes them. Each size is checked in a fresh process,
over loopback, the way ``pytest --target`` does it: ``capture()`` with every rule
watching, then ``judge()``; that process reports its peak resident set size
(``ru_maxrss``). Goal: the 1 GiB peak within 10 MiB of the 1 MiB peak.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import resource
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlsplit

from _common import corpus, machine, server_process, table

SERVE_FOR = 1800  # s: the server stops by itself after this long
_SIZE = re.compile(r"^(\d+)(|KiB|MiB|GiB)$")


def size(text: str) -> int:
    match = _SIZE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 1MiB, 1GiB)")
    return int(match.group(1)) * {"": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[match.group(2)]


# -- the stream server (its own process) ------------------------------------------------

BLOCK = corpus(14_600)  # about 1 MiB of events, written again and again
DONE = b"data: [DONE]\n\n"


async def stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    await reader.readexactly(int(length.group(1)) if length else 0)
    target = head.split(b" ", 2)[1].decode()
    total = int(parse_qs(urlsplit(target).query).get("bytes", ["1048576"])[0])
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
                 b"connection: close\r\n\r\n")
    sent = 0
    while sent + len(BLOCK) <= total:
        writer.write(BLOCK)
        await writer.drain()
        sent += len(BLOCK)
    cut = BLOCK.rfind(b"\n\n", 0, total - sent) + 2 if total > sent else 0
    writer.write(BLOCK[:cut] + DONE)
    await writer.drain()
    writer.close()


async def serve() -> None:
    server = await asyncio.start_server(stream, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await asyncio.sleep(SERVE_FOR)


# -- one check (its own process) ---------------------------------------------------------


def check(url: str) -> dict:
    from conformance import Limits, RequestSpec, capture, load_profile
    from conformance._rules import Outcome, instantiate, judge, watching
    from conformance._transcript import Evidence
    from conformance._transport import make_client

    profile = load_profile("simple")
    limits = Limits(max_body=4 << 30, stream_timeout=3600)
    evidence = Evidence()
    rules = instantiate(profile, limits, evidence)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    async def run():
        async with make_client(url) as client:
            request = RequestSpec(url, json.dumps(profile.example).encode())
            return await capture(client, request, profile, limits, watching(rules), evidence)

    started = time.perf_counter()
    transcript = asyncio.run(run())
    verdicts = judge(rules, transcript)
    return {
        "seconds": time.perf_counter() - started,
        "bytes": transcript.body_bytes,
        "events": transcript.events,
        "failed": [v.requirement.id for v in verdicts if v.outcome is Outcome.FAILED],
        "rss_before_kib": before,
        "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("--sizes", default="1MiB,1GiB", help="comma-separated stream sizes (default 1MiB,1GiB)")
    cli.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # see _common.server_process
    cli.add_argument("--check", metavar="URL", help=argparse.SUPPRESS)
    args = cli.parse_args()
    if args.serve:
        asyncio.run(serve())
        return
    if args.check:
        print(json.dumps(check(args.check)))
        return
    sizes = [size(s) for s in args.sizes.split(",")]
    print(f"machine: {machine()}\n")
    results = []
    with server_process(__file__) as port:
        for n in sizes:
            url = f"http://127.0.0.1:{port}/chat/stream?bytes={n}"
            out = subprocess.run([sys.executable, __file__, "--check", url], capture_output=True, text=True,
                                 check=True, timeout=SERVE_FOR)
            results.append((n, json.loads(out.stdout)))
            print(f"  {n} bytes done", flush=True)
    rows = [[f"{n / (1 << 20):g} MiB", f"{r['bytes']:,}", f"{r['events']:,}", f"{r['seconds']:.1f}",
             f"{r['bytes'] / 1e6 / r['seconds']:.1f}", f"{r['rss_before_kib'] / 1024:.1f}",
             f"{r['peak_kib'] / 1024:.1f}",
             ", ".join(r["failed"]) or "none"] for n, r in results]
    print()
    print(table(["stream", "bytes", "events", "s", "MB/s", "RSS before, MiB", "peak RSS, MiB", "failed"], rows))
    if len(results) > 1:
        growth = (results[-1][1]["peak_kib"] - results[0][1]["peak_kib"]) / 1024
        print(f"\npeak RSS grew {growth:.1f} MiB from the smallest stream to the largest (goal: at most 10 MiB)")


if __name__ == "__main__":
    main()
