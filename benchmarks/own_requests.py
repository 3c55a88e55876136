"""What a default run costs against a correct endpoint: wall time as a multiple of one stream,
requests sent, and peak memory.

    python benchmarks/own_requests.py [--runs N]
    python benchmarks/own_requests.py --draw-memory

The reference server runs in its own process. For each stream shape (0.2 s, 2 s, and 2 s
behind a 1.5 s queue before the first byte), ``pytest --target URL`` runs from a fresh
interpreter, side by side: with default options, and with ``--sse-parallel 1`` (the suite's
own requests one at a time, as before they went side by side). Each run's canonical stream
duration comes from its JSON report; its peak RSS from ``wait4``. Goal: default-run wall
under 5x one stream at 2 s per stream, and peak RSS under 100 MiB.

``--draw-memory`` measures, each in a fresh interpreter and a fresh Hypothesis storage
directory, the peak RSS of drawing ten requests from a profile's whole request schema with
hypothesis-jsonschema's defaults (how the drawn requests were made before) against drawing ten
that vary the canonical request where ``[requests.vary]`` says (how they are now).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, machine, median, server_process, table

SERVE_FOR = 1800  # s: the server stops by itself after this long
SHAPES = {
    "0.2 s stream": "delay=25",  # 8 chunks and [DONE], 25 ms apart
    "2 s stream": "delay=250",
    "2 s stream after a 1.5 s queue": "delay=250&fault=queue",
}
CONTENDERS = {"default": (), "--sse-parallel 1": ("--sse-parallel", "1")}
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # bytecode cached, as a user's


def serve() -> None:
    from reference_server import ServerThread

    with ServerThread() as server:
        print(server.port, flush=True)
        time.sleep(SERVE_FOR)


def run(cmd: list[str], cwd: str) -> tuple[float, int, str]:
    """Wall seconds, peak RSS in KiB, and stdout of one run of ``cmd``."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, text=True, env=ENV)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {process.returncode}:\n{text[-3000:]}")
    return wall, usage.ru_maxrss, text


def suite_runs(runs: int) -> None:
    pytest = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
    rows = []
    with tempfile.TemporaryDirectory() as work, server_process(__file__) as port:
        base = f"http://127.0.0.1:{port}/chat/stream"
        run([*pytest, "--target", base, "--collect-only"], work)  # warm the bytecode caches
        for shape, query in SHAPES.items():
            results: dict[str, list[tuple[float, float, float, int, int]]] = {name: [] for name in CONTENDERS}
            for _ in range(runs):
                for name, extra in CONTENDERS.items():  # interleaved: the machine's speed drifts
                    wall, rss, text = run([*pytest, "--target", f"{base}?{query}", *extra], work)
                    report = json.loads((Path(work) / "reports" / "sse-conformance.json").read_text())
                    stream = report["exchange"]["ending"]["time"]
                    session = float(re.findall(r" in ([0-9.]+)s", text)[-1])
                    results[name].append((wall, session, stream, rss, report["requests"]["sent"]))
            for name, got in results.items():
                wall, session, stream = (median([g[i] for g in got]) for i in range(3))
                rss, sent = max(g[3] for g in got), got[0][4]
                rows.append([shape, name, str(sent), f"{stream:.2f}", f"{wall:.2f}", f"{session:.2f}",
                             f"{wall / stream:.1f}x", f"{session / stream:.1f}x", f"{rss / 1024:.0f}"])
            print(f"  {shape}: done", flush=True)
    print()
    print(table(["stream", "own requests", "requests", "one stream s", "wall s", "pytest session s",
                 "wall / stream", "session / stream", "peak RSS MiB"], rows))


DRAW = """
import resource, sys, json
sys.path.insert(0, {root!r})
from hypothesis import given, settings, seed, HealthCheck, Phase
from conformance import load_profile
from conformance._vary import varied_requests
profile = load_profile({profile!r})
if {whole!r}:
    from hypothesis_jsonschema import from_schema
    strategy = from_schema(profile.request_schema)
else:
    strategy = varied_requests(profile.request_schema, profile.vary, profile.example, profile.request_validator.is_valid)
sizes = []
@settings(max_examples=10, database=None, deadline=None, phases=(Phase.generate,), suppress_health_check=list(HealthCheck))
@seed(1)
@given(strategy)
def draw(body):
    sizes.append(len(json.dumps(body)))
draw()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, max(sizes))
"""
BASE = "import resource, sys; sys.path.insert(0, {root!r}); import hypothesis, hypothesis_jsonschema, conformance; " \
       "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, 0)"


def draw_memory(runs: int) -> None:
    """Each case in a fresh interpreter with a fresh Hypothesis storage directory, as the first
    run in a directory (every CI job's) has it; "again" reuses the directory of the run before."""
    rows = []
    for profile in ("simple", "openai-chat", "anthropic-messages"):
        cases = {
            "imports only": (BASE.format(root=str(ROOT)), False),
            "10 drawn from the whole request schema (before)": (
                DRAW.format(root=str(ROOT), profile=profile, whole=True), False),
            "the same, again in the same directory": (DRAW.format(root=str(ROOT), profile=profile, whole=True), True),
            "10 varying the canonical request (now)": (
                DRAW.format(root=str(ROOT), profile=profile, whole=False), False),
        }
        for name, (code, again) in cases.items():
            got = []
            for _ in range(runs):
                with tempfile.TemporaryDirectory() as storage:
                    env = {**ENV, "HYPOTHESIS_STORAGE_DIRECTORY": storage}
                    for _ in range(2 if again else 1):
                        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                             check=True, env=env, cwd=storage).stdout.split()
                    got.append(out)
            rss, largest = median([int(g[0]) for g in got]), max(int(g[1]) for g in got)
            rows.append([profile, name, f"{rss / 1024:.0f}", str(largest) if largest else "-"])
    print(table(["profile", "drawing", "peak RSS MiB", "largest body drawn, bytes"], rows))


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("--runs", type=int, default=1)
    cli.add_argument("--draw-memory", action="store_true")
    cli.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # see _common.server_process
    args = cli.parse_args()
    if args.serve:
        serve()
        return
    print(f"machine: {machine()}\n")
    if args.draw_memory:
        draw_memory(max(args.runs, 3))
    else:
        suite_runs(args.runs)


if __name__ == "__main__":
    main()
