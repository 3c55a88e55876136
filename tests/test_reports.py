"""The compliance reports: where they go, what they say, and that nothing the target sends
can inject markup into them, nor any secret leak into any artifact of a run."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conformance import load_profile
from conformance._catalogue import requirements
from conformance._html_stream import COLORS, timeline
from conformance._model import ordinal
from conformance._report import load_schema
from conformance._rules import VIOLATIONS_KEPT
from reference_server import FAULTS
from reference_server.dialects.simple_faults_serving import HOSTILE_MARKUP
from tests.conftest import FAST, REPORT_SCHEMA, run_suite

SECRET = "sk-live-0123456789abcdef"


TRANSCRIPT = "sse-conformance.transcript.json.gz"
ALL_THREE = {"sse-conformance.html", "sse-conformance.json", TRANSCRIPT}


def reports_in(pytester: pytest.Pytester, directory: str = "reports") -> set[str]:
    folder = pytester.path / directory
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


# -- where the reports go ------------------------------------------------------------------


def test_a_run_writes_one_self_contained_html_and_a_json_report(suite, pytester):
    run = suite("fault=no-done")
    assert reports_in(pytester) == ALL_THREE  # no assets/ folder
    doc = run.report
    assert doc["verdict"] == "does-not-conform"
    assert doc["strict"] is False
    assert doc["summary"]["MUST"]["failed"] == 1
    [failed] = [r for r in doc["requirements"] if r["result"] == "failed"]
    assert failed["id"] == "DONE-PRESENT"
    violation = failed["violations"][0]
    assert violation["expected"] == "an event with data '[DONE]'"
    assert violation["excerpt"]["rows"][-1]["text"] == "␊"
    assert "report   " in run.output and "sse-conformance.json" in run.output


def test_report_dir_moves_both_reports_and_has_an_ini_twin(suite, pytester):
    suite("", "--sse-report-dir", "out/sse")
    assert reports_in(pytester, "out/sse") == ALL_THREE
    pytester.makeini("[pytest]\nsse_report_dir = from-ini\n")
    suite("")
    assert reports_in(pytester, "from-ini") == ALL_THREE
    assert not (pytester.path / "reports").exists()


def test_pytest_html_own_html_option_wins(suite, pytester):
    suite("", "--html", "mine/report.html")
    assert (pytester.path / "mine" / "report.html").exists()
    assert reports_in(pytester) == {"sse-conformance.json", TRANSCRIPT}


def test_json_report_needs_no_pytest_html(suite, pytester):
    run = suite("fault=no-done", "-p", "no:html")
    assert run.failed == {"DONE-PRESENT"}
    assert reports_in(pytester) == {"sse-conformance.json", TRANSCRIPT}


def test_echoing_credentials_is_benign(suite):
    assert suite("fault=echo-credentials", "--sse-strict").failed == set()


def test_a_run_without_an_exchange_leaves_no_stale_report(suite, pytester):
    stale = pytester.path / "reports" / "sse-conformance.json"
    stale.parent.mkdir()
    stale.write_text('{"verdict": "conforms"}')
    suite("", "--collect-only")
    assert not stale.exists()


def test_deselected_requirements_are_left_out(suite):
    run = suite("fault=no-done", "-k", "DONE")
    assert [r["id"] for r in run.report["requirements"]] == [r.id for r in requirements() if "DONE" in r.id]


# -- what they say -------------------------------------------------------------------------


@pytest.mark.parametrize(("strict", "result"), [((), "warning"), (("--sse-strict",), "failed")])
def test_strictness_decides_what_a_should_violation_counts_as(suite, strict, result):
    doc = suite("fault=hostile-content", *strict).report
    assert doc["strict"] is bool(strict)
    [entry] = [r for r in doc["requirements"] if r["id"] == "FRAME-KNOWN-FIELDS"]
    assert (entry["level"], entry["outcome"], entry["result"]) == ("SHOULD", "failed", result)
    assert doc["summary"]["SHOULD"][result] == 1


def test_timings_describe_the_stream(suite):
    doc = suite("chunks=6").report
    t = doc["timings"]
    assert t["content_events"] == 6 and len(t["arrivals"]["times"]) == 6 and t["arrivals"]["stride"] == 1
    assert 0 < t["headers"] <= t["first_event"] <= t["first_content"] <= t["last_content"] <= t["total"]
    assert t["gap_p50"] <= t["gap_p95"] <= t["gap_max"]
    assert t["first_content"] <= t["gap_max_at"] < t["total"]
    assert t["events_per_second"] > 0 and t["gaps_sampled"] is False
    request = doc["exchange"]["request"]
    assert request["method"] == "POST" and {"name": "Accept", "value": "text/event-stream"} in request["headers"]
    assert doc["exchange"]["response"]["status"] == 200
    svg = ET.fromstring(timeline(t).split("<figcaption>")[0].removeprefix('<figure class="sse-timeline">'))
    fills = [e.get("fill") for e in svg.iter("{http://www.w3.org/2000/svg}rect")]
    assert COLORS["gap"] in fills  # the longest gap, marked


def test_junit_xml_names_every_requirement_and_its_result(suite, pytester):
    suite("fault=hostile-content", "--junitxml", "junit.xml")
    cases = ET.parse(pytester.path / "junit.xml").getroot().iter("testcase")
    names = {}
    for case in cases:
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        assert props["requirement"] == case.get("name")
        names[case.get("name")] = (props["level"], props["result"], case.find("failure") is not None)
    assert set(names) == {r.id for r in requirements(load_profile("simple"))}  # the items collected
    assert names["PAYLOAD-JSON"] == ("MUST", "failed", True)
    assert names["FRAME-KNOWN-FIELDS"] == ("SHOULD", "warning", False)  # passes, and says so
    assert names["HTTP-STATUS"] == ("MUST", "passed", False)


# -- the terminal --------------------------------------------------------------------------


def test_a_should_warning_reads_as_a_finding_about_the_endpoint(suite):
    out = suite("fault=hostile-content").output  # FRAME-KNOWN-FIELDS: a SHOULD not met
    # Not a Python warning: no plugin path, no source line, no pytest warnings summary.
    for plugin_line in ("plugin.py", "warnings.warn", "ConformanceWarning", "warnings summary"):
        assert plugin_line not in out
    assert re.search(r"^sse-conformance [.FsW]*W[.FsW]* +\[100%\]$", out, re.MULTILINE), out  # W, where it ran
    assert "= SHOULD not met: warnings (--sse-strict fails them) =" in out
    assert "  1. unknown field '<script>alert(1)</script>' is ignored by clients" in out
    assert re.search(r"^SHOULD +10 met, 1 warning, 1 skipped$", out, re.MULTILINE), out
    assert re.search(r"^INTEROP +0 met, 0 warnings, 3 skipped$", out, re.MULTILINE), out  # --sse-interop off
    assert re.search(r"^=+ 2 failed, 26 passed, 7 skipped, 1 warned in [\d.]+s =+$", out, re.MULTILINE), out


def test_event_numbers_count_from_zero_and_say_so_everywhere(suite, pytester):
    run = suite("fault=no-done")
    n = run.report["exchange"]["response"]["events"]
    [entry] = [e for e in run.report["requirements"] if e["id"] == "DONE-PRESENT"]
    [v] = entry["violations"]
    assert v["event"] == n - 1 and v["message"].endswith(f"after event {n - 1} without '[DONE]'")
    where = f"event {n - 1} (the {ordinal(n)}), byte {v['offset']}"
    assert v["where"] == where
    counted = f"{n} events (numbered 0 to {n - 1})"
    assert f"where:    {where}" in run.output and f", {counted}; ended:" in run.output
    page = Elements(html_report(pytester)).text
    assert where in page and counted in page


# -- the HTML report, read without JavaScript ---------------------------------------------


class Elements(HTMLParser):
    """Every element and all the text of an HTML document or fragment."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.texts: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.texts.append(data)

    @property
    def text(self) -> str:
        return "".join(self.texts)


class RequirementTable(HTMLParser):
    """The requirement table as the page holds it, so as a browser shows it with JavaScript
    off: one dict per requirement (its tbody's attributes, its own rows, its open
    ``<details>``, its text) and every element inside the table."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[dict] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.depth = 0  # tables open, counting from the requirement table (0: outside it)
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and (self.depth or a.get("id") == "sse-requirements"):
            self.depth += 1
        if not self.depth:
            return
        self.tags.append((tag, a))
        if self.depth == 1 and tag == "tbody":
            self.rows.append({**a, "trs": 0, "open": 0, "text": ""})
        elif self.rows and self.depth == 1 and tag == "tr":
            self.rows[-1]["trs"] += 1
        elif self.rows and tag == "details" and "open" in a:
            self.rows[-1]["open"] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth and self.rows:
            self.rows[-1]["text"] += data


def html_report(pytester: pytest.Pytester) -> str:
    return (pytester.path / "reports" / "sse-conformance.html").read_text(encoding="utf-8")


def test_the_html_report_shows_the_verdict_and_its_evidence_without_javascript(suite, pytester):
    run = suite("fault=hostile-content")  # two MUST failures and a SHOULD warning
    html = html_report(pytester)
    rows = RequirementTable(html).rows
    entries = {e["id"]: e for e in run.report["requirements"]}
    # Every requirement the run collected, once, failures first, warnings right after them.
    assert sorted(r["id"] for r in rows) == sorted(run.outcomes) == sorted(entries)
    results = [r["data-result"] for r in rows]
    assert results == sorted(results, key=["failed", "warning", "skipped", "passed"].index)
    assert results[:3] == ["failed", "failed", "warning"]
    for row in rows:
        entry = entries[row["id"]]
        assert row["data-level"] == entry["level"] and row["data-result"] == entry["result"]
        if not entry["violations"]:
            assert row["trs"] == 1, row  # no empty spacer row under it
            continue
        assert (row["trs"], row["open"]) == (2, 1)  # its evidence, open, in the page itself
        for v in entry["violations"]:
            for text in (v["message"], v["expected"], v["received"], v["where"]):
                assert text in row["text"]
            assert all(line["text"] in row["text"] for line in v["excerpt"]["rows"])
    # pytest-html's own table, built in the browser, is replaced: it holds no row.
    [blob] = [a["data-jsonblob"] for _, a in Elements(html).tags if "data-jsonblob" in a]
    assert json.loads(blob)["tests"] == {}
    # The counts are the suite's: as many requirements as pytest collected.
    page = Elements(html).text
    assert f"{len(run.outcomes)} requirements checked: 2 failed, 1 warning, 7 skipped, 26 met" in page
    assert "NO VERDICT" not in page and "DOES NOT CONFORM" in page


def test_every_violation_kept_is_shown_and_the_rest_are_counted(suite, pytester):
    run = suite("fault=ndjson")  # every line of the body breaks FRAME-KNOWN-FIELDS
    [entry] = [e for e in run.report["requirements"] if e["id"] == "FRAME-KNOWN-FIELDS"]
    count, kept = entry["violation_count"], len(entry["violations"])
    assert count > kept == VIOLATIONS_KEPT
    assert load_schema()["$defs"]["requirement"]["properties"]["violations"]["maxItems"] == VIOLATIONS_KEPT
    more = f"{count - kept} more were counted but not kept (the suite keeps the first {kept} of each requirement)"
    [row] = [r for r in RequirementTable(html_report(pytester)).rows if r["id"] == "FRAME-KNOWN-FIELDS"]
    assert all(v["where"] in row["text"] for v in entry["violations"])
    assert f"Evidence: {count} violations: the {kept} kept are all shown; {more}" in row["text"]
    assert f"{count} violations in all: the {kept} above, and {more}" in run.output


def test_a_run_the_suite_could_not_judge_shows_its_errors(pytester, reference, monkeypatch):
    import conformance.plugin

    def broken(*args, **kwargs):
        raise RuntimeError(f"transport broke: <b>{SECRET}</b>\x1b[31m")

    monkeypatch.setattr(conformance.plugin, "run_canonical", broken)
    run = run_suite(pytester, reference.url("/chat/stream"), *FAST, "--tb=short", "-k", "HTTP-STATUS or HTTP-CHARSET",
                    "--sse-header", f"Authorization: Bearer {SECRET}")  # fmt: skip
    assert run.failed == {"HTTP-STATUS", "HTTP-CHARSET"} and SECRET not in run.output
    html = html_report(pytester)
    assert SECRET not in html
    table = RequirementTable(html)
    assert [(r["id"], r["data-result"], r["open"]) for r in table.rows] == [
        ("HTTP-STATUS", "error", 1), ("HTTP-CHARSET", "error", 0),  # the first error open, the repeat folded
    ]  # fmt: skip
    assert "transport broke: <b><redacted></b>␛[31m" in table.rows[0]["text"]
    assert "b" not in {tag for tag, _ in table.tags}
    assert "NO VERDICT" in Elements(html).text


# -- nothing the target sends becomes markup -----------------------------------------------

# The elements of the requirement table, the target's bytes among them.
TABLE_TAGS = {"table", "thead", "tbody", "tr", "th", "td", "caption", "a", "span", "div", "p", "ol", "li",
              "details", "summary", "pre"}  # fmt: skip


def test_hostile_content_is_text_in_the_html_report(suite, pytester):
    run = suite("fault=hostile-content", "--sse-strict")
    assert run.failed == FAULTS["hostile-content"].trips
    html = html_report(pytester)
    page = Elements(html)
    # The page: pytest-html's own script and handler, no element or handler from the target.
    assert [tag for tag, _ in page.tags if tag == "script"] == ["script"]
    handlers = [(tag, name, value) for tag, attrs in page.tags for name, value in attrs.items() if name[:2] == "on"]
    assert handlers == [("div", "onclick", "location.reload()")]
    assert not [attrs for tag, attrs in page.tags if tag == "img" and attrs.get("src")]
    assert HOSTILE_MARKUP in page.text  # the response header, shown as text
    # The table, as static HTML: the bytes around each failure, as text.
    table = RequirementTable(html)
    for tag, attrs in table.tags:
        assert tag in TABLE_TAGS, tag
        assert not any(name.startswith("on") for name in attrs), attrs
        assert tag != "a" or (attrs["href"] or "").startswith(("https://", "#")), attrs
    text = "".join(row["text"] for row in table.rows)
    assert HOSTILE_MARKUP in text
    assert "'quoted'␀⟨ff⟩\"}␊" in text  # NUL and the invalid byte, as symbols


# -- no secret in any artifact ----------------------------------------------------------


def test_a_secret_appears_in_no_artifact(pytester, reference):
    # The secret is sent as a header, sits in the URL's query, and the target echoes it
    # back in a response header and in the last chunk, which the failure quotes.
    url = reference.url("/chat/stream") + f"?api_key={SECRET}&fault=echo-credentials,no-done"
    run = run_suite(
        pytester, url, *FAST, "--sse-header", f"Authorization: Bearer {SECRET}", "-rA",
        "--junitxml", "junit.xml", "-o", "junit_logging=all",
        "--log-level", "DEBUG", "--log-cli-level", "DEBUG", "--log-file", "run.log", "--log-file-level", "DEBUG",
    )  # fmt: skip
    assert run.failed == {"DONE-PRESENT"}
    artifacts = {"stdout": run.output, "stderr": run.result.stderr.str()}
    for path in pytester.path.rglob("*"):
        if path.is_file():
            artifacts[str(path.relative_to(pytester.path))] = path.read_text(encoding="utf-8", errors="replace")
    assert {"junit.xml", "run.log", "reports/sse-conformance.html", "reports/sse-conformance.json"} <= set(artifacts)
    for name, text in artifacts.items():
        assert SECRET not in text, name
        assert escape(SECRET) not in text, name
    # The secret did reach them, redacted: echoed, logged, sent.
    doc = run.report
    assert {"name": "x-echo-authorization", "value": "<redacted>"} in doc["exchange"]["response"]["headers"]
    assert {"name": "Authorization", "value": "<redacted>"} in doc["exchange"]["request"]["headers"]
    assert "(you sent <redacted>)" in json.dumps(doc["requirements"], ensure_ascii=False)
    assert "api_key=<redacted>" in artifacts["run.log"]


def test_the_readme_example_of_the_json_report_matches_the_schema():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    example = readme.split("The JSON report, in brief", 1)[1].split("```json\n", 1)[1].split("```", 1)[0]
    REPORT_SCHEMA.validate(json.loads(example))
