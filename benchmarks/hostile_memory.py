"""Peak memory of the suite against hostile targets: ``python benchmarks/hostile_memory.py``.

Starts the reference server in this process, then runs the suite (``pytest --target``)
in a fresh subprocess per case and reads that process's peak RSS from ``wait4``. Every case
ends by itself: the server stops the endless stream at ``size`` bytes, and the suite stops
reading at its limits.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import tempfile
import time
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
    query: str
    args: tuple[str, ...] = ()
    budgeted: bool = True  # held to BUDGET_MIB (a case that raises a limit on purpose is not)


CASES = [
    # The hostile cases fail the canonical exchange, so the suite makes no requests of its own
    # for them (they would repeat that failure): the like-for-like baseline is the canonical
    # exchange alone. The full run is shown too, for what the suite's own requests cost.
    Case("baseline: a correct stream, canonical exchange only", "",
         ("--sse-examples", "0", "--sse-disconnects", "0", "--sse-concurrency", "0")),
    Case("a correct stream, full run (10 drawn requests, 20 dropped, 4 at once)", "", budgeted=False),
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
]


@dataclass(frozen=True)
class Result:
    case: Case
    peak_mib: float
    body_bytes: int
    seconds: float
    ended: str


def run_case(server: ServerThread, case: Case) -> Result:
    url = server.url("/chat/stream", case.query)
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
    with ServerThread() as server:
        for case in CASES:
            r = run_case(server, case)
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
