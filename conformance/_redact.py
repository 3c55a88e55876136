"""Secrets never leave the process: header values given with --sse-header, and
credentials in the target URL, are replaced before any text is shown or written.

A target may echo a secret back (in its body, a header, an error message), transformed
(lower-cased, %-encoded, escaped, base64-encoded), and the suite quotes the target in
excerpts and previews cut to a length, so a secret can also arrive cut short: ``Redactor``
looks for all of these. Log records are made safe as they are made (``safe_log_records``).
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import NamedTuple
from urllib.parse import SplitResult, parse_qsl, unquote, unquote_plus, urlencode, urlsplit, urlunsplit

import httpx

__all__ = ["Redactor", "MARK", "redact_url", "url_secrets", "safe_log_records"]

MARK = "<redacted>"
# Query parameters that commonly carry credentials (`?api_key=...`, `?token=...`).
_SECRET_PARAM = re.compile(r"key|token|secret|password|passwd|auth|sig|signature|credential|session", re.I)
# A value shorter than this is not searched for in free text: "1" or "on" would match
# everywhere and wreck every message, and is no credential. It is still hidden where it is
# shown as a header value.
MIN_SECRET = 4
# A secret this long or longer is also found in any letter case, as base64, and cut short:
# a run of this many of its first or last characters is replaced wherever it stands.
FRAGMENT = 8
# ... and a run of this many, where a mask stands next to it: the shape in which endpoints
# quote a key they refuse ("sk-ab...wxyz", "sk-proj-****...****wxyz").
MASKED = 4
_MASK = re.compile(r"\*{3,}|\.{3,}|…|•{3,}")
# "Scheme credentials" (RFC 9110 11.4), credentials being one token68: "Bearer sk-...".
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*[ \t]+([^ \t]+)$")
# Escapes under which a secret may be echoed, each decoded to the one character it stands for:
# %-encoding (of ASCII), JSON and Python escapes, HTML character references.
_ESCAPE = re.compile(
    r"%([0-7][0-9a-fA-F])|\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})|\\([\\/\"'bfnrt])"
    r"|&#([0-9]{1,7});|&#[xX]([0-9a-fA-F]{1,6});|&(amp|lt|gt|quot|apos);"
)
_SIMPLE = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_ENTITY = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


class _Form(NamedTuple):
    text: str  # lower-cased where ``fold``
    fold: bool  # found in any letter case
    cut: bool  # found cut short too (FRAGMENT, MASKED)


class Redactor:
    """Replaces every recognisable form of every secret in a text with a mark.

    A secret is found as given, in any letter case (from FRAGMENT characters on), under
    %-, JSON-, Python- and HTML-escapes (whole or in part, and escaped twice, as a quoted
    preview of JSON text is), as base64 (standard or URL-safe, at any alignment inside a
    longer encoded text) and hex, and cut short at its start or end. A header value of the form
    ``Scheme credentials`` yields its credentials too, and Basic credentials, decoded,
    ``user:password`` (found whole) and the password.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms: dict[str, _Form] = {}
        for secret in secrets:
            for value, cut in _derived(secret):
                # Texts are searched with their escapes decoded: so is a secret that holds one ("ab%41").
                value = _unescaped(_unescaped(value)[0])[0]
                if len(value) < MIN_SECRET:
                    continue
                long = len(value) >= FRAGMENT
                key = value.lower() if long else value
                forms[key] = _Form(key, long, (long and cut) or (key in forms and forms[key].cut))
                if long:
                    for encoded in _base64_forms(value):
                        forms.setdefault(encoded, _Form(encoded, False, False))
                    hexed = value.encode().hex()
                    forms.setdefault(hexed, _Form(hexed, True, False))
        # Longest first, so a secret that contains another is removed whole.
        self.forms = sorted(forms.values(), key=lambda f: len(f.text), reverse=True)

    def __call__(self, text: str) -> str:
        out, last = [], 0
        for start, end in self.spans(text):
            if start >= last:
                out += [text[last:start], MARK]
                last = end
        return "".join([*out, text[last:]]) if out else text

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where secrets stand in ``text``: (start, end) ranges, in order, overlaps merged
        (a range of escapes maps to the escaped text's own)."""
        if not self.forms or not text:
            return []
        view, origin = _unescaped(text)
        view, origin = _unescaped(view, origin)  # once more: an escape of an escape
        folded = _lower(view)
        spans = []
        for form in self.forms:
            spans += _found(folded if form.fold else view, form)
        return [(origin[start], origin[end]) for start, end in _merged(spans)]


def _derived(secret: str) -> list[tuple[str, bool]]:
    """The secret, and the parts of it an endpoint may show on their own; each with whether
    a piece of it, cut short, is a secret too (of "Bearer sk-...", "Bearer" is not)."""
    match = _SCHEME.match(secret.strip())
    if not match:
        return [(secret, True)]
    credentials = match.group(1)
    found = [(secret, False), (credentials, True)]
    if secret.strip()[:6].lower() == "basic ":
        try:
            userpass = base64.b64decode(credentials, validate=True).decode("utf-8")
        except ValueError:  # not base64, or not UTF-8 (UnicodeDecodeError is a ValueError)
            userpass = ""
        found += [(userpass, False), (userpass.partition(":")[2], True)]
    return found


def _base64_forms(value: str) -> list[str]:
    """The base64 characters that encode nothing but ``value``, for each of the three
    alignments it may have inside a longer encoded text, standard and URL-safe."""
    data = value.encode("utf-8")
    forms = []
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + data).decode("ascii")
        # Character i encodes bits 6i..6i+5: keep those wholly inside the value's bytes.
        whole = encoded[(8 * offset + 5) // 6 : 8 * (offset + len(data)) // 6]
        forms += [whole, whole.translate(_URLSAFE)]
    return list(dict.fromkeys(forms))


_URLSAFE = str.maketrans("+/", "-_")


def _unescaped(text: str, origin: list[int] | None = None) -> tuple[str, list[int]]:
    """The text with its escapes decoded, and where each character of it starts in the
    original text (one more entry: the original's end), through ``origin`` if given."""
    if "%" not in text and "\\" not in text and "&" not in text:
        return text, origin if origin is not None else list(range(len(text) + 1))
    out: list[str] = []
    starts: list[int] = []
    last = 0
    for match in _ESCAPE.finditer(text):
        char = _decoded(match)
        if char is None:
            continue
        out.append(text[last : match.start()])
        starts += range(last, match.start())
        out.append(char)
        starts.append(match.start())
        last = match.end()
    out.append(text[last:])
    starts += range(last, len(text) + 1)
    if origin is not None:
        starts = [origin[i] for i in starts]
    return "".join(out), starts


def _decoded(match: re.Match[str]) -> str | None:
    pct, u, x, simple, dec, hexa, entity = match.groups()
    if simple is not None:
        return _SIMPLE.get(simple, simple)
    if entity is not None:
        return _ENTITY[entity]
    code = int(pct or u or x or hexa, 16) if dec is None else int(dec)
    return chr(code) if code <= 0x10FFFF else None


def _lower(text: str) -> str:
    folded = text.lower()
    if len(folded) == len(text):
        return folded
    # A few characters lower-case to two ("İ"): keep those as they are, so offsets hold.
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def _found(view: str, form: _Form) -> list[tuple[int, int]]:
    """The spans of ``view`` that hold the form, whole or, if it may be, cut short."""
    secret = form.text
    spans = []
    i = view.find(secret)
    while i >= 0:
        spans.append((i, i + len(secret)))
        i = view.find(secret, i + 1)
    if not form.cut:
        return spans
    head, tail = secret[:MASKED], secret[-MASKED:]
    i = view.find(head)
    while i >= 0:
        n = MASKED
        while n < len(secret) and i + n < len(view) and view[i + n] == secret[n]:
            n += 1
        if n >= FRAGMENT or _MASK.match(view, i + n):
            spans.append((i, i + len(view[i : i + n].rstrip())))  # the space after "Bearer" is no secret
        i = view.find(head, i + 1)
    j = view.find(tail)
    while j >= 0:
        start, k = j, len(secret) - MASKED
        while k > 0 and start > 0 and view[start - 1] == secret[k - 1]:
            start, k = start - 1, k - 1
        if j + MASKED - start >= FRAGMENT or _masked_before(view, start):
            spans.append((j + MASKED - len(view[start : j + MASKED].lstrip()), j + MASKED))
        j = view.find(tail, j + 1)
    return spans


def _masked_before(view: str, end: int) -> bool:
    return any(m.end() == end for m in _MASK.finditer(view, max(end - 64, 0), end))


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


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


def basic_credentials(user: str, password: str) -> str:
    """The Authorization value a URL's user info goes out as (RFC 7617; as httpx makes it:
    percent-decoded, UTF-8)."""
    return "Basic " + base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode("ascii")


def url_secrets(url: str) -> list[str]:
    """The values ``redact_url`` hides, so they can be hidden wherever else they turn up:
    decoded, as given (still percent-encoded), and as httpx re-encodes them, so that no
    form of a secret survives in a log line or an error message; and the Basic
    credentials the user info is sent as."""
    found = []
    for form in dict.fromkeys(u for u in (url, _normalised(url)) if u is not None):
        parts = _split(form)
        userinfo = parts.netloc.rpartition("@")[0]
        if userinfo:
            user, colon, password = userinfo.partition(":")
            secret = password if colon else userinfo  # a user name alone is a token
            found += [secret, unquote(secret), basic_credentials(user, password)]
        for pair in parts.query.split("&"):
            key, _, value = pair.partition("=")
            if _SECRET_PARAM.search(unquote_plus(key)):
                found += [value, unquote_plus(value)]
    return [s for s in dict.fromkeys(found) if s]


@contextmanager
def safe_log_records(redact: Redactor) -> Iterator[None]:
    """While active, every log record is made safe when it is made, in every thread, so no
    handler (live log, log file, captured log) sees a secret or a raw control character:
    its message is redacted and made visible as the reports show text (an escape sequence
    in a reason phrase httpx logs is shown, not obeyed); the text of its exception and stack,
    formatted once here, likewise, but for their line breaks."""
    # Imported here: _render imports the rules, they the transport, and the transport this module.
    from ._render import visible_block, visible_text

    previous = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - bad arguments: logging reports them when it formats the record
            message = None
        if message is not None and (safe := visible_text(redact(message))) != message:
            record.msg, record.args = safe, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = visible_block(redact(record.exc_text))
        if record.stack_info:
            record.stack_info = visible_block(redact(record.stack_info))
        return record

    logging.setLogRecordFactory(factory)
    try:
        yield
    finally:
        # Restore only our own change: a factory installed after ours stays in place.
        if logging.getLogRecordFactory() is factory:
            logging.setLogRecordFactory(previous)
