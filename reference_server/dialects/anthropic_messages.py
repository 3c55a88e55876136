"""The ``anthropic-messages`` dialect: ``POST /v1/messages`` streamed as Anthropic streams
messages, and the faults that each break one rule of it.

The wire format follows the Anthropic API documentation ("Streaming Messages") and the
official ``anthropic`` Python SDK, which reads it (``anthropic/_streaming.py``: events are
dispatched by name, ``ping`` and unnamed events skipped, ``event: error`` raised;
``anthropic/lib/streaming/_messages.py``: the events accumulated into a message). Every event
is named after its data's ``type``; there is no ``[DONE]``: ``message_stop`` ends the stream.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any

from .. import faults
from ..encoder import encode_event
from ..plan import Plan
from ..text import answer_for, pieces, prompt_of
from ._dialect import Dialect

__all__ = ["DIALECT", "FAULTS", "EventPlan", "make_plan", "error_body"]

FAULTS: dict[str, faults.Fault] = {}
fault = functools.partial(faults.fault, registry=FAULTS)

PING = {"type": "ping"}  # never changed in place: faults insert copies
STOP = {"type": "message_stop"}


@dataclass
class EventPlan(Plan):
    """A plan whose events are named after their data's ``type`` (``event: message_start``)."""

    # Faults: types sent under another event name, or (None) with no event field at all.
    renamed: dict[str, str | None] = field(default_factory=dict)

    def encode_chunk(self, chunk: dict[str, Any]) -> bytes:
        kind = chunk.get("type")
        event = self.renamed.get(kind, kind) if isinstance(kind, str) else None
        return encode_event(json.dumps(chunk, ensure_ascii=False), event=event, sep=self.sep)


def _text_block(index: int, text: str, n: int) -> list[dict[str, Any]]:
    deltas = [{"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": p}}
              for p in pieces(text, n)]
    return [
        {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
        dict(PING),  # where the API sends its first keep-alive
        *deltas,
        {"type": "content_block_stop", "index": index},
    ]


def _tool_block(index: int, tool_id: str, name: str, arguments: str, n: int) -> list[dict[str, Any]]:
    """A tool_use block, its input streamed as input_json_delta fragments (the first one empty, as the API does)."""
    block = {"type": "tool_use", "id": tool_id, "name": name, "input": {}}
    deltas = [{"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": p}}
              for p in ["", *pieces(arguments, n)]]
    return [
        {"type": "content_block_start", "index": index, "content_block": block},
        *deltas,
        {"type": "content_block_stop", "index": index},
    ]


def _message_delta(stop_reason: str | None, output_tokens: int) -> dict[str, Any]:
    return {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": None},
        "usage": {"output_tokens": output_tokens},
    }


def _tool_name(body: dict[str, Any]) -> str | None:
    """The name of the first tool the request offers, if any."""
    for tool in body.get("tools") or []:
        if isinstance(tool, dict) and isinstance(tool.get("name"), str):
            return tool["name"]
    return None


def make_plan(body: dict[str, Any], response_id: str, n_chunks: int) -> Plan:
    """A correct stream: message_start, a text block (and a tool_use block, when the request
    offers tools), message_delta with the stop_reason, message_stop."""
    prompt = prompt_of(body["messages"])
    text = answer_for(prompt)
    message = {
        "id": response_id,
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": body["model"],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": len(prompt.split()), "output_tokens": 1},
    }
    chunks = [{"type": "message_start", "message": message}, *_text_block(0, text, n_chunks)]
    tool, stop_reason = _tool_name(body), "end_turn"
    if tool is not None:
        tool_id = "toolu_" + response_id.removeprefix("msg_")
        chunks += _tool_block(1, tool_id, tool, json.dumps({"query": prompt}), n_chunks)
        stop_reason = "tool_use"
    chunks += [_message_delta(stop_reason, len(text.split())), dict(STOP)]
    return EventPlan(chunks=chunks, terminator=None)


def error_body(message: str, kind: str) -> dict[str, Any]:
    """An error response body (and error event data), as Anthropic shapes it."""
    return {"type": "error", "error": {"type": f"{kind}_error", "message": message}}


# -- faults: each breaks one rule of the anthropic-messages profile -------------------------


def _at(plan: Plan, kind: str) -> int:
    """The position of the first event of a type."""
    return next(i for i, c in enumerate(plan.chunks) if c["type"] == kind)


@fault("no-message-stop", "never sends message_stop", "DONE-PRESENT")
def _no_message_stop(plan: Plan) -> None:
    del plan.chunks[_at(plan, "message_stop")]


@fault("message-stop-twice", "sends message_stop twice", "DONE-ONCE")
def _message_stop_twice(plan: Plan) -> None:
    plan.chunks.append(dict(STOP))


@fault("after-message-stop", "sends a ping after message_stop", "DONE-LAST")
def _after_message_stop(plan: Plan) -> None:
    plan.chunks.append(dict(PING))


@fault("delta-unnamed", "sends content_block_delta events without an event name (the SDK skips them)",
       "PAYLOAD-EVENT-NAME")
def _delta_unnamed(plan: Plan) -> None:
    assert isinstance(plan, EventPlan)
    plan.renamed["content_block_delta"] = None


@fault("message-stop-misnamed", "names the last event 'Message_stop' (a near miss of the terminator)",
       "DONE-PRESENT", "PAYLOAD-EVENT-NAME")
def _message_stop_misnamed(plan: Plan) -> None:
    assert isinstance(plan, EventPlan)
    plan.renamed["message_stop"] = "Message_stop"


@fault("pings", "sends a ping after every event (benign: clients skip pings)")
def _pings(plan: Plan) -> None:
    last = len(plan.chunks) - 1
    plan.chunks[:] = [c for i, chunk in enumerate(plan.chunks) for c in ([chunk, dict(PING)] if i < last else [chunk])]


@fault("error-event", "reports an internal error in an error event after the first delta", "PAYLOAD-NO-ERROR")
def _error_event(plan: Plan) -> None:
    plan.chunks.insert(_at(plan, "content_block_delta") + 1, error_body("Internal server error", "api"))


@fault("overloaded-event", "reports overloaded_error in an error event after the first delta, on every stream: "
       "the API's 'try later', so the suite cannot judge it", not_judged=True)
def _overloaded_event(plan: Plan) -> None:
    plan.chunks.insert(_at(plan, "content_block_delta") + 1, error_body("Overloaded", "overloaded"))


@fault("error-malformed", "reports an error whose data does not match the error schema",
       "PAYLOAD-NO-ERROR", "PAYLOAD-ERROR-SCHEMA")
def _error_malformed(plan: Plan) -> None:
    plan.chunks.insert(_at(plan, "content_block_delta") + 1, {"type": "error", "error": "Overloaded"})


@fault("no-message-start", "leaves out message_start", "ANTHROPIC-MESSAGE-START")
def _no_message_start(plan: Plan) -> None:
    del plan.chunks[_at(plan, "message_start")]


@fault("block-not-stopped", "never stops the text block", "ANTHROPIC-BLOCK-ORDER")
def _block_not_stopped(plan: Plan) -> None:
    del plan.chunks[_at(plan, "content_block_stop")]


@fault("delta-type-mismatch", "sends a piece of the text as an input_json_delta", "ANTHROPIC-DELTA-TYPE")
def _delta_type_mismatch(plan: Plan) -> None:
    delta = plan.chunks[_at(plan, "content_block_delta")]["delta"]
    delta.update(type="input_json_delta", partial_json=delta.pop("text"))


@fault("no-stop-reason", "sends message_delta with stop_reason null", "ANTHROPIC-STOP-REASON")
def _no_stop_reason(plan: Plan) -> None:
    plan.chunks[_at(plan, "message_delta")]["delta"]["stop_reason"] = None


@fault("tool-input-invalid", "adds a tool_use block whose input fragments do not join into JSON",
       "ANTHROPIC-TOOL-INPUT-JSON")
def _tool_input_invalid(plan: Plan) -> None:
    index = sum(1 for c in plan.chunks if c["type"] == "content_block_start")
    broken = '{"query": "weather in Paris"'  # the closing brace never comes
    at = _at(plan, "message_delta")
    plan.chunks[at:at] = _tool_block(index, "toolu_broken", "lookup", broken, 4)
    plan.chunks[_at(plan, "message_delta")]["delta"]["stop_reason"] = "tool_use"


DIALECT = Dialect("/v1/messages", "anthropic-messages", make_plan, FAULTS, error_body)
