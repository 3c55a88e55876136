"""The ``gemini`` dialect: ``POST /v1beta/models/{model}:streamGenerateContent?alt=sse`` streamed as
Google streams Gemini answers, and the faults that each break one rule of it.

The wire format follows the Gemini API reference (``models.streamGenerateContent``,
``GenerateContentResponse``) and the official ``google-genai`` Python SDK, which reads it
(``google/genai/_api_client.py``: ``data: `` lines; a chunk ``{"error": ...}`` raised as
``APIError``). Each event's data is a whole GenerateContentResponse; events are framed with CRLF,
as the live API frames them; no event names, no ``[DONE]``. Without ``?alt=sse`` the answer is
one JSON array (``application/json``), as the API's is.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from starlette.requests import Request

from .. import faults
from ..plan import Frames, Plan
from ..text import answer_for, pieces
from ._dialect import Dialect

__all__ = ["DIALECT", "FAULTS", "make_plan", "adapt", "error_body"]

FAULTS: dict[str, faults.Fault] = {}
fault = functools.partial(faults.fault, registry=FAULTS)

MODEL_VERSION = "gemini-2.0-flash"  # until adapt() names the model of the URL
# google.rpc.Code names of the statuses the server answers (the API's error "status"), and the
# status of each kind of refusal the app makes (app.error names the kind, not the status).
STATUS = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 415: "INVALID_ARGUMENT", 500: "INTERNAL", 503: "UNAVAILABLE"}
KIND_STATUS = {"not_found": 404, "unsupported_media_type": 415, "server_error": 500}


def _prompt(contents: list[dict[str, Any]]) -> str:
    """The text of the last user turn (a turn with no role is the user's)."""
    for content in reversed(contents):
        if content.get("role", "user") == "user":
            parts = content.get("parts") or []
            return " ".join(p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def _chunk(response_id: str, text: str, model: str = MODEL_VERSION, **candidate: Any) -> dict[str, Any]:
    return {
        "candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "index": 0, **candidate}],
        "modelVersion": model,
        "responseId": response_id,
    }


def _like(chunk: dict[str, Any], text: str, **candidate: Any) -> dict[str, Any]:
    """Another chunk of the same response as ``chunk`` (a fault's: after adapt() named the model)."""
    return _chunk(chunk["responseId"], text, chunk["modelVersion"], **candidate)


def _usage(prompt: int, candidates: int | None = None, thoughts: int = 0) -> dict[str, Any]:
    usage: dict[str, Any] = {"promptTokenCount": prompt}
    if candidates is not None:
        usage["candidatesTokenCount"] = candidates
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    usage["totalTokenCount"] = prompt + (candidates or 0) + thoughts
    usage["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": prompt}]
    return usage


def make_plan(body: dict[str, Any], response_id: str, n_chunks: int) -> Plan:
    """A correct stream: the answer in pieces, the last with finishReason STOP and the usage."""
    prompt = _prompt(body["contents"])
    text = answer_for(prompt)
    rid = response_id.removeprefix("msg_")
    chunks = [_chunk(rid, p) for p in pieces(text, n_chunks)]
    chunks[-1]["candidates"][0]["finishReason"] = "STOP"
    chunks[-1]["usageMetadata"] = _usage(len(prompt.split()), len(text.split()))  # words stand in for tokens
    return Plan(chunks=chunks, terminator=None, sep="\r\n")


def adapt(plan: Plan, request: Request) -> None:
    """The plan as the request's URL shapes it: the model it names; a JSON array without ?alt=sse."""
    model = request.path_params.get("model", MODEL_VERSION)
    for chunk in plan.chunks:
        if "modelVersion" in chunk:
            chunk["modelVersion"] = model
    if request.query_params.get("alt") != "sse":
        _as_json_array(plan)


def _as_json_array(plan: Plan) -> None:
    """The answer as the API gives it without ?alt=sse: one JSON array, streamed element by element."""
    plan.headers["content-type"] = "application/json; charset=UTF-8"

    def array(frames: Frames) -> Frames:
        items = [json.dumps(c, ensure_ascii=False) for c in plan.chunks]
        return [(("[" if i == 0 else ",\r\n") + item + ("]" if i == len(items) - 1 else "")).encode()
                for i, item in enumerate(items)]

    plan.edits.append(array)


def error_body(message: str, kind: str, status: int | None = None) -> dict[str, Any]:
    """An error response body (and in-stream error chunk), as Google APIs shape it."""
    code = status or KIND_STATUS.get(kind, 400)
    return {"error": {"code": code, "message": message, "status": STATUS.get(code, "INVALID_ARGUMENT")}}


# -- faults: each breaks one rule of the gemini profile --------------------------------------


@fault("response-id-changes", "gives the third chunk another responseId", "PAYLOAD-ID-STABLE", "GEMINI-ID-STABLE")
def _response_id_changes(plan: Plan) -> None:
    plan.chunks[2]["responseId"] += "x"


@fault("model-version-changes", "names another modelVersion in the third chunk", "GEMINI-ID-STABLE")
def _model_version_changes(plan: Plan) -> None:
    plan.chunks[2]["modelVersion"] = "another-model"


@fault("no-finish-reason", "never sends a finishReason", "GEMINI-FINISH-ONCE")
def _no_finish_reason(plan: Plan) -> None:
    del plan.chunks[-1]["candidates"][0]["finishReason"]


@fault("finish-twice", "sends finishReason STOP on the last two chunks", "GEMINI-FINISH-ONCE")
def _finish_twice(plan: Plan) -> None:
    plan.chunks[-2]["candidates"][0]["finishReason"] = "STOP"


@fault("text-after-finish", "sends more text after the chunk with the finishReason", "GEMINI-FINISH-ONCE")
def _text_after_finish(plan: Plan) -> None:
    plan.chunks.append(_like(plan.chunks[-1], " (late)"))


@fault("usage-total-short", "sends a totalTokenCount smaller than the prompt and candidates counts together",
       "GEMINI-USAGE-TOTALS")
def _usage_total_short(plan: Plan) -> None:
    plan.chunks[-1]["usageMetadata"]["totalTokenCount"] = 1


@fault("error-chunk", "reports an internal error in a chunk after the second one", "PAYLOAD-NO-ERROR")
def _error_chunk(plan: Plan) -> None:
    plan.chunks.insert(2, error_body("An internal error has occurred. Please retry.", "", 500))


@fault("overloaded-chunk", "reports UNAVAILABLE (overloaded) in a chunk after the second one, on every stream: "
       "the API's 'try later', so the suite cannot judge it", not_judged=True)
def _overloaded_chunk(plan: Plan) -> None:
    plan.chunks.insert(2, error_body("The model is overloaded. Please try again later.", "", 503))


@fault("error-malformed", "reports an error whose body does not match the error schema",
       "PAYLOAD-NO-ERROR", "PAYLOAD-ERROR-SCHEMA")
def _error_malformed(plan: Plan) -> None:
    plan.chunks.insert(2, {"error": "overloaded"})


@fault("json-array", "answers one JSON array (application/json), as the API does without ?alt=sse",
       "HTTP-CONTENT-TYPE")
def _json_array(plan: Plan) -> None:
    _as_json_array(plan)


@fault("lf", "frames the events with LF rather than CRLF (benign)")
def _lf(plan: Plan) -> None:
    plan.sep = "\n"


@fault("usage-every-chunk", "sends usageMetadata in every chunk, the prompt's count until the last (benign)")
def _usage_every_chunk(plan: Plan) -> None:
    prompt = plan.chunks[-1]["usageMetadata"]["promptTokenCount"]
    for chunk in plan.chunks[:-1]:
        chunk["usageMetadata"] = _usage(prompt)


@fault("thoughts", "streams a thought summary first and counts thoughtsTokenCount (benign)")
def _thoughts(plan: Plan) -> None:
    first = _like(plan.chunks[0], "Thinking about streaming.")
    first["candidates"][0]["content"]["parts"][0]["thought"] = True
    plan.chunks.insert(0, first)
    usage = plan.chunks[-1]["usageMetadata"]
    usage.update(_usage(usage["promptTokenCount"], usage["candidatesTokenCount"], thoughts=4))


@fault("finish-in-empty-chunk", "sends the finishReason on a last chunk of empty text with a thoughtSignature "
       "(benign, as the API does)")
def _finish_in_empty_chunk(plan: Plan) -> None:
    last = plan.chunks[-1]
    candidate = last["candidates"][0]
    end = _like(last, "", finishReason=candidate.pop("finishReason"))
    end["candidates"][0]["content"]["parts"][0]["thoughtSignature"] = "c2lnbmF0dXJl"
    end["usageMetadata"] = last.pop("usageMetadata")
    plan.chunks.append(end)


DIALECT = Dialect("/v1beta/models/{model}:streamGenerateContent", "gemini", make_plan, FAULTS, error_body, adapt)
