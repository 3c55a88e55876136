"""sse-conformance: a conformance suite for Server-Sent Events streaming endpoints.

The pytest plugin (``conformance.plugin``) is what most users run: ``pytest --target URL``.
The pieces it is built from are public too::

    EventStreamParser    bytes in, WHATWG events out (no I/O)
    load_profile         a dialect: schemas, example request, terminator, rule sets
    capture              one recorded HTTP exchange -> Transcript
    REGISTRY             requirement ID -> the rule that checks it

Module layout, in the order data flows: _profile -> _capture (fills a _transcript; uses
_parser and _json_text) -> _rules and the checks (_checks_http, _checks_frame, _checks_done,
_checks_delivery, _checks_events, sharing _checks; the dialects' rule sets in dialects/)
-> _suite -> _probes* (own requests, through _budget) -> plugin -> _report (JSON; uses
_timing) -> _html (pytest-html).
"""

from ._capture import capture
from ._model import Ending, EndKind, Level, Requirement, Violation
from ._parser import EventStreamParser
from ._parser_output import Event, LimitExceeded, Notice, Unterminated
from ._profile import Profile, ProfileError, builtin_profiles, load_profile
from ._rules import REGISTRY, Outcome, Verdict, applicable
from ._transcript import Chunk, Limits, RequestSpec, Transcript
from . import _catalogue  # noqa: F401  (registers the checks, in catalogue order)

__version__ = "0.1.0"

__all__ = [
    "Chunk",
    "Ending",
    "EndKind",
    "Event",
    "EventStreamParser",
    "Level",
    "LimitExceeded",
    "Limits",
    "Notice",
    "Outcome",
    "Profile",
    "ProfileError",
    "REGISTRY",
    "RequestSpec",
    "Requirement",
    "Transcript",
    "Unterminated",
    "Verdict",
    "Violation",
    "applicable",
    "builtin_profiles",
    "capture",
    "load_profile",
]
