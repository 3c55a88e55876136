"""The official SDKs as witnesses: the ``openai`` (chat completions and the Responses API),
``anthropic`` and ``google-genai`` Python packages stream from the reference server and
reassemble exactly the answer it sent, so its dialects are the real wire formats and not only
our reading of them. They also show what the dialect faults break for a real client."""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from reference_server.text import answer_for

PROMPT = "Why stream?"
MESSAGES = [{"role": "user", "content": PROMPT}]
ANSWER = answer_for(PROMPT)
KEY = "sk-test-not-a-secret"  # the reference server ignores credentials


@pytest.fixture(scope="module")
def openai_client(reference) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=reference.url("/v1"), api_key=KEY, max_retries=0, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def anthropic_client(reference) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=reference.url(""), api_key=KEY, max_retries=0, timeout=10) as client:
        yield client


# -- openai ------------------------------------------------------------------------------


def test_openai_sdk_reassembles_the_answer(openai_client):
    stream = openai_client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == ANSWER
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks].count("stop") == 1
    assert all(c.usage is None for c in chunks)


def test_openai_sdk_reads_the_usage_chunk(openai_client):
    stream = openai_client.chat.completions.create(
        model="m", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    *chunks, last = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == ANSWER
    assert last.choices == [] and last.usage is not None
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens > 0


def test_openai_sdk_accumulates_a_tool_call(openai_client):
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    with openai_client.chat.completions.stream(model="m", messages=MESSAGES, tools=tools) as stream:
        completion = stream.get_final_completion()
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert json.loads(choice.message.tool_calls[0].function.arguments) == {"query": PROMPT}


def test_openai_sdk_raises_the_error_chunk_of_fault_error_event(openai_client):
    stream = openai_client.chat.completions.create(
        model="m", messages=MESSAGES, stream=True, extra_query={"fault": "error-event"}
    )
    with pytest.raises(openai.APIError, match="The server had an error while processing your request"):
        list(stream)


# -- anthropic ---------------------------------------------------------------------------


def test_anthropic_sdk_reassembles_the_answer(anthropic_client):
    with anthropic_client.messages.stream(model="m", max_tokens=64, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        message = stream.get_final_message()
    assert text == ANSWER
    assert [block.text for block in message.content] == [ANSWER]
    assert message.stop_reason == "end_turn"
    assert message.id.startswith("msg_") and message.usage.output_tokens > 0


def test_anthropic_sdk_accumulates_a_tool_use_block(anthropic_client):
    tools = [{"name": "lookup", "input_schema": {"type": "object"}}]
    with anthropic_client.messages.stream(model="m", max_tokens=64, messages=MESSAGES, tools=tools) as stream:
        message = stream.get_final_message()
    assert message.stop_reason == "tool_use"
    assert [block.type for block in message.content] == ["text", "tool_use"]
    assert message.content[1].input == {"query": PROMPT}


def test_anthropic_sdk_skips_the_pings_of_the_benign_fault(anthropic_client):
    with anthropic_client.messages.stream(
        model="m", max_tokens=64, messages=MESSAGES, extra_query={"fault": "pings"}
    ) as stream:
        assert "".join(stream.text_stream) == ANSWER


def test_anthropic_sdk_raises_the_error_event_of_fault_error_event(anthropic_client):
    with pytest.raises(anthropic.APIStatusError, match="Internal server error"):  # noqa: PT012
        with anthropic_client.messages.stream(
            model="m", max_tokens=64, messages=MESSAGES, extra_query={"fault": "error-event"}
        ) as stream:
            stream.until_done()


def test_anthropic_sdk_loses_the_text_of_unnamed_events(anthropic_client):
    # Why PAYLOAD-EVENT-NAME is a MUST: the SDK dispatches on the event name and skips events without one.
    with anthropic_client.messages.stream(
        model="m", max_tokens=64, messages=MESSAGES, extra_query={"fault": "delta-unnamed"}
    ) as stream:
        assert "".join(stream.text_stream) == ""


# -- openai: the Responses API ------------------------------------------------------------

FUNCTION_TOOLS = [{"type": "function", "name": "lookup", "parameters": {"type": "object"}, "strict": False}]


@pytest.fixture(scope="module")
def open_responses_client(reference) -> Iterator[openai.OpenAI]:
    base = reference.url("/openresponses/v1")
    with openai.OpenAI(base_url=base, api_key=KEY, max_retries=0, timeout=10) as client:
        yield client


def test_openai_sdk_streams_a_response_whose_deltas_are_the_answer(openai_client):
    events = list(openai_client.responses.create(model="m", input=PROMPT, stream=True))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == ANSWER
    assert [e.text for e in events if e.type == "response.output_text.done"] == [ANSWER]
    assert events[-1].response.output_text == ANSWER


def test_openai_sdk_stream_helper_accumulates_the_response(openai_client):
    # responses.stream() checks the order: response.created first, items and parts before their events.
    with openai_client.responses.stream(model="m", input=[{"role": "user", "content": PROMPT}]) as stream:
        text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        response = stream.get_final_response()
    assert text == response.output_text == ANSWER
    assert response.status == "completed" and response.usage.total_tokens > 0


def test_openai_sdk_accumulates_a_function_call(openai_client):
    with openai_client.responses.stream(model="m", input=PROMPT, tools=FUNCTION_TOOLS) as stream:
        response = stream.get_final_response()
    [call] = response.output
    assert call.type == "function_call" and call.name == "lookup"
    assert json.loads(call.arguments) == {"query": PROMPT}


@pytest.mark.parametrize("variant", ["reasoning", "keepalives", "queued"])
def test_openai_sdk_reads_the_benign_variants_of_the_responses_dialect(openai_client, variant):
    with openai_client.responses.stream(model="m", input=PROMPT, extra_query={"fault": variant}) as stream:
        assert stream.get_final_response().output_text == ANSWER


def test_openai_sdk_raises_the_nested_error_event_of_fault_error_event(openai_client):
    stream = openai_client.responses.create(model="m", input=PROMPT, stream=True, extra_query={"fault": "error-event"})
    with pytest.raises(openai.APIError, match="The server had an error"):
        list(stream)


def test_openai_sdk_yields_the_flat_error_event_without_raising(openai_client):
    # Why PAYLOAD-NO-ERROR reads both shapes: the SDK raises on the nested one only, and hands
    # the documented flat one to the caller as an event, which a client that reads text ignores.
    stream = openai_client.responses.create(
        model="m", input=PROMPT, stream=True, extra_query={"fault": "error-event-flat"}
    )
    events = list(stream)
    assert [e.message for e in events if e.type == "error"] == ["The server had an error."]
    assert events[-1].type == "response.failed"


def test_openai_sdk_stops_at_the_done_of_an_open_responses_stream(open_responses_client, reference):
    events = list(open_responses_client.responses.create(model="m", input=PROMPT, stream=True))
    assert events[-1].type == "response.completed"  # [DONE] ends the SDK's iteration
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == ANSWER
    raw = httpx.post(reference.url("/openresponses/v1/responses"), json={"model": "m", "input": PROMPT,
                                                                         "stream": True}, timeout=10)
    assert raw.text.endswith("data: [DONE]\n\n")


# -- google-genai ----------------------------------------------------------------------------


def gemini_client(reference, fault: str = "") -> genai.Client:
    """A client of the reference server's Gemini path; ``fault`` is added to each request's query
    (the SDK's own ``?alt=sse`` kept: an httpx client's default params would replace it)."""

    def add_fault(request) -> None:
        request.url = request.url.copy_add_param("fault", fault)

    options = genai_types.HttpOptions(
        base_url=reference.url(""), api_version="v1beta", timeout=10_000,
        retry_options=genai_types.HttpRetryOptions(attempts=1),
        client_args={"event_hooks": {"request": [add_fault]}} if fault else None,
    )
    return genai.Client(api_key=KEY, http_options=options)


def test_genai_sdk_reassembles_the_answer(reference):
    client = gemini_client(reference)  # held: the stream reads through it
    chunks = list(client.models.generate_content_stream(model="gemini-x", contents=PROMPT))
    assert "".join(c.text or "" for c in chunks) == ANSWER
    assert [c.candidates[0].finish_reason for c in chunks if c.candidates[0].finish_reason] == ["STOP"]
    assert {c.response_id for c in chunks} == {chunks[0].response_id}
    assert {c.model_version for c in chunks} == {"gemini-x"}  # the model the URL named
    usage = chunks[-1].usage_metadata
    assert usage.total_token_count == usage.prompt_token_count + usage.candidates_token_count > 0


@pytest.mark.parametrize("variant", ["thoughts", "finish-in-empty-chunk", "usage-every-chunk", "lf"])
def test_genai_sdk_reads_the_benign_variants_of_the_gemini_dialect(reference, variant):
    client = gemini_client(reference, variant)
    chunks = client.models.generate_content_stream(model="gemini-x", contents=PROMPT)
    assert "".join(c.text or "" for c in chunks) == ANSWER  # a thought part is not the answer's text


def test_genai_sdk_raises_the_error_chunk_of_fault_error_chunk(reference):
    client = gemini_client(reference, "error-chunk")
    stream = client.models.generate_content_stream(model="gemini-x", contents=PROMPT)
    with pytest.raises(genai_errors.ServerError, match="internal error"):
        list(stream)
