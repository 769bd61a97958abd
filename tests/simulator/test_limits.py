"""Admission rules: the concurrency cap and the sliding-window budgets, and the waits they announce (fake clock)."""

from __future__ import annotations

import math

import pytest

from sharedlm.simulator._limits import UNKNOWN_WAIT_S, InFlight, Limits, Rejection, SlidingWindowBudget


def test_budget_admits_up_to_its_limit_within_the_window() -> None:
    budget = SlidingWindowBudget(3, window=60)
    for t in (0.0, 1.0, 2.0):
        assert budget.wait(1, t) == 0
        budget.spend(1, t)
    assert budget.wait(1, 3.0) > 0


def test_budget_wait_is_the_time_until_the_oldest_spend_leaves_the_window() -> None:
    budget = SlidingWindowBudget(2, window=60)
    budget.spend(1, 10.0)
    budget.spend(1, 30.0)
    assert budget.wait(1, 40.0) == pytest.approx(30.0)  # 10 + 60 - 40
    assert budget.wait(1, 70.0) == 0  # the first spend has left the window


def test_token_budget_waits_until_enough_tokens_have_left_the_window() -> None:
    budget = SlidingWindowBudget(100, window=60)
    budget.spend(40, 0.0)
    budget.spend(40, 20.0)
    # 80 spent; 50 more need 30 freed: the first spend (40) frees enough at t=60.
    assert budget.wait(50, 30.0) == pytest.approx(30.0)
    # 70 more need 50 freed: both spends must leave, the second at t=80.
    assert budget.wait(70, 30.0) == pytest.approx(50.0)


def test_budget_wait_is_infinite_for_a_request_larger_than_the_limit() -> None:
    assert SlidingWindowBudget(10).wait(11, 0.0) == math.inf


def test_in_flight_reports_the_earliest_due_request_that_is_still_running() -> None:
    in_flight = InFlight()
    late = in_flight.enter(5.0)
    early = in_flight.enter(2.0)
    in_flight.enter(None)  # a hang has no known end
    assert in_flight.earliest_due() == 2.0
    in_flight.leave(early)
    assert in_flight.earliest_due() == 5.0
    in_flight.leave(late)
    assert in_flight.earliest_due() is None
    assert in_flight.count == 1


def test_leaving_twice_counts_once() -> None:
    in_flight = InFlight()
    ticket = in_flight.enter(1.0)
    in_flight.leave(ticket)
    in_flight.leave(ticket)
    assert in_flight.count == 0


def test_concurrency_rejection_waits_until_the_earliest_request_is_due() -> None:
    limits = Limits(max_concurrency=2, rpm=None, tpm=None)
    limits.admit(10, now=0.0, due=0.7)
    limits.admit(10, now=0.1, due=0.3)
    rejection = limits.check(10, now=0.1)
    assert rejection is not None
    assert rejection.reason == "concurrency"
    assert rejection.wait == pytest.approx(0.2)
    assert rejection.retry_after_ms == 200


def test_concurrency_rejection_with_only_hangs_in_flight_announces_the_fallback_wait() -> None:
    limits = Limits(max_concurrency=1, rpm=None, tpm=None)
    limits.admit(10, now=0.0, due=None)
    rejection = limits.check(10, now=1.0)
    assert rejection is not None
    assert rejection.wait == UNKNOWN_WAIT_S


def test_rpm_rejection_after_the_budget_is_spent() -> None:
    limits = Limits(max_concurrency=None, rpm=2, tpm=None)
    limits.admit(1, now=0.0, due=0.0)
    limits.admit(1, now=15.0, due=15.0)
    rejection = limits.check(1, now=20.0)
    assert rejection is not None
    assert rejection.reason == "rpm"
    assert rejection.wait == pytest.approx(40.0)


def test_tpm_rejection_counts_the_tokens_of_the_request() -> None:
    limits = Limits(max_concurrency=None, rpm=None, tpm=100)
    limits.admit(60, now=0.0, due=0.0)
    assert limits.check(40, now=1.0) is None
    rejection = limits.check(41, now=1.0)
    assert rejection is not None
    assert rejection.reason == "tpm"


def test_too_large_means_larger_than_the_whole_token_budget() -> None:
    limits = Limits(max_concurrency=None, rpm=None, tpm=100)
    assert limits.too_large(101)
    assert not limits.too_large(100)
    assert not Limits(max_concurrency=None, rpm=None, tpm=None).too_large(10**9)


@pytest.mark.parametrize(("wait", "ms", "seconds"), [
    (0.2, 200, 1), (0.0001, 1, 1), (1.0, 1000, 1), (1.0004, 1001, 2), (59.5, 59500, 60),
])
def test_retry_after_headers_round_up_and_are_never_zero(wait: float, ms: int, seconds: int) -> None:
    rejection = Rejection("rpm", wait, "")
    assert (rejection.retry_after_ms, rejection.retry_after_s) == (ms, seconds)
