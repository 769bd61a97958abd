"""AdaptiveLimit: multiplicative decrease once per burst, additive increase, and growth capped below the
level that last drew a 429 until the probe interval passes without one."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharedlm._errors import ConfigurationError
from sharedlm._flow import AdaptiveLimit

PROBE = 30.0


def make(clock, *, initial: int = 16, floor: int = 1, ceiling: int = 64, slow_start: bool = False) -> AdaptiveLimit:
    """A limit in congestion avoidance from the start, unless ``slow_start`` is asked for."""
    return AdaptiveLimit(initial=initial, floor=floor, ceiling=ceiling, clock=clock, probe_interval=PROBE,
                         slow_start=slow_start)


def succeed(limit: AdaptiveLimit, times: int) -> None:
    for _ in range(times):
        limit.on_success()


def test_the_limit_starts_at_initial(clock):
    assert make(clock, initial=16).limit == 16


def test_a_429_halves_the_limit(clock):
    limit = make(clock, initial=16)
    sent = clock()
    clock.advance(1)
    assert limit.on_rate_limited(sent) is True
    assert limit.limit == 8
    assert limit.snapshot().decreases == 1


def test_a_429_of_a_request_sent_before_the_decrease_does_not_decrease_again(clock):
    limit = make(clock, initial=16)
    sent = clock()
    clock.advance(1)
    limit.on_rate_limited(sent)
    clock.advance(1)
    assert limit.on_rate_limited(sent + 0.5) is False
    assert limit.limit == 8


def test_a_request_sent_at_the_instant_of_the_decrease_belongs_to_the_old_burst(clock):
    limit = make(clock, initial=16)
    limit.on_rate_limited(clock() - 1)
    decreased_at = clock()
    clock.advance(1)
    assert limit.on_rate_limited(decreased_at) is False


def test_a_429_of_a_request_sent_after_the_decrease_decreases_again(clock):
    limit = make(clock, initial=16)
    limit.on_rate_limited(clock() - 1)
    clock.advance(1)
    sent_after = clock()
    clock.advance(1)
    assert limit.on_rate_limited(sent_after) is True
    assert limit.limit == 4


def test_every_429_is_counted_even_when_it_does_not_decrease(clock):
    limit = make(clock)
    limit.on_rate_limited(clock() - 1)
    limit.on_rate_limited(clock() - 1)
    assert limit.snapshot().rate_limited == 2


def test_the_limit_never_falls_below_the_floor(clock):
    limit = make(clock, initial=16, floor=3)
    for _ in range(10):
        clock.advance(1)
        limit.on_rate_limited(clock() - 0.5)
    assert limit.limit == 3


def test_a_429_at_the_floor_reports_no_decrease(clock):
    limit = make(clock, initial=2, floor=2)
    assert limit.on_rate_limited(clock() - 1) is False
    assert limit.snapshot().decreases == 0


def test_the_level_that_drew_the_429_is_recorded(clock):
    limit = make(clock, initial=16)
    assert limit.last_rate_limited_level is None
    limit.on_rate_limited(clock() - 1)
    assert limit.last_rate_limited_level == 16


def test_a_full_window_of_successes_grows_the_limit_by_one(clock):
    limit = make(clock, initial=4)
    succeed(limit, 3)
    assert limit.limit == 4
    limit.on_success()
    assert limit.limit == 5


def test_growth_needs_a_window_of_the_new_size_for_the_next_step(clock):
    limit = make(clock, initial=4)
    succeed(limit, 4 + 4)
    assert limit.limit == 5
    succeed(limit, 1)
    assert limit.limit == 6


def test_the_limit_never_grows_above_the_ceiling(clock):
    limit = make(clock, initial=6, ceiling=8)
    succeed(limit, 10_000)
    assert limit.limit == 8
    assert limit.snapshot().peak == 8


def test_growth_stops_below_the_level_that_drew_the_last_429(clock):
    limit = make(clock, initial=16)
    limit.on_rate_limited(clock() - 1)  # 16 -> 8, capped below 16
    clock.advance(PROBE - 1)
    succeed(limit, 10_000)
    assert limit.limit == 15


def test_the_growth_cap_expires_after_the_probe_interval_without_a_429(clock):
    limit = make(clock, initial=16)
    limit.on_rate_limited(clock() - 1)
    succeed(limit, 10_000)
    clock.advance(PROBE)
    succeed(limit, 15 + 16)
    assert limit.limit == 17
    assert limit.snapshot().growth_cap is None


def test_any_429_restarts_the_probe_interval(clock):
    limit = make(clock, initial=16)
    limit.on_rate_limited(clock() - 1)
    clock.advance(PROBE - 1)
    limit.on_rate_limited(clock() - 100)  # an old burst's 429: no decrease, but the wall is still there
    clock.advance(2)
    succeed(limit, 10_000)
    assert limit.limit == 15


def test_a_new_burst_caps_growth_below_its_own_level(clock):
    limit = make(clock, initial=16)
    limit.on_rate_limited(clock() - 1)  # 16 -> 8
    succeed(limit, 8 + 9 + 10 + 11)  # 8 -> 12
    clock.advance(1)
    limit.on_rate_limited(clock() - 0.5)  # 12 -> 6, capped below 12
    succeed(limit, 10_000)
    assert limit.limit == 11
    assert limit.last_rate_limited_level == 12


def test_snapshot_reports_the_counters(clock):
    limit = make(clock, initial=8)
    succeed(limit, 8)
    limit.on_rate_limited(clock() - 1)
    snap = limit.snapshot()
    assert (snap.limit, snap.peak, snap.increases, snap.decreases, snap.last_rate_limited_level) == (4, 9, 1, 1, 9)


def test_repr_shows_the_live_state(clock):
    assert repr(make(clock, initial=8, floor=2, ceiling=10)) == (
        "AdaptiveLimit(limit=8, floor=2, ceiling=10, peak=8, decreases=0, increases=0, growth_cap=None)")


@pytest.mark.parametrize(("initial", "floor", "ceiling", "match"), [
    (4, 8, 4, "min_concurrency"),
    (2, 4, 8, "initial_concurrency"),
    (9, 1, 8, "initial_concurrency"),
    (0, 1, 8, "initial"),
])
def test_inconsistent_bounds_are_refused(clock, initial: int, floor: int, ceiling: int, match: str):
    with pytest.raises(ConfigurationError, match=match):
        AdaptiveLimit(initial=initial, floor=floor, ceiling=ceiling, clock=clock)


@pytest.mark.parametrize("factor", [0.0, 1.0, 1.5])
def test_decrease_factor_must_lie_strictly_between_zero_and_one(clock, factor: float):
    with pytest.raises(ConfigurationError, match="decrease_factor"):
        AdaptiveLimit(initial=4, floor=1, ceiling=8, clock=clock, decrease_factor=factor)


def test_concurrent_successes_from_several_threads_are_all_counted(clock):
    threads_n, per_thread = 4, 5_000
    shared = make(clock, initial=1, ceiling=10_000)
    serial = make(clock, initial=1, ceiling=10_000)
    succeed(serial, threads_n * per_thread)
    workers = [threading.Thread(target=succeed, args=(shared, per_thread)) for _ in range(threads_n)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert shared.limit == serial.limit


_ops = st.lists(st.one_of(
    st.tuples(st.just("success"), st.integers(min_value=1, max_value=200)),
    st.tuples(st.just("429"), st.floats(min_value=-60.0, max_value=0.0)),
    st.tuples(st.just("wait"), st.floats(min_value=0.0, max_value=2 * PROBE)),
), max_size=300)


@settings(max_examples=200, deadline=None)
@given(floor=st.integers(1, 20), span=st.integers(0, 200), start=st.floats(0.0, 1.0), ops=_ops)
def test_the_limit_always_stays_between_floor_and_ceiling(floor: int, span: int, start: float, ops):
    now = [0.0]
    ceiling = floor + span
    limit = AdaptiveLimit(initial=floor + round(span * start), floor=floor, ceiling=ceiling, clock=lambda: now[0],
                          probe_interval=PROBE)
    for op, value in ops:
        if op == "success":
            succeed(limit, value)
        elif op == "429":
            limit.on_rate_limited(now[0] + value)
        else:
            now[0] += value
        snap = limit.snapshot()
        assert floor <= snap.limit <= ceiling
        assert snap.floor <= snap.peak <= ceiling
        if snap.growth_cap is not None:
            assert snap.limit < snap.growth_cap or snap.limit == floor


def test_every_429_of_a_burst_clamps_the_limit_to_the_requests_still_in_flight(clock):
    limit = AdaptiveLimit(initial=2000, floor=1, ceiling=2000, clock=clock)
    sent = clock()
    clock.advance(0.01)
    assert limit.on_rate_limited(sent, in_flight=1999)
    assert limit.limit == 1000
    # The rest of the burst comes back: the provider holds fewer and fewer of ours.
    for in_flight in range(1998, 63, -1):
        limit.on_rate_limited(sent, in_flight=in_flight)
    assert limit.limit == 64


def test_the_in_flight_clamp_respects_the_floor(clock):
    limit = AdaptiveLimit(initial=100, floor=10, ceiling=100, clock=clock)
    limit.on_rate_limited(clock(), in_flight=3)
    assert limit.limit == 50  # halved once; 3 is below the floor, so no clamp to it


def test_growth_after_a_clamp_stops_at_the_clamped_level_until_the_probe_interval(clock):
    limit = AdaptiveLimit(initial=200, floor=1, ceiling=200, clock=clock, probe_interval=30.0)
    sent = clock()
    clock.advance(0.01)
    limit.on_rate_limited(sent, in_flight=64)
    assert limit.limit == 64
    for _ in range(64 * 10):
        limit.on_success()
    assert limit.limit == 64
    clock.advance(31)
    for _ in range(64 * 2 + 1):
        limit.on_success()
    assert limit.limit > 64


def test_slow_start_multiplies_the_limit_by_its_growth_per_round_trip(clock):
    limit = AdaptiveLimit(initial=16, floor=1, ceiling=1000, clock=clock, slow_start_growth=4)
    succeed(limit, 16)
    assert limit.limit == 64  # one round trip of 16 successes quadrupled it


def test_slow_start_stops_at_the_ceiling(clock):
    limit = make(clock, initial=16, ceiling=21, slow_start=True)
    succeed(limit, 100)
    assert limit.limit == 21


def test_slow_start_growth_below_two_is_refused(clock):
    with pytest.raises(ConfigurationError, match="slow_start_growth"):
        AdaptiveLimit(initial=16, floor=1, ceiling=64, clock=clock, slow_start_growth=1)


def test_the_first_429_ends_slow_start(clock):
    limit = make(clock, initial=16, ceiling=64, slow_start=True)
    sent = clock()
    clock.advance(0.01)
    limit.on_rate_limited(sent)
    assert limit.limit == 8
    succeed(limit, 7)
    assert limit.limit == 8  # congestion avoidance now: one step per window of successes
    succeed(limit, 1)
    assert limit.limit == 9

