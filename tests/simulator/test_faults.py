"""Seeded fault and delay draws."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

from sharedlm.simulator import SimulatorSettings
from sharedlm.simulator._faults import FaultDice, Outcome


def _draws(settings: SimulatorSettings, n: int) -> list[tuple[Outcome, float]]:
    dice = FaultDice(settings)
    return [(dice.outcome(), dice.delay()) for _ in range(n)]


def test_same_seed_draws_the_same_faults_and_delays() -> None:
    settings = SimulatorSettings(latency=0.1, jitter=0.05, error_rate=0.2, reset_rate=0.1, hang_rate=0.1, seed=7)
    assert _draws(settings, 200) == _draws(settings, 200)


def test_different_seeds_draw_differently() -> None:
    base = SimulatorSettings(latency=0.1, jitter=0.05, error_rate=0.3)
    assert _draws(dataclasses.replace(base, seed=1), 50) != _draws(dataclasses.replace(base, seed=2), 50)


def test_no_fault_rates_always_answer() -> None:
    assert {o for o, _ in _draws(SimulatorSettings(), 100)} == {Outcome.ANSWER}


def test_fault_frequencies_follow_the_rates() -> None:
    settings = SimulatorSettings(error_rate=0.2, reset_rate=0.1, hang_rate=0.05, seed=3)
    counts = Counter(o for o, _ in _draws(settings, 20000))
    errors = counts[Outcome.ERROR_500] + counts[Outcome.ERROR_503]
    assert errors / 20000 == pytest.approx(0.2, abs=0.02)
    assert counts[Outcome.RESET] / 20000 == pytest.approx(0.1, abs=0.015)
    assert counts[Outcome.HANG] / 20000 == pytest.approx(0.05, abs=0.01)
    assert counts[Outcome.ERROR_500] > 0
    assert counts[Outcome.ERROR_503] > 0


def test_rate_of_one_always_faults() -> None:
    assert {o for o, _ in _draws(SimulatorSettings(hang_rate=1.0), 50)} == {Outcome.HANG}


def test_delays_stay_within_latency_plus_or_minus_jitter() -> None:
    delays = [d for _, d in _draws(SimulatorSettings(latency=0.5, jitter=0.2), 2000)]
    assert min(delays) >= 0.3
    assert max(delays) <= 0.7
    assert max(delays) - min(delays) > 0.3  # spread over the interval, not a constant


def test_delays_are_clamped_at_zero_when_jitter_exceeds_latency() -> None:
    delays = [d for _, d in _draws(SimulatorSettings(latency=0.1, jitter=0.3), 2000)]
    assert min(delays) == 0.0
    assert max(delays) <= 0.4
    assert sum(d == 0.0 for d in delays) > 500  # about half the interval lies below zero


def test_no_jitter_means_a_constant_delay() -> None:
    assert {d for _, d in _draws(SimulatorSettings(latency=0.25), 20)} == {0.25}
