"""How each event becomes a chunk the checks read: its JSON decoded once, its schema
checked fast, and nothing a target sends able to crash the capture."""

from __future__ import annotations

import asyncio
import json
import math
import re
import shutil
from pathlib import Path

import httpx
import pytest

from conformance import Limits, RequestSpec, capture, load_profile
from conformance._json_text import json_loads
from conformance._profile import _fast_is_valid, _validator
from conformance._rules import Outcome, Rule, applicable, instantiate, judge, watching
from conformance._transcript import Evidence
from conformance._transport import HttpxTransport


@pytest.mark.parametrize(
    "text",
    ['{"id":"a","content":"b"}', "[1, 2.5, null]", '"s"', "3", ' {"a": 1}', '{"a": 1} \n', '{"a": 1}x', "",
     "\ufeff{}", "{'a': 1}", '{"a": "\\ud800"}', "[" * 50 + "]" * 50, '{"a":1}{"b":2}', '{"a": 1, "a": 2}',
     '"NaN"', "1e400", "Nan", "infinity"],
)
def test_json_is_decoded_exactly_as_json_loads_does(text):
    try:
        expected = json.loads(text)
    except ValueError as exc:
        with pytest.raises(ValueError, match="^" + re.escape(str(exc)) + "$"):
            json_loads(text)
    else:
        assert json_loads(text) == expected


@pytest.mark.parametrize(
    ("text", "token", "at"),
    [("NaN", "NaN", 0), ('{"x": Infinity}', "Infinity", 6), ('[1, -Infinity]', "-Infinity", 4),
     ('{"note": "NaN, \\"Infinity", "x": [NaN]}', "NaN", 34)],
)
def test_nan_and_infinity_are_not_json_as_rfc_8259_and_json_parse_say(text, token, at):
    # Python's json.loads reads these three tokens as floats; JSON.parse throws on them.
    with pytest.raises(ValueError, match=f"^{re.escape(token)} at character {at}: RFC 8259 has no NaN or Infinity"):
        json_loads(text)


def test_an_integer_longer_than_python_converts_is_read_as_javascript_reads_it():
    # RFC 8259 sets no limit on digits; Python refuses past 4,300, JSON.parse reads a Number.
    assert json_loads("[" + "9" * 5000 + "]") == [math.inf]
    assert json_loads('{"n": -' + "9" * 5000 + "}") == {"n": -math.inf}
    assert json_loads("9" * 4300) == int("9" * 4300)
    assert json_loads('{"a": "\\"NaN, Infinity"}') == {"a": '"NaN, Infinity'}  # in a string, they are text


def serve(body: bytes) -> httpx.MockTransport:
    # Content only, no timing: a mock transport is enough here.
    headers = {"content-type": "text/event-stream", "cache-control": "no-cache"}
    return httpx.MockTransport(lambda request: httpx.Response(200, headers=headers, content=body))


def check(body: bytes, profile_name_or_dir: str = "simple"):
    profile = load_profile(profile_name_or_dir)
    evidence = Evidence()
    rules = instantiate(profile, Limits(), evidence)

    async def run():
        async with HttpxTransport(httpx.AsyncClient(transport=serve(body))) as client:
            request = RequestSpec("http://target.invalid/chat/stream", b"{}")
            return await capture(client, request, profile, Limits(), watching(rules), evidence)

    transcript = asyncio.run(run())
    return transcript, {v.requirement.id: v for v in judge(rules, transcript)}


def test_json_nested_deeper_than_python_recurses_is_a_failure_not_a_crash():
    deep = "[" * 100_000 + "]" * 100_000
    transcript, verdicts = check(f"data: {deep}\n\ndata: [DONE]\n\n".encode())
    assert transcript.events == 2
    assert verdicts["PAYLOAD-JSON"].outcome is Outcome.FAILED
    assert "nested deeper than 100 levels" in verdicts["PAYLOAD-JSON"].violations[0].message


def test_only_rules_that_read_events_watch_the_capture():
    profile = load_profile("simple")
    watched = {r.requirement.id for r in watching(instantiate(profile, Limits(), Evidence()))}
    assert "PAYLOAD-SCHEMA" in watched and "HTTP-STATUS" not in watched
    assert watched == {rid for rid, cls in applicable(profile).items() if cls.on_chunk is not Rule.on_chunk}


def custom_profile(tmp_path: Path, chunk_schema: dict) -> str:
    directory = tmp_path / "profile"
    shutil.copytree(load_profile("simple").directory, directory)
    (directory / "chunk.schema.json").write_text(json.dumps(chunk_schema), encoding="utf-8")
    return str(directory)


def test_schema_failures_are_explained_by_jsonschema(tmp_path):
    schema = {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}
    directory = custom_profile(tmp_path, schema)
    _, verdicts = check(b'data: {"n": 1}\n\ndata: {"n": "two"}\n\ndata: [DONE]\n\n', directory)
    (violation,) = verdicts["PAYLOAD-SCHEMA"].violations
    assert violation.event == 1
    assert violation.message == "event 1 at $.n: 'two' is not of type 'integer'"


def test_where_the_fast_check_and_jsonschema_differ_jsonschema_decides(tmp_path):
    # 1e400 is JSON, read as infinity: a number to jsonschema, not to jsonschema-rs.
    schema = {"type": "object", "properties": {"x": {"type": "number"}}}
    directory = custom_profile(tmp_path, schema)
    _, verdicts = check(b'data: {"x": 1e400}\n\ndata: [DONE]\n\n', directory)
    assert verdicts["PAYLOAD-SCHEMA"].outcome is Outcome.PASSED
    assert verdicts["PAYLOAD-JSON"].outcome is Outcome.PASSED


def test_nan_fails_payload_json_naming_the_token_and_where():
    _, verdicts = check(b'data: {"content": "a"}\n\ndata: {"content": "b", "logprob": NaN}\n\ndata: [DONE]\n\n')
    (violation,) = verdicts["PAYLOAD-JSON"].violations
    assert violation.event == 1 and violation.offset == 24
    assert violation.message.startswith("event 1 is not JSON (NaN at character 28: RFC 8259 has no NaN or Infinity")


def test_a_schema_referring_elsewhere_is_never_fetched():
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": "https://schemas.invalid/chunk.json"}
    validator = _validator(schema)
    # jsonschema-rs would fetch the reference; refused, the reference validator does the checking.
    assert _fast_is_valid(schema, validator) == validator.is_valid
