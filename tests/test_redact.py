"""Secrets stay in the process: whole, cut short by a preview, in a URL, in a log record."""

from __future__ import annotations

import logging

from conformance._redact import MARK, Redactor, redact_url, redacting_log_records, url_secrets

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
