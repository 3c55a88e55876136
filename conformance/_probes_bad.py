"""The REQUEST-* checks of bad requests: bodies that are not JSON, or not an object,
objects breaking the request schema, a JSON body sent as text/plain, other methods. Each
is derived from the canonical request and the request schema, and all go side by side
under the run's budget. None is read as a stream: an answer is judged by its status and a
short body, so each costs at most one --sse-timeout.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, replace
from typing import Any

from ._budget import Sent
from ._capture import ERROR_BODY_BYTES, capture
from ._model import EndKind, Requirement
from ._probes import MUST, SHOULD, Probe, judged_or_not, probe, retried, shown
from ._profile import Profile
from ._transcript import Evidence, RequestSpec, Transcript

__all__ = ["BadRequest", "BadRequests", "bad_requests"]

# The requirements an answer to each kind of bad request judges, beyond REQUEST-BAD-NO-5XX.
JUDGES = {
    "not-json": ("REQUEST-NOT-JSON-4XX",),
    "schema": ("REQUEST-SCHEMA-4XX",),
    "content-type": ("REQUEST-SCHEMA-4XX",),
    "method": ("REQUEST-METHOD-405",),
}

REQUESTS = "protocol document, request; RFC 9110 15.5 Client Error 4xx"
REQUESTS_URL = "https://www.rfc-editor.org/rfc/rfc9110#section-15.5"
METHOD_URL = "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.6"


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
            cases.append(BadRequest("schema", f"the required property {name!r} removed",
                                    body=json.dumps(broken).encode()))
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
    streams = False

    async def run(self) -> None:
        ctx = self.ctx
        # An answer is judged by its status and a short body: no bad request is read as a
        # stream, however the target answers it, so each costs at most one --sse-timeout.
        lim = ctx.settings.limits
        limits = replace(lim, max_body=ERROR_BODY_BYTES, stream_timeout=min(lim.timeout, lim.stream_timeout))
        cases = bad_requests(ctx.profile, ctx.body)

        # A bad request costs the endpoint little, but one slow to answer must not keep every
        # full stream waiting: bad requests take at most half the run's slots.
        lane = asyncio.Semaphore(max(1, ctx.settings.parallel // 2))

        async with self.client() as client:

            async def send(case: BadRequest) -> Sent[Transcript]:
                spec = RequestSpec(url=ctx.url, body=case.body, method=case.method,
                                   headers=tuple(ctx.settings.headers) + case.headers)
                async with lane:
                    # A 503 still given to a bad request after the retries, while the canonical
                    # one was served, is the endpoint failing on it: a 5xx, judged as such.
                    return await ctx.budget.send(
                        "bad",
                        lambda: capture(client, spec, ctx.profile, limits, (), Evidence(head_bytes=ERROR_BODY_BYTES)),
                        lambda t: t, final=frozenset({503, 529}),
                    )

            sent = await asyncio.gather(*(send(case) for case in cases))
        for case, s in zip(cases, sent):
            if s.result is not None and s.refused is None:
                self._judge(case, s.result)
        if note := retried(sent, "bad requests"):
            self.findings["REQUEST-BAD-NO-5XX"].notes.append(note)
        for rid, f in self.findings.items():
            relevant = [s for case, s in zip(cases, sent) if rid in ("REQUEST-BAD-NO-5XX", "REQUEST-ERROR-BODY")
                        or rid in JUDGES[case.kind]]
            judged_or_not(f, relevant, "bad requests")

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
                       f"{error.message}", expected="the profile's error schema", received=shown(body))


