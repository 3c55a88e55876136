"""What each option's text may be, and the value it gives: one function per kind of
value, taking the text as given (on the command line or in an ini file) and returning the
value, or raising ValueError that says what was expected. ``_settings.py`` adds which option
it was and where it came from (``Invalid value '0' from --sse-timeout: ...``).

A reason never quotes a header line (it may hold a credential), and a URL it quotes has its
password and secret query values redacted.
"""

from __future__ import annotations

import difflib
import errno
import json
import math
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from ._budget import DEPTHS, Depth, RetryBudget
from ._redact import Redactor, redact_url, url_secrets

if TYPE_CHECKING:
    from ._saved import Saved

__all__ = ["INTEROP_MODES", "REFERENCE", "REPLAY", "as_count", "as_depth", "as_directory", "as_headers", "as_interop",
           "as_positive", "as_request_file", "as_retries", "as_saved", "as_seconds", "as_size", "as_target"]

REFERENCE = "reference"
REPLAY = "replay:"
INTEROP_MODES = ("warn", "fail", "off")


def as_seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("expected a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError("expected a positive number of seconds")
    return value


_SIZE = re.compile(r"^\s*(\d+)\s*(|b|k|kb|kib|m|mb|mib|g|gb|gib)\s*$", re.I)


def as_size(raw: str) -> int:
    match = _SIZE.match(str(raw))
    if not match:
        raise ValueError("expected a size in bytes, e.g. 1048576 or 1MiB")
    unit = match.group(2).lower()[:1]
    value = int(match.group(1)) * {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[unit]
    if value <= 0:
        raise ValueError("expected a positive size")
    return value


_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def as_headers(lines: list[str]) -> tuple[tuple[str, str], ...]:
    out = []
    for n, line in enumerate(lines, 1):
        name, colon, value = str(line).partition(":")
        if not colon or not _TOKEN.match(name.strip()):
            # Never echo the line: it may hold a credential.
            raise ValueError(f"header #{n} is not 'Name: value' (value not shown)")
        value = value.strip()
        if any(c in value for c in "\r\n\x00"):
            raise ValueError(f"header #{n} ({name.strip()}) has a line break or NUL in its value")
        if not value.isascii():
            # httpx sends header values as ASCII: it would fail on every request instead.
            raise ValueError(f"header #{n} ({name.strip()}) has a character that is not ASCII in its value "
                             "(value not shown)")
        out.append((name.strip(), value))
    return tuple(out)


def as_count(raw: str) -> int:
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ValueError("expected a whole number") from None
    if value < 0:
        raise ValueError("expected zero or more")
    return value


def as_depth(raw: str) -> Depth:
    name = str(raw).strip().lower()
    if name not in DEPTHS:
        raise ValueError(f"expected one of {', '.join(DEPTHS)}")
    return DEPTHS[name]


def as_positive(raw: str) -> int:
    value = as_count(raw)
    if value == 0:
        raise ValueError("expected 1 or more")
    return value


def as_retries(raw: str) -> RetryBudget:
    text = str(raw).strip()
    count, slash, seconds = text.partition("/")
    if not slash:
        budget = RetryBudget(count=as_count(count))
        return budget if budget.count else RetryBudget(count=0, seconds=0.0)
    try:
        wait = float(seconds)
    except ValueError:
        raise ValueError("expected COUNT/SECONDS, e.g. 3/60") from None
    if not math.isfinite(wait) or wait < 0:
        raise ValueError("expected COUNT/SECONDS with SECONDS zero or more, e.g. 3/60")
    return RetryBudget(count=as_count(count), seconds=wait)


def as_target(raw: str) -> str:
    raw = str(raw).strip()
    if raw == REFERENCE or raw.startswith(REFERENCE + "?") or raw.startswith(REPLAY):
        return raw
    if not re.match(r"^https?://[^/?#]+", raw, re.I):
        raise ValueError("expected an http:// or https:// URL, 'reference' or 'replay:FILE'" + _with_scheme(raw))
    try:
        url = httpx.URL(raw)
    except httpx.InvalidURL as exc:
        # httpx's reason may quote a part of the URL: a password, a key in the query.
        raise ValueError(f"not a URL ({Redactor(url_secrets(raw))(str(exc))})") from None
    if not url.host:
        raise ValueError("the URL names no host")
    if url.port is not None and not 1 <= url.port <= 65535:
        raise ValueError(f"port {url.port} is out of range: ports run from 1 to 65535")
    return raw


_HOST_PORT = re.compile(r"^(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?P<port>:\d+)?(?:[/?#]|$)")
_LOOPBACK = re.compile(r"^(?:localhost|127\.[0-9.]+|\[::1\])$", re.I)


def _with_scheme(raw: str) -> str:
    """A suggestion for a target given without its scheme: "localhost:8080/chat" may mean
    http://localhost:8080/chat (https:// for a domain name, http:// otherwise), and
    "refrence" may mean reference. The suggestion's secrets are redacted, as the value's are."""
    if difflib.get_close_matches(raw.partition("?")[0], [REFERENCE], cutoff=0.75):
        return f" (did you mean {REFERENCE!r}?)"
    match = _HOST_PORT.match(raw) if "://" not in raw else None
    if match is None:
        return ""
    host, port = match.group("host"), match.group("port")
    address = host.startswith("[") or host.replace(".", "").isdigit()
    if "." in host and not address:
        scheme = "https"  # a domain name
    elif _LOOPBACK.match(host) or address or port:
        scheme = "http"  # loopback, an address, or a bare host with a port (a container's name)
    else:
        return ""  # one word: not plainly a host
    return f" (did you mean {redact_url(f'{scheme}://{raw}')!r}?)"


def as_saved(raw: str) -> Saved:
    from ._saved import load_saved  # imported late: it needs the package loaded whole

    path = Path(str(raw).strip().removeprefix(REPLAY))
    if not str(path).strip():
        raise ValueError("expected replay:FILE, the path of a saved transcript")
    try:
        return load_saved(path)
    except ValueError as exc:
        raise ValueError(f"cannot replay {str(path)!r}: {exc}") from None


def as_interop(raw: str) -> str:
    mode = str(raw).strip().lower()
    if mode not in INTEROP_MODES:
        raise ValueError(f"expected one of {', '.join(INTEROP_MODES)}")
    return mode


def as_request_file(raw: str) -> Path:
    path = Path(raw)
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read it ({exc.strerror})") from None
    except ValueError as exc:
        raise ValueError(f"not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise ValueError("the request body must be a JSON object")
    return path


def as_directory(base: Path, raw: str) -> Path:
    """The report directory, relative to ``base``: made now, so that a directory the reports
    cannot be written to stops the run before it starts rather than after it ends."""
    text = str(raw).strip()
    if not text:
        raise ValueError("expected a directory")
    path = Path(text)
    where = base / path
    try:
        where.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ValueError("exists and is not a directory") from None
    except OSError as exc:
        raise ValueError(f"cannot create it ({exc.strerror or exc})") from None
    if not where.is_dir():
        raise ValueError("exists and is not a directory")
    if not os.access(where, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write to it ({os.strerror(errno.EACCES)})")
    return path
