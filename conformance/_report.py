"""The JSON compliance report: the run's facts under stable names, for CI and dashboards.

``schemas/report.schema.json`` describes it. This is the one place where what the target
sent, and what could hold a secret, is turned into report text: redacted first, then made
visible (control characters as symbols, see ``_render``). The HTML report is rendered from
this document, so it has nothing left to do but escape.
"""

from __future__ import annotations

import enum
import json
import os
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from . import __version__, _schemas as schemas
from ._model import Level, Violation
from ._redact import MARK, Redactor, redact_url
from ._render import visible_rows, visible_text
from ._rules import Outcome, Verdict
from ._timing import latency
from ._transcript import Transcript

__all__ = [
    "REPORT_FORMAT",
    "Result",
    "Tally",
    "RunInfo",
    "build_report",
    "requirement_entry",
    "result_of",
    "counts_against",
    "write_report",
    "write_atomically",
    "atomic_file",
    "HtmlReportFile",
    "load_schema",
]

REPORT_FORMAT = 1  # bumped when a field changes meaning or goes away; new fields do not bump it
TIMELINE_POINTS = 1000  # arrival times kept in the report; longer streams are sampled evenly


class Result(str, enum.Enum):
    """A requirement's result at the chosen strictness."""

    PASSED = "passed"
    FAILED = "failed"
    WARNING = "warning"  # a SHOULD not met, without --sse-strict
    SKIPPED = "skipped"  # moot (blocked by an earlier failure) or not applicable
    NOT_JUDGED = "not-judged"  # the suite could not judge it (unreachable, refused, rate-limited)



def counts_against(level: Level, strict: bool, interop: bool = False) -> bool:
    """Whether a requirement of ``level`` not met (or not judged) counts against the run: a
    MUST always, a SHOULD with --sse-strict, an INTEROP with --sse-interop fail only."""
    if level is Level.INTEROP:
        return interop
    return strict or level is Level.MUST


def result_of(verdict: Verdict, strict: bool, interop: bool = False) -> Result:
    if verdict.outcome is Outcome.PASSED:
        return Result.PASSED
    if verdict.outcome is Outcome.FAILED:
        return Result.FAILED if counts_against(verdict.requirement.level, strict, interop) else Result.WARNING
    if verdict.outcome is Outcome.NOT_JUDGED:
        return Result.NOT_JUDGED
    return Result.SKIPPED


def run_verdict(
    results: Iterable[tuple[Level, Result, Outcome]], strict: bool, canonical_unjudged: bool, interop: bool = False
) -> str:
    """A requirement not met decides it, and so does one moot because another failed (that
    other may be deselected, with -k); else a canonical exchange the suite could not judge,
    or a requirement it could not judge where it would count (a MUST, a SHOULD with
    --sse-strict, an INTEROP with --sse-interop fail), leaves the run not judged."""
    results = list(results)
    if any(result is Result.FAILED or outcome is Outcome.BLOCKED for _, result, outcome in results):
        return "does-not-conform"
    if canonical_unjudged or any(
        result is Result.NOT_JUDGED and counts_against(level, strict, interop) for level, result, _ in results
    ):
        return "not-judged"
    return "conforms"


@dataclass(frozen=True)
class Tally:
    """Results counted by level, and the verdict they add up to."""

    counts: dict[Level, Counter[Result]]

    @classmethod
    def of(cls, verdicts: Iterable[Verdict], strict: bool, interop: bool = False) -> Tally:
        counts: dict[Level, Counter[Result]] = {level: Counter() for level in Level}
        for v in verdicts:
            counts[v.requirement.level][result_of(v, strict, interop)] += 1
        return cls(counts)



@dataclass(frozen=True)
class RunInfo:
    """What the report says about the run besides the exchange."""

    target: str  # as shown: credentials redacted
    reference_server: bool
    profile: str
    strict: bool
    date: datetime  # when the exchange began
    masked_headers: frozenset[tuple[str, str]]  # (lower-case name, value) given with --sse-header
    not_judged: tuple[str, str] | None = None  # (cause, what to check) when the canonical exchange could not be
    requests: dict[str, Any] | None = None  # what the run sent (the budget's ledger) and planned
    interop: str = "warn"  # --sse-interop: whether interop findings count ("fail"), or are warnings
    replay: dict[str, Any] | None = None  # the transcript a replay: target judged (file, date, target)

    @property
    def interop_fails(self) -> bool:
        return self.interop == "fail"


class _Text:
    """Untrusted text to report text: redacted, then made visible."""

    def __init__(self, redact: Redactor) -> None:
        self.redact = redact

    def __call__(self, text: str) -> str:
        return visible_text(self.redact(text))

    def rows(self, data: bytes, start: int) -> list[dict[str, Any]]:
        # Made visible from the bytes, so redacted after: a secret is printable, visible alike.
        return [{"offset": offset, "text": self.redact(line)} for offset, line in visible_rows(data, start)]


def build_report(t: Transcript, verdicts: Sequence[Verdict], run: RunInfo, redact: Redactor) -> dict[str, Any]:
    """The report document of a run: the exchange, and the verdicts of the requirements it judged."""
    text = _Text(redact)
    tally = Tally.of(verdicts, run.strict, run.interop_fails)
    return {
        "report_format": REPORT_FORMAT,
        "suite": {"name": "sse-conformance", "version": __version__},
        "date": run.date.isoformat(timespec="seconds"),
        "target": {"url": text(run.target), "reference_server": run.reference_server},
        "profile": run.profile,
        "strict": run.strict,
        "interop": run.interop,
        "replay": None if run.replay is None else {k: text(str(v)) for k, v in run.replay.items()},
        "verdict": run_verdict(((v.requirement.level, result_of(v, run.strict, run.interop_fails), v.outcome)
                                for v in verdicts), run.strict, run.not_judged is not None, run.interop_fails),
        "cause": _cause(run, verdicts, text),
        "summary": {level.value: {r.value: tally.counts[level][r] for r in Result} for level in Level},
        "requests": run.requests,
        "requirements": [requirement_entry(v, run.strict, redact, run.interop_fails) for v in verdicts],
        "exchange": _exchange(t, run, text),
        "timings": _timings(t),
    }


def _cause(run: RunInfo, verdicts: Sequence[Verdict], text: _Text) -> dict[str, str] | None:
    """Why the run could not be judged, and what to check; None when it was judged."""
    if run.not_judged is not None:
        cause, check = run.not_judged
        return {"cause": text(cause), "check": text(check), "canonical": True}
    unjudged = [v for v in verdicts if result_of(v, run.strict, run.interop_fails) is Result.NOT_JUDGED
                and counts_against(v.requirement.level, run.strict, run.interop_fails)]
    if not unjudged:
        return None
    first = unjudged[0]
    ids = ", ".join(v.requirement.id for v in unjudged)
    reason = first.reason.removeprefix("not judged: ")
    if all(v.requirement.level is Level.INTEROP for v in unjudged):
        check = ("the client libraries --sse-interop fail needs: pip install 'sse-conformance[interop]', and for "
                 "Node.js's, python -m conformance interop-install")
    elif "deadline" in reason:
        check = "--sse-deadline, and how long the target takes"
    elif "credentials" in reason:
        check = "the --sse-header values, and that the key is accepted on every request"
    else:
        check = ("the endpoint's rate limits: run again later, allow more waiting with --sse-retries, or ask less "
                 "of it at once (--sse-parallel, --sse-concurrency, --sse-depth quick)")
    return {"cause": text(f"{ids} could not be judged: {reason}"), "check": check, "canonical": False}


def merge_reports(docs: Sequence[dict[str, Any]], order: Sequence[str]) -> dict[str, Any]:
    """One document from those of processes that each judged part of the requirements
    (pytest-xdist workers). Each made its own canonical exchange: the first one's is shown.
    The requirements are listed in ``order`` (by ID), and the summary and the verdict are
    counted again from them."""
    entries = {entry["id"]: entry for doc in docs for entry in doc["requirements"]}
    listed = [entries[rid] for rid in order if rid in entries]
    summary = {level.value: {r.value: 0 for r in Result} for level in Level}
    for entry in listed:
        summary[entry["level"]][entry["result"]] += 1
    canonical_unjudged = any((doc.get("cause") or {}).get("canonical") for doc in docs)
    verdict = run_verdict(((Level(e["level"]), Result(e["result"]), Outcome(e["outcome"])) for e in listed),
                          docs[0]["strict"], canonical_unjudged, docs[0].get("interop") == "fail")
    cause = next((doc["cause"] for doc in docs if doc.get("cause")), None) if verdict == "not-judged" else None
    return {**docs[0], "verdict": verdict, "cause": cause, "summary": summary, "requests": _merged_requests(docs),
            "requirements": listed}


def _merged_requests(docs: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The requests of every worker, added up: each made its own canonical exchange."""
    ledgers = [doc["requests"] for doc in docs if doc.get("requests")]
    if not ledgers:
        return None
    merged = dict(ledgers[0])
    for key in ("sent", "waited", "cut_by_deadline"):
        merged[key] = sum(ledger[key] for ledger in ledgers)
    for key in ("by_kind", "retried", "refused"):
        merged[key] = dict(sum((Counter(ledger[key]) for ledger in ledgers), Counter()))
    merged["waited"] = round(merged["waited"], 3)
    backed = [ledger["backed_off_to"] for ledger in ledgers if ledger["backed_off_to"] is not None]
    merged["backed_off_to"] = min(backed, default=None)
    # Each worker's plan is the run's, but for the canonical exchange every worker makes.
    extra = len(ledgers) - 1
    plan = ledgers[0]["planned"]
    merged["planned"] = {**plan, "most": plan["most"] + extra, "full": plan["full"] + extra}
    return merged


def requirement_entry(v: Verdict, strict: bool, redact: Redactor, interop: bool = False) -> dict[str, Any]:
    """One requirement's result and violations, as the report lists it."""
    text = _Text(redact)
    req = v.requirement
    if v.outcome is Outcome.FAILED and v.violations:
        message = v.violations[0].message + (f" (and {v.count - 1} more)" if v.count > 1 else "")
    else:
        message = v.reason
    return {
        "id": req.id,
        "level": req.level.value,
        "title": req.title,
        "source": req.source,
        "source_url": req.url or None,
        "outcome": v.outcome.value,
        "result": result_of(v, strict, interop).value,
        "message": text(message),
        "violation_count": v.count,
        "violations": [_violation(viol, text) for viol in v.violations],
        "notes": [text(note) for note in v.notes],
    }


def _violation(viol: Violation, text: _Text) -> dict[str, Any]:
    excerpt = None
    if viol.excerpt and viol.excerpt_offset is not None:
        excerpt = {"offset": viol.excerpt_offset, "rows": text.rows(viol.excerpt, viol.excerpt_offset)}
    return {
        "message": text(viol.message),
        "expected": text(viol.expected),
        "received": text(viol.received),
        "where": viol.where(),
        "event": viol.event,
        "offset": viol.offset,
        "time": viol.time,
        "excerpt": excerpt,
    }


def _exchange(t: Transcript, run: RunInfo, text: _Text) -> dict[str, Any]:
    def sent(name: str, value: str) -> dict[str, str]:
        masked = (name.lower(), value) in run.masked_headers
        return {"name": text(name), "value": MARK if masked else text(value)}

    sent_headers = t.sent_headers or list(t.request.headers)
    return {
        "request": {
            "method": t.request.method,
            "url": text(redact_url(t.request.url)),
            "headers": [sent(k, v) for k, v in sent_headers],
            "body": text(t.request.body.decode("utf-8", "replace")),
        },
        "response": {
            "status": t.status,
            "reason": text(t.reason),
            "http_version": text(t.http_version),
            "headers": [{"name": text(k), "value": text(v)} for k, v in t.headers],
            "body_bytes": t.body_bytes,
            "events": t.events,
            "content_events": t.data_events,
            "terminators": t.terminators,
        },
        "ending": {
            "kind": t.ending.kind.value,
            "detail": text(t.ending.detail),
            "time": t.ending.time,
            "offset": t.ending.offset,
        },
    }


def _timings(t: Transcript) -> dict[str, Any]:
    lat = latency(t)
    times, stride = list(t.arrivals), t.arrival_stride
    if len(times) > TIMELINE_POINTS:
        step = -(-len(times) // TIMELINE_POINTS)
        times, stride = times[step - 1 :: step], stride * step
    return {
        "headers": lat.headers,
        "first_event": lat.first_event,
        "first_content": lat.first_content,
        "first_text": lat.first_text,
        "last_content": lat.last_content,
        "terminator": t.terminator_at,
        "total": lat.total,
        "content_events": lat.content_events,
        "gap_p50": lat.gap_p50,
        "gap_p95": lat.gap_p95,
        "gap_max": lat.gap_max,
        "gap_max_at": lat.gap_max_at,
        "gaps_sampled": lat.gaps_sampled,
        "events_per_second": lat.events_per_second,
        # times[k] is the arrival of content event (k + 1) * stride, counting from 1.
        "arrivals": {"stride": stride, "times": [round(x, 6) for x in times]},
    }


def write_report(doc: dict[str, Any], path: Path) -> None:
    write_atomically(path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def write_atomically(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all: into a new file beside it, then renamed over it, so
    a writer that fails leaves neither an empty report nor half of one.

    Every string from the target was made visible before (lone surrogates too); should one
    have escaped that, it is written as a backslash escape (in JSON, the escape of that very
    code point) rather than failing the write."""
    with atomic_file(path) as f:
        f.write(text.encode("utf-8", "backslashreplace"))


@contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A new file beside ``path``, open for writing, renamed over ``path`` once the block
    ends without error, and removed if it raises."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.part")
    try:
        # Created as open() creates a file (mode 0o666 less the umask), and only by us.
        with open(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as f:
            yield f
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


class HtmlReportFile:
    """pytest-html's page, kept as the JSON report is: an earlier run's page is removed when
    the run starts, and every write replaces the file whole. (pytest-html 4 truncates its file
    and then writes it, so a write that fails left an empty page.)"""

    @pytest.hookimpl(tryfirst=True)  # before pytest-html may write its first page
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        for plugin in session.config.pluginmanager.get_plugins():
            path = getattr(plugin, "_report_path", None)
            if isinstance(path, Path) and callable(getattr(plugin, "_write_report", None)):
                path.unlink(missing_ok=True)
                plugin._write_report = partial(write_atomically, path)


def load_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of the report document."""
    return schemas.load_schema("report")
