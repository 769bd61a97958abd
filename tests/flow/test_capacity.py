"""The capacity-based in-flight limit: fast start, one decrease per congestion event, escalation, probing."""

from __future__ import annotations

import pytest

from sharedlm._errors import ConfigurationError
from sharedlm._flow._capacity import CapacityLimit

from .conftest import FakeClock


def _limit(clock: FakeClock, **overrides: object) -> CapacityLimit:
    options: dict[object, object] = {"initial": 128, "floor": 1, "ceiling": 2000, "clock": clock}
    options.update(overrides)
    return CapacityLimit(**options)  # type: ignore[arg-type]


def test_successes_while_starting_grow_the_limit_eightfold_per_round_trip(clock: FakeClock) -> None:
    limit = _limit(clock)
    for _ in range(128):
        limit.on_success()
    assert limit.limit == 128 * 8


def test_a_stall_while_starting_opens_the_limit_to_the_ceiling(clock: FakeClock) -> None:
    limit = _limit(clock)
    assert limit.on_stall() is True
    assert limit.limit == 2000
    assert limit.on_stall() is False


def test_a_stall_after_pushback_changes_nothing(clock: FakeClock) -> None:
    limit = _limit(clock)
    limit.on_rate_limited(clock(), in_flight=64)
    before = limit.limit
    assert limit.on_stall() is False
    assert limit.limit == before


def test_a_burst_settles_at_what_was_in_flight_when_its_refusals_came_back(clock: FakeClock) -> None:
    limit = _limit(clock)
    sent = clock()
    clock.advance(0.01)
    # 128 sent at once to a provider holding 64: the 64 refusals come back one by one.
    for still_out in range(127, 63, -1):
        limit.on_rate_limited(sent, in_flight=still_out)
    assert limit.limit == 64
    assert limit.capacity == 64


def test_a_burst_of_refusals_counts_as_one_decrease(clock: FakeClock) -> None:
    limit = _limit(clock)
    sent = clock()
    clock.advance(0.01)
    verdicts = [limit.on_rate_limited(sent, in_flight=n) for n in range(127, 63, -1)]
    assert [v.new_event for v in verdicts].count(True) == 1
    assert limit.snapshot().decreases == 1


def test_a_burst_far_above_capacity_settles_at_it_in_one_event(clock: FakeClock) -> None:
    limit = _limit(clock)
    sent = clock()
    clock.advance(0.01)
    for still_out in range(127, 15, -1):  # 128 sent to a provider holding 16
        limit.on_rate_limited(sent, in_flight=still_out)
    assert (limit.limit, limit.snapshot().decreases) == (16, 1)


def test_a_lone_refusal_halves_the_limit(clock: FakeClock) -> None:
    limit = _limit(clock, initial=8, ceiling=8)
    limit.on_rate_limited(clock(), in_flight=0)
    assert limit.limit == 4


def test_an_event_starts_from_the_limit_really_in_force(clock: FakeClock) -> None:
    limit = _limit(clock, initial=500)  # a CPU ceiling holds the gate at 100
    limit.on_rate_limited(clock(), in_flight=0, limit=100)
    assert limit.limit == 50


def test_a_refusal_of_a_request_sent_after_the_decrease_is_a_new_event(clock: FakeClock) -> None:
    limit = _limit(clock)
    limit.on_rate_limited(clock(), in_flight=100)
    clock.advance(1)
    verdict = limit.on_rate_limited(clock(), in_flight=90)
    assert verdict.new_event
    assert limit.snapshot().decreases == 2


def test_a_new_event_before_any_growth_escalates(clock: FakeClock) -> None:
    limit = _limit(clock)
    assert limit.on_rate_limited(clock(), in_flight=100).escalate is False
    clock.advance(1)
    assert limit.on_rate_limited(clock(), in_flight=90).escalate is True


def test_a_new_event_after_growth_does_not_escalate(clock: FakeClock) -> None:
    limit = _limit(clock, probe_interval=0.0)
    limit.on_rate_limited(clock(), in_flight=64)
    clock.advance(1)
    for _ in range(64 // 4):
        limit.on_success()
    assert limit.limit == 65  # probing above the estimate resumed at once
    assert limit.on_rate_limited(clock(), in_flight=64).escalate is False


def test_a_new_event_long_after_the_last_does_not_escalate(clock: FakeClock) -> None:
    limit = _limit(clock, escalate_window=5.0)
    limit.on_rate_limited(clock(), in_flight=100)
    clock.advance(6)
    assert limit.on_rate_limited(clock(), in_flight=90).escalate is False


def test_growth_stops_at_the_estimate_until_the_probe_interval(clock: FakeClock) -> None:
    limit = _limit(clock, probe_interval=30.0)
    limit.on_rate_limited(clock(), in_flight=100)
    for _ in range(1000):
        limit.on_success()
    assert limit.limit == 100
    clock.advance(31)
    for _ in range(100 // 4):
        limit.on_success()
    assert limit.limit == 101


def test_probing_above_the_estimate_grows_a_quarter_per_round_trip(clock: FakeClock) -> None:
    limit = _limit(clock, probe_interval=0.0)
    limit.on_rate_limited(clock(), in_flight=100)
    clock.advance(1)
    for _ in range(100):  # one round trip of the whole window
        limit.on_success()
    assert 104 <= limit.limit <= 125


def test_a_learned_capacity_skips_the_start(clock: FakeClock) -> None:
    limit = _limit(clock, learned_capacity=64)
    assert (limit.limit, limit.starting, limit.capacity) == (64, False, 64)
    assert limit.on_stall() is False


def test_the_limit_stays_within_floor_and_ceiling(clock: FakeClock) -> None:
    limit = _limit(clock, floor=8, ceiling=200, initial=500)
    assert limit.limit == 200
    limit.on_rate_limited(clock(), in_flight=0)
    assert limit.limit >= 8


@pytest.mark.parametrize("options", [{"initial": 0}, {"floor": 0}, {"floor": 10, "ceiling": 5},
                                     {"max_event_cut": 0}, {"probe_interval": -1}, {"start_growth": True}])
def test_bad_settings_are_configuration_errors(clock: FakeClock, options: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        _limit(clock, **options)


def test_repr_shows_the_state(clock: FakeClock) -> None:
    assert "limit=128" in repr(_limit(clock))
    assert "starting=True" in repr(_limit(clock))
