"""The suite end to end, over a real socket: it passes the reference server, a failure
reads well, and a stall costs one timeout. (Every fault's exact failures: test_matrix.py.)"""

from __future__ import annotations

import time

from conformance import load_profile
from conformance._catalogue import requirements
from conformance._schemas import schemas_root
from tests.conftest import TIMEOUT

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
    # Every check waiting out the timeout would take 30 of them; one shared capture takes one.
    started = time.monotonic()
    run = suite("fault=stall-mid")
    elapsed = time.monotonic() - started
    assert run.failed == {"DELIVERY-IDLE"}
    assert elapsed < TIMEOUT * len(requirements()) / 2, f"{elapsed:.1f} s"
    assert f"no byte for {TIMEOUT:g} s after event 1" in run.output


def test_blocked_checks_name_their_cause(suite):
    run = suite("fault=content-type-json", "-rs")
    assert run.outcomes["PAYLOAD-JSON"] == "skipped"
    assert "moot: HTTP-CONTENT-TYPE failed (media type application/json)" in run.output


def test_failure_message_names_expected_received_and_where(suite):
    run = suite("fault=invalid-json")
    out = run.output
    assert "PAYLOAD-JSON [MUST]" in out
    assert "expected: a JSON value" in out
    assert "where:    event 1 (the 2nd), byte " in out
    assert "bytes:" in out


def test_a_check_that_raises_fails_its_own_requirement_not_the_run(reference):
    import asyncio

    from conformance import load_profile
    from conformance._capture import capture
    from conformance._model import Level, Requirement
    from conformance._rules import Rule, judge
    from conformance._transcript import Evidence, Limits, RequestSpec
    from conformance._transport import make_client

    class Fragile(Rule):
        requirement = Requirement("PAYLOAD-FRAGILE", Level.MUST, "raises on the third event", "test")

        def on_chunk(self, chunk):
            if chunk.event.index == 2:
                raise RecursionError("maximum recursion depth exceeded")

    profile, limits, evidence = load_profile("simple"), Limits(), Evidence()
    fragile = Fragile(profile, limits, evidence)
    url = reference.url("/chat/stream")
    body = b'{"prompt": "hi", "stream": true}'

    async def run():
        async with make_client(url) as client:
            return await capture(client, RequestSpec(url, body), profile, limits, [fragile], evidence)

    t = asyncio.run(run())
    assert t.terminators == 1  # the exchange went on to the end
    (verdict,) = judge([fragile], t)
    assert verdict.outcome.value == "failed"
    assert verdict.violations[0].message.startswith("could not be judged: the check raised RecursionError on event 2")


def test_a_profile_ending_at_close_fails_a_stream_cut_by_a_broken_connection(pytester, reference):
    import shutil

    from tests.conftest import FAST, run_suite

    simple = schemas_root() / "simple"
    profile = pytester.path / "ends-at-close"
    shutil.copytree(str(simple), profile)
    toml = (profile / "profile.toml").read_text()
    (profile / "profile.toml").write_text(toml.replace('data = "[DONE]"', "end = true"))
    args = (*FAST, "--sse-profile", str(profile), "--sse-strict")

    clean = run_suite(pytester, reference.url("/chat/stream", "fault=no-done"), *args)
    assert clean.failed == set(), clean.output
    cut = run_suite(pytester, reference.url("/chat/stream", "fault=reset-mid-stream"), *args)
    assert cut.failed == {"HTTP-COMPLETE"}, cut.output
    assert "the connection broke: reset by the peer" in cut.output
    assert "expected: a body ended by the server closing the connection cleanly" in cut.output
