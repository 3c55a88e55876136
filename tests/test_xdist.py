"""The suite under pytest-xdist (``pytest --target reference -n 2``): every worker collects
the same items and starts its own reference server, the drawn requests use the seed the
header prints, and the controller prints the summary and writes one report for all."""

from __future__ import annotations

import json
import re

import pytest

from conformance import Level, load_profile
from conformance._catalogue import requirements
from tests.conftest import FAST, REPORT_SCHEMA

# Without --sse-seed: each process would draw its own, and the workers must use the controller's.
_SEED = FAST.index("--sse-seed")
UNSEEDED = FAST[:_SEED] + FAST[_SEED + 2 :]

pytest.importorskip("xdist")


def test_the_suite_passes_spread_over_two_workers(pytester):
    checked = [r.id for r in requirements(load_profile("simple"))]
    result = pytester.runpytest_subprocess("--target", "reference", "-n", "2", "-p", "no:cacheprovider", *UNSEEDED)
    out = result.stdout.str()
    assert result.ret == 0, out + result.stderr.str()
    assert f"2 workers [{len(checked)} items]" in out
    off = [r.id for r in requirements(load_profile("simple")) if r.level is Level.INTEROP]  # --sse-interop off
    result.assert_outcomes(passed=len(checked) - len(off), skipped=len(off))
    assert "verdict  CONFORMS" in out
    header_seed = re.search(r"\(seed (\d+); --sse-seed", out).group(1)
    assert f"requests drawn, varying prompt (seed {header_seed})" in out
    doc = json.loads((pytester.path / "reports" / "sse-conformance.json").read_text(encoding="utf-8"))
    assert [e["id"] for e in doc["requirements"]] == checked
    assert {e["result"] for e in doc["requirements"] if e["id"] not in off} == {"passed"}
    assert doc["verdict"] == "conforms"
    REPORT_SCHEMA.validate(doc)
    # One worker runs the suite: one canonical exchange, and each probe's requests once.
    sent = doc["requests"]["by_kind"]
    assert sent["canonical"] == 1 and sent["bad"] == 13 and sent["concurrent"] == 2 and sent["dropped"] == 3, sent
    # One exchange is saved.
    saved = sorted(p.name for p in (pytester.path / "reports").iterdir() if "transcript" in p.name)
    assert saved == ["sse-conformance.transcript.json.gz"]
