"""Shared fixtures: one reference server for the whole session, over a real loopback
socket, and a helper that runs the conformance suite in-process against it."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import hypothesis  # noqa: F401  (see below)
import pytest
from jsonschema import Draft202012Validator

from conformance import Limits, RequestSpec, capture, load_profile
from conformance._interop_clients import cache_dir
from conformance._report import load_schema
from conformance._transport import make_concurrent_client
from reference_server import ServerThread

# pytester's in-process runs drop the modules they import when they end. hypothesis's pytest
# plugin imports hypothesis at the end of every run: imported once out here, it stays, and a
# suite run costs a tenth of a second instead of two.

# Small timeouts keep the stall faults quick; each names the figure it is checked against.
# Few own requests keep each run short; the defaults are exercised in test_probes.py.
TIMEOUT = 1.0  # --sse-timeout of FAST: a stall costs this long; an answer that needs longer fails
FAST = [
    "--sse-timeout", f"{TIMEOUT:g}", "--sse-done-grace", "0.5", "--sse-stream-timeout", "5",
    "--sse-examples", "3", "--sse-disconnects", "3", "--sse-concurrency", "2", "--sse-seed", "1",
    # The reference server shares this process (and its GIL): two own requests in flight at once
    # keep each well inside the timeout on a loaded machine.
    "--sse-parallel", "2",
    # The client libraries take seconds of CPU to start; test_interop.py runs them.
    "--sse-interop", "off",
]
REPORT_SCHEMA = Draft202012Validator(load_schema())
# pytester gives each run a HOME of its own: the suite's cache (the Node.js clients
# interop-install puts there, test_interop.py) is named, so every run finds the same one.
os.environ.setdefault("SSE_CONFORMANCE_CACHE", str(cache_dir()))
SELF_TEST_TIMEOUT = 300  # seconds a self-test may take (pytest-timeout), far above any test's need


def _targeted(config: pytest.Config) -> bool:
    return bool(config.getoption("target", None) or config.getini("target"))


def pytest_configure(config: pytest.Config) -> None:
    # Self-test runs only: a `pytest --target URL` in this checkout is a user's run, and a
    # stray warning from a library must not fail a requirement there.
    if not _targeted(config):
        config.addinivalue_line("filterwarnings", "error")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not _targeted(config) and config.pluginmanager.hasplugin("timeout"):
        for item in items:
            item.add_marker(pytest.mark.timeout(SELF_TEST_TIMEOUT))


@pytest.fixture(scope="session")
def reference() -> Iterator[ServerThread]:
    with ServerThread(delay=0.005) as server:
        # One exchange from this process first: pytester's in-process runs drop the modules
        # they import, so the transport's lazily imported modules must be loaded out here.
        async def warm_up() -> None:
            async with httpx.AsyncClient(timeout=10) as client:
                await client.post(server.url("/chat/stream"), json={"prompt": "warm up", "stream": True})
            async with make_concurrent_client(server.url()) as client:  # aiohttp, for the concurrent probes
                await capture(client, RequestSpec(server.url("/chat/stream"), b"{}"), load_profile("simple"), Limits())

        asyncio.run(warm_up())
        yield server


@dataclass
class SuiteRun:
    ret: int
    outcomes: dict[str, str]  # requirement ID -> passed / failed / skipped
    output: str
    result: pytest.RunResult
    report: dict[str, Any] | None  # the JSON report in the default place, if written

    @property
    def failed(self) -> set[str]:
        return {rid for rid, outcome in self.outcomes.items() if outcome == "failed"}


def run_suite(pytester: pytest.Pytester, target: str, *args: str) -> SuiteRun:
    """Run ``pytest --target TARGET ARGS`` in-process and sort the items by outcome."""
    # The plugin's modules are imported already in this process, so pytest cannot rewrite
    # their asserts in the inner run; it would warn about that on every run.
    result = pytester.runpytest_inprocess(
        "--target", target, "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning", *args
    )
    outcomes = {}
    for rep in result.reprec.getreports("pytest_runtest_logreport"):  # type: ignore[attr-defined]
        rid = rep.nodeid.rpartition("::")[2]
        if rep.when == "call" or rep.outcome != "passed":
            outcomes[rid] = rep.outcome
    # Every JSON report a self-test produces must match the schema that describes it.
    for path in pytester.path.rglob("sse-conformance.json"):
        REPORT_SCHEMA.validate(json.loads(path.read_text(encoding="utf-8")))
    default = pytester.path / "reports" / "sse-conformance.json"
    report = json.loads(default.read_text(encoding="utf-8")) if default.exists() else None
    return SuiteRun(result.ret, outcomes, result.stdout.str(), result, report)


@pytest.fixture
def suite(pytester: pytest.Pytester, reference: ServerThread):
    """``suite(query="fault=no-done", *args)`` runs the suite against the reference server."""

    def run(query: str = "", *args: str, path: str = "/chat/stream") -> SuiteRun:
        url = reference.url(path) + (f"?{query}" if query else "")
        return run_suite(pytester, url, *FAST, *args)

    return run
