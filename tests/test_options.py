"""The command-line contract: options, ini twins, bad values, and secrets kept out of output."""

from __future__ import annotations

import json
import shutil

import pytest

from conformance import load_profile
from tests.conftest import FAST, run_suite

SECRET = "sk-live-0123456789abcdef"


def test_help_groups_every_option_beside_pytest_timeout_and_a_profile_plugin(pytester):
    # pytest-timeout owns --timeout, pytest-profiling --profile, pytest itself --strict:
    # none of ours may clash, or pytest would not start.
    pytester.makeconftest(
        """
        def pytest_addoption(parser):
            parser.addoption("--profile", action="store_true", help="stands in for pytest-profiling")
        """
    )
    pytest.importorskip("pytest_timeout")  # a test extra: installed, so loaded by its entry point
    result = pytester.runpytest_subprocess("--help")
    assert result.ret == 0, result.stderr.str()
    out = result.stdout.str()
    assert "sse-conformance: check a Server-Sent Events endpoint" in out
    for flag in ("--target", "--sse-profile", "--sse-header", "--sse-request", "--sse-timeout",
                 "--sse-stream-timeout", "--sse-strict", "--timeout", "--profile"):
        assert flag in out
    for ini in ("sse_timeout", "sse_stream_timeout", "sse_profile", "sse_header", "sse_strict"):
        assert ini in out


def test_without_target_the_plugin_is_idle(pytester):
    pytester.makepyfile("def test_plain(): pass")
    result = pytester.runpytest_inprocess("-W", "ignore::pytest.PytestAssertRewriteWarning")
    result.assert_outcomes(passed=1)
    assert "sse-conformance 0.1.0: target" not in result.stdout.str()


def test_ini_twin_sets_an_option_and_the_command_line_wins(pytester, reference):
    pytester.makeini("[pytest]\nsse_timeout = 7\nsse_done_grace = 0.5\n")
    url = reference.url("/chat/stream")
    run = run_suite(pytester, url, "--collect-only")
    assert "timeout 7 s;" in run.output
    run = run_suite(pytester, url, "--collect-only", "--sse-timeout", "3")
    assert "timeout 3 s;" in run.output


@pytest.mark.parametrize(
    ("args", "ini", "message"),
    [
        (["--sse-timeout", "soon"], "", "Invalid value 'soon' from --sse-timeout: expected a number of seconds"),
        ([], "sse_stream_timeout = -1", "Invalid value '-1' from ini option sse_stream_timeout"),
        (["--sse-max-line", "big"], "", "Invalid value 'big' from --sse-max-line"),
        (["--sse-profile", "nope"], "", "unknown profile 'nope'"),
        (["--sse-interop", "loud"], "", "Invalid value 'loud' from --sse-interop: expected one of warn, fail, off"),
    ],
)
def test_bad_values_say_where_they_came_from(pytester, reference, args, ini, message):
    if ini:
        pytester.makeini(f"[pytest]\n{ini}\n")
    result = pytester.runpytest_inprocess("--target", reference.url("/chat/stream"), *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


def test_a_target_that_is_not_a_url_is_a_usage_error(pytester):
    result = pytester.runpytest_inprocess("--target", "ftp://example.invalid/x")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "expected an http:// or https:// URL, 'reference' or 'replay:FILE'" in result.stderr.str()


def test_malformed_header_is_rejected_without_echoing_its_value(pytester, reference):
    result = pytester.runpytest_inprocess("--target", reference.url("/chat/stream"), "--sse-header", SECRET)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "header #1 is not 'Name: value' (value not shown)" in result.stderr.str()
    assert SECRET not in result.stdout.str() + result.stderr.str()


def test_header_value_never_printed_even_when_the_target_echoes_it(pytester, reference):
    # The query puts the secret into the URL too: it must be redacted there as well.
    url = reference.url("/chat/stream") + f"?api_key={SECRET}&fault=no-done"
    run = run_suite(pytester, url, *FAST, "--sse-header", f"Authorization: Bearer {SECRET}", "-rA")
    assert run.failed == {"DONE-PRESENT"}
    assert "Authorization: <redacted>" in run.output
    assert SECRET not in run.output + run.result.stderr.str()


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (f"http://user:{SECRET}@[::1/x?api_key={SECRET}",
         "Invalid value 'http://user:<redacted>@[::1/x?api_key=<redacted>' from --target: not a URL"),
        ("http://127.0.0.1:99999/x", "port 99999 is out of range: ports run from 1 to 65535"),
        ("http://:8080/x", "the URL names no host"),
    ],
    ids=["unparsable", "port-out-of-range", "no-host"],
)
def test_a_target_httpx_cannot_use_is_a_usage_error_without_its_secrets(pytester, target, message):
    result = pytester.runpytest_inprocess("--target", target)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()
    assert SECRET not in result.stdout.str() + result.stderr.str()
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_a_header_value_that_is_not_ascii_is_rejected_without_echoing_it(pytester, reference):
    result = pytester.runpytest_inprocess("--target", reference.url("/chat/stream"),
                                          "--sse-header", f"Authorization: Bearer {SECRET}\u00e9")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "header #1 (Authorization) has a character that is not ASCII in its value" in result.stderr.str()
    assert SECRET not in result.stdout.str() + result.stderr.str()


def test_a_report_dir_that_cannot_be_made_is_a_usage_error_before_the_run(pytester, reference):
    pytester.makefile(".txt", afile="not a directory")
    result = pytester.runpytest_inprocess("--target", reference.url("/chat/stream"),
                                          "--sse-report-dir", "afile.txt/reports")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "Invalid value 'afile.txt/reports' from --sse-report-dir: cannot create it (Not a directory)" \
        in result.stderr.str()
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


# -- a mistake in the run's inputs is a usage error, before any request ----------------


@pytest.mark.parametrize(
    ("target", "args", "message"),
    [
        ("reference?fault=no-dne", (), "unknown fault 'no-dne' for profile simple; did you mean 'no-done'? its "
                                       "faults are: 405-no-allow, 500-on-bad-json,"),
        ("reference?fault=no-role", (), "fault 'no-role' belongs to profile openai-chat (path "
                                        "/v1/chat/completions), not to simple: add --sse-profile openai-chat"),
        ("reference?fault=no-role,nope", ("--sse-profile", "openai-chat"), "unknown fault 'nope' for profile "
                                                                           "openai-chat"),
        ("reference?delay=soon", (), "?delay='soon' is not a number of milliseconds, zero or more"),
        ("reference?chunks=-2", (), "?chunks='-2' is not a whole number, zero or more"),
    ],
    ids=["typo", "other-dialect", "second-of-two", "delay", "chunks"],
)
def test_a_query_the_reference_server_would_refuse_is_a_usage_error(pytester, target, args, message):
    result = pytester.runpytest_inprocess("--target", target, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str(), result.stderr.str()
    assert "collected" not in result.stdout.str()  # stopped before the suite ran, so before any request


def test_a_profile_path_the_reference_server_does_not_serve_is_a_usage_error(pytester):
    directory = pytester.path / "elsewhere"
    shutil.copytree(load_profile("simple").directory, directory)
    toml = (directory / "profile.toml").read_text(encoding="utf-8")
    (directory / "profile.toml").write_text(toml.replace('path = "/chat/stream"', 'path = "/v2/stream"'))
    result = pytester.runpytest_inprocess("--target", "reference", "--sse-profile", str(directory))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "has path '/v2/stream', which the reference server does not serve" in result.stderr.str()


def test_a_request_body_breaking_the_request_schema_is_a_usage_error_naming_where(pytester):
    pytester.makefile(".json", body=json.dumps({"prompt": "hi", "stream": False, "api_key": SECRET}))
    result = pytester.runpytest_inprocess("--target", "reference", "--sse-request", "body.json",
                                          "--sse-header", f"Authorization: {SECRET}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert ("--sse-request: body.json: the body does not match the simple request schema at $.stream: True was "
            "expected; fix the body, or give a profile whose request schema allows it (--sse-profile)"
            ) in result.stderr.str()
    assert SECRET not in result.stdout.str() + result.stderr.str()


def test_a_request_body_the_schema_allows_runs(pytester, reference):
    pytester.makefile(".json", body=json.dumps({"prompt": "a longer question", "stream": True}))
    run = run_suite(pytester, reference.url("/chat/stream"), *FAST, "--sse-request", "body.json", "--collect-only")
    assert run.ret == pytest.ExitCode.OK, run.output


@pytest.mark.parametrize(
    "args",
    [("--target", "reference?fault=nope"), ("--target", "reference", "--sse-timeout", "soon"),
     ("--target", "localhost:8080/chat"), ("--target", "reference", "--sse-profile", "nope")],
    ids=["fault", "option", "target", "profile"],
)
def test_a_run_ending_in_a_usage_error_leaves_no_earlier_report(pytester, args):
    reports = pytester.path / "reports"
    reports.mkdir()
    for name in ("sse-conformance.json", "sse-conformance.html"):
        (reports / name).write_text("an earlier run's report")
    (reports / "notes.txt").write_text("not a report")
    result = pytester.runpytest_inprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert sorted(p.name for p in reports.iterdir()) == ["notes.txt"]


def test_a_run_that_starts_deletes_both_earlier_reports_first(pytester, reference):
    reports = pytester.path / "elsewhere"
    reports.mkdir()
    for name in ("sse-conformance.json", "sse-conformance.html"):
        (reports / name).write_text("an earlier run's report")
    # A run that judges nothing writes no JSON report, and without pytest-html no page.
    run_suite(pytester, reference.url("/chat/stream"), "--sse-report-dir", "elsewhere", "--collect-only",
              "-p", "no:html")
    assert list(reports.iterdir()) == []


@pytest.mark.parametrize(
    ("target", "suggestion"),
    [("localhost:8080/chat", "did you mean 'http://localhost:8080/chat'?"),
     (f"api.example.com/v1/chat?api_key={SECRET}", "did you mean 'https://api.example.com/v1/chat?api_key=<redacted>'?"),
     ("refrence", "did you mean 'reference'?")],
    ids=["loopback", "domain", "reference"],
)
def test_a_target_without_its_scheme_suggests_one(pytester, target, suggestion):
    result = pytester.runpytest_inprocess("--target", target)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"expected an http:// or https:// URL, 'reference' or 'replay:FILE' ({suggestion})" in result.stderr.str()
    assert SECRET not in result.stdout.str() + result.stderr.str()
