"""Shared pieces of the benchmarks: the corpus, side-by-side timing, the table.

Every benchmark compares its contenders in one process and one run, interleaved (each
round times every contender once), and reports the median of the rounds: this machine's
speed drifts, so only ratios measured side by side mean anything.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

# Run as `python benchmarks/NAME.py` from a checkout: make the project importable without installing.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PIECE = 4096
# Token-sized texts of a long generation, ASCII, 21 to 50 characters: with the framing, an
# event averages about 72 bytes, like the corpus the figures in the issue were taken on.
_WORDS = "the of streaming server sends each piece text as soon it exists so first words reach you long".split()


def content(i: int) -> str:
    n = 21 + (i * 7919) % 30
    out, k = [], i
    while sum(map(len, out)) + len(out) < n:
        out.append(_WORDS[k % len(_WORDS)])
        k = k * 31 + 7
    return " ".join(out)[:n]


def corpus(events: int, eol: str = "\n", comments: str = "", terminator: bool = False) -> bytes:
    """``events`` events of ``data: {"id":"msg_001","content":"..."}``, lines ended by ``eol``.

    ``comments``: "blocks" sends a keep-alive comment, on its own, before every event (as
    servers send keep-alives); "lines" puts a comment line into every event, before its
    data line. ``terminator`` ends the stream with ``data: [DONE]``.
    """
    parts = []
    for i in range(events):
        if comments == "blocks":
            parts.append(f": keep-alive {i:08d}{eol}{eol}")
        elif comments == "lines":
            parts.append(f": keep-alive {i:08d}{eol}")
        parts.append(f'data: {{"id":"msg_001","content":"{content(i)}"}}{eol}{eol}')
    if terminator:
        parts.append(f"data: [DONE]{eol}{eol}")
    return "".join(parts).encode()


def pieces(body: bytes, size: int = PIECE) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


def race(contenders: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Time every contender once per round, interleaved; return the seconds of each run.

    A contender returns a count (events, say) that must be the same in every round.
    """
    times: dict[str, list[float]] = {name: [] for name in contenders}
    counts: dict[str, object] = {}
    for _ in range(rounds):
        for name, run in contenders.items():
            gc.collect()
            started = time.perf_counter()
            count = run()
            times[name].append(time.perf_counter() - started)
            if counts.setdefault(name, count) != count:
                raise AssertionError(f"{name} returned {count}, earlier {counts[name]}")
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table; columns after the first are right-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(
            str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ) + " |"
    rule = "| " + " | ".join("-" * (w - 1) + (":" if i else "-") for i, w in enumerate(widths)) + " |"
    return "\n".join([line(header), rule, *map(line, rows)])


def machine() -> str:
    model = "unknown CPU"
    try:
        for row in Path("/proc/cpuinfo").read_text().splitlines():
            if row.startswith("model name"):
                model = row.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs, {model}, Python {platform.python_version()} ({sys.executable})"


@contextmanager
def server_process(script: str, *args: str) -> Iterator[int]:
    """Run ``script --serve ARGS``, a server that prints its port and serves, in a process of
    its own (so it shares no event loop with the client); yield the port, then end it."""
    process = subprocess.Popen([sys.executable, script, "--serve", *args], stdout=subprocess.PIPE, text=True)
    try:
        yield int(process.stdout.readline())
    finally:
        process.terminate()
        process.wait(timeout=10)
