"""The dialect profiles end to end, over a real socket: the reference server passes each
built-in profile, each dialect fault fails exactly the requirements it names, and every rule
a dialect adds is shown to fail. Custom profile directories load, run, and fail to load with
a usage error naming the file and the key."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from pathlib import Path

import httpx
import pytest

from conformance import REGISTRY, applicable, capture, load_profile
from conformance._catalogue import requirements
from conformance._transcript import Evidence, Limits, RequestSpec
from conformance._transport import make_client
from reference_server import FAULTS
from reference_server.dialects import DIALECTS, anthropic_messages, gemini, openai_chat, openai_responses
from reference_server.faults import CANONICAL_ONLY
from reference_server.text import answer_for, prompt_of
from tests.conftest import FAST, run_suite

README = Path(__file__).resolve().parent.parent / "README.md"
DIALECT_FAULTS = {
    "openai-chat": openai_chat.FAULTS,
    "anthropic-messages": anthropic_messages.FAULTS,
    "openai-responses": openai_responses.FAULTS,
    "open-responses": openai_responses.OPEN_FAULTS,
    "gemini": gemini.FAULTS,
}
PATHS = {d.profile: load_profile(d.profile).path for d in DIALECTS.values()}  # Gemini's names a model and ?alt=sse
INCLUDE_USAGE = {"stream_options": {"include_usage": True}}
# A dialect fault breaks the canonical stream; the own-request probes would only be blocked by that.
NO_PROBES = CANONICAL_ONLY
# A fault that shows only on a request asking for something names the request it needs.
FAULT_REQUESTS = {("openai-chat", "usage-missing"): INCLUDE_USAGE, ("openai-chat", "usage-not-last"): INCLUDE_USAGE}


@pytest.fixture
def dialect(pytester, reference):
    """``dialect(profile, query, *args, request=extra)`` runs the strict suite against the
    reference server's path for ``profile``; ``request`` adds fields to the profile's example."""

    def run(profile: str, query: str = "", *args: str, request: dict | None = None):
        url = reference.url(PATHS[profile], query)
        extra: list[str] = []
        if request is not None:
            path = pytester.path / "request.json"
            path.write_text(json.dumps(load_profile(profile).example | request), encoding="utf-8")
            extra = ["--sse-request", str(path)]
        return run_suite(pytester, url, *FAST, "--sse-profile", profile, "--sse-strict", *extra, *args)

    return run


@pytest.mark.parametrize("profile", sorted(DIALECT_FAULTS))
def test_reference_server_conforms_to_each_dialect(dialect, profile):
    run = dialect(profile)
    assert run.ret == 0, run.output
    assert run.failed == set()
    assert set(run.outcomes) == {r.id for r in requirements(load_profile(profile))}


TOOLS = {
    "openai-chat": [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}],
    "anthropic-messages": [{"name": "lookup", "input_schema": {"type": "object"}}],
    "openai-responses": [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}],
}


@pytest.mark.parametrize(
    ("profile", "request_", "judged"),
    [
        ("openai-chat", INCLUDE_USAGE, "OPENAI-USAGE-LAST"),
        ("openai-chat", {"tools": TOOLS["openai-chat"]}, "OPENAI-TOOL-ARGS-JSON"),
        ("openai-chat", {"tools": TOOLS["openai-chat"], **INCLUDE_USAGE}, "OPENAI-TOOL-ARGS-JSON"),
        ("anthropic-messages", {"tools": TOOLS["anthropic-messages"]}, "ANTHROPIC-TOOL-INPUT-JSON"),
        ("openai-responses", {"tools": TOOLS["openai-responses"]}, "RESPONSES-ARGS-JSON"),
        ("open-responses", {"tools": TOOLS["openai-responses"]}, "RESPONSES-ARGS-JSON"),
        ("openai-responses", {"input": [{"role": "user", "content": [{"type": "input_text", "text": "Hi"}]}]},
         "RESPONSES-TEXT-JOINS"),
    ],
    ids=["openai-include-usage", "openai-tools", "openai-tools-usage", "anthropic-tools", "responses-tools",
         "open-responses-tools", "responses-input-items"],
)
def test_request_variants_conform_and_are_judged(dialect, profile, request_, judged):
    run = dialect(profile, request=request_)
    assert run.failed == set(), run.output
    assert run.outcomes[judged] == "passed"


# The framing variants the SDKs' dialects share with simple's registry (FRAMING) are judged on simple's path by
# test_matrix.py, and on each dialect's by test_interop.py, which holds every one to the strict canonical rules.
DIALECT_FAULT_CASES = [(p, name) for p, registry in sorted(DIALECT_FAULTS.items()) for name in registry
                       if registry[name] is not FAULTS.get(name)]


@pytest.mark.parametrize(("profile", "fault"), DIALECT_FAULT_CASES, ids=[f"{p}-{f}" for p, f in DIALECT_FAULT_CASES])
def test_dialect_fault_fails_exactly_its_requirements(dialect, profile, fault):
    trips = DIALECT_FAULTS[profile][fault].trips
    registered = DIALECT_FAULTS[profile][fault]
    run = dialect(profile, f"fault={fault}", *NO_PROBES, *registered.suite_args,
                  request=FAULT_REQUESTS.get((profile, fault)))
    assert run.failed == trips, run.output
    assert run.report is not None and run.report["verdict"] == registered.verdict, run.output
    assert run.ret == (0 if registered.verdict == "conforms" else 1)


@pytest.mark.parametrize("profile", sorted(DIALECT_FAULTS))
def test_every_rule_a_dialect_adds_is_tripped_by_one_of_its_faults(profile):
    added = set(applicable(load_profile(profile))) - set(applicable(load_profile("simple")))
    tripped = set().union(*(f.trips for f in DIALECT_FAULTS[profile].values()))
    assert added, "the profile adds rules"
    assert added <= tripped, f"no fault trips {sorted(added - tripped)}"


def test_every_rule_set_has_rules_and_applies_only_where_named():
    from conformance._profile import RULESETS

    for name in RULESETS:
        members = {rid for rid, cls in REGISTRY.items() if cls.ruleset == name}
        assert members
        assert members <= set(applicable(load_profile(name)))
        assert not members & set(applicable(load_profile("simple")))


def test_dialect_failure_message_names_expected_received_and_where(dialect):
    run = dialect("openai-chat", "fault=no-role", *NO_PROBES)
    assert "the first delta of choice 0 (event 0) carries no role" in run.output
    assert "expected: role 'assistant'" in run.output
    assert "where:    event 0 (the 1st), byte 0" in run.output


def test_terminator_event_near_miss_is_named(dialect):
    run = dialect("anthropic-messages", "fault=message-stop-misnamed", *NO_PROBES)
    assert "no exact terminator; near miss: event 13 is named 'Message_stop', not 'message_stop'" in run.output


def test_in_stream_error_is_shown_with_its_message(dialect):
    run = dialect("anthropic-messages", "fault=error-event", *NO_PROBES)
    assert "reports an error, with the message 'Internal server error'" in run.output


@pytest.mark.parametrize("fault", ["error-event", "error-event-flat"])
def test_responses_error_event_fails_in_either_shape_with_its_message(dialect, fault):
    # Documented flat, sent nested by the API: both are errors, and both match the error schema.
    run = dialect("openai-responses", f"fault={fault}", *NO_PROBES)
    assert run.failed == {"PAYLOAD-NO-ERROR"}
    assert run.outcomes["PAYLOAD-ERROR-SCHEMA"] == "passed"
    assert "reports an error, with the message 'The server had an error.'" in run.output


def test_responses_sequence_gap_names_the_numbers(dialect):
    run = dialect("openai-responses", "fault=sequence-gap", *NO_PROBES)
    assert "event 4 skips from sequence_number 3 to 5: 1 missing" in run.output
    assert "expected: sequence_number 4" in run.output


def test_gemini_without_alt_sse_is_named_in_http_content_type(pytester, reference):
    url = reference.url(PATHS["gemini"].partition("?")[0])  # the query left out
    run = run_suite(pytester, url, *FAST, "--sse-profile", "gemini", *NO_PROBES)
    assert run.failed == {"HTTP-CONTENT-TYPE"}
    assert "a JSON array, not an event stream (Gemini answers so unless the URL asks for events with ?alt=sse)" \
        in run.output


def test_gemini_key_in_the_query_is_kept_and_redacted(pytester, reference):
    secret = "AIzaSyNotARealKey0123456789"
    run = run_suite(pytester, reference.url(PATHS["gemini"], f"key={secret}"), *FAST, "--sse-profile", "gemini",
                    "--sse-strict")
    assert run.ret == 0, run.output  # ?alt=sse kept beside the key: the stream is an event stream
    written = [p.read_text(encoding="utf-8", errors="replace") for p in pytester.path.rglob("*") if p.is_file()]
    assert secret not in run.output and not any(secret in text for text in written)
    assert "alt=sse" in run.output


@pytest.mark.parametrize("profile", sorted(DIALECT_FAULTS))
def test_target_reference_serves_the_profile_at_its_path(pytester, profile):
    run = run_suite(pytester, "reference", *FAST, "--sse-profile", profile, "--sse-strict")
    assert run.ret == 0, run.output
    assert f"{PATHS[profile]} (reference server)" in run.output


PROMPT_OF = {
    "simple": lambda body: body["prompt"],
    "openai-chat": lambda body: prompt_of(body["messages"]),
    "anthropic-messages": lambda body: prompt_of(body["messages"]),
    "openai-responses": lambda body: body["input"],
    "open-responses": lambda body: body["input"],
    "gemini": lambda body: body["contents"][-1]["parts"][0]["text"],
}


@pytest.mark.parametrize("profile", ["simple", *sorted(DIALECT_FAULTS)])
def test_text_path_reassembles_the_answer(reference, profile):
    """What ``[chunk] text`` picks out of each chunk, joined, is the answer the server streamed."""
    loaded = load_profile(profile)

    class Text:
        def __init__(self) -> None:
            self.pieces: list[str] = []

        def on_chunk(self, chunk) -> None:
            piece = loaded.text_of(chunk.value)
            if piece is not None and not chunk.terminator:
                self.pieces.append(piece)

    text = Text()
    request = RequestSpec(reference.url(loaded.path), json.dumps(loaded.example).encode())

    async def run() -> None:
        async with make_client(request.url) as client:
            await capture(client, request, loaded, Limits(timeout=5), [text], Evidence())

    asyncio.run(run())
    assert "".join(text.pieces) == answer_for(PROMPT_OF[profile](loaded.example))


def test_get_faults_lists_every_dialect_with_its_profile_and_path(reference):
    listed = httpx.get(reference.url("/faults")).json()
    by_profile = {d.profile: {f["name"] for f in listed if f["profile"] == d.profile} for d in DIALECTS.values()}
    assert by_profile == {d.profile: set(d.faults) for d in DIALECTS.values()}
    routes = {d.profile: path for path, d in DIALECTS.items()}  # a template where the path names the model
    assert all(f["path"] == routes[f["profile"]] for f in listed)
    assert {"name", "breaks", "trips", "benign"} <= set(listed[0])


@pytest.mark.parametrize("profile", ["simple", *sorted(DIALECT_FAULTS)])
def test_bad_request_gets_the_dialects_error_body(reference, profile):
    # A fault of another dialect is unknown on this path: 400, shaped as the profile's error schema says.
    other = "no-role" if profile != "openai-chat" else "no-done"
    response = httpx.post(reference.url(PATHS[profile], f"fault={other}"), json=load_profile(profile).example)
    assert response.status_code == 400
    assert load_profile(profile).error_validator.is_valid(response.json()), response.text
    response = httpx.post(reference.url(PATHS[profile]), json={"stream": True})
    assert response.status_code == 400
    assert load_profile(profile).error_validator.is_valid(response.json()), response.text


# -- custom profiles ---------------------------------------------------------------------


def readme_example(into: Path) -> Path:
    """Write the README's worked example, file by file (``<!-- file: NAME -->`` before each block)."""
    text = README.read_text(encoding="utf-8")
    files = re.findall(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", text, re.S)
    assert len(files) == 5, "the README's worked example has five files"
    for name, body in files:
        path = into / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
    return path.parent


def test_readme_worked_example_runs_against_the_reference_server(pytester):
    directory = readme_example(pytester.path)
    run = run_suite(pytester, "reference", *FAST, "--sse-profile", str(directory), "--sse-strict", "-rs")
    assert run.ret == 0, run.output
    assert run.failed == set()
    assert run.outcomes["PAYLOAD-EVENT-NAME"] == "passed"
    assert run.outcomes["HTTP-COMPLETE"] == "passed"  # judged: the response ended cleanly
    for rid in ("DONE-PRESENT", "DONE-ONCE", "DONE-LAST", "DONE-CLOSE"):
        assert run.outcomes[rid] == "skipped"
    assert "ends a stream by closing the response: it has no terminator event" in run.output


def test_custom_profile_in_a_directory_is_checked_by_its_own_rules(pytester, reference):
    # The anthropic-messages profile, copied and renamed, with an event name nobody sends as its terminator.
    directory = pytester.path / "mine"
    shutil.copytree(load_profile("anthropic-messages").directory, directory)
    toml = (directory / "profile.toml").read_text(encoding="utf-8")
    toml = toml.replace('name = "anthropic-messages"', 'name = "mine"').replace(
        'event = "message_stop"           #', 'event = "message_end"            #'
    )
    (directory / "profile.toml").write_text(toml, encoding="utf-8")
    run = run_suite(pytester, reference.url("/v1/messages"), *FAST, "--sse-profile", str(directory))
    assert "profile mine;" in run.output
    assert run.failed == {"DONE-PRESENT"}
    assert "without event 'message_end'" in run.output


BAD_PROFILES = {
    "missing-file": ("chunk.schema.json", None, "key 'schemas.chunk': cannot read"),
    "bad-toml": ("profile.toml", 'name = "x\n', "profile.toml: Illegal character"),
    "invalid-schema": ("error.schema.json", '{"type": "objekt"}', "key 'schemas.error': error.schema.json is not a "
                       "valid JSON Schema at $.type"),
    "unknown-ruleset": ("profile.toml", 'rules = ["openai-chatt"]\n[terminator]\nend = true\n',
                        "key 'rules': unknown rule set 'openai-chatt'"),
    "two-terminators": ("profile.toml", '[terminator]\ndata = "[DONE]"\nevent = "stop"\n',
                        "key 'terminator': give exactly one of"),
    "no-terminator": ("profile.toml", 'name = "x"\n', "key 'terminator': give exactly one of"),
    "end-false": ("profile.toml", "[terminator]\nend = false\n", "key 'terminator.end': expected true, got False"),
    "unknown-key": ("profile.toml", "[terminator]\nend = true\n[chunk]\ntext = \"x\"\nid_path = \"y\"\n",
                    "key 'chunk.id_path': unknown key; expected one of id, text"),
    "bad-path": ("profile.toml", '[terminator]\nend = true\n[chunk]\ntext = "choices[0]..x"\n',
                 "key 'chunk.text': 'choices[0]..x' is not a path"),
    "example-off-schema": ("example.json", '{"stream": true}', "key 'example': example.json does not match the "
                           "request schema at $: 'prompt' is a required property"),
}


@pytest.mark.parametrize("case", sorted(BAD_PROFILES))
def test_bad_custom_profile_is_a_usage_error_naming_the_file_and_key(pytester, case):
    name, content, message = BAD_PROFILES[case]
    directory = pytester.path / "bad"
    shutil.copytree(load_profile("simple").directory, directory)
    if content is None:
        (directory / name).unlink()
    else:
        (directory / name).write_text(content, encoding="utf-8")
    result = pytester.runpytest_inprocess("--target", "http://127.0.0.1:9/x", "--sse-profile", str(directory))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert f"--sse-profile: {directory}" in err
    assert message in err
