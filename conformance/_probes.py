"""Checks that make their own exchanges, beyond the canonical one: requests varying the
canonical one, bad requests (``_probes_bad.py``), a client that goes away and several
streams at once (``_probes_lifecycle.py``).

Their requirement IDs say so by their area (``REQUEST-*``, ``LIFECYCLE-*``), and so do
their titles. A probe judges several requirements from the same exchanges, once per run.
All the probes of a run go side by side, their exchanges sharing the run's budget
(``_budget.py``: slots, retries after 429/503, the deadline), so a run takes a few stream
durations rather than one per request (``run_probes`` says in what order). Probes that hold
more exchanges to the stream rules are not judged while the canonical exchange already fails
those rules: one root cause, reported once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from ._budget import Budget, Sent
from ._model import EndKind, Level, Requirement
from ._profile import Profile
from ._rules import Findings, Verdict
from ._settings import Settings
from ._suite import REFUSED_CREDENTIALS, Canonical, checked_exchange, failures, request_for
from ._transcript import RequestSpec, Transcript
from ._transport import Transport, make_client

__all__ = ["Probe", "PROBES", "ProbeContext", "probe", "probe_for", "run_probes", "Checked"]

MUST, SHOULD = Level.MUST, Level.SHOULD
STALLED = {EndKind.IDLE_TIMEOUT: "DELIVERY-IDLE", EndKind.STREAM_TIMEOUT: "DELIVERY-DURATION"}
BODY_SHOWN = 400  # characters of a request body shown in a message

Checked = tuple[Transcript, list[Verdict]]


@dataclass(frozen=True)
class ProbeContext:
    url: str
    settings: Settings
    profile: Profile
    canonical: Canonical
    budget: Budget

    @property
    def body(self) -> Any:
        """The canonical request body: the base every own request starts from."""
        return json.loads(self.canonical.transcript.request.body)


class Probe:
    """Makes its own exchanges and judges one or more requirements from them."""

    requirements: ClassVar[tuple[Requirement, ...]]
    # Not judged while the canonical exchange fails: the probe holds more exchanges to
    # the same stream rules, so it would only repeat those failures.
    needs_conforming_canonical: ClassVar[bool] = True
    # The streams opened at once: their probe starts first, alone but for probes that make
    # no stream (bad requests); see run_probes.
    at_once: ClassVar[bool] = False
    streams: ClassVar[bool] = True  # its requests are answered with full streams
    # Starts beside the streams opened at once, though it streams: its first requests are
    # dropped after their first event; its full streams wait (after_streams_at_once).
    starts_early: ClassVar[bool] = False

    def __init__(self, ctx: ProbeContext) -> None:
        self.ctx = ctx
        self.findings = {r.id: Findings(r) for r in self.requirements}
        self._alone: asyncio.Event | None = None

    async def after_streams_at_once(self) -> None:
        """Wait until the streams opened at once are done (see run_probes)."""
        if self._alone is not None:
            await self._alone.wait()

    def ready(self) -> bool:
        """Whether the probe's exchanges are worth making; if not, say why on every finding."""
        ctx = self.ctx
        t = ctx.canonical.transcript
        failing = failures(ctx.canonical.verdicts.values(), ctx.settings.strict)
        if ctx.canonical.not_judged is not None:
            for f in self.findings.values():
                f.not_judged = ctx.canonical.not_judged.cause
        elif not t.responded:
            for f in self.findings.values():
                f.block("HTTP-STATUS", t.ending.detail)
        elif t.ending.kind in STALLED:
            # A target that stalls would cost a timeout per request made: one is enough.
            for f in self.findings.values():
                f.block(STALLED[t.ending.kind], t.ending.detail)
        elif self.needs_conforming_canonical and failing:
            ids = ", ".join(v.requirement.id for v in failing)
            for f in self.findings.values():
                f.block(ids, "the canonical request already fails; fix that first")
        else:
            return True
        return False

    def verdicts(self) -> dict[str, Verdict]:
        return {rid: f.verdict() for rid, f in self.findings.items()}

    def prepare(self) -> None:
        """Work done before any probe's exchanges start (drawing requests, say), so that the
        CPU it takes does not skew the timing of exchanges under way."""

    async def run(self) -> None:
        raise NotImplementedError

    async def follow_up(self) -> None:
        """Work after every probe's exchanges are done (shrinking a failure, say): CPU it
        takes then skews no exchange's timing, and its exchanges are judged alone."""

    def client(self) -> Transport:
        return make_client(self.ctx.url)

    def request(self, body: Any) -> RequestSpec:
        return request_for(self.ctx.url, self.ctx.settings, body)

    async def checked(self, client: Transport, kind: str, body: Any, holding: bool = False) -> Sent[Checked]:
        """One exchange of ``body`` through the run's budget, held to every rule."""
        ctx = self.ctx
        return refused_credentials(await ctx.budget.send(
            kind, lambda: checked_exchange(client, self.request(body), ctx.profile, ctx.settings.limits),
            lambda r: r[0], holding,
        ))


def refused_credentials(sent: Sent[Any]) -> Sent[Any]:
    """An own stream answered 401, 403 or 407 (the canonical request, with the same headers,
    was served): the credentials were refused this time, so it is not judged, as the
    canonical exchange would not be."""
    if sent.refused is None and sent.result is not None and sent.status in REFUSED_CREDENTIALS:
        sent.refused = f"{REFUSED_CREDENTIALS[sent.status]} on this request"
    return sent


PROBES: list[type[Probe]] = []


def probe(cls: type[Probe]) -> type[Probe]:
    PROBES.append(cls)
    return cls


def probe_for(requirement_id: str) -> type[Probe] | None:
    return next((p for p in PROBES if any(r.id == requirement_id for r in p.requirements)), None)


def run_probes(classes: Iterable[type[Probe]], ctx: ProbeContext) -> dict[type[Probe], dict[str, Verdict] | Exception]:
    """Run the probes side by side, sharing the run's budget. A probe that raises fails only
    its own requirements (its exception is its result).

    The streams opened at once go first, beside only requests that get no full stream (bad
    requests, and streams dropped after their first event): they are the probe about
    concurrency, and a server that breaks under it shows it there, once. Then the other
    probes' full streams go side by side; or, if the streams opened at once failed, one
    probe after another, one request at a time, so that the same fault is not reported again
    by every probe whose streams happened to overlap.
    """
    probes = [cls(ctx) for cls in classes]
    # The streams opened at once ask for their slots first.
    runnable = sorted((p for p in probes if p.ready()), key=lambda p: not p.at_once)
    for p in runnable:
        p.prepare()

    async def run_all() -> list[Any]:
        alone = asyncio.Event()
        for p in runnable:
            p._alone = alone
        tasks = {id(p): asyncio.ensure_future(p.run()) for p in runnable
                 if p.at_once or not p.streams or p.starts_early}
        firsts = [p for p in runnable if p.at_once]
        await asyncio.gather(*(tasks[id(p)] for p in firsts), return_exceptions=True)
        streaming = sorted((p for p in runnable if p.streams and not p.at_once), key=lambda p: not p.starts_early)
        failed = any(f.count for p in firsts for f in p.findings.values())
        if failed:
            ctx.budget.one_at_a_time()
        alone.set()
        for p in streaming:
            if id(p) not in tasks:
                tasks[id(p)] = asyncio.ensure_future(p.run())
            if failed:  # one probe after another
                await asyncio.gather(tasks[id(p)], return_exceptions=True)
        outcomes = await asyncio.gather(*(tasks[id(p)] for p in runnable), return_exceptions=True)
        ran = [p for p, o in zip(runnable, outcomes) if not isinstance(o, BaseException)]
        later = await asyncio.gather(*(p.follow_up() for p in ran), return_exceptions=True)
        raised = {id(p): o for p, o in zip(ran, later) if isinstance(o, BaseException)}
        return [raised.get(id(p), o) for p, o in zip(runnable, outcomes)]

    outcomes = asyncio.run(run_all()) if runnable else []
    raised = {id(p): o for p, o in zip(runnable, outcomes) if isinstance(o, Exception)}
    return {type(p): raised.get(id(p)) or p.verdicts() for p in probes}


def planned(settings: Settings, bad: int, varies: bool) -> tuple[int, int, int]:
    """The own requests a run makes at most: (all requests, those streamed in full, extra
    requests spent shrinking a failing drawn request); the canonical one included. A profile
    that names nothing to vary draws nothing."""
    drawn = settings.examples if varies else 0
    full = 1 + drawn + (1 if settings.disconnects else 0) + (settings.concurrency if settings.concurrency > 1 else 0)
    shrinks = settings.depth.shrinks if drawn else 0
    return full + settings.disconnects + bad, full, shrinks


def shown(body: Any) -> str:
    text = json.dumps(body, ensure_ascii=False)
    return text if len(text) <= BODY_SHOWN else text[:BODY_SHOWN] + "..."


def summary(failed: Iterable[Verdict]) -> str:
    """The failed requirement IDs with their first message each."""
    parts = []
    for v in failed:
        first = v.violations[0].message if v.violations else v.reason
        parts.append(f"{v.requirement.id}: {first}")
    return "; ".join(parts)


def refusals(sent: Iterable[Sent[Any]], what: str) -> str | None:
    """A phrase for the exchanges of ``sent`` that could not be judged, e.g. '2 of 4 streams
    opened at once could not be judged: status 429 (...) to 4 attempts', or None if every
    one was judged."""
    sent = list(sent)
    refused = [s for s in sent if s.refused is not None]
    if not refused:
        return None
    reasons = sorted({s.refused for s in refused if s.refused})
    return f"{len(refused)} of {len(sent)} {what} could not be judged: {'; '.join(reasons)}"


def judged_or_not(found: Findings, sent: list[Sent[Any]], what: str) -> bool:
    """Whether a requirement judged on ``sent`` may stand: if any of them could not be judged,
    a failure among the rest stands, but a pass does not (the refused ones might have
    failed): the requirement is then not judged, saying how many were. False in that case."""
    if (refused := refusals(sent, what)) is None or found.count:
        return True
    judged = sum(s.refused is None for s in sent)
    found.not_judged = f"{refused} (the {judged} judged conformed)" if judged else refused
    return False


def retried(sent: Iterable[Sent[Any]], what: str) -> str | None:
    """A note for the exchanges the endpoint asked to repeat later and then served."""
    again = [s for s in sent if s.retries and s.refused is None]
    if not again:
        return None
    tries = sum(s.retries for s in again)
    return (f"{len(again)} of the {what} got 429 or 503 first and {'were' if len(again) != 1 else 'was'} served "
            f"after waiting as Retry-After asked ({tries} retr{'ies' if tries != 1 else 'y'})")
