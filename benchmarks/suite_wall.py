"""Whole-suite wall time against the reference server, default options.

    python benchmarks/suite_wall.py [--runs N] [--xdist N] [--query delay=200]

The reference server runs in its own process, wrapped so that it notes when each
request arrives and when its response ends; the union of those intervals is the
server's own streaming time (what no client, however fast, could avoid). Then
``pytest --target URL`` runs, from a fresh interpreter, with default options. The
suite's overhead is its wall time less the interpreter's start (``python -c pass``)
and less the server's streaming time. Goal: under 20% of the streaming time. With
``--xdist N`` the same run spread over N workers is measured too.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine, median, server_process, table

SERVE_FOR = 1800  # s: the server stops by itself after this long


def serve(log: str) -> None:
    """The reference app, each request's (arrival, end of response) appended to ``log``."""
    import uvicorn

    from reference_server import create_app

    app = create_app()

    async def timed(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        started = time.time()
        try:
            await app(scope, receive, send)
        finally:
            with open(log, "a") as out:
                out.write(f"{started} {time.time()}\n")

    config = uvicorn.Config(timed, host="127.0.0.1", port=0, log_level="warning", lifespan="off",
                            access_log=False)
    server = uvicorn.Server(config)

    async def run():
        import asyncio

        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        print(server.servers[0].sockets[0].getsockname()[1], flush=True)
        await asyncio.sleep(SERVE_FOR)
        server.should_exit = True
        await task

    import asyncio

    asyncio.run(run())


def union(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for a, b in sorted(intervals):
        if b > end:
            total += b - max(a, end)
            end = b
    return total


# As a user's machine or CI has it: bytecode cached. Without the cache every run compiles
# and assertion-rewrites hundreds of modules again (hypothesis is a pytest plugin, so
# pytest rewrites all of it), which adds about two seconds to each start.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed_run(cmd: list[str], cwd: str) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600, env=ENV)
    return time.perf_counter() - started, done


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("--runs", type=int, default=3)
    cli.add_argument("--xdist", type=int, default=0, metavar="N", help="also run with pytest -n N")
    cli.add_argument("--query", default="", help="reference server options for the target, e.g. delay=200")
    cli.add_argument("--serve", metavar="LOG", help=argparse.SUPPRESS)  # see _common.server_process
    args = cli.parse_args()
    if args.serve:
        serve(args.serve)
        return
    print(f"machine: {machine()}\n")
    pytest = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]
    variants = {"pytest --target URL": []}
    if args.xdist:
        variants[f"pytest --target URL -n {args.xdist}"] = ["-n", str(args.xdist)]
    with tempfile.TemporaryDirectory() as work:
        log = os.path.join(work, "requests.log")
        rows = []
        with server_process(__file__, log) as port:
            url = f"http://127.0.0.1:{port}/chat/stream" + (f"?{args.query}" if args.query else "")
            bare = median([timed_run([sys.executable, "-c", "pass"], work)[0] for _ in range(5)])
            timed_run([*pytest, "--target", url, "--collect-only"], work)  # warm the bytecode caches
            for name, extra in variants.items():
                walls, sessions, streaming, overheads = [], [], [], []
                for _ in range(args.runs):
                    Path(log).write_text("")
                    wall, done = timed_run([*pytest, "--target", url, *extra], work)
                    if done.returncode != 0:
                        raise SystemExit(f"{name} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
                    intervals = [tuple(map(float, line.split())) for line in Path(log).read_text().splitlines()]
                    busy = union(intervals)
                    walls.append(wall)
                    sessions.append(float(re.findall(r" in ([0-9.]+)s", done.stdout)[-1]))
                    streaming.append(busy)
                    overheads.append(wall - bare - busy)
                w, s, o, ses = median(walls), median(streaming), median(overheads), median(sessions)
                rows.append([name, f"{w:.2f}", f"{bare:.2f}", f"{ses:.2f}", f"{s:.2f}", f"{o:.2f}", f"{o / s:.0%}",
                             f"{(ses - s) / s:.0%}"])
                print(f"  {name}: {len(intervals)} requests", flush=True)
    print()
    print(table(["run", "wall s", "interpreter start s", "pytest session s", "server streaming s",
                 "suite overhead s", "overhead / streaming", "(session - streaming) / streaming"], rows))
    print("\nsuite overhead = wall - interpreter start - server streaming; goal: under 20% of the streaming time")
    print("the pytest session time (pytest's own 'in N s') leaves out imports and plugin loading")


if __name__ == "__main__":
    main()
