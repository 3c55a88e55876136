"""Secrets stay in the process: whole, cut short by a preview, in a URL, in a log record."""

from __future__ import annotations

import logging
import re

from conformance._redact import FRAGMENT, MARK, Redactor, redact_url, redacting_log_records, url_secrets

from tests.conftest import FAST, run_suite

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
    assert url_secrets(url) == ["pw-123456", SECRET]
    assert Redactor(url_secrets(url))(f"401: bad key {SECRET}") == f"401: bad key {MARK}"


def test_log_records_are_redacted_as_they_are_made(caplog):
    logger = logging.getLogger("tests.redact")
    with caplog.at_level(logging.INFO):
        with redacting_log_records(Redactor([SECRET])):
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
    assert url_secrets(url) == ["pw-123456", SECRET]


def test_a_percent_encoded_query_secret_is_in_no_log_line_or_report(pytester, reference):
    url = reference.url("/chat/stream") + f"?api_key={ENCODED}&fault=no-done"
    run = run_suite(pytester, url, *FAST, "--log-level=INFO", "-rA")
    assert run.failed == {"DONE-PRESENT"}
    # httpx's INFO line for each request, with the value redacted whole: not "sk%2Dlive%2D<redacted>".
    assert re.search(rf"HTTP Request: POST \S*\?api_key={MARK}&fault=no-done", run.output)
    reports = [p.read_text(encoding="utf-8") for p in (pytester.path / "reports").iterdir()]
    assert len(reports) == 2
    for text in [run.output, run.result.stderr.str(), *reports]:
        for form in (SECRET, ENCODED, SECRET[-FRAGMENT:], "sk%2Dlive", "sk-live"):
            assert form not in text
