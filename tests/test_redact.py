"""Secrets stay in the process: whole, cut short by a preview, in a URL, in a log record."""

from __future__ import annotations

import base64
import json
import logging
import re
from urllib.parse import quote

import pytest

from conformance._redact import FRAGMENT, MARK, Redactor, basic_credentials, redact_url, safe_log_records, url_secrets

from tests.conftest import FAST, run_suite
from tests.hostile_server import Request, artifacts_of, hostile_server, response

SECRET = "sk-live-0123456789abcdef"


def test_a_secret_is_replaced_whole_and_in_its_quoted_form():
    redact = Redactor([f"Bearer {SECRET}", SECRET, "tab\there"])
    assert redact(f"got Bearer {SECRET}!") == f"got {MARK}!"
    assert redact(repr("a tab\there")) == f"'a {MARK}'"


def test_a_secret_cut_short_by_a_preview_or_an_excerpt_is_replaced_too():
    redact = Redactor([SECRET])
    assert redact(f"'echo {SECRET[:12]}'...") == f"'echo {MARK}'..."  # a preview cut its end
    assert redact(f'{SECRET[-10:]}"}}') == f'{MARK}"}}'  # an excerpt cut its start
    assert redact(f"echo {SECRET[:5]}") == f"echo {SECRET[:5]}"  # too short to tell from text


def test_a_value_too_short_to_be_a_credential_is_not_searched_for():
    assert Redactor(["1", "on"])("status 1 on") == "status 1 on"


def test_url_credentials_are_secrets_wherever_they_turn_up():
    url = f"https://user:pw-123456@api.example/v1?api_key={SECRET}&model=m"
    assert redact_url(url) == f"https://user:{MARK}@api.example/v1?api_key={MARK}&model=m"
    assert url_secrets(url) == ["pw-123456", basic_credentials("user", "pw-123456"), SECRET]
    assert Redactor(url_secrets(url))(f"401: bad key {SECRET}") == f"401: bad key {MARK}"


def test_log_records_are_redacted_as_they_are_made(caplog):
    logger = logging.getLogger("tests.redact")
    with caplog.at_level(logging.INFO):
        with safe_log_records(Redactor([SECRET])):
            logger.info("request to %s", f"https://x/?key={SECRET}")
            try:
                raise ValueError(SECRET)
            except ValueError:
                logger.exception("failed")
        logger.info("after %s", SECRET)  # the factory is gone again
    assert caplog.messages[:2] == [f"request to https://x/?key={MARK}", "failed"]
    assert SECRET not in caplog.records[1].exc_text and MARK in caplog.records[1].exc_text
    assert caplog.records[2].getMessage() == f"after {SECRET}"


ENCODED = SECRET.replace("-", "%2D")  # the same key, percent-encoded in the query


def test_every_form_of_a_query_secret_is_hidden_encoded_decoded_and_as_httpx_sends_it():
    url = f"https://api.example/v1?api_key={ENCODED}&model=m"
    redact = Redactor(url_secrets(url))
    assert redact(f"HTTP Request: POST {url}") == f"HTTP Request: POST https://api.example/v1?api_key={MARK}&model=m"
    assert redact(f"bad key {SECRET}") == f"bad key {MARK}"
    # httpx re-encodes what it sends: a space given raw goes out as %20.
    spaced = "https://api.example/v1?token=sk live 0123456789"
    assert "sk%20live%200123456789" in url_secrets(spaced)


def test_a_url_urlsplit_rejects_still_has_its_credentials_found_and_hidden():
    url = f"http://user:pw-123456@[::1/x?token={SECRET}&n=1"
    assert redact_url(url) == f"http://user:{MARK}@[::1/x?token={MARK}&n=1"
    assert url_secrets(url) == ["pw-123456", basic_credentials("user", "pw-123456"), SECRET]


def test_a_percent_encoded_query_secret_is_in_no_log_line_or_report(pytester, reference):
    url = reference.url("/chat/stream") + f"?api_key={ENCODED}&fault=no-done"
    run = run_suite(pytester, url, *FAST, "--log-level=INFO", "-rA")
    assert run.failed == {"DONE-PRESENT"}
    # httpx's INFO line for each request, with the value redacted whole: not "sk%2Dlive%2D<redacted>".
    assert re.search(rf"HTTP Request: POST \S*\?api_key={MARK}&fault=no-done", run.output)
    reports = [text for name, text in artifacts_of(run, pytester).items() if name.startswith("reports")]
    assert len(reports) == 4  # the HTML and JSON reports, the saved exchange and the body it holds
    for text in [run.output, run.result.stderr.str(), *reports]:
        for form in (SECRET, ENCODED, SECRET[-FRAGMENT:], "sk%2Dlive", "sk-live"):
            assert form not in text


# -- every recognisable form, and nothing else ------------------------------------------------

TOKEN = "sk-live-Q7zR9xW2kP4mN8vB"  # letters of both cases, digits, dashes: each form differs
B64 = base64.b64encode(TOKEN.encode()).decode()


def _pct(text: str, hexes: str = "%%%02X") -> str:
    return "".join(hexes % b for b in text.encode())


@pytest.mark.parametrize("echoed", [
    TOKEN.lower(), TOKEN.upper(),
    B64, B64.rstrip("="), base64.urlsafe_b64encode(TOKEN.encode()).decode(),
    _pct(TOKEN), _pct(TOKEN, "%%%02x"), quote(TOKEN, safe=""), TOKEN.encode().hex(),
    "".join(f"\\u{ord(c):04x}" if i % 2 else c for i, c in enumerate(TOKEN)),  # half \u-escaped
    repr("".join(f"\\u{ord(c):04x}" for c in TOKEN)),  # escaped, then quoted by a preview
    "".join(f"&#{ord(c)};" for c in TOKEN),
    json.dumps(TOKEN),
    TOKEN[:10] + "...", "..." + TOKEN[-9:],  # cut short by a preview or an excerpt
], ids=lambda e: e[:14])
def test_every_form_of_the_token_is_replaced_even_without_its_scheme(echoed):
    redact = Redactor([f"Bearer {TOKEN}"])
    text = f"401 {{'error': 'Incorrect API key provided: {echoed}.'}}"
    assert MARK in redact(text)
    assert redact(text).startswith("401 {'error': 'Incorrect API key provided: ")


@pytest.mark.parametrize("prefix", [b"", b"x", b"xy", b'{"authorization": "Bearer '])
def test_base64_of_a_longer_text_holding_the_token_is_cut_at_any_alignment(prefix):
    encoded = base64.b64encode(prefix + TOKEN.encode() + b'", "n": 1}').decode()
    shown = Redactor([f"Bearer {TOKEN}"])(f"echo: {encoded}")
    assert MARK in shown
    rest = shown.replace(MARK, "")
    for offset in range(3):  # no run of the token's own base64 is left to decode
        whole = base64.b64encode(bytes(offset) + TOKEN.encode()).decode()[offset + 1 : -4]
        assert whole[:8] not in rest


def test_the_masked_shape_of_a_refused_key_keeps_none_of_it():
    # OpenAI's 401 quotes a key as its first characters, stars, and its last four.
    redact = Redactor([f"Bearer {TOKEN}"])
    quoted = f"Incorrect API key provided: {TOKEN[:8]}{'*' * 20}{TOKEN[-4:]}. You can find your API key at ..."
    assert redact(quoted) == f"Incorrect API key provided: {MARK}{'*' * 20}{MARK}. You can find your API key at ..."
    assert redact(f"sk-l...{TOKEN[-4:]}") == f"{MARK}...{MARK}"


def test_url_user_info_and_the_basic_credentials_made_of_it_are_replaced():
    url = "https://alice:pa%24%24-w0rd-1@api.example/v1"
    redact = Redactor(url_secrets(url))
    basic = base64.b64encode(b"alice:pa$$-w0rd-1").decode()
    assert basic_credentials("alice", "pa%24%24-w0rd-1") == f"Basic {basic}"
    for echoed in (f"Basic {basic}", basic, basic.lower(), "alice:pa$$-w0rd-1", "pa$$-w0rd-1", "pa%24%24-w0rd-1"):
        assert redact(f"you sent {echoed}!") == f"you sent {MARK}!", echoed


@pytest.mark.parametrize("text", [
    "test... done", "Bearer ... is the scheme", "Basic auth, Bearer auth", "status 401 Unauthorized",
    "data: [DONE]", "100% of 12 events; 0x1f; \\n; &amp;", "sk-live keys start with sk-", "NzR6 and Q7z",
])
def test_ordinary_text_is_left_alone(text):
    redact = Redactor([f"Bearer {TOKEN}", "x-trace-1", "on", *url_secrets("https://alice:pw-123456@h/")])
    assert redact(text) == text


def test_a_secret_shorter_than_a_fragment_is_matched_exactly_only():
    redact = Redactor(["abc12"])
    assert redact("got abc12 and ABC12") == f"got {MARK} and ABC12"
    assert redact("abc1...") == "abc1..."


def test_control_characters_in_a_log_record_are_shown_not_obeyed(caplog):
    logger = logging.getLogger("tests.redact")
    reason = "\x1b[2J\x1b]0;owned\x07\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\\r\ud800"
    with caplog.at_level(logging.INFO), safe_log_records(Redactor([TOKEN])):
        logger.info('HTTP Request: POST %s "HTTP/1.1 500 %s"', "http://x/", reason)
        try:
            raise ValueError(f"bad\x1b[31m {TOKEN}\nsecond line")
        except ValueError:
            logger.exception("failed\x1b[0m")
    message = caplog.records[0].getMessage()
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or 0xD800 <= ord(c) < 0xE000 for c in message), message
    assert message.endswith('"HTTP/1.1 500 ␛[2J␛]0;owned␇␛]8;;https://evil.example␛\\click␛]8;;␛\\␍⟨U+D800⟩"')
    record = caplog.records[1]
    assert record.getMessage() == "failed␛[0m"
    assert "bad␛[31m <redacted>\nsecond line" in record.exc_text  # line breaks kept, escapes shown
    assert "\x1b" not in caplog.text


# -- an endpoint that echoes the credential back in every form, over a real socket -----------

PASSWORD = "pw-Zt8Lq3Vx"
BASIC = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()


def echoing(request: Request) -> bytes:
    """A stream that echoes the Authorization it was sent: whole and in pieces in headers and
    in the reason phrase, and in chunks that are not JSON, so that failures quote them."""
    sent = request.header("authorization") or ""
    token = sent.partition(" ")[2]
    forms = [sent, token.lower(), token.upper(), base64.b64encode(sent.encode()).decode(), _pct(token),
             "".join(f"\\u{ord(c):04x}" if i % 2 else c for i, c in enumerate(token)),
             f"{token[:8]}{'*' * 12}{token[-4:]}", base64.b64encode(b"{'x': '" + sent.encode() + b"'}").decode()]
    headers = [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")]
    headers += [(f"X-Echo-{n}", form) for n, form in enumerate(forms)]
    events = b"".join(b"data: you sent %s\n\n" % form.encode() for form in forms[:5])
    events += b'data: {"id": "a", "content": "%s"}\n\ndata: [DONE]\n\n' % forms[5].encode()
    return response(f"200 Incorrect API key provided: {token[:10]}...", headers, events)


def no_form_of(secrets: list[str], found: dict[str, str]) -> None:
    for secret in secrets:
        forms = {secret, secret.lower(), secret.upper(), _pct(secret), _pct(secret, "%%%02x"), secret[:FRAGMENT],
                 secret[-FRAGMENT:], base64.b64encode(secret.encode()).decode()[:-4]}
        for name, text in found.items():
            for form in forms:
                assert form not in text, (name, form)


def test_no_form_of_an_echoed_credential_reaches_any_artifact(pytester):
    with hostile_server(echoing) as (base, seen):
        run = run_suite(
            pytester, base + "/chat/stream", *FAST, "--sse-header", f"Authorization: Bearer {TOKEN}", "-rA",
            "--junitxml", "junit.xml", "-o", "junit_logging=all",
            "--log-level", "INFO", "--log-cli-level", "INFO", "--log-file", "run.log", "--log-file-level", "DEBUG",
        )  # fmt: skip
    assert "PAYLOAD-JSON" in run.failed
    found = artifacts_of(run, pytester)
    assert {"junit.xml", "run.log", "reports/sse-conformance.html", "reports/sse-conformance.json"} <= set(found)
    no_form_of([TOKEN, f"Bearer {TOKEN}"], found)
    # It did reach them, redacted: echoed in the reason phrase httpx logs, in headers, in chunks.
    assert 'HTTP/1.1 200 Incorrect API key provided: <redacted>..."' in found["run.log"]
    headers = {h["name"]: h["value"] for h in run.report["exchange"]["response"]["headers"]}
    assert headers["X-Echo-6"] == f"{MARK}{'*' * 12}{MARK}"
    assert all(MARK in headers[f"X-Echo-{n}"] for n in range(8))
    assert "you sent <redacted>" in found["stdout"]


@pytest.mark.parametrize("header", [True, False], ids=["with-authorization-header", "user-info-alone"])
def test_url_credentials_go_out_the_same_on_both_transports_and_are_never_shown(pytester, header):
    with hostile_server(echoing) as (base, seen):
        url = base.replace("http://", f"http://alice:{PASSWORD}@") + "/chat/stream"
        given = ["--sse-header", f"Authorization: Bearer {TOKEN}"] if header else []
        run = run_suite(pytester, url, *FAST, *given, "-rA", "--log-file", "run.log", "--log-file-level", "DEBUG")
    sent = f"Bearer {TOKEN}" if header else f"Basic {BASIC}"
    # Every request, the concurrent ones (aiohttp) among them, carried the same credentials.
    assert len(seen.requests) > 4
    assert {r.header("authorization") for r in seen.requests} == {sent}
    assert "LIFECYCLE-CONCURRENT" not in run.failed and "LIFECYCLE-CONCURRENT-IDS" not in run.failed
    which = ("--sse-header Authorization is sent; the user info in the URL is not (both were given)" if header
             else "the user info in the URL is sent as Authorization: Basic <redacted>")
    assert f"credentials: {which}" in run.output
    assert [h["value"] for h in run.report["exchange"]["request"]["headers"] if h["name"] == "Authorization"] == [MARK]
    no_form_of([PASSWORD, BASIC, TOKEN], artifacts_of(run, pytester))


def test_a_secret_that_holds_an_escape_is_found_as_given_and_decoded():
    redact = Redactor(["Bearer ab%41cd-0123456789"])
    assert redact("got ab%41cd-0123456789 and abAcd-0123456789") == f"got {MARK} and {MARK}"
