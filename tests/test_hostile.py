"""Hostile targets: whatever a target does, the run ends within the configured limits,
fails with one clear message naming the cause (or the limit and its figure), shows no
traceback, and still ends with its summary."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import socket

import httpx
import pytest

from conformance._causes import transport_cause
from conformance._dialect import MAX_ARGUMENTS
from reference_server import FAULTS, openai_chat
from tests.conftest import FAST, run_suite

# How far past its limit a run may end: the suite's own start-up and one read's slack on a
# loaded 2-core machine. The limits themselves are FAST's and the faults' suite_args.
SLACK = 1.0


def ended_at(output: str) -> float:
    """The time the summary gives for the end of the exchange."""
    return float(re.search(r"ended: .* at (\d+\.\d+) s", output).group(1))


@pytest.mark.parametrize(
    ("fault", "limit", "seconds", "figure"),
    [
        ("stall-after-headers", "--sse-timeout", 0.5, "no byte for 0.5 s after the headers, before any byte"),
        ("stall-mid", "--sse-timeout", 0.5, "no byte for 0.5 s after event 1 at offset "),
        ("endless", "--sse-stream-timeout", 1.0, "the stream was still open after 1 s"),
        ("trickle", "--sse-stream-timeout", 1.0, "the stream was still open after 1 s"),
        ("huge-line", "--sse-max-line", 1.0, "line longer than 65536 bytes, starting at byte 0"),
    ],
)
def test_a_stalling_or_flooding_target_ends_at_its_limit_and_names_it(pytester, reference, fault, limit, seconds,
                                                                      figure):
    run = run_suite(pytester, reference.url("/chat/stream", f"fault={fault}"), *FAST, *FAULTS[fault].suite_args)
    assert run.failed == FAULTS[fault].trips
    assert f"{figure}" in run.output and f"({limit})" in run.output, run.output
    assert ended_at(run.output) < seconds + SLACK
    assert "Traceback" not in run.output


def test_a_stall_before_the_headers_costs_one_timeout(pytester, reference):
    run = run_suite(pytester, reference.url("/chat/stream", "fault=stall-before-headers"), *FAST)
    assert run.failed == {"HTTP-STATUS"}
    assert "no response: no response headers within 0.5 s (--sse-timeout)" in run.output
    assert "exchange no response: no response headers within 0.5 s" in run.output


def test_a_flood_is_cut_at_the_body_limit(pytester, reference):
    url = reference.url("/chat/stream", "fault=endless&delay=0")
    run = run_suite(pytester, url, *FAST, "--sse-max-body", "256KiB")
    assert run.failed == {"DELIVERY-LIMITS"}
    assert "body longer than 262144 bytes (--sse-max-body)" in run.output
    assert "exchange status 200, 262144 bytes" in run.output
    # The server stopped flooding when the suite left: it answers the next request at once.
    response = httpx.post(reference.url("/chat/stream"), json={"prompt": "again", "stream": True}, timeout=2)
    assert response.status_code == 200 and response.text.endswith("data: [DONE]\n\n")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("target", "cause"),
    [
        (lambda ref: f"http://127.0.0.1:{_free_port()}/chat/stream",
         "connection refused: nothing is listening on that port (ConnectionRefusedError"),
        (lambda ref: "http://sse-conformance.invalid/chat/stream", "the host name did not resolve (gaierror"),
        (lambda ref: f"https://127.0.0.1:{ref.port}/chat/stream",
         "TLS handshake failed: the port may speak plain HTTP (SSLError"),
    ],
    ids=["refused", "unknown-host", "tls-to-plain-http"],
)
def test_an_unreachable_target_fails_once_naming_the_cause(pytester, reference, target, cause):
    run = run_suite(pytester, target(reference), *FAST)
    assert run.ret == 1
    assert run.failed == {"HTTP-STATUS"}
    assert set(run.outcomes.values()) == {"failed", "skipped"}
    assert f"no response: {cause}" in run.output, run.output
    assert f"exchange no response: {cause}" in run.output
    assert "DOES NOT CONFORM" in run.output
    assert "Traceback" not in run.output


def test_a_reset_mid_stream_fails_once_naming_the_cause(pytester, reference):
    run = run_suite(pytester, reference.url("/chat/stream", "fault=reset-mid-stream"), *FAST, "-rs")
    assert run.failed == {"HTTP-COMPLETE"}
    cause = "the connection broke: reset by the peer (ConnectionResetError: [Errno 104] Connection reset by peer)"
    assert f"{cause}, after 222 bytes and 3 events; the answer was cut short" in run.output, run.output
    assert f"not judged: HTTP-COMPLETE failed ({cause})" in run.output  # DONE-PRESENT: the same cause
    assert f"ended: {cause}" in run.output
    assert "Traceback" not in run.output


def test_a_transport_error_in_an_exception_group_is_named_by_its_first_leaf():
    # anyio's task group wraps what the socket raised: 99999 is past the last port.
    async def connect() -> BaseException:
        async with httpx.AsyncClient() as client:
            try:
                await client.get("http://127.0.0.1:99999/chat/stream")
            except BaseException as exc:  # noqa: BLE001 - the error is the subject
                return exc
        raise AssertionError("connected to port 99999")

    exc = asyncio.run(connect())
    assert isinstance(exc, BaseExceptionGroup)  # httpx's own behaviour, which the cause unwraps
    assert transport_cause(exc).startswith("the port is out of range: ports run from 1 to 65535 (OverflowError")
    nested = ExceptionGroup("outer", [ExceptionGroup("inner", [ConnectionRefusedError(111, "refused")])])
    assert transport_cause(nested).startswith("connection refused: nothing is listening on that port")


# -- the reference server's own query ----------------------------------------------------


@pytest.mark.parametrize("delay", ["nan", "inf", "-5", "soon"])
def test_reference_server_rejects_a_delay_it_cannot_sleep_with_a_400(reference, delay):
    response = httpx.post(reference.url("/chat/stream", f"delay={delay}"), json={"prompt": "hi", "stream": True})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_query", response.text


def test_reference_url_picks_the_byte_exact_listener_for_any_dialects_raw_fault(reference, monkeypatch):
    probe = dataclasses.replace(next(iter(openai_chat.FAULTS.values())), name="raw-probe", raw=True)
    monkeypatch.setitem(openai_chat.FAULTS, "raw-probe", probe)
    assert f":{reference.raw_port}/" in reference.url("/v1/chat/completions", "fault=raw-probe")
    assert f":{reference.port}/" in reference.url("/v1/chat/completions", "fault=no-role")


# -- tool-call arguments the suite bounds rather than joins --------------------------------


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("tool-args-deep", "tool call 0 of choice 0: the fragments join to '[[[["),
        ("tool-args-huge", f"tool call 0 of choice 0: the fragments are longer than {MAX_ARGUMENTS} bytes: not joined"),
    ],
)
def test_tool_call_arguments_too_deep_or_too_long_fail_their_rule_not_the_run(pytester, reference, fault, message):
    url = reference.url("/v1/chat/completions", f"fault={fault}")
    run = run_suite(pytester, url, *FAST, "--sse-profile", "openai-chat", "--sse-examples", "0",
                    "--sse-disconnects", "0", "--sse-concurrency", "0", "-rA")
    assert run.failed == {"OPENAI-TOOL-ARGS-JSON"}, run.output
    assert message in run.output
    assert "Traceback" not in run.output and "INTERNALERROR" not in run.output
