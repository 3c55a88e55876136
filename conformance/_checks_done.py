"""DONE-*: the terminator arrives, once, last, and the server ends the response soon after."""

from __future__ import annotations

from ._checks import MUST, PROTOCOL, _cut_blocker, near_miss, preview
from ._model import EndKind, Requirement
from ._rules import Rule, rule
from ._transcript import Chunk, Transcript

# -- termination -----------------------------------------------------------------------


def _ends_at_close(rule_: Rule) -> bool:
    """A profile whose streams end when the server closes the response has no terminator
    event: the rules about one say so, rather than passing. (Whether the response ended
    cleanly, rather than broken off, is HTTP-COMPLETE's to judge.)"""
    if rule_.profile.terminator.at_close:
        rule_.not_applicable = (
            f"profile {rule_.profile.name} ends a stream by closing the response: it has no terminator event "
            "(HTTP-COMPLETE judges that the response ended cleanly)"
        )
        return True
    return False


@rule
class DonePresent(Rule):
    requirement = Requirement("DONE-PRESENT", MUST, "The terminator event arrives", PROTOCOL)

    def start(self) -> None:
        self.near_miss: tuple[str, Chunk] | None = None

    def on_chunk(self, chunk: Chunk) -> None:
        term = self.profile.terminator.data
        if self.near_miss is not None or chunk.terminator:
            return
        name = self.profile.terminator.event
        if name is not None and chunk.event.type.strip().lower() == name.lower():
            named = preview(chunk.event.type)
            self.near_miss = (f"event {chunk.event.index} is named {named}, not {name!r}", chunk)
        if term is None:
            return
        data = chunk.event.data
        why = near_miss(data, term)
        if why is not None:
            self.near_miss = (f"event {chunk.event.index} is {preview(data)}: {why}", chunk)
        elif data.endswith("\n" + term):
            self.near_miss = (
                f"event {chunk.event.index} ends with a {term} line: the blank line before it is missing",
                chunk,
            )

    def finish(self, t: Transcript) -> None:
        if _ends_at_close(self) or t.terminators or _cut_blocker(self, t):
            return
        terminator = self.profile.terminator
        expected = str(terminator)
        if self.near_miss is not None:
            message, chunk = self.near_miss
            self.fail_at(chunk, f"no exact terminator; near miss: {message}", expected=expected)
            return
        term = terminator.data
        for notice in t.notices if term is not None else ():
            if notice.kind == "unknown-field" and notice.line.strip() == term:
                self.fail(
                    f"no terminator; a line {notice.line!r} has no 'data:' prefix",
                    expected=expected,
                    received=notice.line,
                    offset=notice.offset,
                )
                return
        u = t.unterminated
        marker = term if term is not None else str(terminator.event)
        if u is not None and marker in (u.data + u.partial_line):
            self.fail(
                f"the terminator was sent but never dispatched: no blank line after it before the end "
                f"({preview(u.partial_line or u.data)})",
                expected=expected,
                offset=u.offset,
            )
            return
        last = t.last_event
        self.fail(
            f"the stream ended ({t.ending.detail}) "
            f"{f'after event {last.index}' if last else 'before any event'} without {terminator.label}",
            expected=expected,
            received=f"{t.events} events, none of them the terminator",
            offset=last.offset if last else 0,
            end=t.body_bytes,
            event=last.index if last else None,
        )


@rule
class DoneOnce(Rule):
    requirement = Requirement("DONE-ONCE", MUST, "The terminator arrives exactly once", PROTOCOL)

    def finish(self, t: Transcript) -> None:
        _ends_at_close(self)

    def on_chunk(self, chunk: Chunk) -> None:
        if chunk.terminator and chunk.after_terminator:
            self.fail_at(chunk, f"event {chunk.event.index} is a second terminator", expected="one terminator")


@rule
class DoneLast(Rule):
    requirement = Requirement("DONE-LAST", MUST, "No event follows the terminator", PROTOCOL)

    def finish(self, t: Transcript) -> None:
        _ends_at_close(self)

    def on_chunk(self, chunk: Chunk) -> None:
        if chunk.after_terminator and not chunk.terminator:
            self.fail_at(
                chunk,
                f"event {chunk.event.index} arrived after the terminator: {preview(chunk.event.data)}",
                expected="nothing after the terminator",
                received=preview(chunk.event.data),
            )


@rule
class DoneClose(Rule):
    requirement = Requirement(
        "DONE-CLOSE", MUST, "The server ends the response soon after the terminator", PROTOCOL
    )

    def finish(self, t: Transcript) -> None:
        if _ends_at_close(self):
            return
        if t.terminator_at is None:
            self.not_applicable = "no terminator arrived"
        elif t.ending.kind is EndKind.GRACE_EXPIRED:
            self.fail(
                f"the terminator arrived at {t.terminator_at:.3f} s and the response was still open "
                f"{self.limits.done_grace:g} s later (--sse-done-grace)",
                expected=f"the response ends within {self.limits.done_grace:g} s",
                received="still open",
                time=t.ending.time,
            )
