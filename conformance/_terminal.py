"""What the plugin writes to the terminal: the header lines before the run (the target, the
settings in force, the seed that reproduces the drawn requests, the request budget) and the
summary after it (warnings with their evidence, the verdict, the counts per level, the
exchange, where the reports went).

Both are told from what the run holds (``Suite`` in ``plugin.py``); the summary from the
report document, which a pytest-xdist controller merges from its workers', so that the
terminal says what the reports say.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import __version__
from ._model import Level
from ._render import events_phrase, plural, render_entry, result_count, sent_line, verdict_word
from ._report import Result, counts_against

if TYPE_CHECKING:
    from .plugin import Suite

__all__ = ["header_lines", "write_summary"]


def header_lines(suite: Suite) -> list[str]:
    """The lines of ``pytest_report_header``; the extra headers are named, their values never shown."""
    s, lim = suite.settings, suite.settings.limits
    lines = [
        f"sse-conformance {__version__}: target {suite.shown_target}",
        f"  profile {suite.profile.name}; timeout {lim.timeout:g} s; stream timeout {lim.stream_timeout:g} s; "
        f"done grace {lim.done_grace:g} s; strict {'on' if s.strict else 'off'}; interop {s.interop}",
    ]
    if s.replay is not None:
        masked = f"; {plural(s.replay.redacted, 'secret')} masked in its body" if s.replay.redacted else ""
        lines.append(f"  replaying a saved exchange at its recorded times: no request is sent, own-request "
                     f"requirements are not applicable{masked}")
    else:
        lines += [
            f"  own requests ({s.depth.name} depth): {s.examples} drawn (seed {s.seed}; --sse-seed {s.seed} "
            f"reproduces), {s.concurrency} at once, {s.disconnects} dropped, bad requests; "
            f"up to {s.parallel} in flight (the streams opened at once aside)",
            _budget_line(suite),
        ]
    if s.headers:
        lines.append("  extra headers: " + ", ".join(f"{name}: <redacted>" for name, _ in s.headers))
    if s.credentials:
        lines.append(f"  credentials: {s.credentials}")
    return lines


def _budget_line(suite: Suite) -> str:
    s = suite.settings
    most, full, shrinks = suite.planned()
    shrink = f" (+{shrinks} if a drawn request fails and is shrunk)" if shrinks else ""
    retries = (f"429/503 retried up to {s.retries.count} times each, {s.retries.seconds:g} s of waiting in all"
               if s.retries.count else "429/503 not retried")
    return (f"  budget: at most {most} requests{shrink}, {full} of them streaming a full answer; "
            f"{retries}; the run ends by {s.deadline:g} s (--sse-deadline)")


def write_summary(tr: Any, suite: Suite, doc: dict[str, Any]) -> None:
    """The summary at the end of the run, on pytest's terminal reporter ``tr``, told from
    the report document ``doc``."""
    warned = [entry for entry in doc["requirements"] if entry["result"] == Result.WARNING.value]
    for level, title in ((Level.SHOULD, "SHOULD not met: warnings (--sse-strict fails them)"),
                         (Level.INTEROP, "INTEROP: client libraries that misread this stream "
                                         "(--sse-interop fail fails them)")):
        shown = [entry for entry in warned if entry["level"] == level.value]
        if shown and tr.config.option.tbstyle != "no":
            # Right after pytest's FAILURES, in their form: each with its evidence.
            tr.write_sep("=", title)
            for entry in shown:
                tr.write_sep("_", f"{entry['id']} [{entry['level']}] {entry['title']}")
                tr.write_line(render_entry(entry))
    response, ending = doc["exchange"]["response"], doc["exchange"]["ending"]
    tr.write_sep("=", "sse-conformance")
    tr.write_line(f"target   {suite.shown_target}")
    tr.write_line(f"verdict  {verdict_word(doc['verdict'])}{' (strict)' if suite.settings.strict else ''}")
    for level in Level:
        if level is not Level.INTEROP or any(e["level"] == level.value for e in doc["requirements"]):
            tr.write_line(f"{level.value:<8} {_counts(suite, level, doc['summary'][level.value])}")
    if doc.get("cause"):
        tr.write_line(f"cause    {doc['cause']['cause']}")
        tr.write_line(f"check    {doc['cause']['check']}")
    if response["status"] is not None:
        tr.write_line(f"exchange status {response['status']}, {plural(response['body_bytes'], 'byte')}, "
                      f"{events_phrase(response['events'])}; ended: {ending['detail']} at {ending['time']:.3f} s")
    else:
        tr.write_line(f"exchange no response: {ending['detail']}")
    if suite.role == "controller" and len(suite.worker_documents) > 1:
        tr.write_line(f"         (one exchange of each of {len(suite.worker_documents)} pytest-xdist workers "
                      f"judged its share; the first shown)")
    if doc.get("requests"):
        tr.write_line(f"requests {sent_line(doc['requests'])}")
    for entry in doc["requirements"]:
        for note in entry["notes"]:
            tr.write_line(f"{entry['id']}: {note}")
    tr.write_line(f"report   {suite.json_path}")
    if suite.transcript.path.exists():
        tr.write_line(f"saved    {suite.transcript.path} (the exchange: --target replay:FILE judges it again)")


def _counts(suite: Suite, level: Level, counts: dict[str, int]) -> str:
    """``15 met, 1 failed, 2 not judged``: met, and what fails at this level and strictness,
    always; any other result (and any a later report format adds) when it occurred."""
    s = suite.settings
    fails = Result.FAILED if counts_against(level, s.strict, s.interop_fails) else Result.WARNING
    shown = [r for r, n in counts.items() if n or r in (Result.PASSED.value, fails.value)]
    return ", ".join(result_count(r, counts[r]) for r in shown)
