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
