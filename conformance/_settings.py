"""Command-line options, their ini twins, and the settings they resolve to.

Only ``--target`` goes unprefixed: every other option carries ``--sse-``, because common
plugins own the short names (pytest-timeout ``--timeout``, pytest-profiling ``--profile``,
pytest ``--strict``) and a clash stops pytest from starting. Each option has an ini twin
with the same name in snake case; the command line wins. A bad value says where it came
from, and never echoes a header value. What each option's text may be is read in
``_option_values.py``; this module says which option, from where, and what they make.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import pytest

from ._budget import DEPTHS, Depth, RetryBudget
from ._option_values import (
    REFERENCE,
    REPLAY,
    as_count,
    as_depth,
    as_directory,
    as_headers,
    as_interop,
    as_positive,
    as_request_file,
    as_retries,
    as_saved,
    as_seconds,
    as_size,
    as_target,
)
from ._redact import redact_url
from ._transcript import Limits

if TYPE_CHECKING:
    from ._saved import Saved

__all__ = ["Settings", "add_options", "read_settings", "report_dir_given"]

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


def _default_report_dir(config: pytest.Config) -> Path:
    try:
        return as_directory(config.invocation_params.dir, "reports")
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
    target = _get(config, "target", as_target, None)
    if target is None:
        return None
    seed = _get(config, "sse-seed", as_count, None)
    saved = _get(config, "target", as_saved, None) if target.startswith(REPLAY) else None
    # A replay is judged with the limits it was read with, and as the profile it was saved under,
    # unless told otherwise.
    defaults = saved.limits if saved is not None else Limits()
    limits = Limits(
        timeout=_get(config, "sse-timeout", as_seconds, defaults.timeout),
        stream_timeout=_get(config, "sse-stream-timeout", as_seconds, defaults.stream_timeout),
        done_grace=_get(config, "sse-done-grace", as_seconds, defaults.done_grace),
        max_line=_get(config, "sse-max-line", as_size, defaults.max_line),
        max_event=_get(config, "sse-max-event", as_size, defaults.max_event),
        max_body=_get(config, "sse-max-body", as_size, defaults.max_body),
    )
    depth = _get(config, "sse-depth", as_depth, DEPTHS["standard"])
    deadline = _get(config, "sse-deadline", as_seconds, 600.0)
    if deadline < limits.stream_timeout:
        raise pytest.UsageError(
            f"--sse-deadline {deadline:g} is shorter than --sse-stream-timeout {limits.stream_timeout:g}: the "
            "canonical stream alone may take that long; give a longer deadline or a shorter stream timeout")
    return Settings(
        target=target,
        profile=_get(config, "sse-profile", str, saved.profile if saved is not None else "simple"),
        headers=_get(config, "sse-header", as_headers, ()),
        request_file=_get(config, "sse-request", as_request_file, None),
        strict=bool(_get(config, "sse-strict", bool, False)),
        limits=limits,
        depth=depth,
        examples=_get(config, "sse-examples", as_count, depth.examples),
        seed=random.randrange(1 << 32) if seed is None else seed,
        concurrency=_get(config, "sse-concurrency", as_count, depth.concurrency),
        disconnects=_get(config, "sse-disconnects", as_count, depth.disconnects),
        parallel=_get(config, "sse-parallel", as_positive, 4),
        retries=_get(config, "sse-retries", as_retries, RetryBudget()),
        deadline=deadline,
        report_dir=_get(config, "sse-report-dir", partial(as_directory, config.invocation_params.dir), None)
        or _default_report_dir(config),
        interop=_get(config, "sse-interop", as_interop, "warn"),
        replay=saved,
    )
