"""ReleaseSpacing: the request budget's sends spaced by when they are really released, not when they were booked."""

from __future__ import annotations

import pytest

from sharedlm._flow._release import RELEASE_BURST_FRACTION, ReleaseSpacing

from .conftest import FakeClock

RATE = 10.0  # requests per second
BURST = 10.0  # the budget's capacity: one second of its rate


def test_a_steady_stream_at_the_budgets_rate_never_waits(clock: FakeClock) -> None:
    spacing = ReleaseSpacing()
    delays = []
    for _ in range(50):
        delays.append(spacing.delay(clock(), rate=RATE, burst=BURST))
        clock.advance(1.0 / RATE)
    assert delays == [0.0] * 50
    assert spacing.spaced == 0


def test_a_late_backlog_goes_half_a_burst_at_once_then_at_the_budgets_rate(clock: FakeClock) -> None:
    spacing = ReleaseSpacing()
    at_once = int(BURST * RELEASE_BURST_FRACTION)
    delays = [spacing.delay(clock(), rate=RATE, burst=BURST) for _ in range(at_once + 3)]
    assert delays[:at_once] == [0.0] * at_once
    assert delays[at_once:] == pytest.approx([0.1, 0.2, 0.3])
    assert spacing.spaced == 3


def test_an_idle_spell_lets_half_a_burst_go_at_once_again(clock: FakeClock) -> None:
    spacing = ReleaseSpacing()
    for _ in range(20):
        spacing.delay(clock(), rate=RATE, burst=BURST)
    clock.advance(60.0)
    at_once = int(BURST * RELEASE_BURST_FRACTION)
    assert [spacing.delay(clock(), rate=RATE, burst=BURST) for _ in range(at_once)] == [0.0] * at_once


def test_spacing_follows_a_rate_that_changed_since_the_last_release(clock: FakeClock) -> None:
    spacing = ReleaseSpacing()
    for _ in range(int(BURST * RELEASE_BURST_FRACTION)):
        spacing.delay(clock(), rate=RATE, burst=BURST)
    # Half a burst of 5 at 5/s tolerates 1.5 requests ahead; 5 went at 10/s, so the next waits 0.2 s, then 0.4 s.
    assert spacing.delay(clock(), rate=RATE / 2, burst=BURST / 2) == pytest.approx(0.2)
    assert spacing.delay(clock(), rate=RATE / 2, burst=BURST / 2) == pytest.approx(0.4)


def test_a_burst_below_two_requests_spaces_every_release(clock: FakeClock) -> None:
    spacing = ReleaseSpacing()
    delays = [spacing.delay(clock(), rate=RATE, burst=1.0) for _ in range(3)]
    assert delays == pytest.approx([0.0, 0.1, 0.2])


def test_repr_shows_what_was_released_and_spaced(clock: FakeClock) -> None:
    spacing = ReleaseSpacing()
    spacing.delay(clock(), rate=RATE, burst=1.0)
    spacing.delay(clock(), rate=RATE, burst=1.0)
    assert repr(spacing) == "ReleaseSpacing(released=2, spaced=1)"
