"""Fault modes: each breaks one rule of a correct response on purpose, selected by
``?fault=NAME`` (several, comma-separated, where they combine).

A fault names the requirement IDs the suite must fail for it; a benign variant (``trips``
empty) is a legal response a correct suite must pass. Each is a small function that
changes one thing in the :class:`Plan`. ``GET /faults`` lists them all, and the
self-tests run the suite against every one.

This module is the machinery: the :class:`Fault` record, the decorators that register one in
a dialect's registry, and the suite options some faults need. The faults themselves live with
their dialect in ``dialects/`` (``vendors.py``: the real vendors' habits every dialect plays).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .plan import Frames, Plan

__all__ = ["Fault", "fault", "variant", "combine", "edit", "each_line", "STALL_SECONDS", "PACED", "SHORT_STREAM",
           "PATIENT", "SMALL_LINE", "CANONICAL_ONLY"]

# How long a stall lasts unless the client leaves first: longer than any test's timeout,
# short enough that a forgotten server frees itself.
STALL_SECONDS = 60.0

# Seconds between the events of a paced stream: they reach the client as separate reads even
# when the client lags, so a Content-Length alone does not make it look buffered.
PACED = 0.03

# Suite options some faults need to be judged quickly and exactly. Without them the suite
# would still fail them, only later (after its 30 s or 300 s defaults) or for a bigger limit.
SHORT_STREAM = ("--sse-stream-timeout", "1")  # an endless stream or a trickle is cut after 1 s
PATIENT = ("--sse-timeout", "3")  # a buffered stream is silent for writer.BUFFER_SECONDS (1.2 s) first
SMALL_LINE = ("--sse-max-line", "64KiB")  # a huge line is cut at 64 KiB, not at the default 1 MiB
# A slow stream is judged on the canonical exchange alone: each of the suite's own requests
# (drawn, dropped, concurrent) would take as long again and show nothing new.
CANONICAL_ONLY = ("--sse-examples", "0", "--sse-disconnects", "0", "--sse-concurrency", "0")


@dataclass(frozen=True)
class Fault:
    name: str
    breaks: str  # what it does, in one sentence
    trips: frozenset[str]  # the requirement IDs the suite must fail; empty for a benign variant
    apply: Callable[[Any], None]  # edits the Plan, or for stage "request" the Handling
    stage: str = "response"  # "request": applied before the request is validated
    raw: bool = False  # served only by the byte-exact listener (raw.py): uvicorn cannot send it
    suite_args: tuple[str, ...] = ()  # suite options that judge it quickly (see SHORT_STREAM ...)
    not_judged: bool = False  # the suite cannot judge the endpoint at all: its verdict is NOT JUDGED

    @property
    def verdict(self) -> str:
        """The run's verdict the suite must reach, as the JSON report names it."""
        return "not-judged" if self.not_judged else "does-not-conform" if self.trips else "conforms"

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "breaks": self.breaks,
            "trips": sorted(self.trips),
            "benign": self.verdict == "conforms",
            "verdict": self.verdict,
            "listener": "raw" if self.raw else "main",
            "suite_args": list(self.suite_args),
        }


def fault(
    name: str,
    breaks: str,
    *trips: str,
    registry: dict[str, Fault],
    stage: str = "response",
    raw: bool = False,
    suite_args: tuple[str, ...] = (),
    not_judged: bool = False,
) -> Callable[[Callable[[Any], None]], Callable[[Any], None]]:
    """Register a fault in ``registry``, a dialect's (each binds its own: ``functools.partial``)."""

    def register(apply: Callable[[Any], None]) -> Callable[[Any], None]:
        if name in registry:
            raise ValueError(f"fault {name} registered twice")
        registry[name] = Fault(name, breaks, frozenset(trips), apply, stage, raw, suite_args, not_judged)
        return apply

    return register


def variant(
    name: str, breaks: str, *, registry: dict[str, Fault], raw: bool = False, suite_args: tuple[str, ...] = ()
) -> Callable[[Callable[[Plan], None]], Callable[[Plan], None]]:
    """A benign variant: a legal response the suite must pass (it trips nothing)."""
    return fault(name, breaks, registry=registry, raw=raw, suite_args=suite_args)


def combine(*registries: dict[str, Fault]) -> dict[str, Fault]:
    """One registry of several, in their order (a dialect's faults kept in modules by area);
    a name in two of them is a mistake, as in one."""
    combined: dict[str, Fault] = {}
    for registry in registries:
        for name, entry in registry.items():
            if name in combined:
                raise ValueError(f"fault {name} registered twice")
            combined[name] = entry
    return combined


def edit(plan: Plan, change: Callable[[Frames], Frames]) -> None:
    """Change the plan's encoded frames (the bytes of its events) just before they are written."""
    plan.edits.append(change)


def each_line(plan: Plan, frames: Frames, change: Callable[[bytes], bytes]) -> Frames:
    """Apply ``change`` to every line of every frame (the blank lines included)."""
    sep = plan.sep.encode()
    return [sep.join(change(line) for line in frame.split(sep)) for frame in frames]
