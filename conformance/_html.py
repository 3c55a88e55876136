"""The HTML report: pytest-html builds the page, this module fills it.

What goes in: the verdict banner (summary prefix); the stream (summary, ``_html_stream``);
the requirement table with every failure's and warning's evidence (postfix).

Everything is static HTML, readable with JavaScript off (or blocked by a CI artifact
viewer's Content-Security-Policy): pytest-html builds its own results table in the browser
from JSON, so without a script it shows no row. This table replaces it, and its
interactive parts are native: filters are checkboxes that report.css reads with
``:has()``, evidence folds in ``<details>``. It is sorted for the reader (failures,
warnings, not judged, skipped, met) where pytest-html sorts by pytest outcome, in which a SHOULD
warning is a pass. pytest-html keeps its page, header and environment table; its own
results table is left empty and hidden.

Everything is rendered from the JSON report document (``_report``), whose text is already
redacted and made visible; it still holds what the target sent, so every string is escaped
here, attribute values included, whatever its origin.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from ._catalogue import requirements
from ._html_stream import esc, stream_section
from ._render import kept_note, plural, result_count, result_word, sent_line, verdict_word, visible_text

if TYPE_CHECKING:
    from .plugin import Suite

__all__ = ["HtmlReport", "Row", "banner", "filters", "requirement_table", "evidence"]

Doc = dict[str, Any]

LEVELS = ("MUST", "SHOULD", "INTEROP")
# The table's order: what the suite could not judge for an error of its own, then what the
# endpoint broke, then what it should fix, then what could not be judged, then what it met.
# A result not listed here (one a later report format adds) goes before "skipped".
ORDER = ("error", "failed", "warning", "not-judged", "skipped", "passed")
VERDICT_CLASSES = {"conforms": "sse-conforms", "does-not-conform": "sse-fails", "not-judged": "sse-unjudged"}


def _rank(result: str) -> float:
    return ORDER.index(result) if result in ORDER else ORDER.index("skipped") - 0.5


@dataclass
class Row:
    """One requirement's row: its report entry, and what pytest captured besides."""

    entry: Doc
    errors: list[str] = field(default_factory=list)  # the suite's own errors (tracebacks), made visible
    captured: list[tuple[str, str]] = field(default_factory=list)  # (section title, text) as pytest captured

    @property
    def result(self) -> str:
        return "error" if self.errors else self.entry["result"]


# -- the verdict -------------------------------------------------------------------------


def banner(doc: Doc | None, target: str, rows: Sequence[Row] = ()) -> str:
    """The verdict first: what was checked, against what, and what it came to."""
    if doc is None:
        return (
            '<section class="sse-banner sse-none"><p class="sse-verdict">NO VERDICT</p>'
            f"<p>The exchange with {esc(target)} was not made: see the errors in the requirement table below.</p>"
            "</section>"
        )
    strictness = (
        "strict (--sse-strict): a MUST or SHOULD requirement not met fails the run"
        if doc["strict"]
        else "default strictness: a MUST requirement not met fails the run; SHOULD ones are warnings"
    ) + {"fail": "; a client library that misreads the stream, or is not installed, fails it too (--sse-interop "
                 "fail)", "off": "; no client library was run (--sse-interop off)"}.get(doc.get("interop", ""),
                                                                                     "; INTEROP findings are warnings")
    shown = doc["target"]["url"] + (" (reference server)" if doc["target"]["reference_server"] else "")
    facts = [
        ("target", shown),
        *([("replayed from", doc["replay"]["file"])] if doc.get("replay") else []),
        ("profile", doc["profile"]),
        ("date", doc["date"]),
        ("suite", f"{doc['suite']['name']} {doc['suite']['version']}"),
        *([("requests", sent_line(doc["requests"]))] if doc.get("requests") else []),
    ]
    results = sorted({r for level in LEVELS for r in doc["summary"].get(level, {})}, key=_rank)
    counts = ["<tr><th>level</th>" + "".join(f"<th>{esc(result_word(r))}</th>" for r in results) + "</tr>"]
    for level in (lvl for lvl in LEVELS if lvl in doc["summary"]):
        row = doc["summary"][level]
        counts.append(
            f"<tr><th>{level}</th>"
            + "".join(f'<td class="sse-n sse-{esc(r)}" data-n="{row[r]}">{row[r]}</td>' for r in results)
            + "</tr>"
        )
    # The same count as pytest's "collected N items" (less any deselected): every row.
    tally = Counter(row.result for row in rows)
    total = (
        f'<p class="sse-total">{esc(plural(len(rows), "requirement"))} checked: '
        + esc(", ".join(result_count(r, tally[r]) for r in sorted(tally, key=_rank)))
        + "</p>"
    )
    not_met = sorted((r for r in rows if r.result in ("error", "failed", "warning")), key=lambda r: _rank(r.result))
    links = " ".join(
        f'<a class="sse-{esc(r.result)}" href="#{esc(r.entry["id"])}">{esc(r.entry["id"])}</a>' for r in not_met
    )
    return (
        f'<section class="sse-banner {VERDICT_CLASSES.get(doc["verdict"], "sse-other")}">'
        f'<p class="sse-verdict">{esc(verdict_word(doc["verdict"]))}</p>'
        + (f'<p class="sse-cause">{esc(cause["cause"])}<br>Check: {esc(cause["check"])}</p>'
           if (cause := doc.get("cause")) else "")
        + f'<p class="sse-strictness">at {esc(strictness)}</p>'
        '<div class="sse-banner-body">'
        '<table class="sse-facts">'
        + "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in facts)
        + "</table>"
        f'<div><table class="sse-counts">{"".join(counts)}</table>{total}</div>'
        "</div>" + (f'<p class="sse-not-met">Not met: {links}</p>' if links else "") + "</section>"
    )


# -- the requirement table ---------------------------------------------------------------


def filters(rows: Sequence[Row]) -> str:
    """Checkboxes that hide rows by level and by result; report.css does the hiding."""
    by_level = Counter(row.entry["level"] for row in rows)
    by_result = Counter(row.result for row in rows)
    shown = sorted({"failed", "warning", "skipped", "passed", *by_result}, key=_rank)

    def box(kind: str, value: str, label: str, n: int) -> str:
        return (
            f'<label><input type="checkbox" id="sse-show-{kind}-{esc(value)}" checked{" disabled" if not n else ""}>'
            f" {esc(label)} ({n})</label>"
        )

    return (
        '<div class="sse-filters"><h2>Requirements</h2>'
        '<span class="sse-filter-group">level: '
        + "".join(box("level", lvl, lvl, by_level[lvl]) for lvl in LEVELS)
        + '</span><span class="sse-filter-group">result: '
        + "".join(box("result", r, result_word(r), by_result[r]) for r in shown)
        + '</span><span class="sse-hint">failures and warnings open on their evidence</span></div>'
    )


COLUMNS = ("ID", "Level", "Requirement", "Source", "Result", "Finding")


def requirement_table(rows: Sequence[Row], order: Sequence[str] = ()) -> str:
    """Every requirement that ran, one ``<tbody>`` each: its row, then (only if it has any)
    its evidence, errors and captured output. Sorted by result, then in ``order`` (by ID)."""
    position = {rid: n for n, rid in enumerate(order)}
    ranked = sorted(rows, key=lambda r: (_rank(r.result), position.get(r.entry["id"], len(position))))
    head = "".join(f"<th>{c}</th>" for c in COLUMNS)
    # The first error opens; when the suite fails on every requirement, the rest repeat it.
    first_error = next((row for row in ranked if row.errors), None)
    return (
        f'<table id="sse-requirements"><thead><tr>{head}</tr></thead>'
        + "".join(_tbody(row, row is first_error) for row in ranked)
        + "</table>"
    )


def _tbody(row: Row, open_error: bool = True) -> str:
    entry, result = row.entry, row.result
    source = esc(entry["source"])
    if entry["source_url"]:
        source = f'<a href="{esc(entry["source_url"])}" target="_blank" rel="noopener noreferrer">{source}</a>'
    finding = "" if result == "passed" else esc(entry["message"])
    finding += "".join(f'<div class="sse-note">{esc(note)}</div>' for note in entry["notes"])
    cells = [
        f'<td class="sse-id">{esc(entry["id"])}</td>',
        f'<td class="sse-level">{esc(entry["level"])}</td>',
        f'<td class="sse-title">{esc(entry["title"])}</td>',
        f'<td class="sse-source">{source}</td>',
        f'<td class="sse-result">{esc(result_word(result))}</td>',
        f'<td class="sse-finding">{finding}</td>',
    ]
    more = ""
    if row.errors:
        more += (
            f'<details class="sse-evidence sse-error"{" open" if open_error else ""}><summary>'
            "The suite could not judge this requirement: an error of its own (not the endpoint's)</summary>"
            + "".join(f'<pre class="sse-trace">{esc(text)}</pre>' for text in row.errors)
            + "</details>"
        )
    if entry["violations"]:
        more += evidence(entry)
    if row.captured:
        more += (
            f'<details class="sse-captured"><summary>captured output: {esc(", ".join(t for t, _ in row.captured))}'
            "</summary>"
            + "".join(f'<pre class="sse-trace">{esc(title)}\n{esc(text)}</pre>' for title, text in row.captured)
            + "</details>"
        )
    extra = f'<tr class="sse-more"><td colspan="{len(COLUMNS)}">{more}</td></tr>' if more else ""
    return (
        f'<tbody id="{esc(entry["id"])}" class="sse-{esc(result)}" data-result="{esc(result)}" '
        f'data-level="{esc(entry["level"])}"><tr class="sse-req">{"".join(cells)}</tr>{extra}</tbody>'
    )


# -- the evidence of one failure ---------------------------------------------------------

# The symbols _render uses for control characters and bytes (␍ ␊ ␀ ..., ⟨BOM⟩, ⟨ff⟩, ⟨U+202E⟩).
# Literal look-alikes in the stream are rendered by code point, so every match is a symbol.
_SYMBOL = re.compile("[\u2400-\u2426]|⟨[^⟨⟩]{1,12}⟩")


_NAMES = {0x00: "NUL", 0x09: "TAB", 0x0A: "LF", 0x0D: "CR"}


def _symbol_title(symbol: str) -> str:
    if len(symbol) == 1:
        code = 0x7F if symbol == "␡" else ord(symbol) - 0x2400
        return f"{_NAMES.get(code, 'control character')} (byte 0x{code:02X})"
    inner = symbol[1:-1]
    if inner == "BOM":
        return "byte order mark (U+FEFF)"
    if inner.startswith("U+"):
        return f"character {inner}, shown by code point"
    return f"byte 0x{inner}: not UTF-8"


def _raw(text: str) -> str:
    """Escape a line of visible bytes and set its symbols apart, each named in a tooltip."""

    def mark(match: re.Match[str]) -> str:
        symbol = match.group(0)
        return f'<span class="sse-ctl" title="{esc(_symbol_title(symbol))}">{symbol}</span>'

    return _SYMBOL.sub(mark, esc(text))


def _excerpt(excerpt: Doc, offset: int | None) -> str:
    rows = excerpt["rows"]
    hit = None
    if offset is not None:
        hit = max((i for i, row in enumerate(rows) if row["offset"] <= offset), default=None)
    body = "".join(
        ('<tr class="sse-hit">' if i == hit else "<tr>")
        + f'<td class="sse-off">{row["offset"]}</td><td class="sse-raw">{_raw(row["text"])}</td></tr>'
        for i, row in enumerate(rows)
    )
    return (
        '<table class="sse-bytes"><caption>bytes as received, by offset '
        "(␍ CR, ␊ LF, ␀ NUL, ⟨BOM⟩, ⟨ff⟩ a byte that is not UTF-8)</caption>"
        f"{body}</table>"
    )


def evidence(entry: Doc) -> str:
    """A failure's evidence: each violation kept, with its expected, received, where, and
    bytes; and how many more were counted but not kept. Open: it is what the reader came for."""
    items = []
    for v in entry["violations"]:
        facts = [(k, v[k]) for k in ("expected", "received", "where") if v[k]]
        item = f'<p class="sse-msg">{_raw(v["message"])}</p>'
        if facts:
            item += (
                '<table class="sse-facts">'
                + "".join(f"<tr><th>{esc(k)}</th><td>{_raw(val)}</td></tr>" for k, val in facts)
                + "</table>"
            )
        if v["excerpt"]:
            item += _excerpt(v["excerpt"], v["offset"])
        items.append(f"<li>{item}</li>")
    count, kept = entry["violation_count"], len(entry["violations"])
    said = plural(count, "violation")
    if count > kept:
        said += f": the {kept} kept are all shown; {kept_note(count, kept)}"
    return (
        f'<details class="sse-evidence sse-{esc(entry["result"])}" open><summary>Evidence: {esc(said)}</summary>'
        f"<ol>{''.join(items)}</ol></details>"
    )


# -- the pytest-html hooks ---------------------------------------------------------------


class HtmlReport:
    """pytest-html's hooks; registered only when pytest-html is active."""

    def __init__(self, suite: Suite) -> None:
        self.suite = suite
        self.catalogue = {req.id: req for req in requirements(suite.profile)}
        self.rows: dict[str, Row] = {}  # by requirement ID, in the order they ran

    def _row(self, rid: str) -> Row:
        if rid not in self.rows:
            req = self.catalogue.get(rid)
            # Until its entry arrives (it does unless the suite itself failed on it).
            self.rows[rid] = Row({
                "id": rid, "level": req.level.value if req else "", "title": req.title if req else "",
                "source": req.source if req else "", "source_url": (req.url or None) if req else None,
                "result": "error", "message": "not judged: the suite failed (see below)",
                "violation_count": 0, "violations": [], "notes": [],
            })  # fmt: skip
        return self.rows[rid]

    def _visible(self, text: str) -> str:
        return "\n".join(visible_text(line) for line in self.suite.redact(text).split("\n"))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
        # The entry travels with the report: under pytest-xdist the controller, which writes
        # the HTML, has no verdicts of its own.
        report: pytest.TestReport = yield
        entry = getattr(item, "entry", None)
        if report.when == "call" and entry is not None:
            report.sse_entry = entry  # type: ignore[attr-defined]
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        row = self._row(_requirement_id(report) or report.nodeid)
        entry = getattr(report, "sse_entry", None)
        if entry is not None:
            row.entry = entry
        elif report.failed:  # an error of the suite's, in any phase: its traceback, redacted
            # RequirementItem.repr_failure made it visible already; again would turn ␛ into ⟨U+241B⟩.
            row.errors.append(f"{report.when}: {self.suite.redact(report.longreprtext)}")
        elif report.skipped:  # skipped before it ran (a skip mark of the user's, say)
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longreprtext
            row.entry = {**row.entry, "result": "skipped", "message": self._visible(str(reason))}
        if report.when == "teardown":  # holds what every phase captured, made visible by the plugin
            row.captured = [(title, self.suite.redact(text)) for title, text in report.sections]

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self._row(report.nodeid or "collection").errors.append(self._visible(report.longreprtext))

    def pytest_html_report_title(self, report: Any) -> None:
        report.title = "sse-conformance report"

    def pytest_html_results_summary(self, prefix: list[str], summary: list[str], postfix: list[str]) -> None:
        doc = self.suite.document()
        rows = list(self.rows.values())
        prefix.append(banner(doc, self.suite.shown_target, rows))
        if doc is not None:
            summary.append(stream_section(doc))
        postfix.append(filters(rows) + requirement_table(rows, list(self.catalogue)))

    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list[str]) -> None:
        cells.clear()  # no row in pytest-html's own table: the requirement table replaces it


def _requirement_id(report: pytest.TestReport | pytest.CollectReport) -> str | None:
    return dict(getattr(report, "user_properties", ())).get("requirement")
