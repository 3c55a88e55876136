"""The HTTP message around the stream: its header fields judged on every value they are
given (RFC 9110 section 5.3), and its body complete as its framing promises (RFC 9112
section 8), over both transports and real loopback sockets."""

from __future__ import annotations

import asyncio
import json

import pytest

from conformance import EndKind, Limits, RequestSpec, Transcript, capture, load_profile
from conformance._rules import Outcome, Verdict
from conformance._suite import checked_exchange
from conformance._transport import make_client, make_concurrent_client
from reference_server import ServerThread

PROFILE = load_profile("simple")
BODY = json.dumps(PROFILE.example).encode()
LIMITS = Limits(timeout=1, stream_timeout=5, done_grace=0.5)
TRANSPORTS = {"httpx": make_client, "aiohttp": make_concurrent_client}


def record(url: str, transport: str) -> Transcript:
    async def run() -> Transcript:
        async with TRANSPORTS[transport](url) as client:
            return await capture(client, RequestSpec(url, BODY), PROFILE, LIMITS)

    return asyncio.run(run())


# -- header fields ---------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_content_encoding_given_in_two_field_lines_is_read_whole(reference: ServerThread, transport: str):
    # Content-Encoding is a list, which may span field lines ("identity", then "gzip"):
    # reading only the first would leave the body compressed.
    t = record(reference.url("/chat/stream", "fault=gzip-two-fields"), transport)
    assert [v for k, v in t.headers if k.lower() == "content-encoding"] == ["identity", "gzip"]
    assert t.head.startswith(b"data: {") and t.terminators == 1 and not t.notice_counts


def test_two_content_types_fail_naming_both_and_what_a_browser_reads(suite):
    run = suite("fault=content-type-twice", "-rs")
    assert run.failed == {"HTTP-CONTENT-TYPE"}, run.output
    assert ("2 Content-Type fields give 2 media types, 'text/event-stream', 'application/json': Content-Type is "
            "a single value (RFC 9110 section 5.3)") in run.output
    assert "reads the last that parses (application/json)" in run.output
    # A browser reads application/json: the body is not judged as an event stream.
    assert "moot: HTTP-CONTENT-TYPE failed (media type application/json)" in run.output


def test_the_first_of_two_content_types_is_judged_too(suite):
    run = suite("fault=content-type-json-first", "--sse-strict")
    assert run.failed == {"HTTP-CONTENT-TYPE"}, run.output
    # A browser reads the last, text/event-stream: the body is judged, and conforms.
    assert run.outcomes["PAYLOAD-JSON"] == "passed"
    assert "'application/json', 'text/event-stream'" in run.output


# -- a complete message ----------------------------------------------------------------


def judged(url: str, transport: str) -> tuple[Transcript, dict[str, Verdict]]:
    async def run() -> tuple[Transcript, list[Verdict]]:
        async with TRANSPORTS[transport](url) as client:
            return await checked_exchange(client, RequestSpec(url, BODY), PROFILE, LIMITS)

    t, verdicts = asyncio.run(run())
    return t, {v.requirement.id: v for v in verdicts}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("fault", "ending"),
    [
        ("chunked-cut", "the body is chunked, and its last (zero-size) chunk never came"),
        ("length-short", "its Content-Length promised {promised} bytes, and {received} arrived"),
    ],
)
def test_a_body_cut_short_of_its_framing_fails_though_done_arrived(reference, transport, fault, ending):
    t, verdicts = judged(reference.url("/chat/stream", f"fault={fault}"), transport)
    assert t.terminators == 1  # [DONE] came before the cut
    assert t.ending.kind is EndKind.INCOMPLETE
    promised = {k.lower(): v for k, v in t.headers}.get("content-length")
    assert t.ending.detail == ("the response ended before its body was complete: "
                               + ending.format(promised=promised, received=t.body_bytes)
                               + " (an incomplete message, RFC 9112 section 8)")
    failed = {rid for rid, v in verdicts.items() if v.outcome is Outcome.FAILED}
    assert failed == {"HTTP-COMPLETE"} | ({"HTTP-NO-CONTENT-LENGTH"} if promised else set())
    (violation,) = verdicts["HTTP-COMPLETE"].violations
    assert violation.message.startswith(t.ending.detail + f", after {t.body_bytes} bytes and 9 events; the "
                                        "terminator had arrived (event 8), but a client records the whole")
    assert violation.offset == t.body_bytes
    assert violation.excerpt.endswith(b"data: [DONE]\n\n")  # the bytes received, up to the cut
    assert violation.expected == (f"Content-Length: {promised} bytes" if promised else
                                  "a chunked body, ended by its last (zero-size) chunk")


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("query", ["fault=chunked-raw", "fault=close-delimited", "fault=content-length", ""])
def test_a_body_complete_by_its_framing_passes(reference, transport, query):
    t, verdicts = judged(reference.url("/chat/stream", query), transport)
    assert t.ending.kind is EndKind.CLOSED
    assert verdicts["HTTP-COMPLETE"].outcome is Outcome.PASSED
