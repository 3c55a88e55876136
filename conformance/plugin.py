"""The pytest plugin: ``pytest --target URL`` runs the conformance suite.

Installed through the ``pytest11`` entry point, so it is active in every pytest run, and
idle unless a target is given. With a target, collection yields one item per requirement
(``sse-conformance::HTTP-STATUS`` ...) instead of the test files of the directory, and the
run writes its reports: JSON always, HTML through pytest-html when that plugin is active.
The options are read in ``_settings.py``; what the run writes to the terminal (its header
lines and summary) is put in words in ``_terminal.py``.
"""

from __future__ import annotations

import dataclasses
import json
from contextlib import ExitStack
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from ._model import Requirement
from ._profile import Profile, ProfileError, load_profile
from ._redact import Redactor, redact_url, safe_log_records, url_secrets
from ._render import render_entry, visible_block
from ._catalogue import requirements
from ._budget import Budget
from ._probes import PROBES, Probe, ProbeContext, planned, probe_for, run_probes
from ._probes_bad import bad_requests
from ._interop import InteropStep
from ._interop_clients import CLIENTS, client_for
from ._saved import TranscriptFile
from ._report import (HtmlReportFile, Result, RunInfo, build_report, merge_reports, requirement_entry, result_of,
                      write_report)
from ._rules import Outcome, Verdict
from ._settings import Settings, add_options, read_settings, report_dir_given
from ._suite import Canonical, canonical_body, run_canonical
from ._terminal import header_lines, write_summary
from ._usage import check_reference_query, check_request_body, forget_reports

__all__ = ["NonConformance"]

SUITE_KEY = pytest.StashKey["Suite"]()
HTML_NAME = "sse-conformance.html"
JSON_NAME = "sse-conformance.json"
REPORT_NAMES = (JSON_NAME, HTML_NAME)
CSS = Path(__file__).with_name("report.css")


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
    if controller and config.option.dist in ("load", "worksteal"):
        # One worker runs the whole suite: spread over several, each would make the canonical
        # exchange, and every probe whose requirements it was given, again. (The suite's own
        # requests already go side by side in one process. Grouping a probe's requirements
        # with --dist loadgroup does not hold under pytest 9.2, which no longer lets
        # pytest-xdist 3.8 rename items.)
        config.option.dist = "loadfile"
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
        config.pluginmanager.register(HtmlReportFile(), "sse-conformance-html-file")


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
        self.worker_transcripts: list[str] = []  # the controller's: its workers' saved exchanges, in that order
        self.transcript = TranscriptFile(json_path.parent, settings.replay.path if settings.replay else None)
        self.server: Any = None
        self._canonical: Canonical | None = None
        self._failure: Exception | None = None
        self._probe_verdicts: dict[type[Probe], dict[str, Verdict] | Exception] = {}
        self.selected: list[type[Probe]] = list(PROBES)  # the probes whose requirements this run judges
        self.interop = InteropStep(profile, settings, alone=role == "worker")
        self.budget: Budget | None = None
        self._started: datetime | None = None
        self._document: dict[str, Any] | None = None
        self._judged: dict[str, Verdict] = {}  # the verdicts of the items that ran, in run order
        self._cleanup = ExitStack()
        if settings.replay is not None:
            self.url = settings.replay.request.url  # as recorded, redacted; no request goes there
        elif settings.is_reference and role == "controller":
            self.url = settings.target  # each worker starts its own
        elif settings.is_reference:
            from reference_server import ServerThread  # imported only when asked for

            self.server = ServerThread().start()
            self._cleanup.callback(self.server.stop)
            self.url = self.server.url(profile.path, settings.target.partition("?")[2])
        else:
            self.url = settings.target
        self.redact = Redactor([*settings.secrets, *url_secrets(self.url)])
        self._cleanup.enter_context(safe_log_records(self.redact))

    # -- the run ----------------------------------------------------------------------

    def canonical(self) -> Canonical:
        """Captured on first use, then shared by every requirement item."""
        if self._canonical is None:
            if self._failure is not None:
                raise self._failure  # one internal error, not one per requirement
            try:
                self._started = datetime.now(UTC)
                s = self.settings
                if s.replay is not None:
                    from ._replay import replay_canonical

                    self._started = datetime.fromisoformat(s.replay.date)
                    self._canonical = replay_canonical(s.replay, s, self.profile)
                    self.interop.start(self._canonical)
                    return self._canonical
                self.budget = Budget(s.parallel, s.retries, s.deadline)
                self._canonical = run_canonical(self.url, s, self.profile, self.budget)
                self.interop.start(self._canonical)  # the clients run while the own requests do
            except Exception as exc:
                self._failure = exc
                raise
        return self._canonical

    def verdict(self, requirement_id: str) -> Verdict:
        canonical = self.canonical()
        if requirement_id in canonical.verdicts:
            return canonical.verdicts[requirement_id]
        if (client := client_for(requirement_id)) is not None:
            return self.interop.verdict(client, canonical)
        cls = probe_for(requirement_id)
        assert cls is not None, requirement_id
        if self.settings.replay is not None:
            from ._replay import NO_ENDPOINT

            req = next(r for r in cls.requirements if r.id == requirement_id)
            return Verdict(req, Outcome.NOT_APPLICABLE, reason=NO_ENDPOINT)
        assert self.budget is not None, requirement_id
        if cls not in self._probe_verdicts:  # one probe run serves all its requirements
            # All the run's probes go at once, sharing the budget (under pytest-xdist, one worker
            # is given every item: see pytest_configure).
            due = [p for p in self.selected if p not in self._probe_verdicts]
            ctx = ProbeContext(self.url, self.settings, self.profile, canonical, self.budget)
            try:
                self._probe_verdicts.update(run_probes(dict.fromkeys([cls, *due]), ctx))
            except Exception as exc:
                for p in dict.fromkeys([cls, *due]):
                    self._probe_verdicts[p] = exc  # one internal error, not one run per requirement
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
        if self.settings.replay is not None:
            saved = self.settings.replay
            return f"replay of {saved.path} (recorded {saved.date} from {self.redact(redact_url(saved.target))})"
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
                not_judged=(nj.cause, nj.check) if (nj := self._canonical.not_judged) else None,
                requests=self.requests(),
                interop=self.settings.interop,
                replay=None if (saved := self.settings.replay) is None else {
                    "file": str(saved.path), "date": saved.date, "target": saved.target},
            )
            self._document = build_report(self._canonical.transcript, [*self._judged.values()], run, self.redact)
        return self._document

    def planned(self) -> tuple[int, int, int]:
        """(requests at most, of them streamed in full, extra to shrink a failing drawn request)."""
        bad = len(bad_requests(self.profile, canonical_body(self.settings, self.profile)))
        return planned(self.settings, bad, bool(self.profile.vary))

    def requests(self) -> dict[str, Any] | None:
        if self.budget is None:
            return None
        most, full, shrinks = self.planned()
        return {**self.budget.ledger.as_dict(), "planned": {"most": most, "full": full, "shrink": shrinks},
                "depth": self.settings.depth.name}

    # -- hooks ------------------------------------------------------------------------

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        return header_lines(self)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # Deselected requirements (-k, node IDs) cost no requests: only their probes run.
        chosen = {item.name for item in session.items}
        self.selected = [p for p in PROBES if any(r.id in chosen for r in p.requirements)]
        self.interop.selected = [c for c in CLIENTS if c.requirement.id in chosen]

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
        report.sections = [(title, visible_block(self.redact(text))) for title, text in report.sections]
        return report

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        # A report left by an earlier run must not pass for this run's if this one makes none.
        forget_reports(self.json_path.parent, REPORT_NAMES)
        self.transcript.clear()

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.interop.settle()  # a step still running (its items deselected or interrupted) ends first
        doc = self.document()
        save = partial(self.transcript.save, self._canonical, self._started, self.url, self.settings, self.redact)
        if self.role == "worker":
            output = session.config.workeroutput  # type: ignore[attr-defined]
            output["sse_conformance_report"] = doc
            worker = session.config.workerinput.get("workerid", "")  # type: ignore[attr-defined]
            path = self.transcript.for_worker(worker)
            output["sse_conformance_transcript"] = str(path) if save(path) else ""
            return
        if self.role == "controller":
            self.transcript.keep_first(self.worker_transcripts)
        else:
            save()
        if doc is not None:
            write_report(doc, self.json_path)
            # NOT JUDGED is no pass: a CI gate must not go green on an endpoint it could not judge.
            if doc["verdict"] == "not-judged" and session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_report_teststatus(self, report: pytest.TestReport, config: pytest.Config) -> Any:
        # A SHOULD not met passes without --sse-strict, but is no plain pass: "W" in the
        # progress line, WARNING with -v, and "N warned" in the line that ends the run.
        if report.when == "call" and dict(report.user_properties).get("result") == Result.WARNING.value:
            return "warned", "W", ("WARNING", {"yellow": True})
        return None

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        # Told from the report document, which a pytest-xdist controller merges from its workers'.
        doc = self.document()
        if doc is not None:
            write_summary(terminalreporter, self, doc)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self._cleanup.close()
        self.server = None
        if self._canonical is not None and self._canonical.recording is not None:
            self._canonical.recording.close()


class XdistController:
    """The pytest-xdist hooks of a controller; registered only when xdist distributes the run."""

    def __init__(self, suite: Suite) -> None:
        self.suite = suite

    def pytest_configure_node(self, node: Any) -> None:
        # One seed for the run, the one the header prints, whichever worker draws the requests.
        node.workerinput["sse_seed"] = self.suite.settings.seed

    def pytest_testnodedown(self, node: Any, error: object) -> None:
        output = getattr(node, "workeroutput", {})
        doc = output.get("sse_conformance_report")
        if doc is not None:
            self.suite.worker_documents.append(doc)
            self.suite.worker_transcripts.append(output.get("sse_conformance_transcript", ""))


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
        self.entry: dict[str, Any] | None = None  # its report entry, once judged
        self.user_properties.append(("requirement", requirement.id))
        self.user_properties.append(("level", requirement.level.value))

    def runtest(self) -> None:
        verdict = self.suite.record(self.requirement.id)
        result = result_of(verdict, self.suite.settings.strict, self.suite.settings.interop_fails)
        # In JUnit XML too: a SHOULD warning passes, and CI dashboards should still see it.
        self.user_properties.append(("result", result.value))
        # Told from its report entry, as the reports tell it: redacted, made visible.
        self.entry = requirement_entry(verdict, self.suite.settings.strict, self.suite.redact,
                                       self.suite.settings.interop_fails)
        if result is Result.FAILED:
            raise NonConformance(render_entry(self.entry))
        if result is Result.NOT_JUDGED:
            self.user_properties.append(("reason", self.entry["message"]))  # JUnit: why it could not be judged
        if result in (Result.SKIPPED, Result.NOT_JUDGED):
            pytest.skip(self.entry["message"])
        # A warning passes; the terminal summary shows its evidence (pytest_report_teststatus).

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, NonConformance):
            return str(excinfo.value)
        return visible_block(self.suite.redact(str(super().repr_failure(excinfo, style))))

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"{self.requirement.id} [{self.requirement.level.value}] {self.requirement.title}"
