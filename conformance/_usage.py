"""A run's inputs checked against the profile before any request: a mistake in them is the
user's, so it stops the run as a usage error (exit 4) naming the fix, rather than being
blamed on the endpoint.

- ``--target reference?fault=NAME``: the fault must be one of the reference server's for the
  profile's path, and the other query values numbers it accepts;
- ``--sse-request FILE``: the body must match the profile's request schema.

A run stopped so leaves no report behind: :func:`forget_reports` deletes an earlier run's.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from jsonschema.exceptions import best_match

from ._profile import Profile
from ._redact import Redactor

__all__ = ["check_reference_query", "check_request_body", "forget_reports"]

SHOWN = 200  # characters of a schema's complaint quoted (it may quote a large part of the body)
# The reference server's numeric query parameters, as it reads them (reference_server/app.py).
NUMBERS = {"delay": float, "chunks": int, "pad": int, "size": int}


def check_reference_query(target: str, profile: Profile) -> str | None:
    """Why the bundled reference server would refuse ``target``'s query on the profile's
    path (a sentence naming the fix), or None."""
    from reference_server.dialects import DIALECTS, dialect_for  # only with --target reference: the server's registry

    dialect = dialect_for(profile.path)
    if dialect is None:
        return (f"profile {profile.name} has path {profile.path!r}, which the reference server does not serve "
                f"(it serves {', '.join(DIALECTS)}): set path in its profile.toml to the dialect it speaks")
    query = parse_qs(target.partition("?")[2], keep_blank_values=True)
    for name in (n.strip() for value in query.get("fault", []) for n in value.split(",")):
        if name and name not in dialect.faults:
            return _unknown_fault(name, profile, dialect.faults, DIALECTS)
    for key, convert in NUMBERS.items():
        for value in query.get(key, []):
            try:
                number = convert(value)
            except ValueError:
                number = -1
            if not math.isfinite(number) or number < 0:
                kind = "a number of milliseconds" if key == "delay" else "a whole number"
                return f"?{key}={value[:40]!r} is not {kind}, zero or more: the reference server would refuse it"
    return None


def _unknown_fault(name: str, profile: Profile, faults: Iterable[str], dialects: dict[str, Any]) -> str:
    shown = repr(name[:60])
    owners = [f"{d.profile} (path {path})" for path, d in dialects.items() if name in d.faults]
    if owners:
        return (f"fault {shown} belongs to profile {owners[0]}, not to {profile.name}: "
                f"add --sse-profile {owners[0].split()[0]}, or pick a fault of {profile.name}")
    close = difflib.get_close_matches(name, list(faults), n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    return (f"unknown fault {shown} for profile {profile.name}; {hint}its faults are: "
            f"{', '.join(sorted(faults))}")


def check_request_body(body: Any, profile: Profile, secrets: Iterable[str]) -> str | None:
    """Why ``body`` breaks the profile's request schema (the JSON path and the problem, as
    profile loading says it), or None. Secrets the body may quote are redacted."""
    problem = best_match(profile.request_validator.iter_errors(body))
    if problem is None:
        return None
    message = Redactor(list(secrets))(problem.message)
    message = message if len(message) <= SHOWN else message[:SHOWN] + "..."
    return (f"the body does not match the {profile.name} request schema at {problem.json_path}: {message}; "
            f"fix the body, or give a profile whose request schema allows it (--sse-profile)")


def forget_reports(directory: Path, names: Iterable[str]) -> None:
    """Delete the reports an earlier run left in ``directory``, so that none passes for
    this run's when this run writes none."""
    for name in names:
        try:
            (directory / name).unlink(missing_ok=True)
        except OSError:
            pass  # not ours to remove (a directory of that name, no permission): left alone
