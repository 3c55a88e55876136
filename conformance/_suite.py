"""A conformance run: the canonical exchange, captured once, judged by every rule; and
the same judgement for any other exchange a probe makes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from typing import Any

from ._budget import Budget, Sent, busy
from ._capture import WALL_CLOCK, Clock, Observer, Tap, capture
from ._model import Ending, EndKind, Level
from ._profile import Profile
from ._rules import Outcome, Verdict, instantiate, judge, watching
from ._recording import BodyRecording
from ._settings import Settings
from ._transcript import Chunk, Evidence, Limits, RequestSpec, Transcript
from ._transport import Transport, make_client

__all__ = ["Canonical", "NotJudged", "run_canonical", "request_for", "checked_exchange", "failures", "not_judged",
           "judged"]

# Answers that say "you may not ask", not "your request is wrong": nothing to judge yet.
REFUSED_CREDENTIALS = {
    401: "the credentials were refused (401 Unauthorized)",
    403: "access was refused (403 Forbidden)",
    407: "a proxy between here and the target wants credentials (407 Proxy Authentication Required)",
}


@dataclass(frozen=True)
class NotJudged:
    """Why the canonical exchange could not be judged, and what to check."""

    cause: str
    check: str


@dataclass(frozen=True)
class Canonical:
    transcript: Transcript
    verdicts: dict[str, Verdict]
    not_judged: NotJudged | None = None
    recording: BodyRecording | None = None  # the body as it arrived, to save (``_saved.py``)


def request_for(url: str, settings: Settings, body: Any) -> RequestSpec:
    return RequestSpec(url=url, body=json.dumps(body).encode(), headers=settings.headers)


def canonical_body(settings: Settings, profile: Profile) -> Any:
    if settings.request_file is not None:
        return json.loads(settings.request_file.read_text(encoding="utf-8"))
    return profile.example


async def checked_exchange(
    client: Transport,
    request: RequestSpec,
    profile: Profile,
    limits: Limits,
    observers: Iterable[Observer] = (),
    clock: Clock = WALL_CLOCK,
    tap: Tap | None = None,
) -> tuple[Transcript, list[Verdict]]:
    """One exchange, every rule (and any extra observer) watching it, judged."""
    evidence = Evidence()
    rules = instantiate(profile, limits, evidence)
    busy = _BusyError(profile)
    transcript = await capture(client, request, profile, limits, [*watching(rules), *observers, busy], evidence,
                               clock=clock, tap=tap)
    transcript.busy = busy.found
    return transcript, judge(rules, transcript)


class _BusyError:
    """Observer: the first in-stream error that says "not now" (``[errors] busy``)."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.found: str | None = None

    def on_chunk(self, chunk: Chunk) -> None:
        if self.found is None and chunk.json_error is None and self.profile.is_error(chunk.event, chunk.value):
            self.found = self.profile.busy_error(chunk.value)


def failures(verdicts: Iterable[Verdict], strict: bool) -> list[Verdict]:
    """The verdicts that fail the run at this strictness."""
    return [
        v for v in verdicts
        if v.outcome is Outcome.FAILED and (strict or v.requirement.level is Level.MUST)
    ]


def not_judged(t: Transcript, refused: str | None, settings: Settings) -> NotJudged | None:
    """Why an exchange cannot be judged, if it cannot: the target was never reached, refused
    the credentials, or stayed rate-limited or overloaded past the retry budget."""
    headers = ", ".join(name for name, _ in settings.headers)
    sent = f"the --sse-header values sent ({headers})" if headers else "an --sse-header with the API key"
    if refused is not None and (t is None or busy(t) is None):
        return NotJudged(refused, "--sse-deadline, and how long the target takes")
    if refused is not None:
        return NotJudged(f"the target stayed busy: {refused}",
                         "the endpoint's rate limits; run again later, or allow more with --sse-retries")
    if t.ending.kind is EndKind.UNREACHABLE:
        return NotJudged(f"the target could not be reached: {t.ending.detail}",
                         "the URL (scheme, host, port), and that the endpoint is up and reachable from here")
    if t.status in REFUSED_CREDENTIALS:
        check = "this machine's proxy settings (HTTPS_PROXY) and credentials" if t.status == 407 else (
            f"{sent}, and that the key is valid and allowed to use this endpoint")
        return NotJudged(REFUSED_CREDENTIALS[t.status], check)
    return None


def run_canonical(url: str, settings: Settings, profile: Profile, budget: Budget) -> Canonical:
    """The canonical exchange: the profile's example request (or --sse-request)."""
    request = request_for(url, settings, canonical_body(settings, profile))
    recordings: list[BodyRecording] = []  # one per attempt: a retry records afresh

    async def run() -> Sent[tuple[Transcript, list[Verdict]]]:
        async with make_client(url) as client:

            def attempt() -> Awaitable[tuple[Transcript, list[Verdict]]]:
                recordings.append(BodyRecording())
                return checked_exchange(client, request, profile, settings.limits, tap=recordings[-1])

            return await budget.send("canonical", attempt, lambda r: r[0])

    sent = asyncio.run(run())
    for earlier in recordings[:-1]:
        earlier.close()
    if sent.result is None:  # cut by the run's deadline: nothing to show but the request
        stub = Transcript(request, Ending(EndKind.NO_RESPONSE, str(sent.refused), budget.deadline_seconds, 0))
        sent.result = stub, judge(instantiate(profile, settings.limits, Evidence()), stub)
        return judged(*sent.result, sent.refused, settings)
    return judged(*sent.result, sent.refused, settings, recordings[-1])


def judged(transcript: Transcript, verdicts: list[Verdict], refused: str | None, settings: Settings,
           recording: BodyRecording | None = None) -> Canonical:
    """The canonical exchange's verdicts, every one not judged if the exchange cannot be."""
    why = not_judged(transcript, refused, settings)
    if why is not None:
        verdicts = [Verdict(v.requirement, Outcome.NOT_JUDGED, reason=f"not judged: {why.cause}") for v in verdicts]
    return Canonical(transcript, {v.requirement.id: v for v in verdicts}, why, recording)
