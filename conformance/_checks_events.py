"""Checks a profile switches on in its ``profile.toml``: how events are named (``[events]``)
and how an error is reported inside a stream (``[errors]``).

They apply only to profiles that declare the table, so a profile without named events or
in-stream errors (``simple``) is not judged on them at all.
"""

from __future__ import annotations

from typing import Any

from ._checks import PREVIEW, check_schema, preview
from ._model import Level, Requirement
from ._profile import Profile
from ._rules import Rule, rule
from ._transcript import Chunk, Transcript

EVENTS_SOURCE = "profile.toml [events]"
ERRORS_SOURCE = "profile.toml [errors]"


@rule
class PayloadEventName(Rule):
    requirement = Requirement(
        "PAYLOAD-EVENT-NAME",
        Level.MUST,
        "Every event is named after its data, as the profile's [events] name says (clients dispatch on the name)",
        EVENTS_SOURCE,
    )

    @classmethod
    def applies_to(cls, profile: Profile) -> bool:
        return profile.event_name is not None

    def start(self) -> None:
        self.judged = 0

    def on_chunk(self, chunk: Chunk) -> None:
        if chunk.terminator or chunk.json_error is not None or not self.profile.is_chunk(chunk.event, chunk.value):
            return
        path = self.profile.event_name
        assert path is not None  # applies_to
        expected = path(chunk.value)
        if not isinstance(expected, str):
            return  # nothing names it: the chunk schema says what is missing
        self.judged += 1
        name = chunk.event.type
        if name == expected:
            return
        if name == "message":  # the WHATWG default: no event field, or an empty one
            what = f"event {chunk.event.index} has no event name, and its {path} is {preview(expected)}"
            received = "no event field"
        else:
            what = f"event {chunk.event.index} is named {preview(name)}, but its {path} is {preview(expected)}"
            received = f"event: {name[:PREVIEW]}"
        self.fail_at(chunk, f"{what}: a client dispatching on the name misreads or skips it",
                     expected=f"event: {expected[:PREVIEW]}", received=received)

    def finish(self, t: Transcript) -> None:
        if not self.judged and not self.count:
            self.not_applicable = f"no chunk carried a {self.profile.event_name} to name it by"


def error_message(value: Any) -> str | None:
    """The human-readable message of an error object, where the usual shapes put it."""
    if isinstance(value, dict):
        inner = value.get("error")
        for holder in (inner, value):
            if isinstance(holder, dict) and isinstance(holder.get("message"), str):
                return holder["message"]
        if isinstance(inner, str):
            return inner
    return None


class _ErrorRule(Rule):
    """A rule about the in-stream errors the profile's ``[errors]`` table defines."""

    @classmethod
    def applies_to(cls, profile: Profile) -> bool:
        return profile.reports_errors

    def on_chunk(self, chunk: Chunk) -> None:
        if not chunk.terminator and self.profile.is_error(chunk.event, chunk.value):
            self.on_error(chunk)

    def on_error(self, chunk: Chunk) -> None:
        raise NotImplementedError


@rule
class PayloadNoError(_ErrorRule):
    requirement = Requirement(
        "PAYLOAD-NO-ERROR",
        Level.MUST,
        "No error is reported inside the stream after status 200 (the profile's [errors] says how one looks)",
        ERRORS_SOURCE,
    )

    def on_error(self, chunk: Chunk) -> None:
        message = error_message(chunk.value)
        said = f"with the message {preview(message)}" if message is not None else preview(chunk.event.data)
        self.fail_at(
            chunk,
            f"event {chunk.event.index} reports an error, {said}: the request failed after the response began",
            expected="the answer, with no error event",
            received=preview(chunk.event.data),
        )


@rule
class PayloadErrorSchema(_ErrorRule):
    requirement = Requirement(
        "PAYLOAD-ERROR-SCHEMA",
        Level.SHOULD,
        "An error reported inside the stream matches the profile's error schema",
        "profile error schema",
    )

    def start(self) -> None:
        self.seen = 0

    def on_error(self, chunk: Chunk) -> None:
        self.seen += 1
        if chunk.json_error is None:  # else PAYLOAD-JSON says so
            check_schema(self, chunk, self.profile.error_validator, "the error in ")

    def finish(self, t: Transcript) -> None:
        if not self.seen:
            self.not_applicable = "no error was reported inside the stream"
