"""The ``openai-chat`` dialect: ``POST /v1/chat/completions`` streamed as OpenAI streams chat
completions, and the faults that each break one rule of it.

The wire format follows the OpenAI API reference and the official ``openai`` Python SDK,
which reads it (``openai/_streaming.py``: ``data:`` events, a ``data: [DONE]`` sentinel, an
``{"error": ...}`` chunk raised as ``APIError``; ``openai/types/chat/chat_completion_chunk.py``:
the chunk's fields). The self-tests stream from this server with that SDK as a witness.
"""

from __future__ import annotations

import functools
import json
import time
from typing import Any

from .. import faults
from ..plan import Plan
from ..text import answer_for, pieces, prompt_of
from ._dialect import Dialect

__all__ = ["DIALECT", "FAULTS", "make_plan", "error_body"]

FAULTS: dict[str, faults.Fault] = {}
fault = functools.partial(faults.fault, registry=FAULTS)


def _head(chunk: dict[str, Any]) -> dict[str, Any]:
    """The fields every chunk of the completion repeats: all but the choices."""
    return {k: v for k, v in chunk.items() if k != "choices"}


def _chunk(head: dict[str, Any], delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {**head, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}


def _text_chunks(head: dict[str, Any], text: str, n: int) -> list[dict[str, Any]]:
    first = _chunk(head, {"role": "assistant", "content": "", "refusal": None})
    return [first, *(_chunk(head, {"content": p}) for p in pieces(text, n)), _chunk(head, {}, "stop")]


def _tool_call_chunks(head: dict[str, Any], name: str, arguments: str, n: int) -> list[dict[str, Any]]:
    """A call of tool ``name``, its arguments streamed in fragments."""
    function = {"name": name, "arguments": ""}
    call = {"index": 0, "id": f"call_{head['id'][-12:]}", "type": "function", "function": function}
    first = _chunk(head, {"role": "assistant", "content": None, "tool_calls": [call]})
    rest = [_chunk(head, {"tool_calls": [{"index": 0, "function": {"arguments": p}}]}) for p in pieces(arguments, n)]
    return [first, *rest, _chunk(head, {}, "tool_calls")]


def _tool_name(body: dict[str, Any]) -> str | None:
    """The name of the first function tool the request offers, if any."""
    for tool in body.get("tools") or []:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            return function["name"]
    return None


def _asks_for_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def make_plan(body: dict[str, Any], response_id: str, n_chunks: int) -> Plan:
    """A correct stream: role first, the text (or a tool call, when the request offers tools),
    a finish_reason, and with ``stream_options.include_usage`` a last chunk with usage only."""
    head: dict[str, Any] = {
        "id": "chatcmpl-" + response_id.removeprefix("msg_"),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body["model"],
        "system_fingerprint": "fp_reference",
    }
    prompt = prompt_of(body["messages"])
    text = answer_for(prompt)
    usage = _asks_for_usage(body)
    if usage:
        head["usage"] = None  # as OpenAI sends it: null in every chunk but the usage chunk
    tool = _tool_name(body)
    if tool is not None:
        chunks = _tool_call_chunks(head, tool, json.dumps({"query": prompt}), n_chunks)
    else:
        chunks = _text_chunks(head, text, n_chunks)
    if usage:
        chunks.append(_usage_chunk(chunks[0], prompt, text))
    return Plan(chunks=chunks)


def _usage_chunk(like: dict[str, Any], prompt: str, text: str) -> dict[str, Any]:
    # Word counts stand in for tokens.
    n_in, n_out = len(prompt.split()), len(text.split())
    usage = {"prompt_tokens": n_in, "completion_tokens": n_out, "total_tokens": n_in + n_out}
    return {**_head(like), "choices": [], "usage": usage}


def error_body(message: str, kind: str) -> dict[str, Any]:
    """An error response body, as OpenAI shapes it."""
    return {"error": {"message": message, "type": f"{kind}_error", "param": None, "code": None}}


# -- faults: each breaks one rule of the openai-chat profile ------------------------------


def _finish_at(plan: Plan) -> int:
    """The position of the chunk that carries the finish_reason."""
    return next(i for i, c in enumerate(plan.chunks) if c["choices"] and c["choices"][0]["finish_reason"])


def _usage_at(plan: Plan) -> int | None:
    return next((i for i, c in enumerate(plan.chunks) if c.get("usage") is not None), None)


@fault("id-changes", "gives the third chunk another id", "OPENAI-ID-STABLE")
def _id_changes(plan: Plan) -> None:
    plan.chunks[2]["id"] += "x"


@fault("model-changes", "names another model in the third chunk", "OPENAI-ID-STABLE")
def _model_changes(plan: Plan) -> None:
    plan.chunks[2]["model"] = "another-model"


@fault("no-role", "leaves role out of the first delta", "OPENAI-ROLE-FIRST")
def _no_role(plan: Plan) -> None:
    del plan.chunks[0]["choices"][0]["delta"]["role"]


@fault("finish-twice", "sends a finish_reason in the last content chunk and again after it", "OPENAI-FINISH-ONCE")
def _finish_twice(plan: Plan) -> None:
    plan.chunks[_finish_at(plan) - 1]["choices"][0]["finish_reason"] = "stop"


@fault("no-finish", "never sends a finish_reason", "OPENAI-FINISH-ONCE")
def _no_finish(plan: Plan) -> None:
    plan.chunks[_finish_at(plan)]["choices"][0]["finish_reason"] = None


@fault("content-after-finish", "sends more content after the finish_reason", "OPENAI-FINISH-ONCE")
def _content_after_finish(plan: Plan) -> None:
    at = _finish_at(plan)
    plan.chunks.insert(at + 1, _chunk(_head(plan.chunks[at]), {"content": " (late)"}))


@fault("usage-unasked", "sends a usage chunk though the request did not ask for one", "OPENAI-USAGE-ABSENT")
def _usage_unasked(plan: Plan) -> None:
    plan.chunks.append(_usage_chunk(plan.chunks[0], "", "unasked"))


@fault("usage-missing", "with include_usage asked, sends no usage chunk", "OPENAI-USAGE-LAST")
def _usage_missing(plan: Plan) -> None:
    at = _usage_at(plan)
    if at is not None:
        del plan.chunks[at]


@fault("usage-not-last", "with include_usage asked, sends the usage chunk before the finish_reason",
       "OPENAI-USAGE-LAST")
def _usage_not_last(plan: Plan) -> None:
    at = _usage_at(plan)
    if at is not None:
        plan.chunks.insert(_finish_at(plan), plan.chunks.pop(at))


@fault("usage-null", "puts \"usage\": null in every chunk, asked for or not (benign: null is no usage)")
def _usage_null(plan: Plan) -> None:
    for chunk in plan.chunks:
        chunk.setdefault("usage", None)


@fault("error-event", "reports an error in a chunk after the second one", "PAYLOAD-NO-ERROR")
def _error_event(plan: Plan) -> None:
    message = "The server had an error while processing your request."
    plan.chunks.insert(2, error_body(message, "server"))


@fault("error-malformed", "reports an error whose body does not match the error schema",
       "PAYLOAD-NO-ERROR", "PAYLOAD-ERROR-SCHEMA")
def _error_malformed(plan: Plan) -> None:
    plan.chunks.insert(2, {"error": "overloaded"})


@fault("tool-args-invalid", "answers with a tool call whose argument fragments do not join into JSON",
       "OPENAI-TOOL-ARGS-JSON")
def _tool_args_invalid(plan: Plan) -> None:
    usage = [plan.chunks[at]] if (at := _usage_at(plan)) is not None else []
    broken = '{"query": "weather in Paris"'  # the closing brace never comes
    plan.chunks[:] = _tool_call_chunks(_head(plan.chunks[0]), "lookup", broken, 4) + usage


# -- faults: tool-call arguments the suite must bound rather than join ----------------------


def _tool_call_with(plan: Plan, arguments: str) -> None:
    usage = [plan.chunks[at]] if (at := _usage_at(plan)) is not None else []
    plan.chunks[:] = _tool_call_chunks(_head(plan.chunks[0]), "lookup", arguments, 4) + usage


@fault("tool-args-deep", "answers with tool-call arguments nested 5000 arrays deep (deeper than Python recurses)",
       "OPENAI-TOOL-ARGS-JSON")
def _tool_args_deep(plan: Plan) -> None:
    _tool_call_with(plan, "[" * 5000)


@fault("tool-args-huge", "answers with tool-call arguments a byte longer than the suite joins (1 MiB)",
       "OPENAI-TOOL-ARGS-JSON")
def _tool_args_huge(plan: Plan) -> None:
    from conformance.dialects._common import MAX_ARGUMENTS  # the bound this fault passes

    envelope = json.dumps({"query": ""})
    _tool_call_with(plan, json.dumps({"query": "x" * (MAX_ARGUMENTS + 1 - len(envelope))}))


DIALECT = Dialect("/v1/chat/completions", "openai-chat", make_plan, FAULTS, error_body)
