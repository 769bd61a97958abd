"""Budgets sized from the limits a provider reports, with a configured rpm/tpm as the upper bound."""

from __future__ import annotations

import pytest

from sharedlm._flow._learned_budgets import LearnedBudgets
from sharedlm._flow._limit_headers import LimitReading, LimitReport

from .conftest import FakeClock


def _budgets(clock: FakeClock, **overrides: object) -> LearnedBudgets:
    options: dict[str, object] = {"rpm": None, "tpm": None, "share": 1.0, "clock": clock, "window_seconds": 61.0}
    options.update(overrides)
    return LearnedBudgets(**options)  # type: ignore[arg-type]


def _requests(limit: float, remaining: float | None = None) -> LimitReport:
    return LimitReport(requests=LimitReading(kind="requests", limit=limit, remaining=remaining, reset_s=1.0))


def test_nothing_configured_and_nothing_reported_means_no_budgets(clock: FakeClock) -> None:
    budgets = _budgets(clock)
    assert (budgets.requests, budgets.tokens) == (None, None)


def test_a_reported_request_limit_creates_a_budget_of_that_size(clock: FakeClock) -> None:
    budgets = _budgets(clock)
    assert budgets.observe(_requests(600)) is True
    assert budgets.requests is not None
    assert budgets.requests.per_minute == 600


def test_a_reported_token_limit_creates_a_token_budget(clock: FakeClock) -> None:
    budgets = _budgets(clock)
    budgets.observe(LimitReport(tokens=LimitReading(kind="tokens", limit=90000)))
    assert budgets.tokens is not None
    assert budgets.tokens.per_minute == 90000


def test_a_configured_rpm_is_an_upper_bound_on_the_learned_one(clock: FakeClock) -> None:
    budgets = _budgets(clock, rpm=300.0)
    budgets.observe(_requests(600))
    assert budgets.requests is not None
    assert budgets.requests.per_minute == 300


def test_a_learned_limit_below_the_configured_one_wins(clock: FakeClock) -> None:
    budgets = _budgets(clock, rpm=300.0)
    budgets.observe(_requests(120))
    assert budgets.requests is not None
    assert budgets.requests.per_minute == 120


def test_the_process_share_applies_to_learned_limits(clock: FakeClock) -> None:
    budgets = _budgets(clock, share=0.25)
    budgets.observe(_requests(600))
    assert budgets.requests is not None
    assert budgets.requests.per_minute == 150


def test_what_the_provider_already_counted_is_booked_when_the_budget_is_created(clock: FakeClock) -> None:
    budgets = _budgets(clock)
    budgets.observe(_requests(600, remaining=472))
    assert budgets.requests is not None
    assert budgets.requests.available <= 600 - 128


def test_a_small_change_of_the_reported_limit_leaves_the_budget_alone(clock: FakeClock) -> None:
    budgets = _budgets(clock)
    budgets.observe(_requests(600))
    first = budgets.requests
    assert budgets.observe(_requests(610)) is False
    assert budgets.requests is first
    assert first is not None
    assert first.per_minute == 600


def test_a_real_change_of_the_reported_limit_resizes_the_budget(clock: FakeClock) -> None:
    budgets = _budgets(clock)
    budgets.observe(_requests(600))
    first = budgets.requests
    assert budgets.observe(_requests(1200)) is True
    assert budgets.requests is first
    assert first is not None
    assert first.per_minute == 1200


def test_a_remembered_limit_builds_the_budget_from_the_start(clock: FakeClock) -> None:
    budgets = _budgets(clock, learned_rpm=600.0)
    assert budgets.requests is not None
    assert budgets.requests.per_minute == 600


def test_an_empty_report_changes_nothing(clock: FakeClock) -> None:
    assert _budgets(clock).observe(LimitReport()) is False


@pytest.mark.parametrize("per_minute", [1200, 300])
def test_a_resized_budget_paces_at_its_new_rate(clock: FakeClock, per_minute: int) -> None:
    budgets = _budgets(clock)
    budgets.observe(_requests(600))
    assert budgets.requests is not None
    budgets.requests.resize(per_minute)
    waits = [budgets.requests.reserve(1) for _ in range(per_minute // 10)]
    # After the burst, sends are spaced by 1 / rate.
    assert waits[-1] - waits[-2] == pytest.approx(budgets.requests.rate ** -1)


def test_a_limit_another_process_published_sizes_the_budget_within_the_configured_one(clock: FakeClock) -> None:
    budgets = _budgets(clock, rpm=500.0)

    assert budgets.adopt("requests", 3000.0) is False  # the configured 500 still bounds it
    assert budgets.adopt("requests", 300.0) is True

    assert budgets.requests is not None
    assert budgets.requests.per_minute == 300.0
    assert budgets.learned["requests"] == 300.0


def test_an_adopted_limit_books_nothing_for_the_window_the_shared_budget_already_counts(clock: FakeClock) -> None:
    budgets = _budgets(clock)

    budgets.adopt("tokens", 60_000.0)

    assert budgets.tokens is not None
    assert budgets.tokens.snapshot().booked == 0.0
