"""A conformance run: the canonical exchange, captured once, judged by every rule."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from ._profile import Profile
from ._rules import Verdict, instantiate, judge
from ._settings import Settings
from ._transcript import Evidence, RequestSpec, Transcript, capture, make_client

__all__ = ["Canonical", "run_canonical", "canonical_request"]


@dataclass(frozen=True)
class Canonical:
    transcript: Transcript
    verdicts: dict[str, Verdict]


def canonical_request(url: str, settings: Settings, profile: Profile) -> RequestSpec:
    if settings.request_file is not None:
        body = json.loads(settings.request_file.read_text(encoding="utf-8"))
    else:
        body = profile.example
    return RequestSpec(url=url, body=json.dumps(body).encode(), headers=settings.headers)


def run_canonical(url: str, settings: Settings, profile: Profile) -> Canonical:
    """One exchange with the canonical request, every rule watching it."""
    request = canonical_request(url, settings, profile)
    evidence = Evidence()
    rules = instantiate(profile, settings.limits, evidence)

    async def run() -> Transcript:
        async with make_client(url) as client:
            return await capture(client, request, profile, settings.limits, rules, evidence)

    transcript = asyncio.run(run())
    verdicts = judge(rules, transcript)
    return Canonical(transcript, {v.requirement.id: v for v in verdicts})
