"""Secrets never leave the process: header values given with --sse-header, and
credentials in the target URL, are replaced before any text is shown or written.

A target may echo a secret back (in its body, a header, an error message), and the suite
quotes the target in excerpts and previews cut to a length, so a secret can also arrive cut
short: a long fragment at the start or end of a secret is replaced too. Log records are
redacted as they are made, so no handler (live log, log file, captured log) sees a secret.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from urllib.parse import SplitResult, parse_qsl, unquote, unquote_plus, urlencode, urlsplit, urlunsplit

import httpx

__all__ = ["Redactor", "MARK", "redact_url", "url_secrets", "redacting_log_records"]

MARK = "<redacted>"
# Query parameters that commonly carry credentials (`?api_key=...`, `?token=...`).
_SECRET_PARAM = re.compile(r"key|token|secret|password|passwd|auth|sig|signature|credential|session", re.I)
# A value shorter than this is not searched for in free text: "1" or "on" would match
# everywhere and wreck every message, and is no credential. It is still hidden where it is
# shown as a header value.
MIN_SECRET = 4
# A fragment of a secret this long or longer, cut at the secret's start or end, is replaced.
FRAGMENT = 8


class Redactor:
    """Replaces every secret in a text with a mark."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms = set()
        for secret in secrets:
            if len(secret) >= MIN_SECRET:
                # As given, and as the reports quote text: repr-escaped in previews.
                forms |= {secret, repr(secret)[1:-1]}
        # Longest first, so a secret that contains another is removed whole.
        self.secrets = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MARK)
        for secret in self.secrets:
            if len(secret) > FRAGMENT:
                text = _cut_fragments(text, secret)
        return text


def _cut_fragments(text: str, secret: str) -> str:
    """Replace a run of at least FRAGMENT characters that starts or ends like the secret."""
    head, tail = secret[:FRAGMENT], secret[-FRAGMENT:]
    i = text.find(head)
    while i >= 0:
        n = FRAGMENT
        while n < len(secret) and i + n < len(text) and text[i + n] == secret[n]:
            n += 1
        text = text[:i] + MARK + text[i + n :]
        i = text.find(head, i + len(MARK))
    j = text.find(tail)
    while j >= 0:
        start = j
        k = len(secret) - FRAGMENT
        while k > 0 and start > 0 and text[start - 1] == secret[k - 1]:
            start, k = start - 1, k - 1
        text = text[:start] + MARK + text[j + FRAGMENT :]
        j = text.find(tail, start + len(MARK))
    return text


# RFC 3986, appendix B: splits any string into a URL's five parts, so a URL that
# ``urlsplit`` rejects (``http://u:pw@[::1/``) still has its credentials found and hidden.
_ANY_URL = re.compile(r"^(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$", re.S)


def _split(url: str) -> SplitResult:
    try:
        return urlsplit(url)
    except ValueError:
        scheme, netloc, path, query, fragment = _ANY_URL.match(url).groups()  # type: ignore[union-attr]
        return SplitResult(scheme or "", netloc or "", path, query or "", fragment or "")


def redact_url(url: str) -> str:
    """The URL with a password and secret-looking query values replaced."""
    parts = _split(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MARK}@{host}" if ":" in userinfo else f"{MARK}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, MARK if _SECRET_PARAM.search(k) else v) for k, v in pairs], safe="<>")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _normalised(url: str) -> str | None:
    """The URL as httpx sends and logs it (it re-encodes the query), if httpx can parse it."""
    try:
        return str(httpx.URL(url))
    except (httpx.InvalidURL, ValueError, TypeError):
        return None


def url_secrets(url: str) -> list[str]:
    """The values ``redact_url`` hides, so they can be hidden wherever else they turn up:
    decoded, as given (still percent-encoded), and as httpx re-encodes them, so that no
    form of a secret survives in a log line or an error message."""
    found = []
    for form in dict.fromkeys(u for u in (url, _normalised(url)) if u is not None):
        parts = _split(form)
        userinfo = parts.netloc.rpartition("@")[0]
        if userinfo:
            password = userinfo.partition(":")[2] or userinfo
            found += [password, unquote(password)]
        for pair in parts.query.split("&"):
            key, _, value = pair.partition("=")
            if _SECRET_PARAM.search(unquote_plus(key)):
                found += [value, unquote_plus(value)]
    return [s for s in dict.fromkeys(found) if s]


@contextmanager
def redacting_log_records(redact: Redactor) -> Iterator[None]:
    """While active, every log record is redacted when it is made, in every thread: its
    message, and the text of its exception and stack, formatted once here."""
    previous = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - bad arguments: logging reports them when it formats the record
            message = None
        if message is not None and redact(message) != message:
            record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return record

    logging.setLogRecordFactory(factory)
    try:
        yield
    finally:
        # Restore only our own change: a factory installed after ours stays in place.
        if logging.getLogRecordFactory() is factory:
            logging.setLogRecordFactory(previous)
