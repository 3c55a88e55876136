"""Checks that make their own exchanges: drawn requests, bad requests, dropped streams,
streams at once. (Which requirements each of their faults fails: test_matrix.py.)"""

from __future__ import annotations

import re

from conformance._schemas import schemas_root
from tests.conftest import TIMEOUT


def test_failing_drawn_request_is_shown_shrunk_with_the_seed(suite):
    run = suite("fault=non-ascii-request", "--sse-examples", "10", "--sse-seed", "7")
    assert run.failed == {"REQUEST-ANY-VALID"}
    match = re.search(r"smallest failing request (\{.*?\}) \(reproduce with --sse-seed 7\)", run.output)
    assert match, run.output
    # Shrunk: only what the schema requires, and a one-character non-ASCII prompt.
    shrunk = match.group(1)
    assert shrunk.startswith('{"prompt": "') and shrunk.endswith('", "stream": true}'), shrunk
    assert len(shrunk) <= len('{"prompt": "X", "stream": true}') + 2, shrunk
    assert "DONE-PRESENT" in run.output


def test_the_seed_reproduces_the_same_requests(suite):
    first = suite("fault=non-ascii-request", "--sse-examples", "10", "--sse-seed", "7")
    again = suite("fault=non-ascii-request", "--sse-examples", "10", "--sse-seed", "7")
    pick = re.compile(r"smallest failing request (\{.*?\})")
    assert pick.search(first.output).group(1) == pick.search(again.output).group(1)
    assert "seed 7; --sse-seed 7 reproduces" in first.output


def test_own_requests_wait_for_a_conforming_canonical_exchange(suite):
    run = suite("fault=no-done", "-rs")
    assert run.failed == {"DONE-PRESENT"}
    for rid in ("REQUEST-ANY-VALID", "LIFECYCLE-DISCONNECT", "LIFECYCLE-CONCURRENT"):
        assert run.outcomes[rid] == "skipped"
    assert "moot: DONE-PRESENT failed (the canonical request already fails; fix that first)" in run.output
    # Refusing bad requests does not depend on the stream: still judged.
    assert run.outcomes["REQUEST-NOT-JSON-4XX"] == "passed"


def test_counts_of_zero_turn_probes_off(suite):
    run = suite("", "--sse-examples", "0", "--sse-disconnects", "0", "--sse-concurrency", "0", "-rs")
    assert run.ret == 0
    for rid in ("REQUEST-ANY-VALID", "LIFECYCLE-DISCONNECT", "LIFECYCLE-CONCURRENT", "LIFECYCLE-CONCURRENT-IDS"):
        assert run.outcomes[rid] == "skipped"
    assert "turned off with --sse-concurrency 0" in run.output


def test_defaults_pass_and_report_timing_of_streams_at_once(pytester, reference):
    from tests.conftest import run_suite

    run = run_suite(pytester, reference.url("/chat/stream"), "--sse-concurrency", "8")
    assert run.ret == 0, run.output
    assert "REQUEST-ANY-VALID: 3 requests drawn, varying prompt" in run.output
    assert "LIFECYCLE-DISCONNECT: 3 streams dropped after their first event" in run.output
    assert re.search(r"LIFECYCLE-CONCURRENT: 8 streams, at most 8 open at once: first event after \d+ ms", run.output)


def test_thorough_depth_makes_more_own_requests(pytester, reference):
    from tests.conftest import run_suite

    run = run_suite(pytester, reference.url("/chat/stream"), "--sse-depth", "thorough", "--sse-seed", "3")
    assert run.ret == 0, run.output
    assert "own requests (thorough depth): 10 drawn" in run.output
    assert "LIFECYCLE-DISCONNECT: 20 streams dropped after their first event" in run.output
    assert run.report["requests"]["by_kind"] == {"canonical": 1, "concurrent": 8, "bad": 13, "dropped": 20,
                                                 "after-drops": 1, "drawn": 10}


def test_a_stalling_target_costs_no_timeout_per_bad_request(suite):
    run = suite("fault=stall-mid", "-rs")
    assert run.failed == {"DELIVERY-IDLE"}
    assert run.outcomes["REQUEST-BAD-NO-5XX"] == "skipped"
    assert f"moot: DELIVERY-IDLE failed (no byte for {TIMEOUT:g} s" in run.output


def test_a_schema_hypothesis_cannot_draw_from_is_not_a_pass(pytester, reference):
    import json
    import shutil

    from tests.conftest import FAST, run_suite

    profile = pytester.path / "unsatisfiable"
    shutil.copytree(str(schemas_root() / "simple"), profile)
    schema = json.loads((profile / "request.schema.json").read_text())
    # Only "zzz...z" (30 of them) matches; Hypothesis cannot find it by drawing.
    schema["properties"]["prompt"] = {"type": "string", "pattern": "^[a-z]{30}$", "not": {"pattern": "[a-y]"}}
    (profile / "request.schema.json").write_text(json.dumps(schema))
    (profile / "example.json").write_text(json.dumps({"prompt": "z" * 30, "stream": True}))
    run = run_suite(pytester, reference.url("/chat/stream"), *FAST, "--sse-profile", str(profile), "-rs")
    assert run.outcomes["REQUEST-ANY-VALID"] == "skipped", run.output
    assert "Hypothesis could not draw a request varying the canonical one (Unsatisfiable" in run.output
