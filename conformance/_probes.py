"""Checks that make their own exchanges, beyond the canonical one: any valid request,
bad requests, a client that goes away, several streams at once.

Their requirement IDs say so by their area (``REQUEST-*``, ``LIFECYCLE-*``), and so do
their titles. A probe judges several requirements from the same exchanges, once per run.
Probes that hold more exchanges to the stream rules are not judged while the canonical
exchange already fails those rules: one root cause, reported once.
"""

from __future__ import annotations

import asyncio
import json
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis.errors import HypothesisException

from ._model import EndKind, Level, Requirement
from ._profile import Profile
from ._rules import Findings, Verdict
from ._settings import Settings
from ._suite import Canonical, checked_exchange, failures, request_for
from ._transcript import Chunk, Evidence, RequestSpec, Transcript, capture, make_client, make_concurrent_client
from ._transport import Transport

__all__ = ["Probe", "PROBES", "ProbeContext", "probe_for"]

MUST, SHOULD = Level.MUST, Level.SHOULD
REQUESTS = "protocol document, request; RFC 9110 15.5 Client Error 4xx"
REQUESTS_URL = "https://www.rfc-editor.org/rfc/rfc9110#section-15.5"
METHOD_URL = "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.6"
LIFECYCLE = "protocol document: the server handles exceptions and releases resources"
STALLED = {EndKind.IDLE_TIMEOUT: "DELIVERY-IDLE", EndKind.STREAM_TIMEOUT: "DELIVERY-DURATION"}
ERROR_BODY_BYTES = 64 * 1024  # read of a bad request's answer: enough for any error body, and no stream
SHRINK_EXCHANGES = 20  # exchanges Hypothesis may spend shrinking a failing request
BODY_SHOWN = 400  # characters of a request body shown in a message


@dataclass(frozen=True)
class ProbeContext:
    url: str
    settings: Settings
    profile: Profile
    canonical: Canonical


class Probe:
    """Makes its own exchanges and judges one or more requirements from them."""

    requirements: ClassVar[tuple[Requirement, ...]]
    # Not judged while the canonical exchange fails: the probe holds more exchanges to
    # the same stream rules, so it would only repeat those failures.
    needs_conforming_canonical: ClassVar[bool] = True

    def __init__(self, ctx: ProbeContext) -> None:
        self.ctx = ctx
        self.findings = {r.id: Findings(r) for r in self.requirements}

    def verdicts(self) -> dict[str, Verdict]:
        ctx = self.ctx
        t = ctx.canonical.transcript
        failing = failures(ctx.canonical.verdicts.values(), ctx.settings.strict)
        if not t.responded:
            for f in self.findings.values():
                f.block("HTTP-STATUS", t.ending.detail)
        elif t.ending.kind in STALLED:
            # A target that stalls would cost a timeout per request made: one is enough.
            for f in self.findings.values():
                f.block(STALLED[t.ending.kind], t.ending.detail)
        elif self.needs_conforming_canonical and failing:
            ids = ", ".join(v.requirement.id for v in failing)
            for f in self.findings.values():
                f.block(ids, "the canonical request already fails; fix that first")
        else:
            asyncio.run(self.run())
        return {rid: f.verdict() for rid, f in self.findings.items()}

    async def run(self) -> None:
        raise NotImplementedError

    def client(self) -> Transport:
        return make_client(self.ctx.url)

    def request(self, body: Any) -> RequestSpec:
        return request_for(self.ctx.url, self.ctx.settings, body)


PROBES: list[type[Probe]] = []


def probe(cls: type[Probe]) -> type[Probe]:
    PROBES.append(cls)
    return cls


def probe_for(requirement_id: str) -> type[Probe] | None:
    return next((p for p in PROBES if any(r.id == requirement_id for r in p.requirements)), None)


def _shown(body: Any) -> str:
    text = json.dumps(body, ensure_ascii=False)
    return text if len(text) <= BODY_SHOWN else text[:BODY_SHOWN] + "..."


def _summary(failed: Iterable[Verdict]) -> str:
    """The failed requirement IDs with their first message each."""
    parts = []
    for v in failed:
        first = v.violations[0].message if v.violations else v.reason
        parts.append(f"{v.requirement.id}: {first}")
    return "; ".join(parts)


# -- any valid request -----------------------------------------------------------------


@probe
class AnyValidRequest(Probe):
    requirements = (
        Requirement(
            "REQUEST-ANY-VALID",
            MUST,
            "Every request the request schema allows gets a conforming stream (own requests, drawn by Hypothesis)",
            "profile request schema",
        ),
    )

    async def run(self) -> None:
        found = self.findings["REQUEST-ANY-VALID"]
        n = self.ctx.settings.examples
        if n == 0:
            found.not_applicable = "turned off with --sse-examples 0"
            return
        # Hypothesis drives synchronous code: run it in a thread, the exchanges on this loop.
        loop = asyncio.get_running_loop()
        gave_up: list[str] = []
        async with self.client() as client:
            failing, tried = await asyncio.to_thread(self._search, loop, client, n, gave_up)
        if not tried and not failing:
            reason = gave_up[0] if gave_up else "no request drawn"
            found.not_applicable = f"Hypothesis could not draw a request from the request schema ({reason})"
            return
        found.notes.append(f"{tried} requests drawn from the request schema (seed {self.ctx.settings.seed})")
        if failing:
            body, failed = min(failing, key=lambda f: len(json.dumps(f[0])))
            found.fail(
                f"a request the schema allows did not get a conforming stream; smallest failing request "
                f"{_shown(body)} (reproduce with --sse-seed {self.ctx.settings.seed}): {_summary(failed)}",
                expected="a conforming stream",
                received=", ".join(v.requirement.id for v in failed),
            )

    def _search(
        self, loop: asyncio.AbstractEventLoop, client: Transport, n: int, gave_up: list[str]
    ) -> tuple[list[tuple[Any, list[Verdict]]], int]:
        # Imported here: building its strategies at plugin load time would touch
        # Hypothesis's storage while pytest starts, which Hypothesis warns about.
        from hypothesis_jsonschema import from_schema

        ctx = self.ctx
        failing: list[tuple[Any, list[Verdict]]] = []
        tried = 0

        def exchange(body: Any) -> list[Verdict]:
            coro = checked_exchange(client, self.request(body), ctx.profile, ctx.settings.limits)
            _, verdicts = asyncio.run_coroutine_threadsafe(coro, loop).result()
            return failures(verdicts, ctx.settings.strict)

        @settings(
            max_examples=n,
            deadline=None,
            database=None,
            phases=(Phase.generate, Phase.shrink),
            suppress_health_check=list(HealthCheck),
            report_multiple_bugs=False,
            verbosity=Verbosity.quiet,
        )
        @seed(ctx.settings.seed)
        @given(from_schema(ctx.profile.request_schema))
        def one(body: Any) -> None:
            nonlocal tried
            if len(failing) > SHRINK_EXCHANGES:
                return  # shrinking budget spent: keep the smallest failure found so far
            tried += 1
            failed = exchange(body)
            if failed:
                failing.append((body, failed))
                raise _RequestFailed

        try:
            one()
        except (_RequestFailed, ExceptionGroup):
            pass  # the failures are recorded in `failing`
        except HypothesisException as exc:  # e.g. Unsatisfiable: a schema it cannot draw from
            gave_up.append(f"{type(exc).__name__}: {str(exc)[:200]}")
        return failing, tried


class _RequestFailed(Exception):
    pass


# -- bad requests ----------------------------------------------------------------------


@dataclass(frozen=True)
class BadRequest:
    kind: str  # "not-json", "schema", "content-type", "method"
    what: str  # a phrase for messages
    method: str = "POST"
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


def bad_requests(profile: Profile, example: Any) -> list[BadRequest]:
    """The bad requests the probe sends, derived from the request schema and example."""
    cases = [
        BadRequest("not-json", "a body cut short", body=json.dumps(example).encode()[:-3]),
        BadRequest("not-json", "a body that is not JSON", body=b"this is not JSON"),
        BadRequest("not-json", "an empty body", body=b""),
        BadRequest("not-json", "a JSON array", body=b"[]"),
        BadRequest("not-json", "a JSON string", body=b'"a string"'),
        BadRequest("not-json", "JSON null", body=b"null"),
    ]
    if isinstance(example, dict):
        schema = profile.request_schema
        for name in schema.get("required", [])[:3]:
            broken = {k: v for k, v in example.items() if k != name}
            cases.append(BadRequest("schema", f"the required property {name!r} removed", body=json.dumps(broken).encode()))
        for name, sub in list(schema.get("properties", {}).items())[:3]:
            wrong = _wrong_type(sub)
            if wrong is not _NO_WRONG_TYPE and name in example:
                broken = {**example, name: wrong}
                cases.append(BadRequest("schema", f"{name!r} of the wrong type ({json.dumps(wrong)})",
                                        body=json.dumps(broken).encode()))
        cases.append(
            BadRequest("content-type", "a valid body sent as text/plain", body=json.dumps(example).encode(),
                       headers=(("Content-Type", "text/plain"),))
        )
    cases.append(BadRequest("method", "GET", method="GET"))
    cases.append(BadRequest("method", "PUT with a valid body", method="PUT", body=json.dumps(example).encode()))
    return cases


_NO_WRONG_TYPE = object()


def _wrong_type(schema: dict[str, Any]) -> Any:
    """A value the property's schema rejects by type, if it names one."""
    kind = schema.get("type")
    if "const" in schema and kind is None:
        kind = type(schema["const"]).__name__
    if not isinstance(kind, str):
        return _NO_WRONG_TYPE  # a list of types ("type": ["string", "null"]): no one type to break
    return {"string": 12345, "str": 12345, "integer": "12", "int": "12", "number": "1.5", "float": "1.5",
            "boolean": "yes", "bool": "yes", "object": "{}", "array": "[]"}.get(kind, _NO_WRONG_TYPE)


@probe
class BadRequests(Probe):
    requirements = (
        Requirement("REQUEST-BAD-NO-5XX", MUST,
                    "No bad request gets a 5xx or no answer within --sse-timeout (own requests)", REQUESTS,
                    REQUESTS_URL),
        Requirement("REQUEST-NOT-JSON-4XX", MUST,
                    "A body that is not JSON, or not a JSON object, gets a 4xx (own requests)", REQUESTS,
                    REQUESTS_URL),
        Requirement("REQUEST-SCHEMA-4XX", SHOULD,
                    "A request breaking the request schema, or not sent as JSON, gets a 4xx (own requests)",
                    REQUESTS, REQUESTS_URL),
        Requirement("REQUEST-ERROR-BODY", SHOULD,
                    "A 4xx body is JSON matching the profile's error schema (own requests)",
                    "profile error schema"),
        Requirement("REQUEST-METHOD-405", SHOULD,
                    "GET and other methods get 405 with an Allow header (own requests)",
                    "RFC 9110 15.5.6 405 Method Not Allowed", METHOD_URL),
    )
    needs_conforming_canonical = False  # about refusing requests, not about streams

    async def run(self) -> None:
        ctx = self.ctx
        example = _canonical_example(ctx)
        # An answer is judged by its status and a short body: no bad request is read as a
        # stream, however the target answers it, so each costs at most one --sse-timeout.
        lim = ctx.settings.limits
        limits = replace(lim, max_body=ERROR_BODY_BYTES, stream_timeout=min(lim.timeout, lim.stream_timeout))
        async with self.client() as client:
            for case in bad_requests(ctx.profile, example):
                spec = RequestSpec(url=ctx.url, body=case.body, method=case.method,
                                   headers=tuple(ctx.settings.headers) + case.headers)
                t = await capture(client, spec, ctx.profile, limits, (), Evidence(head_bytes=ERROR_BODY_BYTES))
                self._judge(case, t)

    def _judge(self, case: BadRequest, t: Transcript) -> None:
        f = self.findings
        sent = f"{case.method} with {case.what}" if case.kind != "method" else case.what
        if not t.responded or t.status >= 500:
            got = t.ending.detail if not t.responded else f"status {t.status}"
            f["REQUEST-BAD-NO-5XX"].fail(f"{sent}: {got}", expected="a 4xx answer", received=got)
            return
        status = t.status
        if case.kind == "not-json" and not 400 <= status < 500:
            f["REQUEST-NOT-JSON-4XX"].fail(f"{sent} got status {status}", expected="4xx", received=str(status))
        elif case.kind in ("schema", "content-type") and not 400 <= status < 500:
            f["REQUEST-SCHEMA-4XX"].fail(f"{sent} got status {status}", expected="4xx", received=str(status))
        elif case.kind == "method":
            if status != 405:
                f["REQUEST-METHOD-405"].fail(f"{sent} got status {status}", expected="405", received=str(status))
            elif t.header("allow") is None:
                f["REQUEST-METHOD-405"].fail(f"{sent} got 405 without an Allow header",
                                             expected="Allow: POST", received="(none)")
        if 400 <= status < 500:
            self._error_body(sent, t)

    def _error_body(self, sent: str, t: Transcript) -> None:
        found = self.findings["REQUEST-ERROR-BODY"]
        if t.ending.kind is not EndKind.CLOSED or t.body_bytes > len(t.head):
            found.fail(f"{sent}: the {t.status} body did not end within {ERROR_BODY_BYTES // 1024} KiB and "
                       f"--sse-timeout ({t.ending.detail}); an error body is short JSON",
                       expected="a short JSON error", received=f"{t.body_bytes} bytes, {t.ending.kind.value}")
            return
        try:
            body = json.loads(t.head)
        except ValueError:
            found.fail(f"{sent}: the {t.status} body is not JSON: {t.head[:80]!r}",
                       expected="JSON matching the error schema", received=repr(t.head[:80]))
            return
        validator = self.ctx.profile.error_validator
        error = next(iter(validator.iter_errors(body)), None)
        if error is not None:
            found.fail(f"{sent}: the {t.status} body does not match the error schema at {error.json_path}: "
                       f"{error.message}", expected="the profile's error schema", received=_shown(body))


def _canonical_example(ctx: ProbeContext) -> Any:
    return json.loads(ctx.canonical.transcript.request.body)


# -- lifecycle -------------------------------------------------------------------------


@probe
class Disconnects(Probe):
    requirements = (
        Requirement("LIFECYCLE-DISCONNECT", MUST,
                    "After clients drop streams mid-way, the next request still streams normally (own requests)",
                    LIFECYCLE),
    )

    async def run(self) -> None:
        found = self.findings["LIFECYCLE-DISCONNECT"]
        ctx = self.ctx
        n = ctx.settings.disconnects
        if n == 0:
            found.not_applicable = "turned off with --sse-disconnects 0"
            return
        body = _canonical_example(ctx)
        async with self.client() as client:
            for i in range(n):
                # Each dropped stream must itself have started normally: that is the
                # "next request" after the drop before it.
                t = await capture(client, self.request(body), ctx.profile, ctx.settings.limits, (), Evidence(),
                                  drop_after_events=1)
                if t.status != 200 or t.ending.kind is not EndKind.DROPPED:
                    got = t.ending.detail if not t.responded else f"status {t.status}; {t.ending.detail}"
                    found.fail(f"after {i} dropped stream{'s' * (i != 1)}, the next request did not stream: {got}",
                               expected="status 200 and a first event", received=got)
                    return
            _, verdicts = await checked_exchange(client, self.request(body), ctx.profile, ctx.settings.limits)
        failed = failures(verdicts, ctx.settings.strict)
        if failed:
            found.fail(f"after {n} dropped streams, the next stream fails: {_summary(failed)}",
                       expected="a conforming stream", received=", ".join(v.requirement.id for v in failed))
        else:
            found.notes.append(f"{n} streams dropped after their first event; the next one conformed")


class _FirstId:
    """Observer: keeps the first id a chunk carries, where the profile's ``[chunk] id`` says."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.value: Any = None

    def on_chunk(self, chunk: Chunk) -> None:
        if self.value is None:
            self.value = self.profile.id_of(chunk.value)


@probe
class Concurrency(Probe):
    requirements = (
        Requirement("LIFECYCLE-CONCURRENT", MUST, "Streams opened at once all conform (own requests)", LIFECYCLE),
        Requirement("LIFECYCLE-CONCURRENT-IDS", SHOULD,
                    "Streams opened at once carry different chunk ids (own requests)", LIFECYCLE),
    )

    async def run(self) -> None:
        ctx = self.ctx
        n = ctx.settings.concurrency
        together, ids = self.findings["LIFECYCLE-CONCURRENT"], self.findings["LIFECYCLE-CONCURRENT-IDS"]
        if n == 0:
            together.not_applicable = ids.not_applicable = "turned off with --sse-concurrency 0"
            return
        body = _canonical_example(ctx)
        firsts = [_FirstId(ctx.profile) for _ in range(n)]
        # aiohttp: its C parser keeps the streams' timings true when many run at once.
        async with make_concurrent_client(ctx.url) as client:
            results = await asyncio.gather(
                *(checked_exchange(client, self.request(body), ctx.profile, ctx.settings.limits, [first])
                  for first in firsts)
            )
        for i, (t, verdicts) in enumerate(results):
            failed = failures(verdicts, ctx.settings.strict)
            if failed:
                together.fail(f"stream {i + 1} of {n} opened at once fails: {_summary(failed)}",
                              expected="every stream conforms", received=", ".join(v.requirement.id for v in failed))
        starts = [t.first_event_at for t, _ in results if t.first_event_at is not None]
        if starts:
            together.notes.append(
                f"{n} streams at once: first event after {min(starts) * 1000:.0f} ms (fastest), "
                f"{statistics.median(starts) * 1000:.0f} ms (median), {max(starts) * 1000:.0f} ms (slowest)"
            )
        seen = [f.value for f in firsts if f.value is not None]
        if ctx.profile.id_path is None:
            ids.not_applicable = f"profile {ctx.profile.name} names no id ([chunk] id)"
        elif n < 2 or len(seen) < 2:
            ids.not_applicable = "fewer than two streams carried an id"
        elif len(set(map(str, seen))) < len(seen):
            dup = next(v for v in seen if seen.count(v) > 1)
            ids.fail(f"{seen.count(dup)} of {len(seen)} streams opened at once share the id {str(dup)[:80]!r}",
                     expected="a different id per response", received=str(dup)[:80])
