"""What a run costs the target, and how the suite keeps it bounded: how many requests of its
own it makes (the depth), how many it keeps in flight at once, how it waits when the
endpoint asks it to (429 or 503 with Retry-After), and until when (the run's deadline).

A conformance run spends the endpoint's requests, time and often money, and real endpoints
rate-limit. So every exchange the suite makes goes through :meth:`Budget.send`, which

- waits for one of the run's slots (``--sse-parallel``; fewer once the endpoint answers 429),
- retries a 429, 503 or 529 answer after its ``Retry-After`` (seconds or an HTTP date; a
  second when absent), at most ``count`` times per request and ``seconds`` of waiting in all
  (``--sse-retries``), and
- stops at the run's deadline (``--sse-deadline``).

An exchange still refused after that, or cut by the deadline, comes back ``refused``: the
requirement it served is not judged, with the reason, never passed or failed on it.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, TypeVar

from ._transcript import Transcript

__all__ = ["Depth", "DEPTHS", "RetryBudget", "RETRY_STATUSES", "Budget", "Ledger", "Sent", "retry_after"]

T = TypeVar("T")


@dataclass(frozen=True)
class Depth:
    """How many requests of its own the suite makes, by kind (see README "Own requests")."""

    name: str
    examples: int  # drawn requests, each streamed in full
    disconnects: int  # streams dropped after their first event (then one more streamed in full)
    concurrency: int  # streams opened at once, each streamed in full
    shrinks: int  # extra requests spent making a failing drawn request smaller


DEPTHS = {
    d.name: d
    for d in (
        Depth("quick", examples=0, disconnects=0, concurrency=0, shrinks=0),
        Depth("standard", examples=3, disconnects=3, concurrency=3, shrinks=5),
        Depth("thorough", examples=10, disconnects=20, concurrency=8, shrinks=20),
    )
}

# Answers that say "not now" rather than "no": too many requests, unavailable (overloaded,
# queue full), and Anthropic's 529 overloaded_error.
RETRY_STATUSES = {429: "Too Many Requests", 503: "Service Unavailable", 529: "Overloaded"}
DEFAULT_RETRY_AFTER = 1.0  # seconds, when the answer names none


@dataclass(frozen=True)
class RetryBudget:
    count: int = 3  # retries of one request at most
    seconds: float = 60.0  # waiting, summed over every retry of the run

    def __str__(self) -> str:
        return f"{self.count}/{self.seconds:g}" if self.count else "0"


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait as a Retry-After value says (RFC 9110 10.2.3: delay-seconds or an
    HTTP-date), or None when it says nothing usable."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None  # an HTTP-date is always GMT; a date without a zone is not one
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


@dataclass
class Ledger:
    """What the run sent: requests by kind, retries, time spent waiting, refusals."""

    sent: Counter[str] = field(default_factory=Counter)  # by kind: canonical, drawn, bad, ...
    retried: Counter[int] = field(default_factory=Counter)  # retries, by the status that asked for them
    waited: float = 0.0
    refused: Counter[int] = field(default_factory=Counter)  # exchanges still refused, by status
    cut: int = 0  # exchanges not made, or cut short, by the run's deadline
    backed_off_to: int | None = None  # the fewest own requests in flight the endpoint's 429s led to

    @property
    def requests(self) -> int:
        return sum(self.sent.values())

    def as_dict(self) -> dict[str, object]:
        return {
            "sent": self.requests,
            "by_kind": dict(self.sent),
            "retried": {str(k): v for k, v in sorted(self.retried.items())},
            "waited": round(self.waited, 3),
            "refused": {str(k): v for k, v in sorted(self.refused.items())},
            "cut_by_deadline": self.cut,
            "backed_off_to": self.backed_off_to,
        }


class Slots:
    """A counting semaphore whose size can shrink, taken in order of asking (FIFO)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.used = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def _fits(self, n: int) -> bool:
        # A request larger than the slots ever are still runs, alone (nothing else in flight).
        return self.used == 0 or self.used + n <= self.size

    async def acquire(self, n: int = 1) -> None:
        if not self._waiters and self._fits(n):
            self.used += n
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((n, future))
        try:
            await future
        except BaseException:
            if future.done() and not future.cancelled():
                self.release(n)  # granted as it was cancelled: give it back
            else:
                self._waiters = [(k, f) for k, f in self._waiters if f is not future]
                self._wake()  # it may have held up smaller asks behind it
            raise

    def release(self, n: int = 1) -> None:
        self.used -= n
        self._wake()

    def shrink(self, size: int) -> None:
        self.size = max(1, min(self.size, size))

    def grow(self) -> None:
        self.size += 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            n, future = self._waiters[0]
            if future.done():
                self._waiters.pop(0)
                continue
            if not self._fits(n):
                return
            self._waiters.pop(0)
            self.used += n
            future.set_result(None)


@dataclass
class Sent(Generic[T]):
    """One exchange as the budget let it happen."""

    result: T | None  # the last attempt's result; None if none was made or it was cut short
    refused: str | None = None  # why it cannot be judged: still refused, or the run's deadline
    retries: int = 0
    status: int | None = None  # the last attempt's status
    statuses: list[int | None] = field(default_factory=list)  # every attempt's, in order


GROW_AFTER = 5.0  # seconds without a "not now" before the slots grow back by one


def busy(t: Transcript) -> str | None:
    """How the answer says "not now", or None: a 429, 503 or 529, or a stream that reported
    an error the profile names as one (Anthropic's overloaded_error, say)."""
    if t.status in RETRY_STATUSES:
        return f"status {t.status} ({RETRY_STATUSES[t.status]})"
    if t.busy is not None:
        return f"status {t.status} with an in-stream error {t.busy!r}"
    return None


class Budget:
    """The run's own-request budget: slots, retries and the deadline, and the ledger."""

    def __init__(self, parallel: int, retries: RetryBudget, deadline: float,
                 clock: Callable[[], float] = time.monotonic):
        self.slots = Slots(parallel)
        self.parallel = parallel  # what the slots grow back to after the endpoint said "not now"
        self.retries = retries
        self.deadline_seconds = deadline
        self.clock = clock
        self.ends_at = clock() + deadline
        self.ledger = Ledger()
        self._waiting_until = float("-inf")  # when the latest wait under way ends: waits side by side overlap
        self._backed_off_at = float("-inf")

    def left(self) -> float:
        return self.ends_at - self.clock()

    async def _acquire(self) -> bool:
        """A slot, unless the run's deadline comes first."""
        try:
            async with asyncio.timeout(max(self.left(), 0)):
                await self.slots.acquire()
        except TimeoutError:
            return False
        return True

    async def send(
        self,
        kind: str,
        attempt: Callable[[], Awaitable[T]],
        transcript_of: Callable[[T], Transcript],
        holding: bool = False,
        final: frozenset[int] = frozenset(),
    ) -> Sent[T]:
        """Make an exchange (``attempt()``), retrying as the endpoint asks. ``holding``: the
        caller already holds a slot for the first attempt (streams opened together). The slot
        is given back however the attempt ends. ``final``: statuses that, still given when the
        retries are spent, are the answer to judge rather than a refusal."""
        retries, statuses = 0, []
        deadline = f"the run's deadline (--sse-deadline {self.deadline_seconds:g} s)"
        while True:
            if not holding and not await self._acquire():
                self.ledger.cut += 1
                return Sent(None, f"not sent: {deadline} came first{_after(statuses)}", retries, None, statuses)
            holding = False
            try:
                async with asyncio.timeout(max(self.left(), 0)):
                    result = await attempt()
            except TimeoutError:
                self.slots.release()
                self.ledger.sent[kind] += 1
                self.ledger.cut += 1
                return Sent(None, f"cut short by {deadline}{_after(statuses)}", retries, None, statuses)
            except BaseException:
                self.slots.release()
                raise
            self.ledger.sent[kind] += 1
            t = transcript_of(result)
            statuses.append(t.status)
            why = busy(t)
            if why is None:
                self.slots.release()
                self._grow()
                return Sent(result, None, retries, t.status, statuses)
            # The endpoint wants fewer at once: as many as it is serving now, this one aside.
            self.slots.shrink(self.slots.used - 1)
            self.ledger.backed_off_to = min(self.ledger.backed_off_to or self.slots.size, self.slots.size)
            self._backed_off_at = self.clock()
            self.slots.release()
            wait, why_not = self._wait_for(t, why, retries)
            if why_not is not None and t.status in final:
                return Sent(result, None, retries, t.status, statuses)
            if why_not is not None:
                self.ledger.refused[t.status or 0] += 1
                return Sent(result, why_not, retries, t.status, statuses)
            retries += 1
            self.ledger.retried[t.status or 0] += 1
            await asyncio.sleep(wait)

    def one_at_a_time(self) -> None:
        """From now on, one request at a time (the endpoint failed streams opened at once)."""
        self.parallel = 1
        self.slots.shrink(1)

    def _grow(self) -> None:
        """After a while without "not now", one more slot, up to --sse-parallel."""
        if self.slots.size < self.parallel and self.clock() - self._backed_off_at >= GROW_AFTER:
            self.slots.grow()
            self._backed_off_at = self.clock()  # one more slot per quiet while

    def _wait_for(self, t: Transcript, why: str, retries: int) -> tuple[float, str | None]:
        """How long to wait before the next attempt, or why there is none. The waiting
        --sse-retries allows is wall time: waits that overlap count once."""
        told = retry_after(t.header("retry-after"))
        wait = DEFAULT_RETRY_AFTER if told is None else told
        tries = f"{retries + 1} attempt{'s' * (retries > 0)}"
        if retries >= self.retries.count:
            return wait, f"{why} to {tries} ({retries} retr{'ies' if retries != 1 else 'y'} allowed by --sse-retries)"
        now = self.clock()
        more = max(0.0, now + wait - max(now, self._waiting_until))
        if self.ledger.waited + more > self.retries.seconds:
            left = max(self.retries.seconds - self.ledger.waited, 0)
            return wait, (f"{why} to {tries}; Retry-After {wait:g} s is more than the {left:g} s of waiting left "
                          "in --sse-retries")
        if wait >= self.left():
            return wait, f"{why} to {tries}; Retry-After {wait:g} s runs past --sse-deadline"
        self.ledger.waited += more
        self._waiting_until = max(self._waiting_until, now + wait)
        return wait, None


def _after(statuses: list[int | None]) -> str:
    """' (after answers 429, 429)' for the attempts an exchange had before it was cut."""
    shown = [str(s) if s is not None else "none" for s in statuses]
    return f" (after answer{'s' * (len(shown) > 1)} {', '.join(shown)})" if shown else ""
