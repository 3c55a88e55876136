"""Real vendors' habits, played by the reference server: an API key required, only its own
model served, a limit on streams at once answered with 429 and Retry-After, a queue before
the first byte, keep-alive comments before the first event. Each is a benign variant (a
correct endpoint does it; the suite must pass it), registered for every dialect.

And two faults the suite must not call either way: a key that is refused, and a rate limit
that never lifts. Against them the suite cannot judge the endpoint; its verdict is NOT JUDGED,
never CONFORMS (nor DOES NOT CONFORM: the endpoint may well be right).
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.responses import Response

from .faults import Fault, fault
from .handling import Handling
from .plan import Plan

__all__ = ["register", "admit", "STREAM_LIMIT", "HOLD_AFTER_DROP", "API_KEY"]

API_KEY = "sk-reference-0123456789abcdef"  # a made-up key: what the api-key variant wants
STREAM_LIMIT = 2  # streams served at once by the stream-limit variant
RETRY_AFTER = "1"  # seconds, as its 429s say
HOLD_AFTER_DROP = 0.5  # a dropped stream's slot is freed this late, as a vendor's would be
QUEUE_SECONDS = 1.5  # the queue variant's wait before the first byte
KEEPALIVES = 5  # comments the keep-alive variant sends, one every KEEPALIVE_PAUSE, before the first event
KEEPALIVE_PAUSE = 0.5
# Suite options these variants need: an idle timeout above their silences, and more streams
# at once than the limit, so the limit is met.
PATIENT = ("--sse-timeout", "3")


def _key_header(profile: str) -> tuple[str, str]:
    """Where each API takes its key."""
    if profile == "anthropic-messages":
        return "x-api-key", API_KEY
    if profile == "gemini":
        return "x-goog-api-key", API_KEY
    return "Authorization", f"Bearer {API_KEY}"


def register(registry: dict[str, Fault], profile: str, example: dict[str, Any]) -> None:
    """Register the vendor variants and faults in a dialect's fault registry."""
    name, value = _key_header(profile)
    add = lambda *args, **kw: fault(*args, registry=registry, stage="request", **kw)  # noqa: E731

    @add("api-key", f"wants the header '{name}: {value[:12]}...' (a made-up key) on every request; 401 without it",
         suite_args=("--sse-header", f"{name}: {value}"))
    def _api_key(handling: Handling) -> None:
        handling.api_key = (name, value)

    @add("stream-limit", f"serves {STREAM_LIMIT} streams at once and answers more with 429 and Retry-After: "
         f"{RETRY_AFTER}; a dropped stream's slot is freed {HOLD_AFTER_DROP:g} s late",
         suite_args=("--sse-concurrency", "4", "--sse-disconnects", "3"))
    def _stream_limit(handling: Handling) -> None:
        handling.stream_limit = STREAM_LIMIT

    if isinstance(example.get("model"), str):
        model = example["model"]

        @add("known-model", f"streams only for its own model {model!r}: a request naming another gets 404",
             suite_args=("--sse-examples", "3", "--sse-concurrency", "2"))  # the drawn requests keep the model
        def _known_model(handling: Handling) -> None:
            handling.known_model = model

    @fault("queue", f"holds each request {QUEUE_SECONDS:g} s in a queue before the first byte", registry=registry,
           suite_args=PATIENT)
    def _queue(plan: Plan) -> None:
        plan.stall_before_headers = QUEUE_SECONDS

    @fault("keep-alive-first", f"sends a keep-alive comment every {KEEPALIVE_PAUSE:g} s for "
           f"{KEEPALIVES * KEEPALIVE_PAUSE:g} s before the first event", registry=registry, suite_args=PATIENT)
    def _keep_alive_first(plan: Plan) -> None:
        comment = f": keep-alive{plan.sep}".encode()
        plan.preamble = [(0.0 if i == 0 else KEEPALIVE_PAUSE, comment) for i in range(KEEPALIVES)]
        plan.preamble.append((KEEPALIVE_PAUSE, b""))

    @add("rate-limited", f"answers every request 429 with Retry-After: {RETRY_AFTER}: the suite cannot judge it",
         not_judged=True)
    def _rate_limited(handling: Handling) -> None:
        handling.refuse = (429, RETRY_AFTER)

    @add("key-refused", "answers every request 401, as for an expired key: the suite cannot judge it",
         not_judged=True)
    def _key_refused(handling: Handling) -> None:
        handling.refuse = (401, None)


def gate(handling: Handling, headers: Any, error: Any) -> Response | None:
    """The answer a vendor gives before it reads the request, if any: 401 without the key,
    or the refusal a fault asks for."""
    if handling.refuse is not None:
        status, after = handling.refuse
        extra = {"retry-after": after} if after else None
        kind = "rate_limit" if status == 429 else "authentication"
        message = "rate limit reached; retry later" if status == 429 else "invalid API key"
        return error(status, message, kind, headers=extra)
    if handling.api_key is not None:
        name, value = handling.api_key
        if headers.get(name) != value:
            return error(401, f"missing or invalid API key: send it in the {name} header", "authentication")
    return None


class StreamSlots:
    """The streams a stream-limited server serves at once, a dropped one's slot freed late."""

    def __init__(self) -> None:
        self.taken = 0

    def take(self, limit: int) -> bool:
        if self.taken >= limit:
            return False
        self.taken += 1
        return True

    def give_back(self, dropped: bool) -> None:
        if dropped:
            asyncio.get_running_loop().call_later(HOLD_AFTER_DROP, self._free)
        else:
            self._free()

    def _free(self) -> None:
        self.taken -= 1


def admit(handling: Handling, body: Any, slots: StreamSlots, error: Any) -> Response | None:
    """The answer a vendor gives to a valid request it will not stream, if any: 404 for a
    model it does not serve, 429 when its streams are all taken (a slot is then held)."""
    model = body.get("model") if isinstance(body, dict) else None
    if handling.known_model is not None and model != handling.known_model:
        return error(404, f"The model `{model}` does not exist or you do not have access to it.", "not_found",
                     code="model_not_found")
    if handling.stream_limit is not None and not slots.take(handling.stream_limit):
        return error(429, f"{handling.stream_limit} streams at once at most; retry later", "rate_limit",
                     headers={"retry-after": RETRY_AFTER})
    return None
