"""backoff_delay: full jitter under an exponential ceiling, with a floor, deterministic per rng."""

from __future__ import annotations

import random

import pytest

from sharedlm._errors import ConfigurationError
from sharedlm._flow import backoff_delay
from sharedlm._flow._backoff import BACKOFF_FLOOR_FRACTION

BASE = 0.5
CAP = 30.0


@pytest.mark.parametrize("attempt", range(10))
def test_each_delay_lies_between_the_floor_and_the_exponential_ceiling(attempt: int):
    rng = random.Random(attempt)
    ceiling = min(CAP, BASE * 2**attempt)
    floor = BASE * BACKOFF_FLOOR_FRACTION
    delays = [backoff_delay(attempt, base=BASE, cap=CAP, rng=rng) for _ in range(500)]
    assert all(floor <= d <= ceiling for d in delays)


def test_the_first_retry_waits_at_most_base():
    rng = random.Random(1)
    assert max(backoff_delay(0, base=BASE, cap=CAP, rng=rng) for _ in range(500)) <= BASE


def test_jitter_spreads_delays_across_the_whole_range():
    rng = random.Random(2)
    delays = [backoff_delay(6, base=BASE, cap=CAP, rng=rng) for _ in range(500)]  # ceiling = 30
    assert min(delays) < 0.1 * CAP
    assert max(delays) > 0.9 * CAP


def test_the_cap_holds_for_large_attempts():
    rng = random.Random(3)
    assert max(backoff_delay(20, base=BASE, cap=CAP, rng=rng) for _ in range(500)) <= CAP


@pytest.mark.parametrize("attempt", [1023, 1024, 10**6, 10**30])
def test_huge_attempt_numbers_do_not_overflow(attempt: int):
    delay = backoff_delay(attempt, base=BASE, cap=CAP, rng=random.Random(4))
    assert BASE * BACKOFF_FLOOR_FRACTION <= delay <= CAP


def test_the_same_seed_gives_the_same_delays():
    first = [backoff_delay(a % 8, base=BASE, cap=CAP, rng=rng) for rng in [random.Random(42)] for a in range(50)]
    second = [backoff_delay(a % 8, base=BASE, cap=CAP, rng=rng) for rng in [random.Random(42)] for a in range(50)]
    assert first == second


def test_a_cap_below_the_floor_still_bounds_the_delay():
    rng = random.Random(5)
    assert all(backoff_delay(3, base=10.0, cap=1.0, rng=rng) <= 1.0 for _ in range(100))


@pytest.mark.parametrize("attempt", [-1, 1.5, True])
def test_attempt_must_be_a_whole_number_from_zero(attempt):
    with pytest.raises(ValueError, match="attempt"):
        backoff_delay(attempt, base=BASE, cap=CAP, rng=random.Random())


@pytest.mark.parametrize(("base", "cap"), [(0.0, 1.0), (-1.0, 1.0), (1.0, 0.0), (float("inf"), 1.0)])
def test_base_and_cap_must_be_positive_seconds(base: float, cap: float):
    with pytest.raises(ConfigurationError):
        backoff_delay(0, base=base, cap=cap, rng=random.Random())
