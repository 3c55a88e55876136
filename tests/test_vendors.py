"""The suite against a streaming API that behaves as real vendors' do (tests/vendor_app.py):
an API key, only its own model, two streams at once and 429 + Retry-After beyond, a queue
before the first byte, keep-alives before the first token. A default run passes it; the
suite's own requests keep the user's model, wait as asked, and say what they cost."""

from __future__ import annotations

import json

import pytest

from conformance import load_profile
from tests.conftest import run_suite
from tests.vendor_app import KEY, Habits, serving

DIALECTS = {
    "openai-chat": ("/v1/chat/completions", [f"Authorization: Bearer {KEY}"]),
    "anthropic-messages": ("/v1/messages", [f"x-api-key: {KEY}", "anthropic-version: 2023-06-01"]),
}


@pytest.fixture(scope="module")
def vendor():
    with serving(Habits()) as base:
        yield base


def _args(pytester: pytest.Pytester, profile: str, **request: object) -> list[str]:
    path = pytester.path / "request.json"
    path.write_text(json.dumps({**load_profile(profile).example, "model": Habits.model, **request}), encoding="utf-8")
    args = ["--sse-profile", profile, "--sse-request", str(path), "--sse-seed", "5"]
    for header in DIALECTS[profile][1]:
        args += ["--sse-header", header]
    return args


@pytest.mark.parametrize("profile", sorted(DIALECTS))
def test_a_default_run_passes_a_vendor_that_serves_only_its_model_and_rate_limits(pytester, vendor, profile):
    run = run_suite(pytester, vendor + DIALECTS[profile][0], *_args(pytester, profile))
    assert run.ret == 0, run.output
    assert "verdict  CONFORMS" in run.output
    requests = run.report["requests"]
    # Three streams opened at once against a limit of two: the third waited as Retry-After asked.
    assert requests["retried"].get("429", 0) >= 1, requests
    assert requests["refused"] == {} and requests["cut_by_deadline"] == 0
    assert "were retries after 429" in run.output or "was a retry after 429" in run.output
    # Drawn requests kept the model the user named, and passed.
    assert run.outcomes["REQUEST-ANY-VALID"] == "passed"
    # The client libraries installed read the vendor's stream as the WHATWG parse does.
    interop = {e["id"]: e["result"] for e in run.report["requirements"] if e["level"] == "INTEROP"}
    assert interop and "warning" not in interop.values(), interop
    assert requests["sent"] <= requests["planned"]["most"] + sum(int(n) for n in requests["retried"].values())


def test_the_profile_example_naming_another_model_fails_with_a_pointer_to_sse_request(pytester, vendor):
    path, headers = DIALECTS["openai-chat"]
    args = ["--sse-profile", "openai-chat", "--sse-depth", "quick"]
    for header in headers:
        args += ["--sse-header", header]
    run = run_suite(pytester, vendor + path, *args)
    assert run.ret == 1
    assert run.failed == {"HTTP-STATUS"}
    assert "model_not_found" in run.output


def test_a_missing_key_is_not_judged_and_says_what_to_check(pytester, vendor):
    from xml.etree import ElementTree

    run = run_suite(pytester, vendor + "/v1/chat/completions", "--sse-profile", "openai-chat",
                    "--junitxml", "junit.xml")
    assert run.ret == 1
    assert run.report["verdict"] == "not-judged"
    assert "cause    the credentials were refused (401 Unauthorized)" in run.output
    assert "check    an --sse-header with the API key" in run.output
    assert run.report["requests"]["sent"] == 1  # nothing more is spent on an endpoint that refuses us
    page = (pytester.path / "reports" / "sse-conformance.html").read_text(encoding="utf-8")
    assert '<p class="sse-verdict">NOT JUDGED</p>' in page
    assert "the credentials were refused (401 Unauthorized)" in page
    cases = ElementTree.parse(pytester.path / "junit.xml").getroot().iter("testcase")
    properties = [{p.get("name"): p.get("value") for p in case.iter("property")} for case in cases]
    assert all(p["result"] == "not-judged" for p in properties) and properties
    assert all(p["reason"] == "not judged: the credentials were refused (401 Unauthorized)" for p in properties)


def test_a_rate_limit_that_never_lifts_is_not_judged_within_the_retry_budget(pytester):
    with serving(Habits(stream_limit=0)) as base:
        run = run_suite(pytester, base + "/v1/chat/completions", *_args(pytester, "openai-chat"),
                        "--sse-retries", "2/10")
    assert run.ret == 1
    assert run.report["verdict"] == "not-judged"
    assert run.report["requests"]["by_kind"] == {"canonical": 3}
    assert "status 429 (Too Many Requests) to 3 attempts" in run.report["cause"]["cause"]


# The tests below each show one habit: the own requests that do not meet it, and the interop
# step (its clients take seconds to start), are left out; the default runs above have them all.
ONLY_AT_ONCE = ("--sse-examples", "0", "--sse-disconnects", "0", "--sse-interop", "off")


def _run(pytester, habits: Habits, profile: str = "openai-chat", *args: str):
    with serving(habits) as base:
        run = run_suite(pytester, base + DIALECTS[profile][0], *_args(pytester, profile), *args)
        import httpx

        run.most_in_flight = httpx.get(base + "/_stats", timeout=5).json()["most_in_flight"]
    return run


def test_a_drawn_request_still_refused_is_not_judged_never_met(pytester):
    # A proxy that crashes on any prompt but the canonical one answers 503: the requests that would
    # have failed are refused, so REQUEST-ANY-VALID cannot be met on the others (here: none).
    example = load_profile("openai-chat").example["messages"][-1]["content"]
    run = _run(pytester, Habits(other_prompts_503=example, stream_limit=10), "openai-chat", "--sse-retries", "1/5",
               "--sse-disconnects", "0", "--sse-concurrency", "0", "--sse-interop", "off")
    assert run.outcomes["REQUEST-ANY-VALID"] == "skipped", run.output
    entry = next(e for e in run.report["requirements"] if e["id"] == "REQUEST-ANY-VALID")
    assert entry["result"] == "not-judged" and "could not be judged: status 503" in entry["message"]
    assert run.report["verdict"] == "not-judged" and run.ret == 1


def test_a_503_to_bad_requests_after_the_retries_is_a_5xx(pytester):
    run = _run(pytester, Habits(bad_503=True, stream_limit=10), "openai-chat", "--sse-retries", "1/5",
               *ONLY_AT_ONCE, "--sse-concurrency", "0")
    assert "REQUEST-BAD-NO-5XX" in run.failed and run.ret == 1
    assert run.report["verdict"] == "does-not-conform"


def test_an_endpoint_serving_one_stream_at_a_time_conforms(pytester):
    run = _run(pytester, Habits(stream_limit=1, retry_after="1", queue=0.0, keepalive=0.0, stream_seconds=0.2),
               "openai-chat", "--sse-concurrency", "2", "--sse-disconnects", "1", "--sse-examples", "1",
               "--sse-interop", "off")
    assert run.ret == 0 and run.report["verdict"] == "conforms", run.output
    assert run.outcomes["LIFECYCLE-CONCURRENT"] == "passed"
    assert "2 streams, at most 1 open at once" in run.output


def test_an_in_stream_overload_error_is_retried_not_held_against_the_endpoint(pytester):
    # Anthropic's API ends a stream with event: error / overloaded_error under load.
    run = _run(pytester, Habits(overload_above=1, stream_limit=10), "anthropic-messages",
               "--sse-concurrency", "3", *ONLY_AT_ONCE)
    assert run.ret == 0 and run.report["verdict"] == "conforms", run.output
    assert "in-stream error 'overloaded_error'" not in run.output
    assert run.report["requests"]["retried"].get("200", 0) >= 1


def test_a_refusal_that_never_ends_is_read_briefly(pytester):
    import time

    started = time.monotonic()
    run = _run(pytester, Habits(stream_limit=0, endless_refusals=True), "openai-chat", "--sse-timeout", "1",
               "--sse-retries", "1/2")
    assert run.report["verdict"] == "not-judged"
    assert time.monotonic() - started < 15, "a 429 body is read for one --sse-timeout, not a whole stream"


def test_own_requests_in_flight_stay_within_sse_parallel(pytester):
    # (No dropped streams: the server may count one in flight a moment after the client left.)
    run = _run(pytester, Habits(stream_limit=10, queue=0.1, keepalive=0.0), "openai-chat", "--sse-parallel", "1",
               "--sse-concurrency", "0", "--sse-disconnects", "0", "--sse-examples", "3", "--sse-interop", "off")
    assert run.ret == 0, run.output
    assert run.most_in_flight == 1


def test_selected_requirements_of_an_endpoint_refusing_the_key_are_not_judged(pytester, vendor):
    run = run_suite(pytester, vendor + "/v1/chat/completions", "--sse-profile", "openai-chat",
                    "-k", "METHOD-405 or SCHEMA-4XX")
    assert run.report["verdict"] == "not-judged" and run.ret == 1
