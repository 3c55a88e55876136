"""The HTML report: pytest-html builds the page, this module fills its hooks.

What goes in: the verdict banner (summary prefix); the stream's timeline, latency table,
request and response (summary); the level and result filters (postfix); the requirement
table's columns (row hooks); each failure's evidence (a per-item ``extras`` entry).

Everything is rendered from the JSON report document (``_report``), whose text is already
redacted and made visible; it still holds what the target sent, so every string is escaped
here, attribute values included, whatever its origin.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any

import pytest

from ._report import VERDICTS, Result, requirement_entry

if TYPE_CHECKING:
    from .plugin import Suite

__all__ = ["HtmlReport", "banner", "timeline", "latency_table", "exchange", "filters", "evidence"]

Doc = dict[str, Any]

RESULT_WORDS = {"passed": "met", "failed": "failed", "warning": "warning", "skipped": "skipped",
                "not-judged": "not judged"}
LEVELS = ("MUST", "SHOULD")


def esc(value: object) -> str:
    return escape(str(value), quote=True)


def seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.3f} s"


# -- the verdict -------------------------------------------------------------------------


def banner(doc: Doc | None, target: str) -> str:
    """The verdict first: what was checked, against what, and what it came to."""
    if doc is None:
        return (
            '<section class="sse-banner sse-none"><p class="sse-verdict">NO VERDICT</p>'
            f"<p>The exchange with {esc(target)} was not made: see the errors in the table below.</p></section>"
        )
    verdict = doc["verdict"]
    css = {"conforms": "sse-conforms", "does-not-conform": "sse-fails"}.get(verdict, "sse-unjudged")
    strictness = (
        "strict (--sse-strict): a MUST or SHOULD requirement not met fails the run"
        if doc["strict"]
        else "default strictness: a MUST requirement not met fails the run; SHOULD ones are warnings"
    )
    shown = doc["target"]["url"] + (" (reference server)" if doc["target"]["reference_server"] else "")
    facts = [
        ("target", shown),
        ("profile", doc["profile"]),
        ("date", doc["date"]),
        ("suite", f"{doc['suite']['name']} {doc['suite']['version']}"),
    ]
    counts = ["<tr><th>level</th>" + "".join(f"<th>{esc(RESULT_WORDS[r.value])}</th>" for r in Result) + "</tr>"]
    for level in LEVELS:
        row = doc["summary"][level]
        counts.append(
            f"<tr><th>{level}</th>"
            + "".join(f'<td class="sse-n sse-{r.value}" data-n="{row[r.value]}">{row[r.value]}</td>' for r in Result)
            + "</tr>"
        )
    not_met = [r for r in doc["requirements"] if r["result"] in ("failed", "warning")]
    links = " ".join(f'<a class="sse-{esc(r["result"])}" href="#{esc(r["id"])}">{esc(r["id"])}</a>' for r in not_met)
    return (
        f'<section class="sse-banner {css}">'
        f'<p class="sse-verdict">{esc(VERDICTS[verdict])}</p>'
        + (f'<p class="sse-cause">{esc(cause["cause"])}<br>Check: {esc(cause["check"])}</p>'
           if (cause := doc.get("cause")) else "")
        + f'<p class="sse-strictness">at {esc(strictness)}</p>'
        '<div class="sse-banner-body">'
        '<table class="sse-facts">'
        + "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in facts)
        + "</table>"
        f'<table class="sse-counts">{"".join(counts)}</table>'
        "</div>" + (f'<p class="sse-not-met">Not met: {links}</p>' if links else "") + "</section>"
    )


# -- the stream over time ----------------------------------------------------------------

# Timeline geometry, in SVG user units.
W, H = 720, 170
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 14, 30
COLORS = {"headers": "#1f6fd0", "first": "#1a8f3c", "gap": "#d9534f", "terminator": "#6f42c1", "events": "#333"}


def timeline(timings: Doc) -> str:
    """An inline SVG: content events received so far, over time, with the landmarks marked."""
    times: list[float] = timings["arrivals"]["times"]
    stride: int = timings["arrivals"]["stride"]
    total = max([timings["total"], *times[-1:]]) or 1e-3
    count = max(timings["content_events"], len(times) * stride, 1)
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM

    def x(t: float) -> float:
        return round(LEFT + plot_w * min(t / total, 1.0), 1)

    def y(n: int) -> float:
        return round(TOP + plot_h * (1 - n / count), 1)

    parts = [f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" class="sse-plot"/>']
    gap, gap_at = timings["gap_max"], timings["gap_max_at"]
    if gap and gap_at is not None:
        x0, x1 = x(gap_at), x(gap_at + gap)
        parts.append(
            f'<rect x="{x0}" y="{TOP}" width="{max(x1 - x0, 1)}" height="{plot_h}" '
            f'fill="{COLORS["gap"]}" fill-opacity="0.18"><title>longest gap {esc(seconds(gap))}</title></rect>'
        )
    for key, name in (("headers", "headers"), ("first_event", "first"), ("terminator", "terminator")):
        if timings[key] is not None:
            parts.append(
                f'<line x1="{x(timings[key])}" x2="{x(timings[key])}" y1="{TOP}" y2="{TOP + plot_h}" '
                f'stroke="{COLORS[name]}" stroke-width="2" stroke-dasharray="4 3"/>'
            )
    if times:
        # A step line: the count jumps at each arrival; ticks along the axis show each one.
        steps = [f"M{x(times[0])},{y(0)}"]
        for k, t in enumerate(times):
            steps.append(f"H{x(t)}V{y((k + 1) * stride)}")
        steps.append(f"H{x(total)}")
        parts.append(f'<path d="{"".join(steps)}" fill="none" stroke="{COLORS["events"]}" stroke-width="1.5"/>')
        ticks = "".join(f"M{x(t)},{TOP + plot_h}v-7" for t in times)
        parts.append(f'<path d="{ticks}" stroke="{COLORS["events"]}" stroke-opacity="0.6"/>')
    else:
        parts.append(f'<text x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}" text-anchor="middle">no content event</text>')
    for i in range(5):
        t = total * i / 4
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"
        parts.append(f'<text x="{x(t)}" y="{H - 12}" text-anchor="{anchor}">{esc(seconds(t))}</text>')
    parts.append(f'<text x="{LEFT - 6}" y="{TOP + 10}" text-anchor="end">{count}</text>')
    parts.append(f'<text x="{LEFT - 6}" y="{TOP + plot_h}" text-anchor="end">0</text>')
    legend = [
        ("headers", f"response headers {seconds(timings['headers'])}"),
        ("first", f"first event {seconds(timings['first_event'])}"),
        ("gap", f"longest gap {seconds(gap)}" + (f" from {seconds(gap_at)}" if gap_at is not None else "")),
        ("terminator", f"terminator {seconds(timings['terminator'])}"),
        ("events", f"content events received ({timings['content_events']})"),
    ]
    return (
        '<figure class="sse-timeline">'
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" '
        'aria-label="Content events received over time">'
        f"{''.join(parts)}</svg>"
        '<figcaption><ul class="sse-legend">'
        + "".join(
            f'<li><span class="sse-swatch" style="background:{COLORS[k]}"></span>{esc(v)}</li>' for k, v in legend
        )
        + "</ul></figcaption></figure>"
    )


def latency_table(timings: Doc) -> str:
    sampled = " (sampled)" if timings["gaps_sampled"] else ""
    rate = timings["events_per_second"]
    rows = [
        ("time to headers", seconds(timings["headers"])),
        ("time to first event", seconds(timings["first_event"])),
        ("time to first content", seconds(timings["first_content"])),
        ("time to first text", seconds(timings["first_text"])),
        (f"gap between content events, p50{sampled}", seconds(timings["gap_p50"])),
        (f"gap between content events, p95{sampled}", seconds(timings["gap_p95"])),
        ("longest gap between events", seconds(timings["gap_max"])),
        ("total", seconds(timings["total"])),
        ("content events", str(timings["content_events"])),
        ("events per second", "—" if rate is None else f"{rate:.1f}"),
    ]
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    return f'<table class="sse-latency"><caption>Latency</caption>{body}</table>'


def _headers(headers: Sequence[Doc]) -> str:
    if not headers:
        return '<p class="sse-empty">no headers</p>'
    rows = "".join(f"<tr><th>{esc(h['name'])}</th><td>{esc(h['value'])}</td></tr>" for h in headers)
    return f'<table class="sse-headers">{rows}</table>'


def exchange(doc: Doc) -> str:
    """The request as sent (secrets redacted) and the response's status line and headers."""
    ex = doc["exchange"]
    req, resp, end = ex["request"], ex["response"], ex["ending"]
    if resp["status"] is None:
        status = '<p class="sse-empty">no response</p>'
    else:
        status = f"<p><code>{esc(resp['http_version'])} {esc(resp['status'])} {esc(resp['reason'])}</code></p>"
    return (
        '<section class="sse-exchange">'
        f"<div><h3>Request sent</h3><p><code>{esc(req['method'])} {esc(req['url'])}</code></p>"
        f'{_headers(req["headers"])}<pre class="sse-body">{esc(req["body"])}</pre></div>'
        f"<div><h3>Response</h3>{status}{_headers(resp['headers'])}"
        f"<p>{esc(resp['body_bytes'])} bytes, {esc(resp['events'])} events; ended ({esc(end['kind'])}): "
        f"{esc(end['detail'])} at {esc(seconds(end['time']))}</p></div>"
        "</section>"
    )


def stream_section(doc: Doc) -> str:
    return (
        '<section class="sse-stream"><h2>The stream</h2><div class="sse-stream-body">'
        f"{timeline(doc['timings'])}{latency_table(doc['timings'])}</div>{exchange(doc)}</section>"
    )


# -- the requirement table ---------------------------------------------------------------


def filters(doc: Doc | None) -> str:
    """Checkboxes that hide rows by level and by result; report.css does the hiding."""
    if doc is None:
        return ""
    by_level = {lvl: sum(doc["summary"][lvl].values()) for lvl in LEVELS}
    by_result = {r.value: sum(doc["summary"][lvl][r.value] for lvl in LEVELS) for r in Result}

    def box(kind: str, value: str, label: str, n: int) -> str:
        return (
            f'<label><input type="checkbox" id="sse-show-{kind}-{value}" checked{" disabled" if not n else ""}>'
            f" {esc(label)} ({n})</label>"
        )

    return (
        '<div class="sse-filters"><h2>Requirements</h2>'
        '<span class="sse-filter-group">level: '
        + "".join(box("level", lvl, lvl, by_level[lvl]) for lvl in LEVELS)
        + '</span><span class="sse-filter-group">result: '
        + "".join(box("result", r, RESULT_WORDS[r], by_result[r]) for r in by_result)
        + '</span><span class="sse-hint">click a row for its evidence</span></div>'
    )


HEADER = [
    '<th class="sortable" data-column-type="testId">ID</th>',
    '<th class="sortable" data-column-type="level">Level</th>',
    "<th>Requirement</th>",
    "<th>Source</th>",
    "<th>Finding</th>",
]
# pytest-html's own columns that the requirement columns replace (the test ID, shown as
# the requirement ID; the duration, meaningless when one exchange serves every item; links).
_DROPPED_HEADER = re.compile(r'data-column-type="(?:testId|duration)"|<th>Links</th>')
_DROPPED_CELL = re.compile(r'class="col-(?:testId|duration|links)"')


def table_header(cells: list[str]) -> list[str]:
    kept = [c for c in cells if not _DROPPED_HEADER.search(c)]
    return kept[:1] + HEADER + kept[1:]


def table_row(cells: list[str], entry: Doc | None, fallback_id: str) -> list[str]:
    """The cells of one row: pytest-html's result cell, then the requirement's columns.

    The ID cell holds the bare ID: pytest-html makes it the row's element id (so the
    banner's ``#ID`` links land on it) and sorts on it."""
    kept = [c for c in cells if not _DROPPED_CELL.search(c)]
    if entry is None:
        mine = [
            f'<td class="col-testId">{esc(fallback_id)}</td>',
            '<td class="col-level"></td>',
            '<td class="col-title"></td>',
            '<td class="col-source col-links"></td>',
            '<td class="col-message"></td>',
        ]
        return kept[:1] + mine + kept[1:]
    source = esc(entry["source"])
    if entry["source_url"]:
        source = f'<a href="{esc(entry["source_url"])}" target="_blank" rel="noopener noreferrer">{source}</a>'
    result = entry["result"]
    finding = esc(entry["message"]) if result != "passed" else '<span class="sse-met">met</span>'
    if result == "warning":
        finding = f'<span class="sse-badge">warning</span> {finding}'
    if entry["notes"]:
        finding += "".join(f'<div class="sse-note">{esc(note)}</div>' for note in entry["notes"])
    mine = [
        f'<td class="col-testId" data-result="{esc(result)}">{esc(entry["id"])}</td>',
        f'<td class="col-level" data-level="{esc(entry["level"])}">{esc(entry["level"])}</td>',
        f'<td class="col-title">{esc(entry["title"])}</td>',
        f'<td class="col-source col-links">{source}</td>',
        f'<td class="col-message">{finding}</td>',
    ]
    return kept[:1] + mine + kept[1:]


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
    """A failure's evidence: each violation's expected, received, where, and the bytes."""
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
    shown, count = len(entry["violations"]), entry["violation_count"]
    more = f", the first {shown} shown" if count > shown else ""
    return (
        f'<div class="sse-evidence sse-{esc(entry["result"])}">'
        f'<p class="sse-evidence-title"><b>{esc(entry["id"])}</b> [{esc(entry["level"])}] {esc(entry["title"])}: '
        f"{count} violation{'s' if count != 1 else ''}{more}</p><ol>{''.join(items)}</ol></div>"
    )


# -- the pytest-html hooks ---------------------------------------------------------------


class HtmlReport:
    """pytest-html's hooks; registered only when pytest-html is active."""

    def __init__(self, suite: Suite) -> None:
        self.suite = suite

    def _entry(self, requirement_id: str) -> Doc | None:
        """A requirement's report entry, once its verdict exists (None if the exchange failed)."""
        suite = self.suite
        if not suite.exchanged:
            return None
        return requirement_entry(suite.verdict(requirement_id), suite.settings.strict, suite.redact)

    def _entry_of(self, report: pytest.TestReport) -> Doc | None:
        # The entry travels with the report: under pytest-xdist the controller, which writes
        # the HTML, has no verdicts of its own.
        rid = _requirement_id(report)
        return getattr(report, "sse_entry", None) or (self._entry(rid) if rid else None)

    def pytest_html_report_title(self, report: Any) -> None:
        report.title = "sse-conformance report"

    def pytest_html_results_summary(self, prefix: list[str], summary: list[str], postfix: list[str]) -> None:
        doc = self.suite.document()
        prefix.append(banner(doc, self.suite.shown_target))
        if doc is not None:
            summary.append(stream_section(doc))
        postfix.append(filters(doc))

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells[:] = table_header(cells)

    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list[str]) -> None:
        rid = _requirement_id(report)
        cells[:] = table_row(cells, self._entry_of(report), rid or report.nodeid)

    def pytest_html_results_table_html(self, report: pytest.TestReport, data: list[str]) -> None:
        # A judged requirement's text failure (or skip reason) is in its row and its evidence
        # already; what else was captured, logs say, stays.
        if self._entry_of(report) is not None:
            redundant = {escape(report.longreprtext) + "\n", "No log output captured."}
            data[:] = [d for d in data if d not in redundant]

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
        report: pytest.TestReport = yield
        rid = _requirement_id(report)
        if report.when == "call" and rid:
            entry = self._entry(rid)
            if entry is not None:
                report.sse_entry = entry  # type: ignore[attr-defined]
            if entry is not None and entry["violations"]:
                from pytest_html import extras  # the plugin is active, so importable

                report.extras = [*getattr(report, "extras", []), extras.html(evidence(entry))]
        return report


def _requirement_id(report: pytest.TestReport | pytest.CollectReport) -> str | None:
    return dict(getattr(report, "user_properties", ())).get("requirement")
