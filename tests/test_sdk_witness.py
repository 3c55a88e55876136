"""The official SDKs as witnesses: the ``openai`` and ``anthropic`` Python packages stream
from the reference server and reassemble exactly the answer it sent, so its dialects are the
real wire formats and not only our reading of them. They also show what the dialect faults
break for a real client."""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import openai
import pytest

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
    with pytest.raises(anthropic.APIStatusError, match="Overloaded"):  # noqa: PT012
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
