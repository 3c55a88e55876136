"""Rules across the events of an Anthropic messages stream: the rule set ``anthropic-messages``.

Source: the Anthropic API documentation, "Streaming Messages", event flow
(https://docs.anthropic.com/en/docs/build-with-claude/streaming): ``message_start``; then each
content block as ``content_block_start``, ``content_block_delta``s and ``content_block_stop``;
then ``message_delta``s; then ``message_stop``. Read against the official ``anthropic`` Python
SDK, which accumulates the events into a message (``anthropic/lib/streaming/_messages.py``,
``accumulate_event``) and indexes its content blocks by the events' ``index``.
"""

from __future__ import annotations

from typing import Any

from .._checks import PREVIEW, _cut_blocker, preview
from ._common import TRACKED, FirstEvent, Fragments, TooLong, location
from .._model import Level, Requirement
from .._rules import Rule, rule
from .._transcript import Chunk, Transcript

SOURCE = "Anthropic API, streaming messages: event flow"
URL = "https://docs.anthropic.com/en/docs/build-with-claude/streaming#event-types"
STOP = "message_stop"

# The delta types each kind of content block takes; the SDK drops any other silently.
DELTAS = {
    "text": {"text_delta", "citations_delta"},
    "tool_use": {"input_json_delta"},
    "server_tool_use": {"input_json_delta"},
    "thinking": {"thinking_delta", "signature_delta"},
}


class _MessagesRule(Rule):
    ruleset = "anthropic-messages"

    def on_chunk(self, chunk: Chunk) -> None:
        if chunk.after_terminator:
            return  # DONE-LAST
        value = chunk.value
        if chunk.terminator:
            self.on_event(chunk, chunk.event.type, {})
        elif isinstance(value, dict) and isinstance(value.get("type"), str) and self.profile.is_chunk(
            chunk.event, value
        ):
            self.on_event(chunk, value["type"], value)

    def on_event(self, chunk: Chunk, kind: str, value: dict[str, Any]) -> None:
        raise NotImplementedError


def _index(value: dict[str, Any]) -> int | None:
    index = value.get("index")
    return index if isinstance(index, int) and not isinstance(index, bool) else None


def _typed(value: dict[str, Any], key: str) -> str | None:
    """The ``type`` of the object under ``key`` (a content block, a delta)."""
    inner = value.get(key)
    kind = inner.get("type") if isinstance(inner, dict) else None
    return kind if isinstance(kind, str) else None


@rule
class AnthropicMessageStart(_MessagesRule):
    requirement = Requirement(
        "ANTHROPIC-MESSAGE-START", Level.MUST, "The first event is message_start, and it comes once", SOURCE, URL
    )

    def start(self) -> None:
        self.order = FirstEvent(
            "message_start", "a client has no message to add the content to (the anthropic SDK builds none)"
        )

    def on_event(self, chunk: Chunk, kind: str, value: dict[str, Any]) -> None:
        self.order.see(self, chunk, kind)

    def finish(self, t: Transcript) -> None:
        if self.order.first is None:
            self.not_applicable = "no event arrived"


@rule
class AnthropicBlockOrder(_MessagesRule):
    requirement = Requirement(
        "ANTHROPIC-BLOCK-ORDER",
        Level.MUST,
        "Content blocks start in index order (0, 1, ...), get deltas while open, and stop before message_delta",
        SOURCE,
        URL,
    )

    def start(self) -> None:
        self.next = 0  # the index the next content_block_start must have
        self.open: set[int] = set()

    def on_event(self, chunk: Chunk, kind: str, value: dict[str, Any]) -> None:
        index = _index(value)
        n = chunk.event.index
        if kind == "content_block_start" and index is not None:
            if index != self.next:
                which = "started again" if index < self.next else f"started before block {self.next}"
                self.fail_at(chunk, f"event {n} starts block {index}, {which}: the SDK files deltas by position",
                             expected=f"content_block_start index {self.next}", received=f"index {index}")
            if len(self.open) < TRACKED:
                self.open.add(index)
            self.next = max(self.next, index + 1)
        elif kind in ("content_block_delta", "content_block_stop") and index is not None:
            if index not in self.open:
                state = "already stopped" if index < self.next else "never started"
                self.fail_at(chunk, f"event {n} is a {kind} for block {index}, which is {state}",
                             expected=f"a {kind} for an open block ({sorted(self.open) or 'none open'})",
                             received=f"index {index}")
            elif kind == "content_block_stop":
                self.open.discard(index)
        elif kind in ("message_delta", STOP) and self.open:
            self.fail_at(chunk, f"event {n} is {kind} while block(s) {sorted(self.open)} are open "
                                "(no content_block_stop)",
                         expected="every block stopped first", received=f"open: {sorted(self.open)}")
            self.open.clear()


@rule
class AnthropicDeltaType(_MessagesRule):
    requirement = Requirement(
        "ANTHROPIC-DELTA-TYPE",
        Level.MUST,
        "Each delta's type fits its block (text_delta for text, input_json_delta for tool_use, ...)",
        SOURCE,
        URL,
    )

    def start(self) -> None:
        self.blocks: dict[int, str] = {}  # index -> block type
        self.judged = 0

    def on_event(self, chunk: Chunk, kind: str, value: dict[str, Any]) -> None:
        index = _index(value)
        if index is None:
            return
        if kind == "content_block_start":
            block = _typed(value, "content_block")
            if block is not None and len(self.blocks) < TRACKED:
                self.blocks[index] = block
        elif kind == "content_block_delta":
            block, delta = self.blocks.get(index), _typed(value, "delta")
            allowed = DELTAS.get(block or "")
            if allowed is None or delta is None:
                return  # a block or delta type this rule does not know: newer than it, or PAYLOAD-SCHEMA's
            self.judged += 1
            if delta not in allowed:
                self.fail_at(chunk, f"event {chunk.event.index} is a {preview(delta)} for block {index}, a {block} "
                                    "block: the anthropic SDK drops it",
                             expected=" or ".join(sorted(allowed)), received=delta[:PREVIEW])

    def finish(self, t: Transcript) -> None:
        if not self.judged and not self.count:
            self.not_applicable = "no delta for a known kind of block arrived"


@rule
class AnthropicStopReason(_MessagesRule):
    requirement = Requirement(
        "ANTHROPIC-STOP-REASON",
        Level.MUST,
        "A message_delta carrying a stop_reason arrives before message_stop",
        SOURCE,
        URL,
    )

    def start(self) -> None:
        self.deltas = 0
        self.reason: str | None = None
        self.stop: Chunk | None = None

    def on_event(self, chunk: Chunk, kind: str, value: dict[str, Any]) -> None:
        if kind == "message_delta":
            self.deltas += 1
            delta = value.get("delta")
            reason = delta.get("stop_reason") if isinstance(delta, dict) else None
            if reason is not None:
                self.reason = reason
        elif kind == STOP and self.stop is None:
            self.stop = chunk

    def finish(self, t: Transcript) -> None:
        if self.reason is not None or _cut_blocker(self, t):
            return
        found = (f"{self.deltas} message_delta event(s), none with a stop_reason" if self.deltas
                 else "no message_delta event")
        where = {} if self.stop is None else location(self.stop)
        self.fail(f"{found} before the stream ended: a client cannot tell why the message stopped",
                  expected="a message_delta with delta.stop_reason", received=found, **where)


@rule
class AnthropicToolInputJson(_MessagesRule):
    requirement = Requirement(
        "ANTHROPIC-TOOL-INPUT-JSON",
        Level.MUST,
        "The input_json_delta fragments of each tool_use block join into a JSON object",
        SOURCE,
        URL,
    )

    def start(self) -> None:
        self.inputs = Fragments()
        self.blocks = 0

    def on_event(self, chunk: Chunk, kind: str, value: dict[str, Any]) -> None:
        index = _index(value)
        if index is None:
            return
        if kind == "content_block_start" and _typed(value, "content_block") in ("tool_use", "server_tool_use"):
            self.blocks += 1
            self.inputs.open(index, chunk)
        elif kind == "content_block_delta" and _typed(value, "delta") == "input_json_delta":
            piece = value["delta"].get("partial_json")
            if isinstance(piece, str) and index in self.inputs:  # a tool_use block's (ANTHROPIC-DELTA-TYPE)
                self.inputs.add(index, piece, chunk)
        elif kind == "content_block_stop":
            joined = self.inputs.pop(index)
            if joined is not None:
                self._judge(index, *joined)

    def _judge(self, index: Any, text: str | TooLong, where: dict[str, Any]) -> None:
        # No fragments at all leaves the input of content_block_start, as the SDK does.
        Fragments.judge(self, f"the input of tool_use block {index}", text, where, empty_ok=True)

    def finish(self, t: Transcript) -> None:
        if not self.blocks:
            self.not_applicable = "no tool_use block arrived"
            return
        if _cut_blocker(self, t):
            return
        for index, text, where in self.inputs.drain():
            self._judge(index, text, where)
