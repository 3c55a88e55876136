"""The suite end to end, over a real socket: it passes the reference server, a failure
reads well, and a stall costs one timeout. (Every fault's exact failures: test_matrix.py.)"""

from __future__ import annotations

import time

from conformance import load_profile
from conformance._catalogue import requirements

SIMPLE = {r.id for r in requirements(load_profile("simple"))}  # the requirements checked for simple


def test_reference_server_conforms(suite):
    run = suite()
    assert run.ret == 0, run.output
    assert set(run.outcomes) == SIMPLE
    assert run.failed == set()
    assert "CONFORMS" in run.output


def test_one_item_per_requirement_named_by_id(suite):
    run = suite("", "--collect-only", "-q")
    for req in requirements():
        assert (f"sse-conformance::{req.id}" in run.output) == (req.id in SIMPLE)


def test_stall_costs_one_timeout_not_one_per_check(suite):
    # Every check waiting 0.5 s would take 15 s; one shared capture takes about 0.5 s.
    started = time.monotonic()
    run = suite("fault=stall-mid")
    elapsed = time.monotonic() - started
    assert run.failed == {"DELIVERY-IDLE"}
    assert elapsed < 0.5 * len(requirements()) / 2, f"{elapsed:.1f} s"
    assert "no byte for 0.5 s after event 1" in run.output


def test_blocked_checks_name_their_cause(suite):
    run = suite("fault=content-type-json", "-rs")
    assert run.outcomes["PAYLOAD-JSON"] == "skipped"
    assert "not judged: HTTP-CONTENT-TYPE failed (media type application/json)" in run.output


def test_failure_message_names_expected_received_and_where(suite):
    run = suite("fault=invalid-json")
    out = run.output
    assert "PAYLOAD-JSON [MUST]" in out
    assert "expected: a JSON value" in out
    assert "where:    event 1, byte " in out
    assert "bytes:" in out
