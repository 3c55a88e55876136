"""The run's budget (retries as Retry-After asks, slots, the deadline) and where drawn
requests vary the canonical one: the pure parts, without a server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from conformance import load_profile
from conformance._budget import Budget, RetryBudget, Slots, retry_after
from conformance._model import Ending, EndKind
from conformance._schemas import schemas_root
from conformance._transcript import RequestSpec, Transcript
from conformance._vary import VaryPath, subschema

NOW = datetime(2026, 12, 3, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("3", 3.0),
        (" 0 ", 0.0),
        ("Thu, 03 Dec 2026 12:00:05 GMT", 5.0),  # an HTTP-date (RFC 9110 5.6.7)
        ("Thu, 03 Dec 2026 11:59:00 GMT", 0.0),  # in the past: no wait
        ("-1", None),
        ("1.5", None),  # delay-seconds is digits only
        ("soon", None),
        ("", None),
        (None, None),
        ("2026-12-03T12:00:05", None),  # not an HTTP-date
    ],
)
def test_retry_after_takes_seconds_or_an_http_date(value, seconds):
    assert retry_after(value, NOW) == seconds


def _answer(status: int, retry: str | None = None) -> Transcript:
    t = Transcript(RequestSpec("http://127.0.0.1/", b"{}"), Ending(EndKind.CLOSED, "", 0.0, 0))
    t.status = status
    t.headers = [("retry-after", retry)] if retry is not None else []
    return t


class FakeTime(list):
    """The budget's waits, recorded rather than waited, on a clock they move."""

    now = 1000.0

    def clock(self) -> float:
        return self.now


@pytest.fixture
def slept(monkeypatch):
    waits = FakeTime()
    real_sleep = asyncio.sleep

    async def sleep(seconds):
        waits.append(seconds)
        waits.now += seconds
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    return waits


def _send(budget: Budget, answers: list[Transcript]):
    it = iter(answers)

    async def attempt():
        return next(it)

    return asyncio.run(budget.send("drawn", attempt, lambda t: t))


def test_a_429_is_retried_after_its_retry_after_then_served(slept):
    budget = Budget(4, RetryBudget(3, 60), deadline=600, clock=slept.clock)
    sent = _send(budget, [_answer(429, "2"), _answer(503), _answer(200)])
    assert sent.refused is None and sent.status == 200 and sent.retries == 2
    assert slept == [2.0, 1.0]  # as asked; a second when the answer names no time
    assert budget.ledger.sent["drawn"] == 3 and dict(budget.ledger.retried) == {429: 1, 503: 1}
    assert budget.ledger.waited == 3.0


def test_still_refused_after_the_retry_count_is_not_judged(slept):
    budget = Budget(4, RetryBudget(2, 60), deadline=600, clock=slept.clock)
    sent = _send(budget, [_answer(429, "1")] * 3)
    assert sent.refused == "status 429 (Too Many Requests) to 3 attempts (2 retries allowed by --sse-retries)"
    assert dict(budget.ledger.refused) == {429: 1}


def test_a_retry_after_longer_than_the_waiting_left_is_not_waited(slept):
    budget = Budget(4, RetryBudget(3, 10), deadline=600, clock=slept.clock)
    sent = _send(budget, [_answer(429, "30")])
    assert slept == []
    assert "Retry-After 30 s is more than the 10 s of waiting left in --sse-retries" in sent.refused


def test_a_429_shrinks_the_slots_to_what_the_endpoint_was_serving():
    slots = Slots(4)

    async def run():
        await slots.acquire(3)  # three in flight, one of them answered 429
        budget = Budget(4, RetryBudget(0, 0), deadline=600)
        budget.slots = slots
        return await budget.send("concurrent", _async(_answer(429)), lambda t: t, holding=True)

    sent = asyncio.run(run())
    assert sent.refused is not None
    assert slots.size == 2 and slots.used == 2


def _async(value):
    async def attempt():
        return value

    return attempt


def test_slots_are_taken_in_order_and_a_larger_ask_runs_alone():
    order: list[str] = []

    async def run():
        slots = Slots(2)

        async def take(name, n, hold):
            await slots.acquire(n)
            order.append(name)
            await asyncio.sleep(hold)
            slots.release(n)

        await asyncio.gather(take("a", 2, 0.01), take("b", 1, 0), take("c", 3, 0), take("d", 1, 0))

    asyncio.run(run())
    assert order == ["a", "b", "c", "d"]  # FIFO; c asks for more than there are and runs alone


def test_the_deadline_cuts_an_exchange_short_and_it_is_not_judged():
    async def run():
        budget = Budget(1, RetryBudget(), deadline=0.05)

        async def slow():
            await asyncio.sleep(5)

        return await budget.send("drawn", slow, lambda t: t), budget

    sent, budget = asyncio.run(run())
    assert sent.result is None and sent.refused.startswith("cut short by the run's deadline (--sse-deadline 0.05 s)")
    assert budget.ledger.cut == 1 and budget.slots.used == 0


def test_vary_paths_expand_over_the_canonical_lists_and_leave_out_what_it_leaves_out():
    body = {"messages": [{"role": "system", "content": "a"}, {"role": "user", "content": "b"}], "model": "m"}
    assert list(VaryPath("messages[*].content").places(body)) == [("messages", 0, "content"),
                                                                 ("messages", 1, "content")]
    # What the canonical request leaves out stays out: a server may refuse a field it does not know.
    assert list(VaryPath("stream_options.include_usage").places(body)) == []
    assert list(VaryPath("messages[5].content").places(body)) == []  # no sixth message to vary
    with_usage = {**body, "stream_options": {"include_usage": True}}
    assert list(VaryPath("stream_options.include_usage").places(with_usage)) == [("stream_options", "include_usage")]


def test_every_builtin_vary_path_names_a_subschema():
    from conformance import builtin_profiles

    for name in builtin_profiles():
        profile = load_profile(name)
        assert profile.vary, name
        for path in profile.vary:
            assert subschema(profile.request_schema, VaryPath(path)) is not None, (name, path)


def test_a_vary_path_the_request_schema_does_not_name_is_a_profile_error(tmp_path):
    import shutil

    from conformance import ProfileError

    shutil.copytree(str(schemas_root() / "simple"), tmp_path / "p")
    toml = tmp_path / "p" / "profile.toml"
    toml.write_text(toml.read_text().replace("prompt = {}", '"model" = {}'))
    with pytest.raises(ProfileError, match="key 'requests.vary.model': the request schema names no property"):
        load_profile(str(tmp_path / "p"))


def test_waits_side_by_side_count_once_against_the_retry_budget():
    async def run():
        budget = Budget(4, RetryBudget(3, 5), deadline=600)
        answers = {"a": [_answer(429, "2"), _answer(200)], "b": [_answer(429, "2"), _answer(200)],
                   "c": [_answer(429, "2"), _answer(200)]}

        def attempt(name):
            it = iter(answers[name])

            async def one():
                return next(it)

            return one

        return await asyncio.gather(*(budget.send("drawn", attempt(n), lambda t: t) for n in answers)), budget

    sent, budget = asyncio.run(run())
    # Three waits of 2 s at once are 2 s of the run's waiting, not 6: all three are served.
    assert [s.refused for s in sent] == [None, None, None]
    assert 2.0 <= budget.ledger.waited < 2.5


def test_an_attempt_that_raises_gives_its_slot_back():
    async def run():
        budget = Budget(1, RetryBudget(), deadline=600)

        async def broken():
            raise RuntimeError("a rule's own trouble")

        with pytest.raises(RuntimeError):
            await budget.send("drawn", broken, lambda t: t)
        return budget

    assert asyncio.run(run()).slots.used == 0


def test_slots_grow_back_after_a_quiet_while(slept):
    budget = Budget(4, RetryBudget(3, 60), deadline=600, clock=slept.clock)
    _send(budget, [_answer(429, "1"), _answer(200)])
    assert budget.slots.size == 1  # the endpoint was serving nothing else: one at a time
    slept.now += 6  # a quiet while, then a served request
    _send(budget, [_answer(200)])
    assert budget.slots.size == 2
