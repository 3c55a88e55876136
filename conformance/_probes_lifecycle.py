"""The LIFECYCLE-* checks: clients that go away mid-stream, and streams opened at once.

A real endpoint may hold a dropped stream's slot a moment, or serve only so many streams at
once, and say so with 429 and Retry-After: the run's budget (``_budget.py``) waits as asked,
so that is not held against it. What could not be judged after that is not judged, with the
reason.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from ._budget import Sent
from ._capture import capture
from ._model import EndKind, Requirement
from ._probes import MUST, SHOULD, Checked, Probe, judged_or_not, probe, refusals, refused_credentials, retried, summary
from ._profile import Profile
from ._suite import checked_exchange, failures
from ._transcript import Chunk, Evidence
from ._transport import make_concurrent_client

__all__ = ["Disconnects", "Concurrency"]

LIFECYCLE = "protocol document: the server handles exceptions and releases resources"


@probe
class Disconnects(Probe):
    requirements = (
        Requirement("LIFECYCLE-DISCONNECT", MUST,
                    "After clients drop streams mid-way, the next request still streams normally (own requests)",
                    LIFECYCLE),
    )
    starts_early = True

    async def run(self) -> None:
        found = self.findings["LIFECYCLE-DISCONNECT"]
        ctx = self.ctx
        n = ctx.settings.disconnects
        if n == 0:
            found.not_applicable = "turned off with --sse-disconnects 0 (or --sse-depth quick)"
            return
        body, lim = ctx.body, ctx.settings.limits
        sent: list[Sent[Any]] = []
        async with self.client() as client:
            for i in range(n):
                # Each dropped stream must itself have started normally: that is the
                # "next request" after the drop before it.
                s = refused_credentials(await ctx.budget.send(
                    "dropped", lambda: capture(client, self.request(body), ctx.profile, lim, (), Evidence(),
                                               drop_after_events=1),
                    lambda t: t,
                ))
                sent.append(s)
                if s.refused is not None or s.result is None:
                    found.not_judged = f"after {i} dropped stream{'s' * (i != 1)}, the next request: {s.refused}"
                    return
                t = s.result
                if t.status != 200 or t.ending.kind is not EndKind.DROPPED:
                    got = t.ending.detail if not t.responded else f"status {t.status}; {t.ending.detail}"
                    found.fail(f"after {i} dropped stream{'s' * (i != 1)}, the next request did not stream: {got}",
                               expected="status 200 and a first event", received=got)
                    return
            await self.after_streams_at_once()
            last = await self.checked(client, "after-drops", body)
        sent.append(last)
        if note := retried(sent, "requests after a dropped stream"):
            found.notes.append(note)
        if last.refused is not None or last.result is None:
            found.not_judged = f"after {n} dropped streams, the next request: {last.refused}"
            return
        failed = failures(last.result[1], ctx.settings.strict)
        if failed:
            found.fail(f"after {n} dropped streams, the next stream fails: {summary(failed)}",
                       expected="a conforming stream", received=", ".join(v.requirement.id for v in failed))
        else:
            found.notes.append(f"{n} streams dropped after their first event; the next one conformed")


class _FirstId:
    """Observer: keeps the first id a chunk carries, where the profile's ``[chunk] id`` says."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.value: Any = None

    def on_chunk(self, chunk: Chunk) -> None:
        if self.value is None:
            self.value = self.profile.id_of(chunk.value)


def most_at_once(spans: list[tuple[float, float]]) -> int:
    """The most of these (start, end) spans open at one time."""
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


@probe
class Concurrency(Probe):
    requirements = (
        Requirement("LIFECYCLE-CONCURRENT", MUST, "Streams opened at once all conform (own requests)", LIFECYCLE),
        Requirement("LIFECYCLE-CONCURRENT-IDS", SHOULD,
                    "Streams opened at once carry different chunk ids (own requests)", LIFECYCLE),
    )
    at_once = True

    async def run(self) -> None:
        ctx = self.ctx
        n = ctx.settings.concurrency
        together, ids = self.findings["LIFECYCLE-CONCURRENT"], self.findings["LIFECYCLE-CONCURRENT-IDS"]
        if n < 2:
            together.not_applicable = ids.not_applicable = (
                "turned off with --sse-concurrency 0 (or --sse-depth quick)" if n == 0 else
                "one stream is not streams opened at once (--sse-concurrency 1)")
            return
        body, lim = ctx.body, ctx.settings.limits
        firsts = [_FirstId(ctx.profile) for _ in range(n)]
        spans: list[tuple[float, float]] = []  # while each stream that was served was open

        async def one(client: Any, first: _FirstId) -> Sent[Checked]:
            async def attempt() -> Checked:
                started = time.monotonic()
                t, verdicts = await checked_exchange(client, self.request(body), ctx.profile, lim, [first])
                if t.status == 200 and t.headers_at is not None:
                    spans.append((started + t.headers_at, started + t.ending.time))
                return t, verdicts

            return refused_credentials(await ctx.budget.send("concurrent", attempt, lambda r: r[0], holding=True))

        # All n at once: a request for more slots than the run has runs alone (--sse-parallel).
        await ctx.budget.slots.acquire(n)
        try:
            # aiohttp: its C parser keeps the streams' timings true when many run at once.
            client = await make_concurrent_client(ctx.url).__aenter__()
        except BaseException:
            ctx.budget.slots.release(n)
            raise
        try:
            sent = await asyncio.gather(*(one(client, first) for first in firsts))
        finally:
            await client.__aexit__(None, None, None)
        served = [(s.result, f) for s, f in zip(sent, firsts) if s.result is not None and s.refused is None]
        for i, ((t, verdicts), _) in enumerate(served):
            failed = failures(verdicts, ctx.settings.strict)
            if failed:
                together.fail(f"stream {i + 1} of {n} opened at once fails: {summary(failed)}",
                              expected="every stream conforms", received=", ".join(v.requirement.id for v in failed))
        together.notes.extend(n for n in (retried(sent, "streams opened at once"),
                                          refusals(sent, "streams opened at once")) if n)
        judged_or_not(together, list(sent), "streams opened at once")
        # An endpoint may serve fewer at once than asked (a limit, a queue) and still conform:
        # the note says how many it served together.
        at_once = most_at_once(spans)
        starts = [t.first_event_at for (t, _), _ in served if t.first_event_at is not None]
        if starts:
            together.notes.append(
                f"{len(served)} streams, at most {at_once} open at once: first event after "
                f"{min(starts) * 1000:.0f} ms (fastest), {statistics.median(starts) * 1000:.0f} ms (median), "
                f"{max(starts) * 1000:.0f} ms (slowest)"
            )
        seen = [f.value for _, f in served if f.value is not None]
        if ctx.profile.id_path is None:
            ids.not_applicable = f"profile {ctx.profile.name} names no id ([chunk] id)"
        elif len(seen) < 2:
            ids.not_applicable = "fewer than two streams carried an id"
        elif len(set(map(str, seen))) < len(seen):
            dup = next(v for v in seen if seen.count(v) > 1)
            ids.fail(f"{seen.count(dup)} of {len(seen)} streams opened at once share the id {str(dup)[:80]!r}",
                     expected="a different id per response", received=str(dup)[:80])
