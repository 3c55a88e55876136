"""The ``openai-responses`` and ``open-responses`` dialects: ``POST /v1/responses`` streamed as
OpenAI streams the Responses API (``/openresponses/v1/responses``: the same, then ``data: [DONE]``,
as the Open Responses specification asks), and the faults that each break one rule of it.

The wire format follows the OpenAI API reference ("Streaming events"), the official ``openai``
Python SDK, which reads it (``openai/_streaming.py``: an event whose data has a truthy ``error``
is raised as ``APIError``, ``[DONE]`` ends the stream; ``openai/lib/streaming/responses/``: the
events accumulated into a response), and the Open Responses specification. Every event is named
after its data's ``type`` and numbered by ``sequence_number`` from 0; the terminal event
(``response.completed``) is the last.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import faults
from ..plan import Frames, Plan
from ..text import answer_for, pieces, prompt_of
from ._dialect import Dialect
from .anthropic_messages import EventPlan
from .openai_chat import error_body

__all__ = ["DIALECT", "OPEN_DIALECT", "FAULTS", "OPEN_FAULTS", "ResponsesPlan", "make_plan", "make_open_plan",
           "error_body"]

FAULTS: dict[str, faults.Fault] = {}
fault = functools.partial(faults.fault, registry=FAULTS)
DONE_FAULTS: dict[str, faults.Fault] = {}  # the open-responses dialect's own, about its [DONE]

KEEPALIVE = {"type": "keepalive"}  # never changed in place: faults insert copies


def _same(position: int) -> int | None:
    return position


@dataclass
class ResponsesPlan(EventPlan):
    """Events named after their ``type``, numbered in order as they are sent: the faults insert
    and remove events without renumbering, and break the numbering only through ``number``."""

    number: Callable[[int], int | None] = _same  # position -> sequence_number (None: leave it out)

    def frames(self) -> Frames:
        self.chunks = [_numbered(chunk, self.number(i)) for i, chunk in enumerate(self.chunks)]
        return super().frames()


def _numbered(chunk: dict[str, Any], number: int | None) -> dict[str, Any]:
    rest = {k: v for k, v in chunk.items() if k not in ("type", "sequence_number")}
    return {"type": chunk["type"], **({} if number is None else {"sequence_number": number}), **rest}


def _response(head: dict[str, Any], status: str, output: list[dict[str, Any]], usage: Any = None) -> dict[str, Any]:
    return {**head, "status": status, "output": output, "usage": usage}


def _message(index: int, item_id: str, text: str, n: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The events of a message item streaming ``text``, and the item as it ends."""
    at = {"item_id": item_id, "output_index": index, "content_index": 0}
    part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
    item = {"id": item_id, "type": "message", "status": "in_progress", "role": "assistant", "content": []}
    done = {**item, "status": "completed", "content": [{**part, "text": text}]}
    return [
        {"type": "response.output_item.added", "output_index": index, "item": item},
        {"type": "response.content_part.added", **at, "part": part},
        *({"type": "response.output_text.delta", **at, "delta": p, "logprobs": []} for p in pieces(text, n)),
        {"type": "response.output_text.done", **at, "text": text, "logprobs": []},
        {"type": "response.content_part.done", **at, "part": {**part, "text": text}},
        {"type": "response.output_item.done", "output_index": index, "item": done},
    ], done


def _function_call(index: int, item_id: str, name: str, arguments: str, n: int,
                   final: str | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The events of a function call item, its arguments streamed in deltas (``final``: what its .done says)."""
    final = arguments if final is None else final
    at = {"item_id": item_id, "output_index": index}
    item = {"id": item_id, "type": "function_call", "status": "in_progress", "call_id": "call_" + item_id[3:],
            "name": name, "arguments": ""}
    done = {**item, "status": "completed", "arguments": final}
    return [
        {"type": "response.output_item.added", "output_index": index, "item": item},
        *({"type": "response.function_call_arguments.delta", **at, "delta": p} for p in pieces(arguments, n)),
        {"type": "response.function_call_arguments.done", **at, "arguments": final},
        {"type": "response.output_item.done", "output_index": index, "item": done},
    ], done


def _prompt(body: dict[str, Any]) -> str:
    given = body["input"]
    return given if isinstance(given, str) else prompt_of(given)


def _tool_name(body: dict[str, Any]) -> str | None:
    """The name of the first function tool the request offers (Responses tools are flat)."""
    for tool in body.get("tools") or []:
        if isinstance(tool, dict) and tool.get("type") == "function" and isinstance(tool.get("name"), str):
            return tool["name"]
    return None


def _plan(body: dict[str, Any], response_id: str, n_chunks: int, terminator: str | None) -> Plan:
    rid = response_id.removeprefix("msg_")
    head = {"id": "resp_" + rid, "object": "response", "created_at": int(time.time()), "model": body["model"],
            "error": None, "incomplete_details": None, "instructions": None, "metadata": {},
            "parallel_tool_calls": True, "temperature": 1.0, "tool_choice": "auto", "tools": [], "top_p": 1.0}
    prompt = _prompt(body)
    tool = _tool_name(body)
    if tool is not None:
        events, item = _function_call(0, "fc_" + rid, tool, json.dumps({"query": prompt}), n_chunks)
    else:
        events, item = _message(0, "msg_" + rid, answer_for(prompt), n_chunks)
    n_in, n_out = len(prompt.split()), len(answer_for(prompt).split())  # word counts stand in for tokens
    usage = {"input_tokens": n_in, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": n_out,
             "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": n_in + n_out}
    chunks = [
        {"type": "response.created", "response": _response(head, "in_progress", [])},
        {"type": "response.in_progress", "response": _response(head, "in_progress", [])},
        *events,
        {"type": "response.completed", "response": _response(head, "completed", [item], usage)},
    ]
    return ResponsesPlan(chunks=chunks, terminator=terminator)


def make_plan(body: dict[str, Any], response_id: str, n_chunks: int) -> Plan:
    """A correct OpenAI Responses stream: created, in_progress, one output item (a message, or a
    function call when the request offers a function tool), completed; no [DONE]."""
    return _plan(body, response_id, n_chunks, None)


def make_open_plan(body: dict[str, Any], response_id: str, n_chunks: int) -> Plan:
    """A correct Open Responses stream: the same events, then ``data: [DONE]``."""
    return _plan(body, response_id, n_chunks, "[DONE]")


# -- faults: each breaks one rule of the openai-responses profile ---------------------------


def _at(plan: Plan, kind: str, nth: int = 0) -> int:
    """The position of the nth event of a type."""
    return [i for i, c in enumerate(plan.chunks) if c["type"] == kind][nth]


def _numbering(plan: Plan, number: Callable[[int], int | None]) -> None:
    assert isinstance(plan, ResponsesPlan)
    plan.number = number


@fault("sequence-gap", "skips a sequence_number after the fourth event", "RESPONSES-SEQUENCE")
def _sequence_gap(plan: Plan) -> None:
    _numbering(plan, lambda i: i if i < 4 else i + 1)


@fault("sequence-restart", "numbers the events from 0 again after the fourth", "RESPONSES-SEQUENCE")
def _sequence_restart(plan: Plan) -> None:
    _numbering(plan, lambda i: i if i < 4 else i - 4)


@fault("sequence-missing", "leaves sequence_number out of the fourth event", "RESPONSES-SEQUENCE")
def _sequence_missing(plan: Plan) -> None:
    _numbering(plan, lambda i: None if i == 3 else i)


@fault("type-mismatch", "names the text deltas 'response.text.delta' (the beta name), their type says otherwise",
       "PAYLOAD-EVENT-NAME")
def _type_mismatch(plan: Plan) -> None:
    assert isinstance(plan, EventPlan)
    plan.renamed["response.output_text.delta"] = "response.text.delta"


@fault("no-created", "leaves out response.created", "RESPONSES-CREATED-FIRST")
def _no_created(plan: Plan) -> None:
    del plan.chunks[_at(plan, "response.created")]


@fault("item-not-done", "never closes the output item (no response.output_item.done)", "RESPONSES-ITEM-ORDER")
def _item_not_done(plan: Plan) -> None:
    del plan.chunks[_at(plan, "response.output_item.done")]


@fault("item-id-mismatch", "names another item_id in the first text delta", "RESPONSES-ITEM-ORDER")
def _item_id_mismatch(plan: Plan) -> None:
    plan.chunks[_at(plan, "response.output_text.delta")]["item_id"] = "msg_another"


@fault("no-content-part", "streams the text without opening a content part (no response.content_part.added)",
       "RESPONSES-PART-ORDER")
def _no_content_part(plan: Plan) -> None:
    del plan.chunks[_at(plan, "response.content_part.added")]


@fault("delta-after-done", "sends one more text delta after response.output_text.done", "RESPONSES-PART-ORDER")
def _delta_after_done(plan: Plan) -> None:
    at = _at(plan, "response.output_text.done")
    plan.chunks.insert(at + 1, {**plan.chunks[at - 1], "delta": " (late)"})


@fault("text-mismatch", "sends a response.output_text.done whose text is not what the deltas joined to",
       "RESPONSES-TEXT-JOINS")
def _text_mismatch(plan: Plan) -> None:
    plan.chunks[_at(plan, "response.output_text.done")]["text"] += " (edited)"


@fault("no-terminal", "never sends response.completed", "RESPONSES-TERMINAL")
def _no_terminal(plan: Plan) -> None:
    del plan.chunks[_at(plan, "response.completed")]


@fault("terminal-twice", "sends response.completed twice", "RESPONSES-TERMINAL")
def _terminal_twice(plan: Plan) -> None:
    plan.chunks.append(dict(plan.chunks[_at(plan, "response.completed")]))


@fault("after-terminal", "sends a keepalive after response.completed", "RESPONSES-TERMINAL")
def _after_terminal(plan: Plan) -> None:
    plan.chunks.append(dict(KEEPALIVE))


@fault("response-id-changes", "names another response id in response.completed", "PAYLOAD-ID-STABLE")
def _response_id_changes(plan: Plan) -> None:
    completed = plan.chunks[_at(plan, "response.completed")]
    completed["response"] = {**completed["response"], "id": completed["response"]["id"] + "x"}


def _fail_after_first_delta(plan: Plan, error: dict[str, Any]) -> None:
    """The stream breaks off as the API's does: the error event, then response.failed."""
    at = _at(plan, "response.output_text.delta") + 1
    response = plan.chunks[_at(plan, "response.created")]["response"]
    failed = {**response, "status": "failed", "error": {"code": "server_error", "message": "The model failed."}}
    plan.chunks[at:] = [error, {"type": "response.failed", "response": failed}]


@fault("error-event", "reports a server error after the first delta, nested as the API sends it, then "
       "response.failed", "PAYLOAD-NO-ERROR")
def _error_event(plan: Plan) -> None:
    error = {"type": "server_error", "code": "server_error", "message": "The server had an error.", "param": None}
    _fail_after_first_delta(plan, {"type": "error", "error": error})


@fault("error-event-flat", "reports a server error after the first delta, flat as the API reference documents it",
       "PAYLOAD-NO-ERROR")
def _error_event_flat(plan: Plan) -> None:
    _fail_after_first_delta(plan, {"type": "error", "code": "server_error", "message": "The server had an error.",
                                   "param": None})


@fault("error-malformed", "reports an error whose data matches neither error shape",
       "PAYLOAD-NO-ERROR", "PAYLOAD-ERROR-SCHEMA")
def _error_malformed(plan: Plan) -> None:
    _fail_after_first_delta(plan, {"type": "error", "error": "overloaded"})


def _with_function_call(plan: Plan, arguments: str, final: str | None = None) -> None:
    """The output item replaced by a call of ``lookup`` with these argument deltas."""
    first = _at(plan, "response.output_item.added")
    last = _at(plan, "response.output_item.done")
    events, item = _function_call(0, "fc_broken", "lookup", arguments, 4, final)
    plan.chunks[first : last + 1] = events
    completed = plan.chunks[_at(plan, "response.completed")]
    completed["response"] = {**completed["response"], "output": [item]}


@fault("args-invalid", "answers with a function call whose arguments are not JSON", "RESPONSES-ARGS-JSON")
def _args_invalid(plan: Plan) -> None:
    broken = '{"query": "weather in Paris"'  # the closing brace never comes
    _with_function_call(plan, broken)


@fault("args-mismatch", "answers with a function call whose .done arguments are not what the deltas joined to",
       "RESPONSES-ARGS-JSON")
def _args_mismatch(plan: Plan) -> None:
    _with_function_call(plan, '{"query": "weather in Paris"}', '{"query": "weather in Rome"}')


@fault("keepalives", "sends a keepalive event after every event but the last (benign: clients skip them)")
def _keepalives(plan: Plan) -> None:
    last = len(plan.chunks) - 1
    plan.chunks[:] = [c for i, chunk in enumerate(plan.chunks)
                      for c in ([chunk, dict(KEEPALIVE)] if i < last else [chunk])]


@fault("queued", "sends response.queued between response.created and response.in_progress (benign)")
def _queued(plan: Plan) -> None:
    created = plan.chunks[_at(plan, "response.created")]
    plan.chunks.insert(1, {"type": "response.queued", "response": {**created["response"], "status": "queued"}})


@fault("reasoning", "streams a reasoning item with a summary before the message (benign: two output items)")
def _reasoning(plan: Plan) -> None:
    for chunk in plan.chunks:
        if "output_index" in chunk:
            chunk["output_index"] += 1
    summary = "The user asks why streaming helps; answer briefly."
    at = {"item_id": "rs_1", "output_index": 0, "summary_index": 0}
    item = {"id": "rs_1", "type": "reasoning", "summary": []}
    done = {**item, "summary": [{"type": "summary_text", "text": summary}]}
    part = {"type": "summary_text", "text": ""}
    plan.chunks[_at(plan, "response.in_progress") + 1 : _at(plan, "response.in_progress") + 1] = [
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {"type": "response.reasoning_summary_part.added", **at, "part": part},
        *({"type": "response.reasoning_summary_text.delta", **at, "delta": p} for p in pieces(summary, 3)),
        {"type": "response.reasoning_summary_text.done", **at, "text": summary},
        {"type": "response.reasoning_summary_part.done", **at, "part": {**part, "text": summary}},
        {"type": "response.output_item.done", "output_index": 0, "item": done},
    ]
    completed = plan.chunks[_at(plan, "response.completed")]
    completed["response"] = {**completed["response"], "output": [done, *completed["response"]["output"]]}


@fault("no-done", "never sends the [DONE] that ends an Open Responses stream", "DONE-PRESENT",
       registry=DONE_FAULTS)
def _no_done(plan: Plan) -> None:
    plan.terminator = None


# The open-responses dialect breaks the same rules the same way, and its [DONE] too.
OPEN_FAULTS = {**FAULTS, **DONE_FAULTS}


DIALECT = Dialect("/v1/responses", "openai-responses", make_plan, FAULTS, error_body)
OPEN_DIALECT = Dialect("/openresponses/v1/responses", "open-responses", make_open_plan, OPEN_FAULTS, error_body)
