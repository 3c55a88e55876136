"""The matrix: the suite against every fault and benign variant of the reference server,
over a real socket, strict, asserting the exact set of requirement IDs that fail.

One server serves the whole matrix; the suite runs in-process. Faults that would take the
suite's default limits to judge carry their own small ones (``Fault.suite_args``).
"""

from __future__ import annotations

import httpx
import pytest

from conformance import REGISTRY, load_profile
from conformance._catalogue import requirements
from conformance._render import verdict_word
from reference_server import FAULTS
from reference_server.dialects import DIALECTS
from tests.conftest import FAST, run_suite
from tests.test_interop import MISREAD

MIN_FAULTS_AND_VARIANTS = 40
CATALOGUE = {r.id for r in requirements(load_profile("simple"))}  # what a run of the simple profile judges
CANONICAL = set(REGISTRY)  # judged on the canonical exchange; the rest by probes of their own requests
# A fault of the canonical exchange blocks the probes that need a conforming one, and a benign
# variant needs one drawn request and one dropped stream to show the probes pass it too: more
# would only repeat the same stream (test_probes.py runs the probes at their counts).
ONE_OWN_REQUEST_EACH = ("--sse-examples", "1", "--sse-disconnects", "1")


@pytest.mark.parametrize("name", list(FAULTS))
def test_suite_fails_exactly_what_the_fault_trips(pytester, reference, name):
    fault = FAULTS[name]
    url = reference.url("/chat/stream", f"fault={name}")
    lean = ONE_OWN_REQUEST_EACH if fault.trips <= CANONICAL else ()
    run = run_suite(pytester, url, *FAST, "--sse-strict", *lean, *fault.suite_args)
    assert run.failed == fault.trips, run.output
    assert set(run.outcomes) == CATALOGUE
    assert run.report is not None and run.report["verdict"] == fault.verdict, run.output
    assert run.ret == (0 if fault.verdict == "conforms" else 1), run.output
    assert f"verdict  {verdict_word(fault.verdict)} (strict)" in run.output
    assert "Traceback" not in run.output


def test_every_fault_trips_only_known_requirements():
    for fault in FAULTS.values():
        assert fault.trips <= CATALOGUE, f"{fault.name}: {sorted(fault.trips - CATALOGUE)}"


def test_every_requirement_is_tripped_by_some_fault():
    # Of every dialect: a rule set's requirements are tripped by its dialect's faults (test_profiles.py).
    tripped = set().union(*(f.trips for d in DIALECTS.values() for f in d.faults.values()))
    # A client library's is tripped (a warning; a failure with --sse-interop fail) by the framing
    # variants it misreads (test_interop.py).
    tripped |= {f"INTEROP-{c.upper()}" for table in MISREAD.values() for clients in table.values() for c in clients}
    assert {r.id for r in requirements()} - tripped == set(), "requirements no fault can fail"


def test_the_matrix_is_large_enough_and_has_benign_variants():
    assert len(FAULTS) >= MIN_FAULTS_AND_VARIANTS
    assert any(not f.trips for f in FAULTS.values())


def test_get_faults_lists_the_registry(reference):
    listed = [f for f in httpx.get(reference.url("/faults"), timeout=5).json() if f["profile"] == "simple"]
    assert [f["name"] for f in listed] == list(FAULTS)
    for entry in listed:
        fault = FAULTS[entry["name"]]
        assert entry["trips"] == sorted(fault.trips)
        assert entry["benign"] is (fault.verdict == "conforms")
        assert entry["verdict"] == fault.verdict
        assert entry["breaks"] == fault.breaks
        assert entry["suite_args"] == list(fault.suite_args)


def test_a_raw_only_fault_is_refused_by_uvicorn_with_a_pointer(reference):
    url = f"http://127.0.0.1:{reference.port}/chat/stream?fault=reset-mid-stream"
    response = httpx.post(url, json={"prompt": "hi", "stream": True}, timeout=5)
    assert response.status_code == 400
    assert "byte-exact listener" in response.json()["error"]["message"]
