"""Secrets never leave the process: header values given with --sse-header, and
credentials in the target URL, are replaced before any text is shown or written."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["Redactor", "MARK", "redact_url"]

MARK = "<redacted>"
# Query parameters that commonly carry credentials (`?api_key=...`, `?token=...`).
_SECRET_PARAM = re.compile(r"key|token|secret|password|passwd|auth|sig|signature|credential|session", re.I)


class Redactor:
    """Replaces every secret in a text with a mark."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret that contains another is removed whole.
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MARK)
        return text


def redact_url(url: str) -> str:
    """The URL with a password and secret-looking query values replaced."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MARK
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
