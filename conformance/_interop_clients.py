"""The client libraries the interop step replays a stream to (``_interop.py``), where to find
them, and how to run one.

Each client runs in a process of its own: Python ones through ``interop/client.py`` with this
interpreter (so the libraries of this environment are the ones judged), Node.js ones through
``interop/client.cjs`` with the ``node`` on PATH and the packages found in the current
directory's ``node_modules`` or in the suite's cache (``python -m conformance interop-install``
puts the versions of ``interop/package.json`` there). A client's process prints what the
client delivered, a JSON line per item, so a client cut short by the deadline has still said
what it got that far.

To add a client: a runner in ``interop/client.py`` (or ``client.cjs``) that uses the library as
its README does and prints each item it delivers; a :class:`Client` here naming it, what it
delivers ("events": every dispatched event; "chunks": the JSON of the events an SDK yields,
see ``_interop.expected``) and the profiles it speaks; a row in the README's table of findings.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ._model import Level, Requirement

__all__ = ["Client", "CLIENTS", "Delivery", "installed", "run_client", "cache_dir", "node_packages",
           "install_node_clients", "NODE_PINS", "interop_requirements", "client_for"]

HERE = Path(__file__).with_name("interop")
PYTHON_RUNNER = HERE / "client.py"
NODE_RUNNER = HERE / "client.cjs"
NODE_PINS: dict[str, str] = json.loads((HERE / "package.json").read_text("utf-8"))["dependencies"]
OUTPUT_LIMIT = 64 << 20  # bytes of a client's output read; a stream this large is not replayed (INTEROP_MAX_BODY)
ERROR_LIMIT = 300
WHATWG = "WHATWG HTML, 9.2.6 Interpreting an event stream"
WHATWG_URL = "https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation"
OPENAI_RULES = frozenset({"openai-chat", "openai-responses"})


@dataclass(frozen=True)
class Client:
    name: str  # as the requirement ID and messages name it: "openai-python"
    title: str  # what it is: "the openai Python SDK"
    runtime: str  # "python" or "node"
    package: str  # the distribution (pip) or package (npm) whose version is reported
    delivers: str  # "events" (every dispatched event) or "chunks" (the JSON of the events an SDK yields)
    rulesets: frozenset[str] | None = None  # the profiles it speaks, by rule set; None: every profile
    imports: tuple[str, ...] = ()  # Python modules it needs (its runner's imports)
    home: str = ""  # where its source is

    @property
    def requirement(self) -> Requirement:
        return Requirement(
            f"INTEROP-{self.name.upper()}", Level.INTEROP,
            f"{self.title} reads the stream as the WHATWG parse does",
            f"{WHATWG}; {self.name} {'(npm)' if self.runtime == 'node' else '(PyPI)'}", self.home or WHATWG_URL)

    def speaks(self, rules: tuple[str, ...]) -> bool:
        return self.rulesets is None or bool(self.rulesets & set(rules))

    @property
    def install(self) -> str:
        if self.runtime == "node":
            return "python -m conformance interop-install"
        return "pip install 'sse-conformance[interop]'"


CLIENTS: list[Client] = [
    Client("openai-python", "The openai Python SDK", "python", "openai", "chunks", OPENAI_RULES, ("openai",),
           "https://github.com/openai/openai-python"),
    Client("anthropic-python", "The anthropic Python SDK", "python", "anthropic", "chunks",
           frozenset({"anthropic-messages"}), ("anthropic",), "https://github.com/anthropics/anthropic-sdk-python"),
    Client("httpx-sse", "httpx-sse", "python", "httpx-sse", "events", None, ("httpx_sse",),
           "https://github.com/florimondmanca/httpx-sse"),
    Client("sseclient-py", "sseclient-py (over requests)", "python", "sseclient-py", "events", None,
           ("sseclient", "requests"), "https://github.com/mpetazzoni/sseclient"),
    Client("eventsource-parser", "eventsource-parser (Node.js, EventSourceParserStream)", "node",
           "eventsource-parser", "events", None, (), "https://github.com/rexxars/eventsource-parser"),
    Client("openai-node", "The openai Node.js SDK", "node", "openai", "chunks", OPENAI_RULES, (),
           "https://github.com/openai/openai-node"),
]


def interop_requirements(profile_rules: tuple[str, ...] | None = None) -> list[Requirement]:
    """The interop requirements: all, or those of the clients that speak a profile of these rule sets."""
    return [c.requirement for c in CLIENTS if profile_rules is None or c.speaks(profile_rules)]


def client_for(requirement_id: str) -> Client | None:
    return next((c for c in CLIENTS if c.requirement.id == requirement_id), None)


@dataclass
class Delivery:
    """What a client delivered, matched item by item as it came (``match(i, item)``): how many
    items, the first that differs and the one after it (enough to tell a dropped item from an
    extra one), and how it stopped. Nothing else is kept, however long the stream."""

    match: Callable[[int, Any], bool] = lambda i, item: True
    count: int = 0
    first: int | None = None  # the first item that is not the one expected
    differing: Any = None  # that item
    following: Any = None  # the item after it
    error: str | None = None  # what it raised ("JSONDecodeError: Expecting value ...")
    finished: bool = False  # it reached the end (or raised); False: cut by the deadline, or it crashed
    ended: str | None = None  # why its process stopped before it finished, if not the deadline

    def take(self, item: Any) -> None:
        i, self.count = self.count, self.count + 1
        if self.first is None and not self.match(i, item):
            self.first, self.differing = i, item
        elif self.first is not None and i == self.first + 1:
            self.following = item


# -- where the clients are -------------------------------------------------------------


def cache_dir() -> Path:
    """The suite's cache: $SSE_CONFORMANCE_CACHE, or sse-conformance in $XDG_CACHE_HOME or ~/.cache."""
    if explicit := os.environ.get("SSE_CONFORMANCE_CACHE"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sse-conformance"


def node_roots() -> list[Path]:
    """Directories whose node_modules may hold the Node.js clients, in the order looked at."""
    return [Path.cwd(), cache_dir() / "node"]


def _node_package(name: str) -> tuple[Path, str] | None:
    """(the directory whose node_modules holds ``name``, its version), or None."""
    return next((found for root in node_roots() if (found := _in(root, name)) is not None), None)


@cache
def node_version() -> str | None:
    node = shutil.which("node")
    if node is None:
        return None
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip().removeprefix("v") or None


def installed(client: Client) -> tuple[str, str] | None:
    """(its version as messages show it, where it runs from) if the client can run here; else None."""
    if client.runtime == "python":
        if any(importlib.util.find_spec(module) is None for module in client.imports):
            return None
        try:
            version = importlib.metadata.version(client.package)
        except importlib.metadata.PackageNotFoundError:
            return None
        if client.name == "sseclient-py":
            version += f" (over requests {importlib.metadata.version('requests')})"
        return version, ""
    node = node_version()
    found = _node_package(client.package)
    if node is None or found is None:
        return None
    root, version = found
    return f"{version} (Node.js {node})", str(root)


def node_packages() -> dict[str, str | None]:
    """The Node.js clients' packages and the version found of each (None: not found)."""
    return {name: (found[1] if (found := _node_package(name)) else None) for name in NODE_PINS}


# -- running one ----------------------------------------------------------------------


async def run_client(client: Client, root: str, streams: Sequence[tuple[str, Callable[[int, Any], bool]]],
                     profile: str, seconds: float) -> list[Delivery]:
    """Run ``client`` against each stream's URL in turn, all within ``seconds``: what it delivered
    from each, matched by the stream's matcher (the interop step asks for one stream; the
    self-tests give one process many)."""
    urls = [url for url, _ in streams]
    if client.runtime == "python":
        argv = [sys.executable, str(PYTHON_RUNNER), client.name, profile, *urls]
    else:
        argv = [shutil.which("node") or "node", str(NODE_RUNNER), client.name, profile, root, *urls]
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
           "PYTHONIOENCODING": "utf-8", "NODE_NO_WARNINGS": "1"}
    process = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=env, limit=OUTPUT_LIMIT)
    deliveries = [Delivery(match) for _, match in streams]

    async def read() -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            _take(deliveries, line)

    async def errors() -> str:
        assert process.stderr is not None
        return (await process.stderr.read(OUTPUT_LIMIT)).decode("utf-8", "replace")

    try:
        async with asyncio.timeout(seconds):
            _, stderr = await asyncio.gather(read(), errors())
            await process.wait()
        last = next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()), "")
        for delivery in deliveries:  # the process is gone; a stream it never finished, it never will
            if not delivery.finished:
                delivery.ended = (f"its process ended (exit status {process.returncode}) before it finished"
                                  + (f": {last[:ERROR_LIMIT]}" if last else ""))
    except (TimeoutError, ValueError):  # ValueError: a line longer than OUTPUT_LIMIT
        pass
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    return deliveries


def _take(deliveries: list[Delivery], line: bytes) -> None:
    try:
        message = json.loads(line)
    except ValueError:
        return  # not the runner's (a library printing to stdout)
    at = message.get("at") if isinstance(message, dict) else None
    if not isinstance(at, int) or not 0 <= at < len(deliveries):
        return
    delivery = deliveries[at]
    if "item" in message:
        delivery.take(message["item"])
    elif "error" in message:
        delivery.error, delivery.finished = str(message["error"])[:ERROR_LIMIT], True
    elif message.get("end") is True:
        delivery.finished = True


# -- installing the Node.js clients ---------------------------------------------------


def install_node_clients(timeout: float = 300.0) -> str:
    """Install the pinned Node.js clients into the cache with ``npm ci`` (once: a second call
    finds them there). Returns what happened; raises RuntimeError if it could not be done."""
    npm = shutil.which("npm")
    if npm is None or node_version() is None:
        raise RuntimeError("Node.js and npm are not on PATH")
    target = cache_dir() / "node"
    target.mkdir(parents=True, exist_ok=True)
    with _locked(target / ".lock"):
        found = {name: (f[1] if (f := _in(target, name)) else None) for name in NODE_PINS}
        if found == NODE_PINS:
            return f"already in {target}: " + ", ".join(f"{n} {v}" for n, v in NODE_PINS.items())
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(HERE / name, target / name)
        try:
            subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
                           cwd=target, capture_output=True, text=True, timeout=timeout, check=True)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"npm ci did not finish within {timeout:g} s") from None
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", "") or str(exc)
            raise RuntimeError(f"npm ci failed: {detail.strip()[-500:]}") from None
    return f"installed in {target}: " + ", ".join(f"{n} {v}" for n, v in NODE_PINS.items())


def _in(root: Path, name: str) -> tuple[Path, str] | None:
    """(root, the version of package ``name`` in root/node_modules), or None if it is not there."""
    try:
        version = json.loads((root / "node_modules" / name / "package.json").read_text("utf-8"))["version"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (root, version) if isinstance(version, str) else None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One installer at a time (pytest-xdist workers may all want the clients)."""
    import fcntl  # POSIX: where npm runs for the suite

    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
