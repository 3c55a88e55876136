"""The rule machinery: a registry of checks, each bound to one requirement.

A rule is a small class. It sees every event of the canonical exchange as it is parsed
(``on_chunk``) and then the finished transcript (``finish``), and records violations,
bounded, with evidence cut from the body around the place. It never makes a request.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ._model import EndKind, Requirement, Violation
from ._profile import RULESETS, Profile
from ._transcript import Chunk, Evidence, Limits, Transcript

if TYPE_CHECKING:
    from ._parser import Event

__all__ = ["Findings", "Rule", "REGISTRY", "rule", "applicable", "Outcome", "Verdict", "judge", "CUT_BY", "BROKEN"]

VIOLATIONS_KEPT = 5  # per rule; the rest are counted


class Outcome(str, enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    BLOCKED = "blocked"  # not judged: an earlier requirement failed in a way that decides this one
    # The suite could not judge it: the target could not be reached, refused the credentials,
    # stayed rate-limited past the retry budget, or the run's deadline came first.
    NOT_JUDGED = "not-judged"
    NOT_APPLICABLE = "not-applicable"  # nothing in this exchange it could judge


@dataclass
class Verdict:
    requirement: Requirement
    outcome: Outcome
    violations: list[Violation] = field(default_factory=list)
    count: int = 0  # violations found, kept or not
    reason: str = ""  # why blocked or not applicable
    notes: list[str] = field(default_factory=list)  # facts worth reporting, pass or fail


REGISTRY: dict[str, type[Rule]] = {}


def rule(cls: type[Rule]) -> type[Rule]:
    """Register a rule class under its requirement ID (IDs are unique and stable)."""
    rid = cls.requirement.id
    if rid in REGISTRY:
        raise ValueError(f"requirement {rid} registered twice")
    if cls.ruleset is not None and cls.ruleset not in RULESETS:
        raise ValueError(f"requirement {rid} names unknown rule set {cls.ruleset!r}")
    REGISTRY[rid] = cls
    return cls


class Findings:
    """The violations of one requirement, bounded, and what became of it."""

    def __init__(self, requirement: Requirement) -> None:
        self.requirement = requirement
        self.violations: list[Violation] = []
        self.count = 0
        self.blocked: tuple[str, str] | None = None  # (requirement ID, reason)
        self.not_judged: str | None = None  # why the suite could not judge it
        self.not_applicable: str | None = None
        self.notes: list[str] = []  # facts worth reporting even when it passes

    def add(self, violation: Violation) -> None:
        self.count += 1
        if self.count <= VIOLATIONS_KEPT:
            self.violations.append(violation)

    def fail(self, message: str, *, expected: str = "", received: str = "", **where: Any) -> None:
        self.add(Violation(self.requirement.id, message, expected=expected, received=received, **where))

    def block(self, requirement_id: str, reason: str) -> None:
        self.blocked = (requirement_id, reason)

    def verdict(self) -> Verdict:
        if self.count:
            return Verdict(self.requirement, Outcome.FAILED, self.violations, self.count, notes=self.notes)
        if self.blocked:
            rid, reason = self.blocked
            return Verdict(self.requirement, Outcome.BLOCKED, reason=f"moot: {rid} failed ({reason})")
        if self.not_judged:
            return Verdict(self.requirement, Outcome.NOT_JUDGED, reason=f"not judged: {self.not_judged}",
                           notes=self.notes)
        if self.not_applicable:
            return Verdict(self.requirement, Outcome.NOT_APPLICABLE, reason=self.not_applicable)
        return Verdict(self.requirement, Outcome.PASSED, notes=self.notes)


class Rule(Findings):
    """A check of one exchange: sees each event as it arrives, then the transcript."""

    requirement: ClassVar[Requirement]
    # Rules about the event stream are blocked when the response is not one (no response,
    # a status other than 200, another media type): one root cause, one failure.
    needs_stream: ClassVar[bool] = True
    # A rule across chunks of one dialect belongs to a rule set, and is checked only for
    # profiles that name the set in their ``rules``; None: a rule of every profile.
    ruleset: ClassVar[str | None] = None

    @classmethod
    def applies_to(cls, profile: Profile) -> bool:
        """Whether the suite checks this requirement for the profile at all."""
        return cls.ruleset is None or cls.ruleset in profile.rules

    def __init__(self, profile: Profile, limits: Limits, evidence: Evidence) -> None:
        super().__init__(type(self).requirement)
        self.profile = profile
        self.limits = limits
        self.evidence = evidence
        self.start()

    def start(self) -> None:
        """Set up the state one exchange needs."""

    def on_chunk(self, chunk: Chunk) -> None:
        """Called for every dispatched event, as it arrives."""

    def finish(self, t: Transcript) -> None:
        """Called once the exchange has ended."""

    def fail(
        self,
        message: str,
        *,
        expected: str = "",
        received: str = "",
        offset: int | None = None,
        end: int | None = None,
        event: int | None = None,
        time: float | None = None,
    ) -> None:
        excerpt, excerpt_offset = b"", None
        if offset is not None and self.count < VIOLATIONS_KEPT:
            excerpt_offset, excerpt = self.evidence.around(offset, end)
        super().fail(
            message,
            expected=expected,
            received=received,
            offset=offset,
            event=event,
            time=time,
            excerpt=excerpt,
            excerpt_offset=excerpt_offset,
        )

    def crashed(self, exc: Exception, event: Event | None = None) -> None:
        """The check itself raised on what the target sent: say so as this requirement's
        failure, naming the place, rather than end the run."""
        where = f" on event {event.index}" if event is not None else ""
        self.fail(
            f"could not be judged: the check raised {type(exc).__name__}{where} ({str(exc)[:200]}); "
            "this input is beyond what sse-conformance can judge, please report it",
            offset=event.offset if event is not None else None,
            event=event.index if event is not None else None,
        )

    def fail_at(self, chunk: Chunk, message: str, **kw: str) -> None:
        ev = chunk.event
        self.fail(message, offset=ev.offset, end=ev.end, event=ev.index, time=ev.time, **kw)


# How the suite, not the server, cut a read short, and which requirement says so.
CUT_BY = {
    EndKind.IDLE_TIMEOUT: "DELIVERY-IDLE",
    EndKind.STREAM_TIMEOUT: "DELIVERY-DURATION",
    EndKind.LIMIT: "DELIVERY-LIMITS",
}
# How the server broke a response off before its end: HTTP-COMPLETE says so.
BROKEN = {EndKind.READ_ERROR: "HTTP-COMPLETE", EndKind.INCOMPLETE: "HTTP-COMPLETE"}


def stream_blocker(t: Transcript) -> tuple[str, str] | None:
    """The failed requirement that makes the body's checks moot, if any."""
    if not t.responded:
        return "HTTP-STATUS", t.ending.detail
    if t.status != 200:
        return "HTTP-STATUS", f"status {t.status}"
    if t.media_type != "text/event-stream":  # as a browser reads it: the last media type given
        return "HTTP-CONTENT-TYPE", f"media type {t.media_type or ('unreadable' if t.media_types else 'missing')}"
    return None


def judge(rules: Iterable[Rule], t: Transcript) -> list[Verdict]:
    """Finish every rule on the transcript and return one verdict per requirement."""
    blocker = stream_blocker(t)
    verdicts = []
    for r in rules:
        if blocker is not None and r.needs_stream:
            r.count, r.violations = 0, []
            r.block(*blocker)
        elif not t.responded and r.requirement.id != "HTTP-STATUS":
            r.block("HTTP-STATUS", t.ending.detail)
        else:
            try:
                r.finish(t)
            except Exception as exc:  # noqa: BLE001 - reported as this requirement's, not the run's
                r.crashed(exc)
        verdicts.append(r.verdict())
    return verdicts


def applicable(profile: Profile) -> dict[str, type[Rule]]:
    """The requirements checked for a profile, in catalogue order."""
    return {rid: cls for rid, cls in REGISTRY.items() if cls.applies_to(profile)}


def instantiate(profile: Profile, limits: Limits, evidence: Evidence) -> list[Rule]:
    return [cls(profile, limits, evidence) for cls in applicable(profile).values()]


def watching(rules: Iterable[Rule]) -> list[Rule]:
    """The rules that look at each event as it arrives (the others only judge the
    transcript): the observers of a capture, which calls them once per event."""
    return [r for r in rules if type(r).on_chunk is not Rule.on_chunk]
