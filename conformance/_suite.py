"""A conformance run: the canonical exchange, captured once, judged by every rule; and
the same judgement for any other exchange a probe makes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ._model import Level
from ._profile import Profile
from ._rules import Outcome, Verdict, instantiate, judge, watching
from ._settings import Settings
from ._transcript import Evidence, Limits, Observer, RequestSpec, Transcript, capture, make_client
from ._transport import Transport

__all__ = ["Canonical", "run_canonical", "request_for", "checked_exchange", "failures"]


@dataclass(frozen=True)
class Canonical:
    transcript: Transcript
    verdicts: dict[str, Verdict]


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
) -> tuple[Transcript, list[Verdict]]:
    """One exchange, every rule (and any extra observer) watching it, judged."""
    evidence = Evidence()
    rules = instantiate(profile, limits, evidence)
    transcript = await capture(client, request, profile, limits, [*watching(rules), *observers], evidence)
    return transcript, judge(rules, transcript)


def failures(verdicts: Iterable[Verdict], strict: bool) -> list[Verdict]:
    """The verdicts that fail the run at this strictness."""
    return [
        v for v in verdicts
        if v.outcome is Outcome.FAILED and (strict or v.requirement.level is Level.MUST)
    ]


def run_canonical(url: str, settings: Settings, profile: Profile) -> Canonical:
    """The canonical exchange: the profile's example request (or --sse-request)."""
    request = request_for(url, settings, canonical_body(settings, profile))

    async def run() -> tuple[Transcript, list[Verdict]]:
        async with make_client(url) as client:
            return await checked_exchange(client, request, profile, settings.limits)

    transcript, verdicts = asyncio.run(run())
    return Canonical(transcript, {v.requirement.id: v for v in verdicts})
