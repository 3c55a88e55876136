"""The dialects' rules on streams shaped as the vendors' own, served byte for byte over a loopback
socket: a false alarm on a correct vendor stream is the worst bug a rule can have.

Each stream is written here after the shapes the vendors document and send (fields the rules do
not read, such as ``obfuscation``, ``logprobs``, ``thoughtSignature`` and ``trafficType``, kept),
with ids and text of our own. Where a live stream differs from the documentation, both are here.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from conformance import Limits, RequestSpec, load_profile
from conformance._rules import Outcome
from conformance._suite import checked_exchange
from conformance._transport import make_client

RESPONSE = {"id": "resp_0a1b2c", "object": "response", "created_at": 1760000000, "model": "gpt-5-2025-08-07",
            "output": [], "usage": None, "error": None, "incomplete_details": None, "tools": [], "metadata": {}}
MSG = {"item_id": "msg_0a1b2c", "output_index": 1, "content_index": 0}
REASONING = {"id": "rs_0a1b2c", "type": "reasoning", "summary": []}
MESSAGE = {"id": "msg_0a1b2c", "type": "message", "status": "in_progress", "role": "assistant", "content": []}
PART = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
TEXT = "Hi there!"
DONE_MESSAGE = {**MESSAGE, "status": "completed", "content": [{**PART, "text": TEXT}]}
USAGE = {"input_tokens": 9, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 20,
         "output_tokens_details": {"reasoning_tokens": 12}, "total_tokens": 29}

# A reasoning model's answer: a reasoning item with no summary streamed, then the message;
# deltas carry obfuscation padding.
RESPONSES_TEXT: list[dict[str, Any]] = [
    {"type": "response.created", "response": {**RESPONSE, "status": "in_progress"}},
    {"type": "response.in_progress", "response": {**RESPONSE, "status": "in_progress"}},
    {"type": "response.output_item.added", "output_index": 0, "item": REASONING},
    {"type": "response.output_item.done", "output_index": 0, "item": {**REASONING, "encrypted_content": None}},
    {"type": "response.output_item.added", "output_index": 1, "item": MESSAGE},
    {"type": "response.content_part.added", **MSG, "part": PART},
    {"type": "response.output_text.delta", **MSG, "delta": "Hi", "logprobs": [], "obfuscation": "q1w2e3r4t5y6"},
    {"type": "response.output_text.delta", **MSG, "delta": " there!", "logprobs": [], "obfuscation": "u7i8o9"},
    {"type": "response.output_text.done", **MSG, "text": TEXT, "logprobs": []},
    {"type": "response.content_part.done", **MSG, "part": {**PART, "text": TEXT}},
    {"type": "response.output_item.done", "output_index": 1, "item": DONE_MESSAGE},
    {"type": "response.completed", "response": {**RESPONSE, "status": "completed",
                                                "output": [REASONING, DONE_MESSAGE], "usage": USAGE}},
]
# An error after the response began, as the API sends it: nested, then response.failed.
RESPONSES_ERROR: list[dict[str, Any]] = [
    RESPONSES_TEXT[0], RESPONSES_TEXT[1],
    {"type": "error", "error": {"type": "invalid_request_error", "code": "unknown_error", "message": "Boom.",
                                "param": None}},
    {"type": "response.failed", "response": {**RESPONSE, "status": "failed",
                                             "error": {"code": "server_error", "message": "Boom."}}},
]


def responses_body(events: list[dict[str, Any]], done: bool = False) -> bytes:
    frames = [f"event: {e['type']}\ndata: {json.dumps({'type': e['type'], 'sequence_number': n, **e})}\n\n"
              for n, e in enumerate(events)]
    return "".join(frames + (["data: [DONE]\n\n"] if done else [])).encode()


def gemini_body(chunks: list[dict[str, Any]]) -> bytes:
    return "".join(f"data: {json.dumps(c)}\r\n\r\n" for c in chunks).encode()


def candidate(text: str, **more: Any) -> dict[str, Any]:
    return {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, **more}],
            "modelVersion": "gemini-2.5-flash", "createTime": "2026-03-10T14:54:45.066123Z", "responseId": "tTCwac"}


FINAL_PART = {"content": {"role": "model", "parts": [{"text": "", "thoughtSignature": "AY89a18i"}]},
              "finishReason": "STOP"}
# Vertex AI: usage without counts until the last chunk, which carries empty text and the finishReason.
GEMINI_VERTEX = [
    {**candidate("Hello!"), "usageMetadata": {"trafficType": "ON_DEMAND"}},
    {**candidate(" How can I help you today?"), "usageMetadata": {"trafficType": "ON_DEMAND"}},
    {**candidate(""), "candidates": [FINAL_PART],
     "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 9, "totalTokenCount": 10,
                       "trafficType": "ON_DEMAND"}},
]
# The Gemini API with thinking: the prompt's count in every chunk; thoughts counted beside the
# candidates (total = prompt + candidates + thoughts) or, as some versions did, in them as well.
GEMINI_THINKING = [
    {**candidate("Fifteen percent"), "usageMetadata": {"promptTokenCount": 20, "totalTokenCount": 20}},
    {**candidate(" of 240 is 36.", finishReason="STOP"),
     "usageMetadata": {"promptTokenCount": 20, "candidatesTokenCount": 198, "thoughtsTokenCount": 405,
                       "totalTokenCount": 623}},
]
GEMINI_THOUGHTS_IN_CANDIDATES = [
    GEMINI_THINKING[0],
    {**candidate(" of 240 is 36.", finishReason="STOP"),
     "usageMetadata": {"promptTokenCount": 20, "candidatesTokenCount": 603, "thoughtsTokenCount": 405,
                       "totalTokenCount": 623}},
]
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n"


def judge(profile: str, body: bytes) -> dict[str, Outcome]:
    """The verdicts of the profile's rules on one exchange with a server that sends ``body``."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(HEAD + body)
        await writer.drain()
        writer.close()

    async def run() -> dict[str, Outcome]:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/stream"
        async with server, make_client(url) as client:
            loaded = load_profile(profile)
            _, verdicts = await checked_exchange(client, RequestSpec(url, b"{}"), loaded, Limits(timeout=5))
        return {v.requirement.id: v.outcome for v in verdicts}

    return asyncio.run(run())


def failed(outcomes: dict[str, Outcome]) -> set[str]:
    return {rid for rid, outcome in outcomes.items() if outcome is Outcome.FAILED}


@pytest.mark.parametrize(("profile", "done"), [("openai-responses", False), ("open-responses", True)])
def test_a_reasoning_models_responses_stream_conforms(profile, done):
    outcomes = judge(profile, responses_body(RESPONSES_TEXT, done))
    assert failed(outcomes) == set()
    for rid in ("RESPONSES-SEQUENCE", "RESPONSES-ITEM-ORDER", "RESPONSES-PART-ORDER", "RESPONSES-TEXT-JOINS",
                "RESPONSES-TERMINAL", "PAYLOAD-EVENT-NAME", "PAYLOAD-ID-STABLE"):
        assert outcomes[rid] is Outcome.PASSED, rid


def test_the_apis_nested_error_then_response_failed_fails_only_payload_no_error():
    outcomes = judge("openai-responses", responses_body(RESPONSES_ERROR))
    assert failed(outcomes) == {"PAYLOAD-NO-ERROR"}
    assert outcomes["PAYLOAD-ERROR-SCHEMA"] is Outcome.PASSED
    assert outcomes["RESPONSES-TERMINAL"] is Outcome.PASSED  # response.failed is terminal


def test_openai_stream_checked_as_open_responses_misses_only_the_done():
    assert failed(judge("open-responses", responses_body(RESPONSES_TEXT))) == {"DONE-PRESENT"}


@pytest.mark.parametrize("chunks", [GEMINI_VERTEX, GEMINI_THINKING, GEMINI_THOUGHTS_IN_CANDIDATES],
                         ids=["vertex", "thinking", "thoughts-in-candidates"])
def test_gemini_streams_as_sent_conform(chunks):
    outcomes = judge("gemini", gemini_body(chunks))
    assert failed(outcomes) == set()
    for rid in ("GEMINI-ID-STABLE", "GEMINI-FINISH-ONCE", "GEMINI-USAGE-TOTALS", "PAYLOAD-ID-STABLE"):
        assert outcomes[rid] is Outcome.PASSED, rid
