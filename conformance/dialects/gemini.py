"""Rules across the chunks of a Gemini stream: the rule set ``gemini``.

Source: the Gemini API reference, ``models.streamGenerateContent`` and ``GenerateContentResponse``
(https://ai.google.dev/api/generate-content), read as generated into the official ``google-genai``
Python SDK (``google/genai/types.py``, python-genai 6680718, 2026-08-21), which also reads these
streams (``google/genai/_api_client.py``: ``data:`` lines; a chunk whose JSON is ``{"error": ...}``
raised as ``APIError``). With ``?alt=sse`` every ``data:`` carries a whole GenerateContentResponse;
there are no event names and no ``[DONE]``: the stream ends when the response ends. Chunks that
carry no ``candidates`` (a blocked prompt's ``promptFeedback``, usage alone) are passed over.
"""

from __future__ import annotations

import json
from typing import Any

from .._checks import PREVIEW, _cut_blocker, preview
from ._common import TRACKED, location, stable_fields
from .._model import Level, Requirement
from .._rules import VIOLATIONS_KEPT, Rule, rule
from .._transcript import Chunk, Transcript

SOURCE = "Gemini API reference, models.streamGenerateContent and GenerateContentResponse"
URL = "https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent"
# What a part may carry besides text that is content nonetheless (a function call, an image ...);
# ``thought`` and ``thoughtSignature`` only qualify a part.
NOT_CONTENT = frozenset({"text", "thought", "thoughtSignature"})


class _GeminiRule(Rule):
    ruleset = "gemini"

    def on_chunk(self, chunk: Chunk) -> None:
        value = chunk.value
        if chunk.terminator or chunk.after_terminator or not isinstance(value, dict):
            return
        if self.profile.is_chunk(chunk.event, value):
            self.on_response(chunk, value)

    def on_response(self, chunk: Chunk, value: dict[str, Any]) -> None:
        raise NotImplementedError


def _candidates(value: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """(index, candidate) for a chunk's candidates: ``index`` where given, else the position
    (the API leaves ``index`` out of a stream of one candidate)."""
    candidates = value.get("candidates")
    if not isinstance(candidates, list):
        return []
    found = []
    for position, candidate in enumerate(candidates):
        if isinstance(candidate, dict):
            index = candidate.get("index")
            found.append((index if isinstance(index, int) and not isinstance(index, bool) else position, candidate))
    return found


def _content(candidate: dict[str, Any]) -> str | None:
    """What a candidate's parts add to the answer, named, or None if nothing."""
    content = candidate.get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    for part in parts if isinstance(parts, list) else ():
        if not isinstance(part, dict):
            continue
        if isinstance(part.get("text"), str) and part["text"]:
            return f"text {preview(part['text'], 40)}"
        other = next((k for k, v in part.items() if k not in NOT_CONTENT and v), None)
        if other is not None:
            return f"a part with {preview(other, 40)}"
    return None


@rule
class GeminiIdStable(_GeminiRule):
    requirement = Requirement(
        "GEMINI-ID-STABLE", Level.MUST, "responseId and modelVersion are the same in every chunk", SOURCE, URL
    )
    FIELDS = ("responseId", "modelVersion")

    def start(self) -> None:
        self.first: dict[str, tuple[Any, int]] = {}

    def on_response(self, chunk: Chunk, value: dict[str, Any]) -> None:
        stable_fields(self, chunk, value, self.FIELDS, self.first, "response")

    def finish(self, t: Transcript) -> None:
        if not self.first and not self.count:
            self.not_applicable = "no chunk carried a responseId or modelVersion"


@rule
class GeminiFinishOnce(_GeminiRule):
    requirement = Requirement(
        "GEMINI-FINISH-ONCE", Level.MUST,
        "Each candidate gets exactly one finishReason, on its last chunk: no content after it", SOURCE, URL,
    )

    def start(self) -> None:
        self.seen: set[int] = set()
        self.finished: dict[int, int] = {}  # candidate index -> the event of its finishReason
        self.last: dict[str, Any] | None = None

    def on_response(self, chunk: Chunk, value: dict[str, Any]) -> None:
        n = chunk.event.index
        for index, candidate in _candidates(value):
            if index not in self.seen and len(self.seen) >= TRACKED:
                continue
            self.seen.add(index)
            self.last = location(chunk)
            reason = candidate.get("finishReason")
            first = self.finished.get(index)
            if first is None:
                if reason is not None:
                    self.finished[index] = n
                continue
            if reason is not None:
                self.fail_at(chunk, f"candidate {index} got a second finishReason {preview(json.dumps(reason))} in "
                                    f"event {n} (its first came in event {first})",
                             expected="one finishReason per candidate",
                             received=f"finishReason {json.dumps(reason)[:PREVIEW]}")
            added = _content(candidate)
            if added is not None:
                self.fail_at(chunk, f"candidate {index} got {added} in event {n}, after its finishReason (event "
                                    f"{first}): the answer was over", expected="nothing after the finishReason",
                             received=added)

    def finish(self, t: Transcript) -> None:
        if not self.seen:
            self.not_applicable = "no chunk carried a candidate (a blocked prompt has none)"
            return
        if _cut_blocker(self, t):
            return
        for index in sorted(self.seen - set(self.finished))[:VIOLATIONS_KEPT]:
            self.fail(f"candidate {index} never got a finishReason: a client cannot tell a finished answer from a "
                      "cut one", expected="a finishReason on the candidate's last chunk", received="none",
                      **(self.last or {}))


def _count(usage: dict[str, Any], key: str) -> int:
    value = usage.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


@rule
class GeminiUsageTotals(_GeminiRule):
    """totalTokenCount is at least promptTokenCount + candidatesTokenCount.

    The reference says the total is the sum of the prompt, candidates, tool-use prompt and
    thoughts counts. The rule asks only for the bound that holds however thoughts are counted:
    some versions of the API have counted thought tokens in candidatesTokenCount as well as in
    thoughtsTokenCount, and a rule that summed all four would fail those correct streams.
    """

    requirement = Requirement(
        "GEMINI-USAGE-TOTALS", Level.MUST,
        "In usageMetadata, totalTokenCount is at least promptTokenCount + candidatesTokenCount", SOURCE, URL,
    )

    def start(self) -> None:
        self.judged = 0

    def on_response(self, chunk: Chunk, value: dict[str, Any]) -> None:
        usage = value.get("usageMetadata")
        if not isinstance(usage, dict) or not isinstance(usage.get("totalTokenCount"), int):
            return  # the live API sends usage without counts ({"trafficType": ...}) mid-stream
        self.judged += 1
        prompt, candidates = _count(usage, "promptTokenCount"), _count(usage, "candidatesTokenCount")
        total = _count(usage, "totalTokenCount")
        if total < prompt + candidates:
            self.fail_at(chunk, f"event {chunk.event.index}: totalTokenCount {total} is less than promptTokenCount "
                                f"{prompt} + candidatesTokenCount {candidates}: a client billing on the total "
                                "undercounts", expected=f"totalTokenCount >= {prompt + candidates}",
                         received=f"totalTokenCount {total}")

    def finish(self, t: Transcript) -> None:
        if not self.judged and not self.count:
            self.not_applicable = "no chunk carried a usageMetadata with a totalTokenCount"
