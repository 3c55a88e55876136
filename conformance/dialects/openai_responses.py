"""Rules across the events of an OpenAI Responses stream: the rule set ``openai-responses``.

Sources: the OpenAI API reference, "Streaming events" of the Responses API
(https://platform.openai.com/docs/api-reference/responses-streaming), read as generated into
the official ``openai`` Python SDK (``openai/types/responses/``, openai-python e43b422,
2026-08-21) and against its accumulator (``openai/lib/streaming/responses/_responses.py``,
which raises when the first event is not ``response.created`` or a content event names an
output item it has not seen); and the Open Responses specification ("Items are streamable",
openresponses/openresponses 05d5f81), which says the same in MUSTs: an output item opens with
``response.output_item.added`` and closes with ``response.output_item.done``; streamed content
sits in a content part: ``response.content_part.added``, the deltas, their ``.done``,
``response.content_part.done``.

A rule judges only the event types it names: newer types (tool progress, audio, ...) pass.
``keepalive`` events count for the sequence numbers alone; error events are PAYLOAD-NO-ERROR's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._checks import PREVIEW, _cut_blocker, preview
from ._common import TRACKED, FirstEvent, Fragments, TooLong, location
from .._model import Level, Requirement
from .._rules import Rule, rule
from .._transcript import Chunk, Transcript

SOURCE = "OpenAI API reference, Responses streaming events; Open Responses specification"
URL = "https://platform.openai.com/docs/api-reference/responses-streaming"
MUST = Level.MUST

TERMINAL = ("response.completed", "response.failed", "response.incomplete")
LIFECYCLE = frozenset({"response.created", "response.queued", "response.in_progress", *TERMINAL})
# The events of a message's content part: (the stream they belong to, what they are).
PART_EVENTS = {
    "response.output_text.delta": ("response.output_text", "delta"),
    "response.output_text.annotation.added": ("response.output_text", "annotation"),
    "response.output_text.done": ("response.output_text", "done"),
    "response.refusal.delta": ("response.refusal", "delta"),
    "response.refusal.done": ("response.refusal", "done"),
}
DONE_TEXT = {"response.output_text": "text", "response.refusal": "refusal"}  # what the .done carries


class _ResponsesRule(Rule):
    ruleset = "openai-responses"

    def on_chunk(self, chunk: Chunk) -> None:
        value = chunk.value
        if chunk.terminator or chunk.after_terminator or not isinstance(value, dict):
            return  # [DONE] and what follows it are the DONE-* rules'
        kind = value.get("type")
        if isinstance(kind, str):
            self.on_event(chunk, kind, value)

    def on_event(self, chunk: Chunk, kind: str, value: dict[str, Any]) -> None:
        raise NotImplementedError


def _int(value: dict[str, Any], key: str) -> int | None:
    number = value.get(key)
    return number if isinstance(number, int) and not isinstance(number, bool) else None


@rule
class ResponsesSequence(_ResponsesRule):
    requirement = Requirement(
        "RESPONSES-SEQUENCE", MUST,
        "Every event carries a sequence_number: 0 on the first, then one more on each", SOURCE, URL,
    )

    def start(self) -> None:
        self.expected = 0
        self.numbered = 0

    def on_event(self, chunk: Chunk, kind: str, value: dict[str, Any]) -> None:
        number = _int(value, "sequence_number")
        n = chunk.event.index
        if number is None:
            if kind == "error":
                return  # an error's shape is PAYLOAD-ERROR-SCHEMA's to judge
            self.fail_at(chunk, f"event {n} ({preview(kind)}) carries no integer sequence_number: a client cannot "
                                "tell a lost event from none",
                         expected=f"sequence_number {self.expected}", received="none")
            self.expected += 1
            return
        self.numbered += 1
        if number != self.expected:
            if self.numbered == 1:
                what = f"the first event's sequence_number is {number}, not 0"
            elif number < self.expected:
                what = f"event {n} goes back from sequence_number {self.expected - 1} to {number} (a restart or repeat)"
            else:
                what = f"event {n} skips from sequence_number {self.expected - 1} to {number}: " \
                       f"{number - self.expected} missing"
            self.fail_at(chunk, f"{what}: a client resuming the stream (starting_after) would lose or repeat events",
                         expected=f"sequence_number {self.expected}", received=f"sequence_number {number}")
        self.expected = number + 1

    def finish(self, t: Transcript) -> None:
        if not self.numbered and not self.count:
            self.not_applicable = "no event arrived"


@rule
class ResponsesCreatedFirst(_ResponsesRule):
    requirement = Requirement(
        "RESPONSES-CREATED-FIRST", MUST, "The first event is response.created, and it comes once", SOURCE, URL,
    )

    def start(self) -> None:
        self.order = FirstEvent("response.created", "a client has no response to add the output to (the openai "
                                                    "SDK's stream helper raises)")

    def on_event(self, chunk: Chunk, kind: str, value: dict[str, Any]) -> None:
        if self.profile.is_chunk(chunk.event, value):  # not keepalives, not errors
            self.order.see(self, chunk, kind)

    def finish(self, t: Transcript) -> None:
        if self.order.first is None:
            self.not_applicable = "no event arrived"


@dataclass
class _Item:
    id: str | None
    added: int  # the event that added it
    done: int | None = None  # the event that closed it


@rule
class ResponsesItemOrder(_ResponsesRule):
    requirement = Requirement(
        "RESPONSES-ITEM-ORDER", MUST,
        "An output item opens with output_item.added and closes with output_item.done; its events come between "
        "and name its item_id; all close before response.completed", SOURCE, URL,
    )

    def start(self) -> None:
        self.items: dict[int, _Item] = {}

    def on_event(self, chunk: Chunk, kind: str, value: dict[str, Any]) -> None:
        n = chunk.event.index
        if kind == "response.completed":
            still = sorted(i for i, item in self.items.items() if item.done is None)
            if still:
                self.fail_at(chunk, f"response.completed (event {n}) while output item(s) {still} are open (no "
                                    "output_item.done): the openai SDK raises ('unfinished output items')",
                             expected="every output item done first", received=f"open: {still}")
            return
        index = _int(value, "output_index")
        if index is None or kind in LIFECYCLE:
            return
        item = value.get("item")
        item_id = item.get("id") if isinstance(item, dict) else None
        known = self.items.get(index)
        if kind == "response.output_item.added":
            if known is not None:
                self.fail_at(chunk, f"event {n} adds output item {index} again (first added in event {known.added})",
                             expected=f"one output_item.added for output_index {index}", received="another")
            elif len(self.items) < TRACKED:
                self.items[index] = _Item(item_id if isinstance(item_id, str) else None, n)
            return
        if known is None:
            if len(self.items) < TRACKED:  # past the cap, an item may be unknown for that reason alone
                self.fail_at(chunk, f"event {n} is a {preview(kind)} for output item {index}, which was never added "
                                    "(no output_item.added before it): the openai SDK raises",
                             expected=f"response.output_item.added for output_index {index} first",
                             received=kind[:PREVIEW])
            return
        if known.done is not None:
            self.fail_at(chunk, f"event {n} is a {preview(kind)} for output item {index}, after its output_item.done "
                                f"(event {known.done})", expected="nothing for a done item", received=kind[:PREVIEW])
            return
        named = item_id if kind == "response.output_item.done" else value.get("item_id")
        if isinstance(named, str) and known.id is not None and named != known.id:
            self.fail_at(chunk, f"event {n} ({preview(kind)}) names item {preview(named)} for output item {index}, "
                                f"which is {preview(known.id)} (event {known.added})",
                         expected=f"item_id {known.id[:PREVIEW]}", received=f"item_id {named[:PREVIEW]}")
        if kind == "response.output_item.done":
            known.done = n


@dataclass
class _Part:
    added: int
    done: int | None = None
    finished: dict[str, int] = field(default_factory=dict)  # stream -> the event of its .done


@rule
class ResponsesPartOrder(_ResponsesRule):
    requirement = Requirement(
        "RESPONSES-PART-ORDER", MUST,
        "Text sits in a content part: content_part.added, the deltas, their .done, content_part.done, all "
        "before the item's output_item.done", SOURCE, URL,
    )

    def start(self) -> None:
        self.parts: dict[tuple[int, int], _Part] = {}

    def on_event(self, chunk: Chunk, kind: str, value: dict[str, Any]) -> None:
        n, output = chunk.event.index, _int(value, "output_index")
        if kind == "response.output_item.done" and output is not None:
            still = sorted(c for (o, c), part in self.parts.items() if o == output and part.done is None)
            if still:
                self.fail_at(chunk, f"output item {output} is done (event {n}) while its content part(s) {still} "
                                    "are open (no content_part.done)",
                             expected="every content part done first", received=f"open: {still}")
            return
        content = _int(value, "content_index")
        if output is None or content is None:
            return
        key, part = (output, content), self.parts.get((output, content))
        where = f"content part {content} of output item {output}"
        if kind == "response.content_part.added":
            if part is not None:
                self.fail_at(chunk, f"event {n} adds {where} again (first added in event {part.added})",
                             expected="one content_part.added per part", received="another")
            elif len(self.parts) < TRACKED:
                self.parts[key] = _Part(n)
            return
        if kind != "response.content_part.done" and kind not in PART_EVENTS:
            return
        if part is None:
            if len(self.parts) < TRACKED:
                self.fail_at(chunk, f"event {n} is a {kind} for {where}, which was never added (no "
                                    "content_part.added): the openai SDK files text by content_index and raises",
                             expected="response.content_part.added first", received=kind)
            return
        if part.done is not None:
            self.fail_at(chunk, f"event {n} is a {kind} for {where}, after its content_part.done (event {part.done})",
                         expected="nothing for a done part", received=kind)
            return
        if kind == "response.content_part.done":
            part.done = n
            return
        stream, what = PART_EVENTS[kind]
        finished = part.finished.get(stream)
        if finished is not None and what != "annotation":
            self.fail_at(chunk, f"event {n} is a {kind} for {where}, after its {stream}.done (event {finished}): "
                                "the text was final, and clients that keep the .done text lose this",
                         expected=f"nothing after {stream}.done", received=kind)
        elif what == "done":
            part.finished[stream] = n


@rule
class ResponsesTextJoins(_ResponsesRule):
    requirement = Requirement(
        "RESPONSES-TEXT-JOINS", MUST,
        "The text deltas of each content part join to the text its .done carries", SOURCE, URL,
    )

    def start(self) -> None:
        self.texts = Fragments()  # bounded: a long text is not kept whole
        self.finished: set[tuple[str, int, int]] = set()
        self.judged = 0

    def on_event(self, chunk: Chunk, kind: str, value: dict[str, Any]) -> None:
        stream, what = PART_EVENTS.get(kind, ("", ""))
        output, content = _int(value, "output_index"), _int(value, "content_index")
        if what not in ("delta", "done") or output is None or content is None:
            return
        key = (stream, output, content)
        if key in self.finished:
            return  # after the .done: RESPONSES-PART-ORDER's
        if what == "delta":
            if isinstance(value.get("delta"), str):
                self.texts.add(key, value["delta"], chunk)
            return
        if len(self.finished) < TRACKED:
            self.finished.add(key)
        joined, final = self.texts.pop(key), value.get(DONE_TEXT[stream])
        if joined is None or not isinstance(final, str):
            return  # no deltas: nothing to compare (the text came whole); no text: PAYLOAD-SCHEMA's
        text = joined[0]
        self.judged += 1
        if isinstance(text, TooLong):
            self.notes.append(f"{stream} of output {output}, part {content} not compared: deltas {text.reason}")
        elif text != final:
            at = next((i for i, (a, b) in enumerate(zip(text, final, strict=False)) if a != b), min(len(text),
                                                                                              len(final)))
            self.fail_at(chunk, f"the deltas of {stream} (output {output}, part {content}) join to {len(text)} "
                                f"characters, and its .done (event {chunk.event.index}) carries {len(final)}, "
                                f"differing from character {at}: {preview(text[at:], 40)} against "
                                f"{preview(final[at:], 40)}: a client shows one text and stores another",
                         expected=preview(text), received=preview(final))

    def finish(self, t: Transcript) -> None:
        if not self.judged and not self.count:
            self.not_applicable = "no text delta was followed by its .done"


@rule
class ResponsesArgsJson(_ResponsesRule):
    requirement = Requirement(
        "RESPONSES-ARGS-JSON", MUST,
        "The argument deltas of each function call join to the arguments its .done carries, a JSON object",
        SOURCE, URL,
    )

    def start(self) -> None:
        self.arguments = Fragments()
        self.finished: set[int] = set()
        self.calls = 0

    def on_event(self, chunk: Chunk, kind: str, value: dict[str, Any]) -> None:
        output = _int(value, "output_index")
        if not kind.startswith("response.function_call_arguments.") or output is None or output in self.finished:
            return
        if kind.endswith(".delta") and isinstance(value.get("delta"), str):
            self.arguments.add(output, value["delta"], chunk)
        elif kind.endswith(".done") and isinstance(value.get("arguments"), str):
            if len(self.finished) < TRACKED:
                self.finished.add(output)
            self.calls += 1
            final, joined = value["arguments"], self.arguments.pop(output)
            if joined is not None and isinstance(joined[0], str) and joined[0] != final:
                self.fail_at(chunk, f"the argument deltas of function call {output} join to {preview(joined[0])}, "
                                    f"and its .done (event {chunk.event.index}) carries {preview(final)}",
                             expected=preview(joined[0]), received=preview(final))
            Fragments.judge(self, f"the arguments of function call {output}", final, location(chunk))

    def finish(self, t: Transcript) -> None:
        if not self.calls and not self.count:
            self.not_applicable = "no function call's arguments arrived"


@rule
class ResponsesTerminal(_ResponsesRule):
    requirement = Requirement(
        "RESPONSES-TERMINAL", MUST,
        "Exactly one terminal event (response.completed, .failed or .incomplete) ends the stream; no event "
        "follows it", SOURCE, URL,
    )

    def start(self) -> None:
        self.terminal: tuple[str, int] | None = None
        self.events = 0

    def on_event(self, chunk: Chunk, kind: str, value: dict[str, Any]) -> None:
        self.events += 1
        n = chunk.event.index
        if self.terminal is None:
            if kind in TERMINAL:
                self.terminal = (kind, n)
            return
        first, at = self.terminal
        what = "a second terminal event" if kind in TERMINAL else "an event after the end"
        self.fail_at(chunk, f"event {n} ({preview(kind)}) follows the terminal {first} (event {at}): {what}, which "
                            "clients that stop at the terminal event never read",
                     expected=f"nothing after {first}", received=kind[:PREVIEW])

    def finish(self, t: Transcript) -> None:
        if self.terminal is not None or _cut_blocker(self, t):
            return
        if not self.events:
            self.not_applicable = "no event arrived"
            return
        last = t.last_event
        where = {} if last is None else {"offset": last.offset, "end": last.end, "event": last.index,
                                         "time": last.time}
        self.fail(f"the stream ended ({t.ending.detail}) without a terminal event: a client cannot tell a finished "
                  "response from a cut one (the openai SDK's get_final_response raises)",
                  expected=" or ".join(TERMINAL), received=f"{self.events} events, none terminal", **where)
