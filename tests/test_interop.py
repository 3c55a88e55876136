"""The interop step: the canonical stream replayed to real client libraries, each judged
against the WHATWG parse of the same bytes.

Proven both ways on the reference server's framing variants: each gives exactly the findings
documented in the README for exactly the clients that misread it (with the client versions the
test extra pins), and a plain stream gives none. The Node.js clients are installed into the
suite's cache by ``python -m conformance interop-install`` (bounded, cached); where that cannot
be done, their rows are checked as "not installed" instead, and the test says so.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import tomllib
from contextlib import ExitStack
from pathlib import Path

import pytest

from conformance import load_profile
from conformance import _interop as interop
from conformance._interop import api_of, compare, events_of, expected, label, matcher
from conformance._interop_clients import CLIENTS, NODE_PINS, Delivery, install_node_clients, installed, run_client
from conformance._interop_features import features_between
from conformance._recording import BodyRecording
from conformance._rules import Findings, Outcome
from conformance._saved import Saved, saved_from
from conformance._settings import Settings
from conformance._suite import checked_exchange, request_for
from conformance._transport import make_client
from reference_server.dialects import FRAMING
from reference_server.replay import ReplayServer
from tests.conftest import FAST, run_suite

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
INTEROP_ON = ("--sse-interop", "warn")
CANONICAL_ONLY = ("--sse-examples", "0", "--sse-disconnects", "0", "--sse-concurrency", "0")

# What misreads what, with the versions the test extra pins (and interop/package.json for Node.js's).
# Checked against each library's source: see the README's "Interop" table for the why of each row.
GENERIC = {
    "bom": {"httpx-sse", "sseclient-py"},  # decode the BOM into the first field name, which is then unknown
    "cr": {"eventsource-parser"},  # holds a final CR for an LF that never comes: the last event is lost
    "retry-only": {"httpx-sse"},  # dispatches an event with empty data for a block with no data
    "event-no-data": {"httpx-sse"},
}
MISREAD: dict[str, dict[str, set[str]]] = {
    "simple": GENERIC,
    "openai-chat": {
        **GENERIC,
        "bom": GENERIC["bom"] | {"openai-python"},  # the first chunk dropped (openai-python PR #3819)
        "retry-only": GENERIC["retry-only"] | {"openai-python"},  # JSONDecodeError (openai-python #2722)
        "event-no-data": GENERIC["event-no-data"] | {"openai-python", "openai-node"},  # JSON.parse('') throws
    },
    "anthropic-messages": {**GENERIC, "bom": GENERIC["bom"] | {"anthropic-python"}},  # message_start unnamed
    "openai-responses": {
        **GENERIC,  # a BOM hides the first event's name, which the openai SDK does not read
        "retry-only": GENERIC["retry-only"] | {"openai-python"},
        "event-no-data": GENERIC["event-no-data"] | {"openai-python", "openai-node"},
    },
}
# The feature each variant's findings must name.
CAUSE = {"bom": "BOM at byte 0", "cr": "lone CR line ending at byte",
         "retry-only": "retry-only block (no data) at byte", "event-no-data": "event-only block (no data) at byte"}


@pytest.fixture(scope="session")
def node_clients() -> str | None:
    """Install the pinned Node.js clients into the suite's cache (once; bounded); None if they
    are there, else why not."""
    try:
        install_node_clients(timeout=120)
    except RuntimeError as exc:
        return str(exc)
    return None


def _record(server, profile: str, variant: str) -> tuple[Saved, list[str]]:
    """The variant's stream, captured and judged as a canonical exchange: (it saved, the IDs it failed)."""
    p = load_profile(profile)
    url = server.url(p.path, f"fault={variant}" if variant else "")
    settings = Settings(target=url, profile=profile)
    body = BodyRecording()

    async def run():
        async with make_client(url) as client:
            return await checked_exchange(client, request_for(url, settings, p.example), p, settings.limits, tap=body)

    t, verdicts = asyncio.run(run())
    saved = saved_from(t, body)
    body.close()
    return saved, [v.requirement.id for v in verdicts if v.outcome is Outcome.FAILED]


@pytest.mark.parametrize("profile", sorted(MISREAD))
def test_clients_misread_exactly_the_documented_variants(reference, node_clients, profile):
    p = load_profile(profile)
    variants = ["", *FRAMING]
    saved = {v: _record(reference, profile, v) for v in variants}
    assert {v: failed for v, (_, failed) in saved.items()} == dict.fromkeys(variants, []), "every variant conforms"
    clients = [c for c in CLIENTS if c.speaks(p.rules)]
    present = {c.name: installed(c) for c in clients}
    if node_clients is None:
        assert all(present[c.name] for c in clients if c.runtime == "node"), "interop-install put them in the cache"
    runnable = [c for c in clients if present[c.name]]
    settings = Settings(target="replay:none")
    events = {v: events_of(saved[v][0], settings) for v in variants}
    wants = {(c.name, v): expected(c, events[v]) for c in runnable for v in variants}
    with ExitStack() as stack:  # one process per client reads every variant's stream in turn
        urls = [stack.enter_context(ReplayServer(saved[v][0], identity=True)).url("/") for v in variants]

        async def run_all():
            return await asyncio.gather(*(
                run_client(c, present[c.name][1], [(u, matcher(wants[c.name, v], p)) for u, v in zip(urls, variants)],
                           api_of(p), 120) for c in runnable))

        deliveries = dict(zip((c.name for c in runnable), asyncio.run(run_all())))
    for i, variant in enumerate(variants):
        s = saved[variant][0]
        misread = {}
        for c in runnable:
            findings = Findings(c.requirement)
            compare(c, label(c, present[c.name][0]), deliveries[c.name][i], wants[c.name, variant], s.body,
                    events[variant], p, findings)
            assert findings.not_judged is None, (variant, c.name, findings.not_judged)
            if findings.count:
                misread[c.name] = findings.violations[0]
        want = MISREAD[profile].get(variant, set()) & {c.name for c in runnable}
        assert set(misread) == want, (variant or "plain", {k: v.message for k, v in misread.items()})
        for name, violation in misread.items():
            assert violation.message.startswith(f"{name} {present[name][0]} "), violation.message
            assert CAUSE[variant] in violation.message, violation.message
            assert violation.expected and violation.received and violation.excerpt


def test_the_test_extra_pins_the_client_versions_the_findings_were_checked_with():
    extras = tomllib.loads(PYPROJECT.read_text("utf-8"))["project"]["optional-dependencies"]
    for extra in ("interop", "test"):
        pins = dict(line.split("==") for line in extras[extra] if "==" in line)
        for c in CLIENTS:
            if c.runtime == "python":
                assert pins.get(c.package) == importlib.metadata.version(c.package), (extra, c.package)
    assert NODE_PINS == {"eventsource-parser": "3.1.1", "openai": "6.49.0"}


# -- through the plugin --------------------------------------------------------------


def _openai_chat(reference, query: str = "") -> str:
    return reference.url(load_profile("openai-chat").path, query)


def test_a_bom_run_reports_that_the_openai_sdk_drops_the_first_event(pytester, reference):
    args = (*FAST, *CANONICAL_ONLY, "--sse-profile", "openai-chat", "--sse-strict", *INTEROP_ON)
    run = run_suite(pytester, _openai_chat(reference, "fault=bom"), *args, "--junitxml", "junit.xml")
    assert run.ret == 0 and run.report["verdict"] == "conforms", run.output
    entry = next(e for e in run.report["requirements"] if e["id"] == "INTEROP-OPENAI-PYTHON")
    assert entry["level"] == "INTEROP" and entry["result"] == "warning"
    version = importlib.metadata.version("openai")
    assert entry["message"] == f"openai-python {version} dropped event 0 (the 1st); caused by: BOM at byte 0"
    assert entry["violations"][0]["offset"] == 0 and entry["violations"][0]["received"].startswith("9 chunks")
    assert "INTEROP: client libraries that misread this stream (--sse-interop fail fails them)" in run.output
    assert "INTEROP  " in run.output and "warning" in run.output
    junit = (pytester.path / "junit.xml").read_text("utf-8")
    assert 'name="INTEROP-OPENAI-PYTHON"' in junit and 'value="warning"' in junit
    failing = run_suite(pytester, _openai_chat(reference, "fault=bom"), *args[:-2], "--sse-interop", "fail",
                        "-k", "not INTEROP or OPENAI-PYTHON")  # the one client: the step runs only those asked for
    assert failing.ret == 1 and failing.report["verdict"] == "does-not-conform"
    assert failing.failed == {"INTEROP-OPENAI-PYTHON"}
    # Replayed offline, the saved exchange gives the client the same bytes, and the same finding.
    replay = run_suite(pytester, "replay:reports/sse-conformance.transcript.json.gz", *INTEROP_ON,
                       "-k", "INTEROP-OPENAI-PYTHON")
    [again] = [e for e in replay.report["requirements"] if e["id"] == "INTEROP-OPENAI-PYTHON"]
    assert (again["result"], again["message"]) == ("warning", entry["message"])


def test_a_plain_stream_gives_no_finding_even_when_findings_fail(pytester, reference):
    run = run_suite(pytester, _openai_chat(reference), *FAST, *CANONICAL_ONLY, "--sse-profile", "openai-chat",
                    "--sse-strict", "--sse-interop", "fail")
    present = {c.requirement.id for c in CLIENTS if c.speaks(("openai-chat",)) and installed(c)}
    assert run.ret == 0 and run.report["verdict"] == "conforms", run.output
    passed = {rid for rid, outcome in run.outcomes.items() if rid.startswith("INTEROP-") and outcome == "passed"}
    assert passed == present


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
def test_a_client_not_installed_is_not_judged_and_changes_no_verdict(pytester, reference, monkeypatch, strict):
    monkeypatch.setattr(interop, "installed", lambda client: None)  # as on a machine without the extra
    args = (*FAST, *CANONICAL_ONLY, *(["--sse-strict"] if strict else []), "-rs")
    run = run_suite(pytester, reference.url("/chat/stream"), *args, *INTEROP_ON)
    assert run.ret == 0 and run.report["verdict"] == "conforms", run.output
    entries = [e for e in run.report["requirements"] if e["level"] == "INTEROP"]
    assert entries and all(e["result"] == "not-judged" for e in entries)
    assert entries[0]["message"] == "not judged: not installed (pip install 'sse-conformance[interop]')"
    assert "not installed" in run.output  # the skip reason, never a silent skip
    counted = run_suite(pytester, reference.url("/chat/stream"), *args, "--sse-interop", "fail")
    assert counted.ret == 1 and counted.report["verdict"] == "not-judged", counted.output
    assert "pip install 'sse-conformance[interop]'" in counted.report["cause"]["check"]


def test_off_runs_no_client_and_says_so(pytester, reference):
    run = run_suite(pytester, reference.url("/chat/stream"), *FAST, *CANONICAL_ONLY, "--sse-interop", "off")
    entries = [e for e in run.report["requirements"] if e["level"] == "INTEROP"]
    assert entries and {e["message"] for e in entries} == {interop.OFF}
    assert run.report["interop"] == "off" and run.ret == 0


def test_a_stream_that_breaks_a_must_is_not_replayed_to_clients(pytester, reference):
    run = run_suite(pytester, reference.url("/chat/stream", "fault=no-done"), *FAST, *CANONICAL_ONLY, *INTEROP_ON)
    entries = [e for e in run.report["requirements"] if e["level"] == "INTEROP"]
    assert {e["outcome"] for e in entries} == {"blocked"}
    assert entries[0]["message"].startswith("moot: DONE-PRESENT failed")
    assert run.failed == {"DONE-PRESENT"}


# -- the pieces ----------------------------------------------------------------------


def test_features_name_the_unusual_first():
    body = b'\xef\xbb\xbfdata: {"a": 1}\n\nretry: 10\n\nid: 7\ndata:x\n\n\n: ping\r\ndata: a\xe2\x80\xa8b\r\n\r\n'
    retry, ident, ping, u2028 = body.index(b"retry"), body.index(b"id:"), body.index(b": ping"), body.index(b"\xe2")
    assert [str(f) for f in features_between(body, 0, retry)] == ["BOM at byte 0"]
    assert [str(f) for f in features_between(body, retry, ident)] == [f"retry-only block (no data) at byte {retry}"]
    after_id = features_between(body, ident, ping)
    assert [f.kind for f in after_id] == ["blank-after-id", "data-no-space"]
    assert str(after_id[0]) == f"blank line with nothing to dispatch, after an id was set, at byte {ping - 1}"
    last = [str(f) for f in features_between(body, ping, len(body))]
    assert last == [f"U+2028 inside a line at byte {u2028}", f"comment line at byte {ping}",
                    f"CRLF line ending at byte {ping + 6}"]


def _client(name: str):
    return next(c for c in CLIENTS if c.name == name)


def _judge(client, items: list, error: str | None, finished: bool, body: bytes, profile: str = "simple") -> Findings:
    """What ``client`` is told, had it delivered ``items`` and then raised ``error`` (or not)."""
    p = load_profile(profile)
    events = events_of(_saved(body), Settings(target="replay:none"))
    want = expected(client, events)
    delivery = Delivery(matcher(want, p), error=error, finished=finished)
    for item in items:
        delivery.take(item)
    findings = Findings(client.requirement)
    compare(client, f"{client.name} 1.0", delivery, want, body, events, p, findings)
    return findings


def _saved(body: bytes) -> Saved:
    from array import array

    from conformance._model import Ending, EndKind
    from conformance._transcript import Limits, RequestSpec

    return Saved(Path(), "", "", "", "simple", Limits(), RequestSpec("http://x/", b"{}"), [], None, body,
                 array("Q", [len(body)]), array("d", [0.0]), Ending(EndKind.CLOSED, "", 0.0, len(body)), 0)


BODY = b'data: {"content": "a"}\n\nretry: 5\n\ndata: {"content": "b"}\n\ndata: [DONE]\n\n'


def test_a_client_that_raises_is_told_with_the_place_and_the_cause():
    findings = _judge(_client("openai-python"), [{"content": "a"}], "JSONDecodeError: Expecting value", True, BODY,
                      "openai-chat")
    [v] = findings.violations
    assert v.message == ("openai-python 1.0 raised JSONDecodeError: Expecting value after 1 chunk, before event 1 "
                         "(the 2nd); caused by: retry-only block (no data) at byte 24")
    assert v.expected == "2 chunks, as the WHATWG parse gives"
    assert v.received == "1 chunk, then JSONDecodeError: Expecting value"
    assert (v.offset, v.event) == (24, 1) and v.excerpt.startswith(b"\nretry: 5\n")  # from the line before


def test_an_extra_event_and_a_dropped_one_are_told_apart():
    extra = [["message", '{"content": "a"}'], ["message", ""], ["message", '{"content": "b"}'], ["message", "[DONE]"]]
    [v] = _judge(_client("httpx-sse"), extra, None, True, BODY).violations
    assert v.message.startswith("httpx-sse 1.0 delivered an item the WHATWG parse does not have, before event 1")
    dropped = [["message", '{"content": "b"}'], ["message", "[DONE]"]]
    [v] = _judge(_client("httpx-sse"), dropped, None, True, BODY).violations
    assert v.message == "httpx-sse 1.0 dropped event 0 (the 1st); nothing unusual found between byte 0 and byte 24"


def test_a_client_cut_short_by_the_deadline_is_not_judged_and_one_that_agrees_is_noted():
    cut = _judge(_client("httpx-sse"), [["message", '{"content": "a"}']], None, False, BODY)
    assert cut.count == 0 and "when the interop step's 30 s ran out" in cut.not_judged
    items = [["message", '{"content": "a"}'], ["message", '{"content": "b"}'], ["message", "[DONE]"]]
    agreed = _judge(_client("httpx-sse"), items, None, True, BODY)
    assert agreed.count == 0 and agreed.notes == ["httpx-sse 1.0: delivered the 3 events the WHATWG parse gives"]


def test_an_sdk_raising_for_an_error_the_stream_reports_is_right():
    body = b'data: {"content": "a"}\n\ndata: {"error": {"message": "overloaded"}}\n\ndata: [DONE]\n\n'
    findings = _judge(_client("openai-python"), [{"content": "a"}], "APIError: overloaded", True, body, "openai-chat")
    assert findings.count == 0 and findings.notes[0].endswith("then raised for the error the stream reports")


def test_node_clients_are_found_where_interop_install_puts_them(node_clients, tmp_path, monkeypatch):
    if node_clients is not None:
        pytest.skip(f"the Node.js clients could not be installed here: {node_clients}")
    monkeypatch.chdir(tmp_path)  # not in the current directory's node_modules: in the cache
    for name in ("eventsource-parser", "openai-node"):
        version, root = installed(_client(name))
        assert version.split(" ")[0] == NODE_PINS[_client(name).package] and root.endswith("node")
    monkeypatch.setenv("SSE_CONFORMANCE_CACHE", str(tmp_path / "empty"))
    assert installed(_client("eventsource-parser")) is None


def test_what_a_client_delivers_is_matched_as_it_comes_and_not_kept():
    delivery = Delivery(lambda i, item: item == i)
    for n in [*range(5000), -1, 5000, *range(5001, 10000)]:
        delivery.take(n)
    assert (delivery.count, delivery.first, delivery.differing, delivery.following) == (10001, 5000, -1, 5000)
    assert not any(isinstance(value, list) for value in vars(delivery).values())  # no list of items held


def test_a_client_whose_process_dies_is_not_judged_and_says_why(monkeypatch, tmp_path):
    runner = tmp_path / "client.py"
    runner.write_text("import sys\nprint('{\"at\": 0, \"item\": 1}')\nsys.exit('the runner broke')\n")
    monkeypatch.setattr("conformance._interop_clients.PYTHON_RUNNER", runner)
    [delivery] = asyncio.run(run_client(_client("httpx-sse"), "", [("http://127.0.0.1:9/", lambda i, item: True)],
                                        "simple", 30))
    assert (delivery.count, delivery.finished) == (1, False)
    assert delivery.ended == "its process ended (exit status 1) before it finished: the runner broke"
    findings = _judge(_client("httpx-sse"), [], None, False, BODY)
    assert "when the interop step's 30 s ran out" in findings.not_judged
