"""Rules across the chunks of an OpenAI chat-completions stream: the rule set ``openai-chat``.

Source: the OpenAI API reference, "The chat completion chunk object"
(https://platform.openai.com/docs/api-reference/chat-streaming/streaming), read against the
official ``openai`` Python SDK, which decodes these streams (``openai/_streaming.py``) and
accumulates them (``openai/lib/streaming/chat/_completions.py``). Chunks that carry no
``choices`` list, or report an error, are left to PAYLOAD-SCHEMA and PAYLOAD-NO-ERROR.
"""

from __future__ import annotations

import json
from typing import Any

from .._checks import PREVIEW, _cut_blocker, preview
from ._common import TRACKED, Fragments, location, stable_fields
from .._model import Level, Requirement
from .._rules import VIOLATIONS_KEPT, Rule, rule
from .._transcript import Chunk, Transcript

SOURCE = "OpenAI API reference, the chat completion chunk object"
URL = "https://platform.openai.com/docs/api-reference/chat-streaming/streaming"
USAGE_OPTION = "stream_options.include_usage"


def asks_for_usage(t: Transcript) -> bool:
    """The canonical request set ``stream_options.include_usage`` to true."""
    try:
        body = json.loads(t.request.body)
    except ValueError:
        return False
    options = body.get("stream_options") if isinstance(body, dict) else None
    return isinstance(options, dict) and options.get("include_usage") is True


def _choices(value: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """(index, choice) for the well-formed choices of a chunk."""
    choices = value.get("choices")
    if not isinstance(choices, list):
        return []
    return [(c["index"], c) for c in choices if isinstance(c, dict) and isinstance(c.get("index"), int)]


def _delta(choice: dict[str, Any]) -> dict[str, Any]:
    delta = choice.get("delta")
    return delta if isinstance(delta, dict) else {}


class _ChatRule(Rule):
    ruleset = "openai-chat"

    def on_chunk(self, chunk: Chunk) -> None:
        value = chunk.value
        if chunk.terminator or chunk.after_terminator or not isinstance(value, dict):
            return
        if self.profile.is_chunk(chunk.event, value):
            self.on_completion_chunk(chunk, value)

    def on_completion_chunk(self, chunk: Chunk, value: dict[str, Any]) -> None:
        raise NotImplementedError


@rule
class OpenAIIdStable(_ChatRule):
    requirement = Requirement(
        "OPENAI-ID-STABLE", Level.MUST, "id, created and model are the same in every chunk", SOURCE, URL
    )
    FIELDS = ("id", "created", "model")

    def start(self) -> None:
        self.first: dict[str, tuple[Any, int]] = {}

    def on_completion_chunk(self, chunk: Chunk, value: dict[str, Any]) -> None:
        stable_fields(self, chunk, value, self.FIELDS, self.first, "completion")

    def finish(self, t: Transcript) -> None:
        if not self.first and not self.count:
            self.not_applicable = "no completion chunk arrived"


@rule
class OpenAIRoleFirst(_ChatRule):
    requirement = Requirement(
        "OPENAI-ROLE-FIRST", Level.MUST, "The first delta of each choice carries role 'assistant'", SOURCE, URL
    )

    def start(self) -> None:
        self.seen: set[int] = set()

    def on_completion_chunk(self, chunk: Chunk, value: dict[str, Any]) -> None:
        for index, choice in _choices(value):
            if index in self.seen or len(self.seen) >= TRACKED:
                continue
            self.seen.add(index)
            role = _delta(choice).get("role")
            if role != "assistant":
                got = "carries no role" if role is None else f"has role {preview(json.dumps(role))}"
                self.fail_at(
                    chunk,
                    f"the first delta of choice {index} (event {chunk.event.index}) {got}: "
                    "a client assembling the message does not know whose it is",
                    expected="role 'assistant'",
                    received=got,
                )

    def finish(self, t: Transcript) -> None:
        if not self.seen:
            self.not_applicable = "no chunk carried a choice"


def _content(delta: dict[str, Any]) -> str | None:
    """What a delta adds to the message, named, or None if nothing."""
    for key in ("content", "refusal", "tool_calls", "function_call"):
        if delta.get(key):
            return f"{key} {preview(json.dumps(delta[key]), 40)}"
    return None


@rule
class OpenAIFinishOnce(_ChatRule):
    requirement = Requirement(
        "OPENAI-FINISH-ONCE",
        Level.MUST,
        "Each choice gets exactly one finish_reason, and no content after it",
        SOURCE,
        URL,
    )

    def start(self) -> None:
        self.seen: set[int] = set()
        self.finished: dict[int, int] = {}  # choice index -> event of its finish_reason
        self.last: dict[str, Any] | None = None

    def on_completion_chunk(self, chunk: Chunk, value: dict[str, Any]) -> None:
        self.last = location(chunk)
        for index, choice in _choices(value):
            if index not in self.seen and len(self.seen) >= TRACKED:
                continue
            self.seen.add(index)
            reason = choice.get("finish_reason")
            if index not in self.finished:
                if reason is not None:
                    self.finished[index] = chunk.event.index
                continue
            first = self.finished[index]
            if reason is not None:
                self.fail_at(
                    chunk,
                    f"choice {index} got a second finish_reason {preview(json.dumps(reason))} in event "
                    f"{chunk.event.index} (its first came in event {first})",
                    expected="one finish_reason per choice",
                    received=f"finish_reason {json.dumps(reason)[:PREVIEW]}",
                )
            added = _content(_delta(choice))
            if added is not None:
                self.fail_at(
                    chunk,
                    f"choice {index} got {added} in event {chunk.event.index}, after its finish_reason (event {first})",
                    expected="nothing after the finish_reason",
                    received=added,
                )

    def finish(self, t: Transcript) -> None:
        if not self.seen:
            self.not_applicable = "no chunk carried a choice"
            return
        if _cut_blocker(self, t):
            return
        for index in sorted(self.seen - set(self.finished))[:VIOLATIONS_KEPT]:
            self.fail(
                f"choice {index} never got a finish_reason: a client cannot tell a finished answer from a cut one",
                expected="one chunk with a finish_reason for each choice",
                received="none",
                **(self.last or {}),
            )


class _UsageRule(_ChatRule):
    """Notes the chunks that carry usage; the request decides, at the end, what they mean."""

    def start(self) -> None:
        self.usage: list[tuple[dict[str, Any], int]] = []  # (location, choices in it), the first few
        self.usage_count = 0
        self.last_event: int | None = None

    def on_completion_chunk(self, chunk: Chunk, value: dict[str, Any]) -> None:
        self.last_event = chunk.event.index
        if value.get("usage") is None:
            return
        self.usage_count += 1
        if len(self.usage) < VIOLATIONS_KEPT:
            choices = value.get("choices")
            self.usage.append((location(chunk), len(choices) if isinstance(choices, list) else 0))


@rule
class OpenAIUsageLast(_UsageRule):
    requirement = Requirement(
        "OPENAI-USAGE-LAST",
        Level.MUST,
        f"With {USAGE_OPTION}, exactly one usage chunk, with choices [], comes last before [DONE]",
        SOURCE,
        URL,
    )

    def finish(self, t: Transcript) -> None:
        if not asks_for_usage(t):
            self.not_applicable = f"the request did not ask for usage ({USAGE_OPTION})"
            return
        if _cut_blocker(self, t):
            return
        expected = "one chunk with usage and choices [], the last before [DONE]; usage null in every other"
        if not self.usage_count:
            self.fail(f"the request set {USAGE_OPTION} and no chunk carried usage", expected=expected,
                      received="no usage chunk")
            return
        if self.usage_count > 1:
            where, _ = self.usage[1]
            self.fail(
                f"{self.usage_count} chunks carry usage (events {', '.join(str(w['event']) for w, _ in self.usage)}"
                f"{', ...' if self.usage_count > len(self.usage) else ''}): only the last chunk may",
                expected=expected, received=f"{self.usage_count} usage chunks", **where,
            )
            return
        where, choices = self.usage[0]
        if choices:
            self.fail(f"the usage chunk (event {where['event']}) carries {choices} choice(s)",
                      expected="choices []", received=f"{choices} choice(s)", **where)
        if where["event"] != self.last_event:
            self.fail(f"the usage chunk (event {where['event']}) is not the last: event {self.last_event} follows it",
                      expected=expected, received=f"a chunk after the usage chunk, event {self.last_event}", **where)


@rule
class OpenAIUsageAbsent(_UsageRule):
    requirement = Requirement(
        "OPENAI-USAGE-ABSENT",
        Level.SHOULD,
        f"Without {USAGE_OPTION}, no chunk carries usage",
        SOURCE,
        URL,
    )

    def finish(self, t: Transcript) -> None:
        if asks_for_usage(t):
            self.not_applicable = f"the request asked for usage ({USAGE_OPTION})"
            return
        for where, _ in self.usage:
            self.fail(
                f"event {where['event']} carries usage though the request did not ask for it ({USAGE_OPTION}); "
                "clients that did not ask do not expect a chunk with no choices",
                expected="usage absent or null", received="a usage object", **where,
            )
        self.count = max(self.count, self.usage_count)


@rule
class OpenAIToolArgsJson(_ChatRule):
    requirement = Requirement(
        "OPENAI-TOOL-ARGS-JSON",
        Level.MUST,
        "The argument fragments of each tool call join into a JSON object",
        SOURCE,
        URL,
    )

    def start(self) -> None:
        self.arguments = Fragments()

    def on_completion_chunk(self, chunk: Chunk, value: dict[str, Any]) -> None:
        for index, choice in _choices(value):
            calls = _delta(choice).get("tool_calls")
            for call in calls if isinstance(calls, list) else ():
                if not isinstance(call, dict) or not isinstance(call.get("index"), int):
                    continue
                function = call.get("function")
                piece = function.get("arguments") if isinstance(function, dict) else None
                key = (index, call["index"])
                if isinstance(piece, str):
                    self.arguments.add(key, piece, chunk)
                else:
                    self.arguments.open(key, chunk)

    def finish(self, t: Transcript) -> None:
        if not self.arguments:
            self.not_applicable = "no tool call arrived"
            return
        if _cut_blocker(self, t):
            return
        for (index, call), text, where in self.arguments.drain():
            Fragments.judge(self, f"tool call {call} of choice {index}", text, where)
