"""The spend ledger: worst cases booked before sending, refunds after, and a cap no concurrency can overshoot."""

from __future__ import annotations

import asyncio
import random
import threading

import pytest
from dspy import lm15

from sharedlm._errors import FatalError, RetryableError, SpendCapReachedError, UsageError
from sharedlm._flow import estimate_tokens
from sharedlm._pricing import ModelPrice
from sharedlm._spend import SpendLedger, answer_tokens_booked, worst_case_cost

PRICE = ModelPrice(model="m", prompt=1e-6, completion=4e-6, max_output_tokens=2000)


def _request(text: str, *, max_tokens: int | None) -> lm15.Request:
    return lm15.Request(model="m", messages=(lm15.Message.user(text),), config=lm15.Config(max_tokens=max_tokens))


def test_worst_case_is_prompt_estimate_plus_max_tokens_at_the_price() -> None:
    request = _request("x" * 400, max_tokens=50)
    prompt_tokens = estimate_tokens(request) - 50
    assert worst_case_cost(request, PRICE) == pytest.approx(prompt_tokens * 1e-6 + 50 * 4e-6)


def test_without_max_tokens_the_models_largest_answer_is_booked() -> None:
    assert answer_tokens_booked(_request("hi", max_tokens=None), PRICE) == 2000


def test_without_max_tokens_or_metadata_the_default_answer_is_booked() -> None:
    price = ModelPrice(model="m", prompt=1e-6, completion=4e-6)
    assert answer_tokens_booked(_request("hi", max_tokens=None), price) == 1024


def test_settled_call_counts_its_real_cost_and_refunds_the_rest() -> None:
    ledger = SpendLedger(1.0)
    booking = asyncio.run(ledger.book(0.4))
    assert (ledger.booked, ledger.spent) == (pytest.approx(0.4), 0.0)
    ledger.settle(booking, 0.1)
    assert (ledger.booked, ledger.spent, ledger.remaining) == (0.0, pytest.approx(0.1), pytest.approx(0.9))


def test_failed_call_is_refunded_whole() -> None:
    ledger = SpendLedger(1.0)
    booking = asyncio.run(ledger.book(0.4))
    ledger.release(booking)
    assert (ledger.booked, ledger.spent) == (0.0, 0.0)


def test_call_without_reported_usage_keeps_its_whole_booking_as_spent() -> None:
    ledger = SpendLedger(1.0)
    booking = asyncio.run(ledger.book(0.4))
    ledger.settle(booking, None)
    assert ledger.spent == pytest.approx(0.4)


def test_settling_twice_counts_once() -> None:
    ledger = SpendLedger(1.0)
    booking = asyncio.run(ledger.book(0.4))
    ledger.settle(booking, 0.2)
    ledger.settle(booking, 0.2)
    assert ledger.spent == pytest.approx(0.2)


def test_booking_larger_than_what_is_left_is_refused_before_sending() -> None:
    ledger = SpendLedger(1.0, spent_before=0.7)
    with pytest.raises(SpendCapReachedError, match="--max-cost") as caught:
        asyncio.run(ledger.book(0.31))
    assert (caught.value.cap_usd, caught.value.spent_usd, caught.value.needed_usd) == (1.0, 0.7, 0.31)
    assert ledger.refused == 1


def test_spend_cap_error_is_fatal_not_retryable() -> None:
    assert issubclass(SpendCapReachedError, FatalError)
    assert not issubclass(SpendCapReachedError, RetryableError)


def test_earlier_spend_counts_toward_the_cap() -> None:
    ledger = SpendLedger(1.0, spent_before=0.75)
    assert ledger.try_book(0.3) is None
    assert ledger.try_book(0.25) is not None


def test_booking_that_fits_only_after_calls_in_flight_settle_waits_for_them() -> None:
    async def scenario() -> None:
        ledger = SpendLedger(1.0)
        first = await ledger.book(0.8)
        second = asyncio.ensure_future(ledger.book(0.5))
        for _ in range(5):
            await asyncio.sleep(0)
        assert not second.done()
        ledger.settle(first, 0.1)
        booking = await second
        assert booking.amount == 0.5
        assert ledger.booked == pytest.approx(0.5)

    asyncio.run(scenario())


def test_waiting_booking_is_refused_when_the_settled_spend_leaves_too_little() -> None:
    async def scenario() -> None:
        ledger = SpendLedger(1.0)
        first = await ledger.book(0.8)
        second = asyncio.ensure_future(ledger.book(0.5))
        await asyncio.sleep(0)
        ledger.settle(first, 0.7)
        with pytest.raises(SpendCapReachedError):
            await second

    asyncio.run(scenario())


def test_fits_and_try_book_do_not_wait_or_count_refusals() -> None:
    ledger = SpendLedger(1.0)
    assert ledger.try_book(0.6) is not None
    assert not ledger.fits(0.5)
    assert ledger.try_book(0.5) is None
    assert ledger.refused == 0


@pytest.mark.parametrize("cap", [0, -1.0, float("nan"), float("inf"), True, "1"])
def test_cap_must_be_a_positive_finite_number(cap: object) -> None:
    with pytest.raises(UsageError, match="max_cost"):
        SpendLedger(cap)  # type: ignore[arg-type]


def test_many_concurrent_calls_on_two_loops_never_overshoot_the_cap() -> None:
    ledger = SpendLedger(0.05)
    overshoot: list[float] = []

    async def call(rng: random.Random) -> None:
        worst = rng.uniform(0.0005, 0.003)
        try:
            booking = await ledger.book(worst)
        except SpendCapReachedError:
            return
        await asyncio.sleep(0)
        actual = worst * rng.uniform(0.05, 1.0)
        ledger.settle(booking, actual)
        if ledger.spent > ledger.cap + 1e-12:
            overshoot.append(ledger.spent)

    def loop(seed: int) -> None:
        async def many() -> None:
            rng = random.Random(seed)
            await asyncio.gather(*(call(rng) for _ in range(400)))

        asyncio.run(many())

    threads = [threading.Thread(target=loop, args=(seed,)) for seed in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overshoot == []
    assert ledger.spent <= ledger.cap
    assert ledger.spent >= ledger.cap - 0.003  # every call that could still fit was let through
    assert ledger.booked == 0.0


def test_repr_shows_cap_spent_and_booked() -> None:
    ledger = SpendLedger(2.0, spent_before=0.5)
    assert repr(ledger) == "SpendLedger(cap=$2, spent=$0.5, booked=$0, open_bookings=0, refused=0)"
