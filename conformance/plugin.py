"""The pytest plugin: ``pytest --target URL`` runs the conformance suite.

Installed through the ``pytest11`` entry point, so it is active in every pytest run, and
idle unless a target is given. With a target, collection yields one item per requirement
(``sse-conformance::HTTP-STATUS`` ...) instead of the test files of the directory, and the
run writes its reports: JSON always, HTML through pytest-html when that plugin is active.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from . import __version__
from ._model import Level, Requirement
from ._profile import Profile, ProfileError, load_profile
from ._redact import Redactor, redact_url, redacting_log_records, url_secrets
from ._render import render_verdict, visible_text
from ._catalogue import requirements
from ._probes import Probe, ProbeContext, probe_for
from ._report import RunInfo, build_report, merge_reports, result_of, write_report
from ._rules import Outcome, Verdict
from ._settings import Settings, add_options, read_settings, report_dir_given
from ._suite import Canonical, run_canonical
from ._usage import check_reference_query, check_request_body, forget_reports

__all__ = ["ConformanceWarning", "NonConformance"]

SUITE_KEY = pytest.StashKey["Suite"]()
HTML_NAME = "sse-conformance.html"
JSON_NAME = "sse-conformance.json"
REPORT_NAMES = (JSON_NAME, HTML_NAME)
CSS = Path(__file__).with_name("report.css")


class ConformanceWarning(UserWarning):
    """A SHOULD-level requirement the target does not meet (fails only with --sse-strict)."""


class NonConformance(AssertionError):
    """A requirement the target does not meet; its text is the rendered verdict."""


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(tryfirst=True)  # before pytest-html reads --html
def pytest_configure(config: pytest.Config) -> None:
    try:
        settings = read_settings(config)
        if settings is None:
            return
        profile = _checked_profile(settings)
    except pytest.UsageError:
        # A run stopped by a mistake writes no report: none of an earlier run may pass for its.
        if (given := report_dir_given(config)) is not None:
            forget_reports(given, REPORT_NAMES)
        raise
    report_dir = config.invocation_params.dir / settings.report_dir
    # Under pytest-xdist the workers run the items (each its own canonical exchange, and its
    # own reference server); the controller hands them its seed and merges their reports.
    worker = hasattr(config, "workerinput")
    controller = not worker and bool(getattr(config.option, "numprocesses", None))
    if worker and "sse_seed" in config.workerinput:
        settings = dataclasses.replace(settings, seed=config.workerinput["sse_seed"])
    suite = Suite(settings, profile, report_dir / JSON_NAME, role="controller" if controller else
                  "worker" if worker else "")
    config.stash[SUITE_KEY] = suite
    config.pluginmanager.register(suite, "sse-conformance-suite")
    if controller:
        config.pluginmanager.register(XdistController(suite), "sse-conformance-xdist")
    if config.pluginmanager.hasplugin("html"):
        from ._html import HtmlReport

        if not config.option.htmlpath:  # an --html given by the user wins
            config.option.htmlpath = str(report_dir / HTML_NAME)
            config.option.self_contained_html = True
        config.option.css = [str(CSS), *config.option.css]
        config.pluginmanager.register(HtmlReport(suite), "sse-conformance-html")


def _checked_profile(settings: Settings) -> Profile:
    """The profile, with the run's inputs checked against it before any request."""
    try:
        profile = load_profile(settings.profile)
    except ProfileError as exc:
        raise pytest.UsageError(f"--sse-profile: {exc}") from None
    if settings.is_reference and (why := check_reference_query(settings.target, profile)) is not None:
        raise pytest.UsageError(f"--target {redact_url(settings.target)[:200]!r}: {why}")
    if settings.request_file is not None:
        body = json.loads(settings.request_file.read_text(encoding="utf-8"))  # read as JSON by the settings
        if (why := check_request_body(body, profile, settings.secrets)) is not None:
            raise pytest.UsageError(f"--sse-request: {settings.request_file}: {why}")
    return profile


class Suite:
    """The session's conformance run: the target, the canonical exchange, the verdicts."""

    def __init__(self, settings: Settings, profile: Profile, json_path: Path, role: str = "") -> None:
        self.settings = settings
        self.profile = profile
        self.json_path = json_path
        self.role = role  # "controller" or "worker" under pytest-xdist, else ""
        self.worker_documents: list[dict[str, Any]] = []  # the controller's, from its workers
        self.server: Any = None
        self._canonical: Canonical | None = None
        self._failure: Exception | None = None
        self._probe_verdicts: dict[type[Probe], dict[str, Verdict] | Exception] = {}
        self._started: datetime | None = None
        self._document: dict[str, Any] | None = None
        self._judged: dict[str, Verdict] = {}  # the verdicts of the items that ran, in run order
        self._cleanup = ExitStack()
        if settings.is_reference and role == "controller":
            self.url = settings.target  # each worker starts its own
        elif settings.is_reference:
            from reference_server import ServerThread  # imported only when asked for

            self.server = ServerThread().start()
            self._cleanup.callback(self.server.stop)
            self.url = self.server.url(profile.path, settings.target.partition("?")[2])
        else:
            self.url = settings.target
        self.redact = Redactor([*settings.secrets, *url_secrets(self.url)])
        self._cleanup.enter_context(redacting_log_records(self.redact))

    # -- the run ----------------------------------------------------------------------

    def canonical(self) -> Canonical:
        """Captured on first use, then shared by every requirement item."""
        if self._canonical is None:
            if self._failure is not None:
                raise self._failure  # one internal error, not one per requirement
            try:
                self._started = datetime.now(UTC)
                self._canonical = run_canonical(self.url, self.settings, self.profile)
            except Exception as exc:
                self._failure = exc
                raise
        return self._canonical

    def verdict(self, requirement_id: str) -> Verdict:
        canonical = self.canonical()
        if requirement_id in canonical.verdicts:
            return canonical.verdicts[requirement_id]
        cls = probe_for(requirement_id)
        assert cls is not None, requirement_id
        if cls not in self._probe_verdicts:  # one probe run serves all its requirements
            ctx = ProbeContext(self.url, self.settings, self.profile, canonical)
            try:
                self._probe_verdicts[cls] = cls(ctx).verdicts()
            except Exception as exc:
                self._probe_verdicts[cls] = exc  # one internal error, not one run per requirement
        result = self._probe_verdicts[cls]
        if isinstance(result, Exception):
            raise result
        return result[requirement_id]

    def record(self, requirement_id: str) -> Verdict:
        """The verdict of a requirement whose item runs, recorded: the summary and reports count these."""
        verdict = self._judged[requirement_id] = self.verdict(requirement_id)
        return verdict

    @property
    def exchanged(self) -> bool:
        """The canonical exchange was made (whatever the target did)."""
        return self._canonical is not None

    @property
    def shown_target(self) -> str:
        if self.role == "controller" and self.settings.is_reference:
            return f"{self.redact(self.url)} (a reference server in each pytest-xdist worker)"
        shown = self.redact(redact_url(self.url))
        return f"{shown} (reference server)" if self.server else shown

    def document(self) -> dict[str, Any] | None:
        """The report document, at the end of the run (None if the canonical exchange was not made)."""
        if self._document is None and self.worker_documents:
            self._document = merge_reports(self.worker_documents, [r.id for r in requirements(self.profile)])
        if self._document is None and self._canonical is not None and self._started is not None:
            run = RunInfo(
                target=self.redact(redact_url(self.url)),
                reference_server=self.server is not None,
                profile=self.profile.name,
                strict=self.settings.strict,
                date=self._started,
                masked_headers=frozenset((k.lower(), v) for k, v in self.settings.headers),
            )
            self._document = build_report(self._canonical.transcript, [*self._judged.values()], run, self.redact)
        return self._document

    # -- hooks ------------------------------------------------------------------------

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        s, lim = self.settings, self.settings.limits
        lines = [
            f"sse-conformance {__version__}: target {self.shown_target}",
            f"  profile {self.profile.name}; timeout {lim.timeout:g} s; stream timeout {lim.stream_timeout:g} s; "
            f"done grace {lim.done_grace:g} s; strict {'on' if s.strict else 'off'}",
            f"  own requests: {s.examples} drawn (seed {s.seed}; --sse-seed {s.seed} reproduces), "
            f"{s.concurrency} at once, {s.disconnects} dropped",
        ]
        if s.headers:
            lines.append("  extra headers: " + ", ".join(f"{name}: <redacted>" for name, _ in s.headers))
        return lines

    @pytest.hookimpl(tryfirst=True)
    def pytest_make_collect_report(self, collector: pytest.Collector) -> pytest.CollectReport | None:
        # The session collects the suite, not the directory's test files.
        if not isinstance(collector, pytest.Session):
            return None
        suite = SuiteCollector.from_parent(collector, name="sse-conformance", nodeid="sse-conformance")
        return pytest.CollectReport(collector.nodeid, "passed", None, [suite])

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
        # Captured output and logs go to the terminal, JUnit XML and HTML from here.
        report: pytest.TestReport = yield
        report.sections = [(title, self.redact(text)) for title, text in report.sections]
        return report

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        # A report left by an earlier run must not pass for this run's if this one makes none.
        forget_reports(self.json_path.parent, REPORT_NAMES)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        doc = self.document()
        if self.role == "worker":
            session.config.workeroutput["sse_conformance_report"] = doc  # type: ignore[attr-defined]
        elif doc is not None:
            write_report(doc, self.json_path)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        # Told from the report document, which a pytest-xdist controller merges from its workers'.
        doc = self.document()
        if doc is None:
            return
        must, should = doc["summary"][Level.MUST.value], doc["summary"][Level.SHOULD.value]
        response, ending = doc["exchange"]["response"], doc["exchange"]["ending"]
        tr = terminalreporter
        tr.write_sep("=", "sse-conformance")
        tr.write_line(f"target   {self.shown_target}")
        tr.write_line(f"verdict  {'CONFORMS' if doc['verdict'] == 'conforms' else 'DOES NOT CONFORM'}"
                      f"{' (strict)' if self.settings.strict else ''}")
        tr.write_line(f"MUST     {must['passed']} met, {must['failed']} failed")
        should_word = "failed" if self.settings.strict else "warnings"
        tr.write_line(f"SHOULD   {should['passed']} met, {should['failed'] + should['warning']} {should_word}")
        if response["status"] is not None:
            tr.write_line(f"exchange status {response['status']}, {response['body_bytes']} bytes, "
                          f"{response['events']} events; ended: {ending['detail']} at {ending['time']:.3f} s")
        else:
            tr.write_line(f"exchange no response: {ending['detail']}")
        if self.role == "controller" and len(self.worker_documents) > 1:
            tr.write_line(f"         (one exchange of each of {len(self.worker_documents)} pytest-xdist workers "
                          f"judged its share; the first shown)")
        for entry in doc["requirements"]:
            for note in entry["notes"]:
                tr.write_line(f"{entry['id']}: {note}")
        tr.write_line(f"report   {self.json_path}")

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self._cleanup.close()
        self.server = None


class XdistController:
    """The pytest-xdist hooks of a controller; registered only when xdist distributes the run."""

    def __init__(self, suite: Suite) -> None:
        self.suite = suite

    def pytest_configure_node(self, node: Any) -> None:
        # One seed for the run, the one the header prints, whichever worker draws the requests.
        node.workerinput["sse_seed"] = self.suite.settings.seed

    def pytest_testnodedown(self, node: Any, error: object) -> None:
        doc = getattr(node, "workeroutput", {}).get("sse_conformance_report")
        if doc is not None:
            self.suite.worker_documents.append(doc)


class SuiteCollector(pytest.Collector):
    def collect(self) -> list[pytest.Item]:
        suite = self.config.stash[SUITE_KEY]
        return [RequirementItem.from_parent(self, name=req.id, requirement=req, suite=suite)
                for req in requirements(suite.profile)]


class RequirementItem(pytest.Item):
    """One requirement, judged on the canonical exchange."""

    def __init__(self, *, requirement: Requirement, suite: Suite, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.requirement = requirement
        self.suite = suite
        self.add_marker(pytest.mark.filterwarnings(f"always::{ConformanceWarning.__module__}.ConformanceWarning"))
        self.user_properties.append(("requirement", requirement.id))
        self.user_properties.append(("level", requirement.level.value))

    def runtest(self) -> None:
        verdict = self.suite.record(self.requirement.id)
        # In JUnit XML too: a SHOULD warning passes, and CI dashboards should still see it.
        self.user_properties.append(("result", result_of(verdict, self.suite.settings.strict).value))
        if verdict.outcome is Outcome.FAILED:
            text = self.suite.redact(render_verdict(verdict))
            if self.requirement.level is Level.MUST or self.suite.settings.strict:
                raise NonConformance(text)
            warnings.warn(ConformanceWarning(text), stacklevel=1)
        elif verdict.outcome in (Outcome.BLOCKED, Outcome.NOT_APPLICABLE):
            pytest.skip(visible_text(self.suite.redact(verdict.reason)))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, NonConformance):
            return str(excinfo.value)
        return self.suite.redact(str(super().repr_failure(excinfo, style)))

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"{self.requirement.id} [{self.requirement.level.value}] {self.requirement.title}"
