"""Saved exchanges: every run writes its canonical exchange as a transcript, ``--target
replay:FILE`` judges it again offline (at its recorded times, own-request requirements not
applicable), and ``python -m reference_server --replay FILE`` serves it byte for byte so that
the suite, live, judges it as it judged the original."""

from __future__ import annotations

import base64
import gzip
import json
import socket
import subprocess
import sys
import time
from array import array
from pathlib import Path

import httpx
import pytest
from jsonschema import Draft202012Validator

from conformance import REGISTRY
from conformance import _recording as recording
from conformance._model import Ending, EndKind
from conformance._recording import BodyRecording
from conformance._redact import MARK, Redactor
from conformance._saved import TRANSCRIPT_NAME, load_saved, write_saved
from conformance._schemas import load_schema
from conformance._transcript import Limits, RequestSpec, Transcript
from reference_server import FAULTS
from reference_server.replay import ReplayServer
from reference_server.vendors import API_KEY
from tests.conftest import FAST, TIMEOUT, run_suite

CANONICAL = set(REGISTRY)
CANONICAL_ONLY = ("--sse-examples", "0", "--sse-disconnects", "0", "--sse-concurrency", "0")
SAVED = f"reports/{TRANSCRIPT_NAME}"
TRANSCRIPT_SCHEMA = Draft202012Validator(load_schema("transcript"))
# Faults whose canonical exchange ends every way an exchange can (closed, reset, no headers, idle
# and stream timeouts, the grace after the terminator, a limit, a refused content coding; a 429
# and no connection at all are below), and a stream judged by its timing (buffered).
ENDINGS = ["", "no-done", "buffered", "stall-mid", "done-linger", "reset-mid-stream", "gzip", "huge-line", "endless",
           "stall-before-headers"]


def _live(pytester, reference, name: str, *extra: str):
    fault = FAULTS[name] if name else None
    url = reference.url("/chat/stream", f"fault={name}" if name else "")
    return run_suite(pytester, url, *FAST, *CANONICAL_ONLY, "--sse-strict", *(fault.suite_args if fault else ()),
                     *extra)


def _judged(run) -> dict[str, tuple[str, str]]:
    """The canonical requirements' outcomes and first messages, from the report. Of a "cannot
    tell" message, the figures only: why it cannot tell may differ, because live the suite also
    knows how long it was too busy to read (on a loaded machine), which a transcript does not hold."""
    return {e["id"]: (e["outcome"], e["message"].partition("; ")[0] if e["message"].startswith("cannot tell: ")
                      else e["message"]) for e in run.report["requirements"] if e["id"] in CANONICAL}


def _read(path: Path) -> dict:
    return json.loads(gzip.decompress(path.read_bytes()))


@pytest.mark.parametrize("name", ENDINGS, ids=[n or "plain" for n in ENDINGS])
def test_replaying_the_saved_exchange_reproduces_the_live_verdicts(pytester, reference, name):
    live = _live(pytester, reference, name)
    saved = pytester.path / SAVED
    TRANSCRIPT_SCHEMA.validate(_read(saved))
    replay = run_suite(pytester, f"replay:{SAVED}", "--sse-strict", "--sse-interop", "off")
    assert _judged(replay) == _judged(live), replay.output
    assert replay.report["verdict"] == live.report["verdict"] and replay.ret == live.ret
    assert replay.report["replay"]["file"] == SAVED and replay.report["requests"] is None
    own = [e for e in replay.report["requirements"] if e["id"] not in CANONICAL and e["level"] != "INTEROP"]
    assert own and {e["message"] for e in own} == {"not applicable: a replay has no endpoint to ask"}
    assert saved.exists(), "a replay of the run's own transcript keeps it"


def test_a_replay_is_deterministic(pytester, reference):
    _live(pytester, reference, "slow-steady")  # 0.2 s between events: the timing figures are large enough to differ
    copy = pytester.path / "saved.json.gz"
    copy.write_bytes((pytester.path / SAVED).read_bytes())
    first = run_suite(pytester, f"replay:{copy}", "--sse-interop", "off").report
    second = run_suite(pytester, f"replay:{copy}", "--sse-interop", "off").report
    assert first == second
    assert first["timings"]["gap_p50"] > 0.15, "judged at the recorded times, not as fast as it was read"
    assert _read(pytester.path / SAVED)["pieces"] == _read(copy)["pieces"], "saved again as it was"


def test_a_replay_judges_with_the_recorded_limits_unless_told_otherwise(pytester, reference):
    _live(pytester, reference, "stall-mid")  # --sse-timeout TIMEOUT (FAST): cut after that long a silence
    assert _read(pytester.path / SAVED)["limits"]["timeout"] == TIMEOUT
    assert "DELIVERY-IDLE" in run_suite(pytester, f"replay:{SAVED}", "--sse-interop", "off").failed
    # With a longer timeout, the silence after the recording is counted, as long as the new limit allows.
    longer = run_suite(pytester, f"replay:{SAVED}", "--sse-interop", "off", "--sse-timeout", "3")
    assert "DELIVERY-IDLE" in longer.failed
    assert "no byte for 3 s after event 1" in longer.output


def test_a_run_that_could_not_reach_the_target_saves_that_and_replays_as_not_judged(pytester):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    live = run_suite(pytester, f"http://127.0.0.1:{port}/chat/stream", *FAST)
    assert live.report["verdict"] == "not-judged"
    assert _read(pytester.path / SAVED)["response"] is None
    replay = run_suite(pytester, f"replay:{SAVED}", "--sse-interop", "off")
    assert replay.report["verdict"] == "not-judged" and replay.ret == 1
    assert replay.report["cause"]["cause"] == live.report["cause"]["cause"]


def test_a_rate_limited_exchange_replays_as_not_judged(pytester, reference):
    url = reference.url("/chat/stream", "fault=rate-limited")
    live = run_suite(pytester, url, *FAST, *CANONICAL_ONLY, "--sse-retries", "0")
    assert live.report["verdict"] == "not-judged"
    replay = run_suite(pytester, f"replay:{SAVED}", "--sse-interop", "off")
    assert replay.report["verdict"] == "not-judged"
    assert replay.report["cause"]["cause"].startswith("the target stayed busy: 429")


def test_a_run_that_makes_no_exchange_leaves_no_transcript_of_an_earlier_one(pytester, reference):
    _live(pytester, reference, "")
    assert (pytester.path / SAVED).exists()
    run_suite(pytester, reference.url("/chat/stream"), "--collect-only")
    assert not (pytester.path / SAVED).exists()


def test_secrets_are_masked_in_the_saved_request_headers_and_body(pytester, reference):
    header = f"Authorization: Bearer {API_KEY}"
    url = reference.url("/chat/stream", "fault=echo-credentials")
    live = run_suite(pytester, url, *FAST, *CANONICAL_ONLY, "--sse-header", header)
    doc = _read(pytester.path / SAVED)
    text = json.dumps(doc)
    body = base64.b64decode(doc["body"]["base64"])
    for form in (API_KEY, API_KEY[:8], API_KEY[-8:], base64.b64encode(API_KEY.encode()).decode()[:-4]):
        assert form not in text and form.encode() not in body
    assert {h["name"]: h["value"] for h in doc["request"]["headers"]}["Authorization"] == MARK
    assert {h["name"]: h["value"] for h in doc["response"]["headers"]}["x-echo-authorization"] == MARK
    assert b"(you sent " + b"*" * len(f"Bearer {API_KEY}") + b")" in body and doc["body"]["redacted"] == 1
    replay = run_suite(pytester, f"replay:{SAVED}", "--sse-interop", "off")
    assert _judged(replay) == _judged(live)
    assert "1 secret masked in its body" in replay.output


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "cannot read it (No such file or directory)"),
        (b"hello", "not JSON"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 20, "not a gzip file that inflates"),
        (gzip.compress(b'{"transcript_format": 1}')[:-12], "the gzip stream is cut short"),
        (b'{"transcript_format": 2, "suite": {"version": "9.0"}}',
         "transcript format 2, written by sse-conformance 9.0: this version (0.1.0) reads format 1"),
        (b'{"transcript_format": 1}', "does not match the transcript schema at $: 'suite' is a required property"),
        (b"[1]", "not an sse-conformance transcript (it has no transcript_format)"),
    ],
    ids=["missing", "not-json", "bad-gzip", "cut-gzip", "other-version", "not-the-schema", "not-an-object"],
)
def test_a_transcript_that_cannot_be_replayed_is_a_usage_error(pytester, content, problem):
    path = pytester.path / "t.json.gz"
    if content is not None:
        path.write_bytes(content)
    result = pytester.runpytest_inprocess("--target", "replay:t.json.gz")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"Invalid value 'replay:t.json.gz' from --target: cannot replay 't.json.gz': {problem}" in (
        result.stderr.str())


def _saved_by_hand(tmp_path: Path, pieces: list[bytes], times: list[float], **fields) -> Path:
    body = BodyRecording()
    for piece, at in zip(pieces, times):
        body(piece, at)
    t = Transcript(RequestSpec("http://x.example/chat/stream", b'{"prompt": "hi"}'),
                   Ending(EndKind.CLOSED, "the server ended the response", times[-1] + 0.1, body.size),
                   status=200, reason="OK", http_version="HTTP/1.1", headers=[("content-type", "text/event-stream")],
                   headers_at=0.01)
    path = tmp_path / TRANSCRIPT_NAME
    write_saved(path, t, body, date="2026-01-01T00:00:00+00:00", target=t.request.url, profile="simple",
                limits=Limits(), redact=Redactor([]), masked_headers=frozenset())
    body.close()
    if fields:
        doc = _read(path)
        for dotted, value in fields.items():
            where = doc
            *parents, last = dotted.split(".")
            for key in parents:
                where = where[key]
            where[last] = value
        path.write_bytes(gzip.compress(json.dumps(doc).encode()))
    return path


def test_a_transcript_round_trips(tmp_path):
    pieces = [b"data: {\"content\": \"a\"}\n", b"\n", b"data: [DONE]\n\n"]
    saved = load_saved(_saved_by_hand(tmp_path, pieces, [0.1, 0.2, 0.5]))
    assert saved.body == b"".join(pieces)
    assert list(saved.pieces()) == list(zip(pieces, [0.1, 0.2, 0.5]))
    assert saved.response.headers == [("content-type", "text/event-stream")] and saved.response.headers_at == 0.01
    assert saved.ending == Ending(EndKind.CLOSED, "the server ended the response", 0.6, len(saved.body))
    assert gzip.decompress((tmp_path / TRANSCRIPT_NAME).read_bytes())  # gzip, with no time stamp of its own
    assert (tmp_path / TRANSCRIPT_NAME).read_bytes()[4:8] == b"\x00\x00\x00\x00"


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"body.size": 5}, "body.base64 holds 38 bytes, body.size says 5"),
        ({"pieces.count": 2}, "pieces.lengths holds 3 numbers, pieces.count says 2"),
        ({"pieces.times": base64.b64encode(array("d", [0.3, 0.2, 0.1]).tobytes()).decode()},
         "pieces.times are not arrival times"),
        ({"ending.kind": "exploded"}, "does not match the transcript schema at $.ending.kind"),
    ],
    ids=["body-size", "piece-count", "times-backwards", "ending-kind"],
)
def test_a_transcript_that_contradicts_itself_is_refused(tmp_path, fields, problem):
    pieces = [b"data: {\"content\": \"a\"}\n", b"\n", b"data: [DONE]\n\n"]
    with pytest.raises(ValueError, match=problem.replace("$", r"\$").replace(".", r"\.")):
        load_saved(_saved_by_hand(tmp_path, pieces, [0.1, 0.2, 0.5], **fields))


def test_the_recording_keeps_memory_flat(monkeypatch):
    monkeypatch.setattr(recording, "MAX_PIECES", 4)
    body = BodyRecording()
    for n in range(10):
        body(b"x" * (200 * 1024), n / 10)
    assert body.file._rolled, "past 1 MiB, the spool is a file on disk"  # type: ignore[attr-defined]
    assert list(body.lengths) == [200 * 1024] * 3 + [7 * 200 * 1024]  # later pieces joined to the last
    assert body.times[-1] == 0.9 and body.size == 10 * 200 * 1024
    body.close()


# -- python -m reference_server --replay --------------------------------------------


SERVED = ["", "bom", "reset-mid-stream", "gzip", "buffered", "stall-mid", "content-length", "crlf-split"]


@pytest.mark.parametrize("name", SERVED, ids=[n or "plain" for n in SERVED])
def test_the_replay_server_is_judged_as_the_original(pytester, reference, name):
    live = _live(pytester, reference, name)
    saved = load_saved(pytester.path / SAVED)
    with ReplayServer(saved) as server:  # its own requests would get the stream too: only the canonical is asked
        again = run_suite(pytester, server.url("/any/path"), *FAST, *CANONICAL_ONLY, "--sse-strict",
                          "-k", "not REQUEST and not LIFECYCLE", *(FAULTS[name].suite_args if name else ()))
    # Live, the times differ a little: the outcomes do not.
    assert {k: v[0] for k, v in _judged(again).items()} == {k: v[0] for k, v in _judged(live).items()}


def test_the_replay_server_answers_any_method_and_path_with_the_recorded_bytes(pytester, reference):
    _live(pytester, reference, "split-multibyte")
    saved = load_saved(pytester.path / SAVED)
    with ReplayServer(saved, speed=4) as server:
        for method in ("GET", "POST", "DELETE"):
            response = httpx.request(method, server.url("/x/y?z=1"), timeout=10)
            assert response.status_code == 200 and response.content == saved.body
            assert response.headers["content-type"] == "text/event-stream"


def test_python_m_reference_server_replay(tmp_path, pytester, reference):
    _live(pytester, reference, "bom")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    saved = pytester.path / SAVED
    argv = [sys.executable, "-m", "reference_server", "--replay", str(saved), "--port", str(port), "--speed", "10"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert "any method, any path" in process.stdout.readline() + process.stdout.readline()
            deadline = time.monotonic() + 10
            while True:
                try:
                    body = httpx.post(f"http://127.0.0.1:{port}/v1/anything", timeout=5).content
                    break
                except httpx.ConnectError:
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
            assert body == load_saved(saved).body and body.startswith(b"\xef\xbb\xbf")
        finally:
            process.terminate()
    for bad, said in ((["--replay", str(saved), "--speed", "0"], "--speed 0: expected a positive number"),
                      (["--replay", str(tmp_path / "none.gz")], "cannot replay it: cannot read it")):
        result = subprocess.run([sys.executable, "-m", "reference_server", *bad], capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 2 and said in result.stderr
