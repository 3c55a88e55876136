"""Hostile targets: whatever a target does, the run ends within the configured limits,
fails with one clear message naming the cause (or the limit and its figure), shows no
traceback, and still ends with its summary."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import gzip
import json
import re
import select
import socket
import time

import httpx
import pytest

from conformance._causes import transport_cause
from conformance._report import write_atomically
from conformance.dialects._common import MAX_ARGUMENTS
from reference_server import FAULTS, ServerThread
from reference_server.dialects import openai_chat
from tests.conftest import FAST, TIMEOUT, run_suite
from tests.hostile_server import artifacts_of, hostile_server, response
from tests.test_redact import BASIC, PASSWORD, TOKEN, echoing, no_form_of

# How far past its limit a run may end: the suite's own start-up and one read's slack on a
# loaded 2-core machine. The limits themselves are FAST's and the faults' suite_args.
SLACK = 1.0


def ended_at(output: str) -> float:
    """The time the summary gives for the end of the exchange."""
    return float(re.search(r"ended: .* at (\d+\.\d+) s", output).group(1))


@pytest.mark.parametrize(
    ("fault", "limit", "seconds", "figure"),
    [
        ("stall-after-headers", "--sse-timeout", TIMEOUT,
         f"no byte for {TIMEOUT:g} s after the headers, before any byte"),
        ("stall-mid", "--sse-timeout", TIMEOUT, f"no byte for {TIMEOUT:g} s after event 1 at offset "),
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
    assert f"no response: no response headers within {TIMEOUT:g} s (--sse-timeout)" in run.output
    assert f"exchange no response: no response headers within {TIMEOUT:g} s" in run.output


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
def test_an_unreachable_target_is_not_judged_naming_the_cause(pytester, reference, target, cause):
    run = run_suite(pytester, target(reference), *FAST)
    assert run.ret == 1  # no pass: a CI gate must not go green on an endpoint it could not reach
    assert run.failed == set()
    assert set(run.outcomes.values()) == {"skipped"}
    assert f"cause    the target could not be reached: {cause}" in run.output, run.output
    assert f"exchange no response: {cause}" in run.output
    assert "verdict  NOT JUDGED" in run.output
    assert run.report["verdict"] == "not-judged" and run.report["exchange"]["ending"]["kind"] == "unreachable"
    page = (pytester.path / "reports" / "sse-conformance.html").read_text(encoding="utf-8")
    assert '<p class="sse-verdict">NOT JUDGED</p>' in page and "the target could not be reached" in page
    assert "Traceback" not in run.output


def test_a_reset_mid_stream_fails_once_naming_the_cause(pytester, reference):
    run = run_suite(pytester, reference.url("/chat/stream", "fault=reset-mid-stream"), *FAST, "-rs")
    assert run.failed == {"HTTP-COMPLETE"}
    cause = "the connection broke: reset by the peer (ConnectionResetError: [Errno 104] Connection reset by peer)"
    assert f"{cause}, after 222 bytes and 3 events; the answer was cut short" in run.output, run.output
    assert f"moot: HTTP-COMPLETE failed ({cause})" in run.output  # DONE-PRESENT: the same cause
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


# -- what a hostile target sends cannot crash a writer or leave a report half written ------

EVENTS = 'data: {"id": "\\ud800", "content": "y"}\n\ndata: {"id": "x\\udfff", "content": "\\ud83d"}\n\ndata: [DONE]\n\n'
STREAM_HEAD = [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")]


def test_a_lone_surrogate_in_a_chunk_is_shown_by_code_point_in_every_output(pytester):
    # Valid JSON syntax, invalid Unicode: "\ud800" decodes to a code point UTF-8 cannot encode.
    with hostile_server(lambda request: response("200 OK", STREAM_HEAD, EVENTS.encode())) as (base, _):
        run = run_suite(pytester, base + "/chat/stream", *FAST, "--sse-strict", "-rA", "--junitxml", "junit.xml",
                        "-o", "junit_logging=all")
    assert "Traceback" not in run.output and "INTERNALERROR" not in run.output, run.output
    assert "verdict  DOES NOT CONFORM" in run.output  # the summary, to its end
    assert run.failed >= {"PAYLOAD-ID-STABLE"}
    entry = next(r for r in run.report["requirements"] if r["id"] == "PAYLOAD-ID-STABLE")
    assert entry["violations"][0]["expected"] == "⟨U+D800⟩"
    found = artifacts_of(run, pytester)
    assert {"junit.xml", "reports/sse-conformance.html", "reports/sse-conformance.json"} <= set(found)
    # (pytest-html keeps its table as JSON in an attribute: "⟨" is "\u27e8" there.)
    assert "U+D800" in found["reports/sse-conformance.html"] and "⟨U+D800⟩" in found["junit.xml"]
    json.dumps(run.report, ensure_ascii=False).encode()  # made visible: no lone surrogate, not even escaped
    assert "PAYLOAD-ID-STABLE" in found["stdout"] and "⟨U+D800⟩" in found["stdout"]


def test_a_report_write_that_fails_leaves_the_file_as_it_was_and_nothing_beside_it(tmp_path):
    class Unwritable(str):
        def encode(self, *args: object) -> bytes:
            raise OSError(28, "No space left on device")

    path = tmp_path / "sse-conformance.json"
    path.write_text('{"earlier": true}\n')
    with pytest.raises(OSError):
        write_atomically(path, Unwritable("{}"))
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    assert path.read_text() == '{"earlier": true}\n'
    write_atomically(path, "{}\n")
    assert [p.name for p in tmp_path.iterdir()] == [path.name] and path.read_text() == "{}\n"


def test_a_run_whose_html_writer_fails_leaves_no_earlier_page_behind(pytester, reference, monkeypatch):
    page = pytester.path / "reports" / "sse-conformance.html"
    page.parent.mkdir()
    page.write_text("<p>an earlier run: CONFORMS</p>")

    def fail(*args: object, **kwargs: object) -> str:
        raise OSError(28, "No space left on device")

    import jinja2  # pytest-html renders its page with it

    monkeypatch.setattr(jinja2.Template, "render", fail)
    pytester.runpytest_inprocess("--target", reference.url("/chat/stream"), "-p", "no:cacheprovider", *FAST)
    assert not page.exists()
    assert not list(page.parent.glob(".*part"))


# -- control characters from the target reach no terminal or file raw ------------------------

ESCAPES = b"\x1b[2J\x1b]0;owned\x07\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\ \x9b31m"


def raw_controls(found: dict[str, str]) -> dict[str, set[str]]:
    """The control characters, C0 (but line breaks and tabs) and C1, in each output."""
    raw = {name: {c for c in text if (ord(c) < 0x20 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0}
           for name, text in found.items()}
    return {name: chars for name, chars in raw.items() if chars}


def test_escape_sequences_in_a_reason_phrase_are_shown_in_every_log_output(pytester):
    answer = response("500 Oops" + ESCAPES.decode("latin-1"), [("Content-Type", "text/plain")], b"no")
    with hostile_server(lambda request: answer) as (base, _):
        run = run_suite(pytester, base + "/chat/stream", *FAST, "-rA", "--log-level=INFO", "--log-cli-level=INFO",
                        "--log-file", "run.log", "--junitxml", "junit.xml", "-o", "junit_logging=all")
    assert run.failed == {"HTTP-STATUS", "REQUEST-BAD-NO-5XX"}  # the bad requests got a 500 too
    found = artifacts_of(run, pytester)
    # (httpx decodes the reason phrase as ASCII, dropping the C1 byte.)
    assert 'HTTP/1.1 500 Oops␛[2J␛]0;owned␇␛]8;;https://evil.example␛\\click␛]8;;␛\\ 31m"' in found["run.log"]
    assert raw_controls(found) == {}


# -- the reference server holds to its own rules, however a client sends ----------------------


@pytest.mark.parametrize("port", ["port", "raw_port"])
def test_reference_server_answers_a_body_nested_past_python_recursion_with_a_400(reference, port):
    url = f"http://127.0.0.1:{getattr(reference, port)}/chat/stream"
    response_ = httpx.post(url, content=b"[" * 100_000, headers={"Content-Type": "application/json"}, timeout=5)
    assert response_.status_code == 400, response_.text
    assert response_.json()["error"]["message"] == "the request body must be a JSON object"


def _exchange(port: int, request: bytes, slowly: bytes = b"", pause: float = 0.0) -> tuple[bytes, float]:
    """Send ``request``, then ``slowly`` a byte every ``pause`` seconds, reading meanwhile,
    and read until the server closes: what came back, and how long the connection lasted."""
    started = time.monotonic()
    received = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:

        def read(wait: float) -> bool:
            """Read what is there within ``wait`` seconds; False once the server has closed."""
            while select.select([sock], [], [], wait)[0]:
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    return False
                if not chunk:
                    return False
                received.extend(chunk)
                wait = 0
            return True

        try:
            sock.sendall(request)
            for byte in slowly:
                if not read(pause):
                    break
                sock.sendall(bytes([byte]))
        except (ConnectionResetError, BrokenPipeError):
            pass  # closed on us while we sent: what matters is that it was closed
        while read(5) and time.monotonic() - started < 10:
            pass
    return bytes(received), time.monotonic() - started


def test_reference_server_refuses_a_body_over_its_limit_with_a_413_before_reading_it(reference):
    head = b"POST /chat/stream HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    # Announced: refused on the head alone, though 100 MB are said to follow.
    answer, _ = _exchange(reference.port, head + b"Content-Length: 100000000\r\n\r\n" + b"[" * 4096)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b'"type":"request_too_large"' in answer
    # Chunked, so unannounced: refused once the limit is passed.
    piece = b"%x\r\n%s\r\n" % (64 * 1024, b" " * 64 * 1024)
    answer, _ = _exchange(reference.port, head + b"Transfer-Encoding: chunked\r\n\r\n" + piece * 20)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]


@pytest.mark.parametrize("query", ["chunks=1000&pad=1048576", "fault=endless,content-length",
                                   "fault=huge-line,content-length&size=1000000000"])
def test_reference_server_refuses_a_query_that_would_make_it_hold_too_much(reference, query):
    response_ = httpx.post(reference.url("/chat/stream", query), json={"prompt": "hi", "stream": True}, timeout=5)
    assert response_.status_code == 400
    assert response_.json()["error"]["type"] == "invalid_query", response_.text


@pytest.fixture(scope="module")
def impatient():
    with ServerThread(request_timeout=0.5) as server:
        yield server


@pytest.mark.parametrize("port", ["port", "raw_port"])
def test_reference_server_cuts_off_a_client_that_sends_its_head_a_byte_at_a_time(impatient, port):
    head = b"POST /chat/stream HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Slow: " + b"z" * 100
    answer, lasted = _exchange(getattr(impatient, port), b"", head, pause=0.05)
    assert lasted < 0.5 + SLACK + 0.5 and answer == b""  # closed at its timeout, not after the 5 s head


def test_reference_server_cuts_off_a_client_that_sends_its_body_slowly(impatient):
    request = b"POST /chat/stream HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n"
    answer, lasted = _exchange(impatient.port, request, b" " * 100, pause=0.02)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert lasted < 1.5 + SLACK


def test_reference_server_times_every_request_on_a_kept_alive_connection(impatient):
    body = b'{"prompt": "hi", "stream": true}'
    request = b"POST /chat/stream?delay=0 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" \
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    second = b"POST /chat/stream HTTP/1.1\r\nHost: x\r\n" + b"X: y\r\n" * 40
    answer, lasted = _exchange(impatient.port, request, second, pause=0.02)
    assert answer.count(b"HTTP/1.1 200 ") == 1 and answer.endswith(b"0\r\n\r\n")  # the first answered, then closed
    assert lasted < 2.5 + SLACK


# -- each hostile target: a summary, a whole report, no secret form, no raw control byte -----


@functools.cache
def _layered_bomb() -> bytes:
    inner = gzip.compress((b"data: " + b"a" * (512 << 10) + b"\n\n") * 128, 9)  # 64 MiB of events
    return response("200 OK", [*STREAM_HEAD, ("Content-Encoding", "gzip"), ("Content-Encoding", "gzip")],
                    gzip.compress(inner, 9))


HOSTILE_TARGETS = {
    "layered-gzip": (lambda request: _layered_bomb(), "body longer than 4194304 bytes (--sse-max-body)"),
    "unknown-coding": (lambda request: response("200 OK", [*STREAM_HEAD, ("Content-Encoding", "br")], b"\x8b\x02\x80"),
                       "names a coding the suite does not decode ('br')"),
    "lone-surrogate": (lambda request: response("200 OK", STREAM_HEAD, EVENTS.encode()), "⟨U+D800⟩"),
    "escape-reason": (lambda request: response("500 Oops" + ESCAPES.decode("latin-1"), STREAM_HEAD, b"no"),
                      "status 500 Oops␛[2J"),
    "echoed-secret": (echoing, "you sent <redacted>"),
}


@pytest.mark.parametrize("name", HOSTILE_TARGETS)
def test_every_hostile_target_ends_with_a_summary_a_whole_report_and_nothing_unsafe(pytester, name):
    answer, shown = HOSTILE_TARGETS[name]
    _layered_bomb()  # made before the server answers with it, not while the suite waits
    with hostile_server(answer) as (base, _):
        url = base.replace("http://", f"http://alice:{PASSWORD}@") + "/chat/stream"
        run = run_suite(pytester, url, *FAST, "--sse-header", f"Authorization: Bearer {TOKEN}",
                        "--sse-max-body", "4MiB", "-rA", "--junitxml", "junit.xml", "-o", "junit_logging=all",
                        "--log-cli-level=INFO", "--log-file", "run.log", "--log-file-level", "DEBUG")
    assert "Traceback" not in run.output and "INTERNALERROR" not in run.output, run.output
    assert run.ret == 1 and "verdict  DOES NOT CONFORM" in run.output and "report   " in run.output
    assert {entry["id"] for entry in run.report["requirements"]} == set(run.outcomes)  # every item, reported
    found = artifacts_of(run, pytester)
    assert shown in found["reports/sse-conformance.json"], name
    no_form_of([TOKEN, f"Bearer {TOKEN}", PASSWORD, BASIC], found)
    assert raw_controls(found) == {}
