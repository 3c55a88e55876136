"""Command-line options, their ini twins, and the settings they resolve to.

Only ``--target`` goes unprefixed: every other option carries ``--sse-``, because common
plugins own the short names (pytest-timeout ``--timeout``, pytest-profiling ``--profile``,
pytest ``--strict``) and a clash stops pytest from starting. Each option has an ini twin
with the same name in snake case; the command line wins. A bad value says where it came
from, and never echoes a header value.
"""

from __future__ import annotations

import difflib
import errno
import json
import math
import os
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import pytest

from ._budget import DEPTHS, Depth, RetryBudget
from ._redact import Redactor, redact_url, url_secrets
from ._transcript import Limits

if TYPE_CHECKING:
    from ._saved import Saved

__all__ = ["Settings", "add_options", "read_settings", "report_dir_given", "REFERENCE", "REPLAY", "INTEROP_MODES"]

REFERENCE = "reference"
REPLAY = "replay:"
INTEROP_MODES = ("warn", "fail", "off")
T = TypeVar("T")


@dataclass(frozen=True)
class Option:
    flag: str  # without the leading dashes
    help: str
    kind: str = "string"  # ini type: string, bool, linelist
    metavar: str | None = None

    @property
    def ini(self) -> str:
        return self.flag.replace("-", "_")


OPTIONS = [
    Option("target", "URL of the streaming endpoint to check, 'reference' for the bundled server, or "
           "'replay:FILE' for a saved transcript (runs the conformance suite instead of collecting tests)",
           metavar="URL"),
    Option("sse-profile", "API dialect: a built-in name (default 'simple') or a profile directory", metavar="NAME|DIR"),
    Option("sse-header", "extra request header 'Name: value', repeatable; values are never shown",
           kind="linelist", metavar="HEADER"),
    Option("sse-request", "JSON file with the canonical request body (default: the profile's example)",
           metavar="FILE"),
    Option("sse-timeout", "longest wait for the headers or the next byte of the stream, in seconds (default 30)",
           metavar="SECONDS"),
    Option("sse-stream-timeout", "longest a whole stream may take, in seconds (default 300)", metavar="SECONDS"),
    Option("sse-done-grace", "how long the response may stay open after the terminator, in seconds (default 2)",
           metavar="SECONDS"),
    Option("sse-strict", "SHOULD-level violations fail the run too (default: reported as warnings)", kind="bool"),
    Option("sse-depth", "how many requests of its own the suite makes: 'quick' (the canonical request and bad "
           "requests only), 'standard' (default) or 'thorough'; --sse-examples, --sse-disconnects and "
           "--sse-concurrency fine-tune it", metavar="DEPTH"),
    Option("sse-examples", "how many requests to draw, varying the canonical one, each checked as a stream "
           "(default: 3 at standard depth; 0 turns it off)", metavar="N"),
    Option("sse-seed", "seed for the drawn requests (default: random, printed in the header)", metavar="N"),
    Option("sse-concurrency", "how many streams to open at once (default: 3 at standard depth; 0 turns it off)",
           metavar="N"),
    Option("sse-disconnects", "how many times a client drops a stream after its first event before the next "
           "request must still stream normally (default: 3 at standard depth; 0 turns it off)", metavar="N"),
    Option("sse-parallel", "how many of its own requests the suite keeps in flight at once (default 4; at least "
           "--sse-concurrency while those streams run); fewer when the endpoint answers 429", metavar="N"),
    Option("sse-retries", "retries after 429 or 503: COUNT per request, within SECONDS of waiting in all, "
           "each after its Retry-After (default 3/60; 0 turns retries off)", metavar="COUNT/SECONDS"),
    Option("sse-deadline", "longest the whole run may take, in seconds (default 600); own requests not made by "
           "then are not judged", metavar="SECONDS"),
    Option("sse-max-line", "longest line accepted, e.g. 1MiB (default)", metavar="SIZE"),
    Option("sse-max-event", "largest event accepted, e.g. 8MiB (default)", metavar="SIZE"),
    Option("sse-max-body", "largest body read, e.g. 64MiB (default)", metavar="SIZE"),
    Option("sse-interop", "real client libraries the canonical stream is replayed to: 'warn' (default: one that "
           "misreads it is a warning, one not installed is not judged; neither changes the verdict), 'fail' (a "
           "misreading fails the run, a client not installed leaves it NOT JUDGED) or 'off'", metavar="MODE"),
    Option("sse-report-dir", "where the HTML and JSON reports go, relative to the current directory "
           "(default 'reports'); pytest-html's --html, if given, still places the HTML", metavar="DIR"),
]


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("sse-conformance", "sse-conformance: check a Server-Sent Events endpoint")
    for opt in OPTIONS:
        if opt.kind == "bool":
            group.addoption(f"--{opt.flag}", action="store_true", default=None, dest=opt.ini, help=opt.help)
        elif opt.kind == "linelist":
            group.addoption(f"--{opt.flag}", action="append", default=None, dest=opt.ini,
                            metavar=opt.metavar, help=opt.help)
        else:
            group.addoption(f"--{opt.flag}", default=None, dest=opt.ini, metavar=opt.metavar, help=opt.help)
        parser.addini(opt.ini, opt.help, type=opt.kind if opt.kind != "string" else None)


@dataclass(frozen=True)
class Settings:
    target: str  # the URL as given, or REFERENCE (with an optional ?query for the reference server)
    profile: str = "simple"
    headers: tuple[tuple[str, str], ...] = ()
    request_file: Path | None = None
    strict: bool = False
    limits: Limits = field(default_factory=Limits)
    depth: Depth = DEPTHS["standard"]
    examples: int = DEPTHS["standard"].examples
    seed: int = 0
    concurrency: int = DEPTHS["standard"].concurrency
    disconnects: int = DEPTHS["standard"].disconnects
    parallel: int = 4
    retries: RetryBudget = field(default_factory=RetryBudget)
    deadline: float = 600.0
    report_dir: Path = Path("reports")  # relative to the current directory
    interop: str = "warn"  # INTEROP_MODES
    replay: Saved | None = None  # the transcript a replay: target names, read

    @property
    def is_reference(self) -> bool:
        return self.target == REFERENCE or self.target.startswith(REFERENCE + "?")

    @property
    def interop_fails(self) -> bool:
        """Whether interop findings (and clients not installed) count towards the verdict."""
        return self.interop == "fail"

    @property
    def secrets(self) -> list[str]:
        return [value for _, value in self.headers]

    @property
    def credentials(self) -> str | None:
        """Which credentials go out when the target URL holds user info (the transports
        send them so, see ``with_credentials``); None when it holds none."""
        if self.is_reference or self.replay is not None or not httpx.URL(self.target).userinfo:
            return None
        if any(name.lower() == "authorization" for name, _ in self.headers):
            return "--sse-header Authorization is sent; the user info in the URL is not (both were given)"
        return "the user info in the URL is sent as Authorization: Basic <redacted>"


def _raw(config: pytest.Config, opt: Option) -> tuple[Any, str]:
    value = config.getoption(opt.ini)
    if value is not None:
        return value, f"--{opt.flag}"
    value = config.getini(opt.ini)
    return (value if value not in ("", []) else None), f"ini option {opt.ini}"


def _shown(opt: Option, raw: Any) -> str:
    """The value as a message may quote it: header lines not at all (they hold credentials),
    the target with its password and secret query values replaced."""
    if opt.kind == "linelist":
        return ""
    return f" {redact_url(str(raw))!r}" if opt.flag == "target" else f" {raw!r}"


def _get(config: pytest.Config, flag: str, convert: Callable[[Any], T], default: T) -> T:
    opt = next(o for o in OPTIONS if o.flag == flag)
    raw, source = _raw(config, opt)
    if raw is None:
        return default
    try:
        return convert(raw)
    except ValueError as exc:
        raise pytest.UsageError(f"Invalid value{_shown(opt, raw)} from {source}: {exc}") from None


def _seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("expected a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError("expected a positive number of seconds")
    return value


_SIZE = re.compile(r"^\s*(\d+)\s*(|b|k|kb|kib|m|mb|mib|g|gb|gib)\s*$", re.I)


def _size(raw: str) -> int:
    match = _SIZE.match(str(raw))
    if not match:
        raise ValueError("expected a size in bytes, e.g. 1048576 or 1MiB")
    unit = match.group(2).lower()[:1]
    value = int(match.group(1)) * {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[unit]
    if value <= 0:
        raise ValueError("expected a positive size")
    return value


_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def _headers(lines: list[str]) -> tuple[tuple[str, str], ...]:
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


def _count(raw: str) -> int:
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ValueError("expected a whole number") from None
    if value < 0:
        raise ValueError("expected zero or more")
    return value


def _depth(raw: str) -> Depth:
    name = str(raw).strip().lower()
    if name not in DEPTHS:
        raise ValueError(f"expected one of {', '.join(DEPTHS)}")
    return DEPTHS[name]


def _positive(raw: str) -> int:
    value = _count(raw)
    if value == 0:
        raise ValueError("expected 1 or more")
    return value


def _retries(raw: str) -> RetryBudget:
    text = str(raw).strip()
    count, slash, seconds = text.partition("/")
    if not slash:
        budget = RetryBudget(count=_count(count))
        return budget if budget.count else RetryBudget(count=0, seconds=0.0)
    try:
        wait = float(seconds)
    except ValueError:
        raise ValueError("expected COUNT/SECONDS, e.g. 3/60") from None
    if not math.isfinite(wait) or wait < 0:
        raise ValueError("expected COUNT/SECONDS with SECONDS zero or more, e.g. 3/60")
    return RetryBudget(count=_count(count), seconds=wait)


def _target(raw: str) -> str:
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


def _saved(raw: str) -> Saved:
    from ._saved import load_saved  # imported late: it needs the package loaded whole

    path = Path(str(raw).strip().removeprefix(REPLAY))
    if not str(path).strip():
        raise ValueError("expected replay:FILE, the path of a saved transcript")
    try:
        return load_saved(path)
    except ValueError as exc:
        raise ValueError(f"cannot replay {str(path)!r}: {exc}") from None


def _interop(raw: str) -> str:
    mode = str(raw).strip().lower()
    if mode not in INTEROP_MODES:
        raise ValueError(f"expected one of {', '.join(INTEROP_MODES)}")
    return mode


def _request_file(raw: str) -> Path:
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


def _directory(base: Path, raw: str) -> Path:
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


def _default_report_dir(config: pytest.Config) -> Path:
    try:
        return _directory(config.invocation_params.dir, "reports")
    except ValueError as exc:
        raise pytest.UsageError(f"The report directory 'reports' is not usable: {exc}; "
                                "choose another with --sse-report-dir") from None


def report_dir_given(config: pytest.Config) -> Path | None:
    """Where the reports would go, as given (not made, not checked), for a run that stops
    before its settings are read; None without a target."""
    if _raw(config, next(o for o in OPTIONS if o.flag == "target"))[0] is None:
        return None
    raw, _ = _raw(config, next(o for o in OPTIONS if o.flag == "sse-report-dir"))
    return config.invocation_params.dir / str(raw or "reports").strip()


def read_settings(config: pytest.Config) -> Settings | None:
    """The settings in force, or None when no target is given (the plugin stays idle)."""
    target = _get(config, "target", _target, None)
    if target is None:
        return None
    seed = _get(config, "sse-seed", _count, None)
    saved = _get(config, "target", _saved, None) if target.startswith(REPLAY) else None
    # A replay is judged with the limits it was read with, and as the profile it was saved under,
    # unless told otherwise.
    defaults = saved.limits if saved is not None else Limits()
    limits = Limits(
        timeout=_get(config, "sse-timeout", _seconds, defaults.timeout),
        stream_timeout=_get(config, "sse-stream-timeout", _seconds, defaults.stream_timeout),
        done_grace=_get(config, "sse-done-grace", _seconds, defaults.done_grace),
        max_line=_get(config, "sse-max-line", _size, defaults.max_line),
        max_event=_get(config, "sse-max-event", _size, defaults.max_event),
        max_body=_get(config, "sse-max-body", _size, defaults.max_body),
    )
    depth = _get(config, "sse-depth", _depth, DEPTHS["standard"])
    deadline = _get(config, "sse-deadline", _seconds, 600.0)
    if deadline < limits.stream_timeout:
        raise pytest.UsageError(
            f"--sse-deadline {deadline:g} is shorter than --sse-stream-timeout {limits.stream_timeout:g}: the "
            "canonical stream alone may take that long; give a longer deadline or a shorter stream timeout")
    return Settings(
        target=target,
        profile=_get(config, "sse-profile", str, saved.profile if saved is not None else "simple"),
        headers=_get(config, "sse-header", _headers, ()),
        request_file=_get(config, "sse-request", _request_file, None),
        strict=bool(_get(config, "sse-strict", bool, False)),
        limits=limits,
        depth=depth,
        examples=_get(config, "sse-examples", _count, depth.examples),
        seed=random.randrange(1 << 32) if seed is None else seed,
        concurrency=_get(config, "sse-concurrency", _count, depth.concurrency),
        disconnects=_get(config, "sse-disconnects", _count, depth.disconnects),
        parallel=_get(config, "sse-parallel", _positive, 4),
        retries=_get(config, "sse-retries", _retries, RetryBudget()),
        deadline=deadline,
        report_dir=_get(config, "sse-report-dir", partial(_directory, config.invocation_params.dir), None)
        or _default_report_dir(config),
        interop=_get(config, "sse-interop", _interop, "warn"),
        replay=saved,
    )
