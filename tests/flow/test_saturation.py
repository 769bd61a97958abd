"""SaturationCeiling: rounds per loop thread, halving while the loop is saturated and calls wait, a step back
and a hold when a lower level left the loop idle, growth when it had CPU to spare, nothing when nobody waited."""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharedlm._errors import ConfigurationError
from sharedlm._flow import SaturationCeiling

from .conftest import FakeClock

INITIAL = 128
CAP = 4096
FLOOR = 16
MIN_ROUND_S = 0.2
MIN_ROUND_CALLS = 32
HOLD_S = 30.0
GROWTH = 8
BUSY_THRESHOLD = 0.7

LOOP_A = 101
LOOP_B = 202

SATURATED = 1.0
IDLE = 0.1
# Wall seconds per completion: a round of MIN_ROUND_CALLS completions then lasts longer than MIN_ROUND_S.
STEP_S = 0.01


class FakeThreads:
    """Which loop thread is calling and the CPU seconds each one has used; both move only when a test moves them."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.current = LOOP_A
        self.cpu: defaultdict[int, float] = defaultdict(float)

    def thread_id(self) -> int:
        return self.current

    def cpu_clock(self) -> float:
        return self.cpu[self.current]

    def work(self, wall: float, busy: float) -> None:
        """Let ``wall`` seconds pass, ``busy`` of each second spent on the current thread's CPU."""
        self.clock.advance(wall)
        self.cpu[self.current] += wall * busy


@pytest.fixture
def threads(clock: FakeClock) -> FakeThreads:
    return FakeThreads(clock)


def make(threads: FakeThreads, *, initial: int = INITIAL, cap: int = CAP, floor: int = FLOOR,
         min_round_calls: int = MIN_ROUND_CALLS, min_round_s: float = MIN_ROUND_S) -> SaturationCeiling:
    return SaturationCeiling(initial=initial, cap=cap, floor=floor, clock=threads.clock, cpu_clock=threads.cpu_clock,
                             thread_id=threads.thread_id, busy_threshold=BUSY_THRESHOLD, min_round_s=min_round_s,
                             min_round_calls=min_round_calls, hold_s=HOLD_S, growth=GROWTH, step=0.5)


def complete(ceiling: SaturationCeiling, threads: FakeThreads, times: int, *, busy: float, queued: int,
             limit: int | None = None, in_flight: int | None = None) -> list[bool]:
    """Report ``times`` completions on the current thread, each after STEP_S seconds at ``busy``.

    ``limit`` defaults to the ceiling and ``in_flight`` to the limit (a completion with calls queued hands its
    slot straight to the next one).
    """
    changes = []
    for _ in range(times):
        threads.work(STEP_S, busy)
        level = ceiling.ceiling if limit is None else limit
        changes.append(ceiling.on_completion(limit=level, in_flight=level if in_flight is None else in_flight,
                                             queued=queued))
    return changes


def run_round(ceiling: SaturationCeiling, threads: FakeThreads, *, busy: float, queued: int,
              limit: int | None = None) -> bool:
    """Report one round's completions; return whether the completion that ended it changed the ceiling.

    A saturated round, or one with nothing queued, ends after max(limit, MIN_ROUND_CALLS) completions; an idle
    round with calls queued ends at the first completion after MIN_ROUND_S.
    """
    level = ceiling.ceiling if limit is None else limit
    if busy < BUSY_THRESHOLD and queued > 0:
        # Ends at the first completion once MIN_ROUND_S passed (the fake clock sums STEP_S, so allow one more).
        for count in range(1, int(MIN_ROUND_S / STEP_S) + 2):
            if complete(ceiling, threads, 1, busy=busy, queued=queued, limit=limit)[0]:
                assert count * STEP_S >= MIN_ROUND_S - STEP_S / 2
                return True
        return False
    else:
        changes = complete(ceiling, threads, max(level, MIN_ROUND_CALLS), busy=busy, queued=queued, limit=limit)
    assert not any(changes[:-1]), "only the completion that ends a round may change the ceiling"
    return changes[-1]


def settle(ceiling: SaturationCeiling, threads: FakeThreads) -> None:
    """Drain in flight to the lowered ceiling and admit the next call, which starts the next round."""
    complete(ceiling, threads, 1, busy=SATURATED, queued=1, in_flight=ceiling.ceiling)
    ceiling.on_admit()


def step_down(ceiling: SaturationCeiling, threads: FakeThreads) -> None:
    """Start a round, saturate it with calls queued, and settle at the lower level."""
    ceiling.on_admit()
    assert run_round(ceiling, threads, busy=SATURATED, queued=100) is True
    settle(ceiling, threads)


# --- where it starts ---------------------------------------------------------------------------------------------


def test_the_ceiling_starts_at_initial(threads):
    assert make(threads, initial=100).ceiling == 100


def test_an_initial_above_cap_starts_at_cap(threads):
    assert make(threads, initial=500, cap=200).ceiling == 200


def test_an_initial_below_floor_starts_at_floor(threads):
    assert make(threads, initial=4, floor=16).ceiling == 16


def test_a_floor_above_cap_is_lowered_to_cap(threads):
    ceiling = make(threads, initial=4, cap=8, floor=16)
    assert (ceiling.ceiling, ceiling.snapshot().floor) == (8, 8)


# --- what a round is ---------------------------------------------------------------------------------------------


def test_a_round_needs_limit_completions_when_the_limit_is_above_min_round_calls(threads):
    ceiling = make(threads, initial=100)
    ceiling.on_admit()
    assert not any(complete(ceiling, threads, 99, busy=SATURATED, queued=100))
    assert ceiling.snapshot().rounds == 0
    assert complete(ceiling, threads, 1, busy=SATURATED, queued=100) == [True]
    assert ceiling.snapshot().rounds == 1


def test_a_round_needs_min_round_calls_completions_when_the_limit_is_below_them(threads):
    ceiling = make(threads, initial=100)
    ceiling.on_admit()
    assert not any(complete(ceiling, threads, MIN_ROUND_CALLS - 1, busy=SATURATED, queued=100, limit=20))
    assert ceiling.snapshot().rounds == 0
    assert complete(ceiling, threads, 1, busy=SATURATED, queued=100, limit=20) == [True]
    assert ceiling.snapshot().rounds == 1


def test_a_round_needs_min_round_s_of_wall_time(threads):
    ceiling = make(threads, initial=MIN_ROUND_CALLS)
    ceiling.on_admit()
    for _ in range(MIN_ROUND_CALLS * 3):  # three rounds' worth of completions in 0.096 s
        threads.work(0.001, SATURATED)
        assert ceiling.on_completion(limit=MIN_ROUND_CALLS, in_flight=MIN_ROUND_CALLS, queued=100) is False
    assert ceiling.snapshot().rounds == 0
    threads.work(MIN_ROUND_S, SATURATED)
    assert ceiling.on_completion(limit=MIN_ROUND_CALLS, in_flight=MIN_ROUND_CALLS, queued=100) is True
    assert ceiling.snapshot().rounds == 1


def test_a_round_measures_cpu_seconds_per_wall_second(threads):
    ceiling = make(threads)
    ceiling.on_admit()
    run_round(ceiling, threads, busy=0.25, queued=0)
    last_busy = ceiling.snapshot().last_busy
    assert last_busy == pytest.approx(0.25)


# --- stepping down -----------------------------------------------------------------------------------------------


def test_a_saturated_round_with_calls_queued_halves_the_ceiling(threads):
    ceiling = make(threads, initial=128)
    ceiling.on_admit()
    assert run_round(ceiling, threads, busy=SATURATED, queued=100) is True
    assert ceiling.ceiling == 64
    assert ceiling.snapshot().steps_down == 1


def test_a_round_exactly_at_the_busy_threshold_counts_as_saturated(threads):
    ceiling = make(threads, initial=MIN_ROUND_CALLS)
    ceiling.on_admit()
    for _ in range(MIN_ROUND_CALLS - 1):
        ceiling.on_completion(limit=MIN_ROUND_CALLS, in_flight=MIN_ROUND_CALLS, queued=100)
    threads.work(1.0, BUSY_THRESHOLD)  # exactly 0.7 CPU seconds in exactly one wall second
    assert ceiling.on_completion(limit=MIN_ROUND_CALLS, in_flight=MIN_ROUND_CALLS, queued=100) is True
    assert ceiling.snapshot().last_busy == BUSY_THRESHOLD
    assert ceiling.ceiling == FLOOR


def test_a_step_down_halves_the_limit_in_force_when_it_is_below_the_ceiling(threads):
    ceiling = make(threads, initial=128)
    ceiling.on_admit()
    run_round(ceiling, threads, busy=SATURATED, queued=100, limit=40)
    assert ceiling.ceiling == 20


def test_a_step_down_never_goes_below_the_floor(threads):
    ceiling = make(threads, initial=24, floor=16)
    ceiling.on_admit()
    assert run_round(ceiling, threads, busy=SATURATED, queued=100) is True
    assert ceiling.ceiling == 16


def test_a_saturated_round_at_the_floor_changes_nothing(threads):
    ceiling = make(threads, initial=16, floor=16)
    ceiling.on_admit()
    assert run_round(ceiling, threads, busy=SATURATED, queued=100) is False
    snapshot = ceiling.snapshot()
    assert (snapshot.ceiling, snapshot.steps_down, snapshot.saturated_rounds) == (16, 0, 1)


def test_after_a_step_down_completions_do_nothing_until_in_flight_drains_to_the_new_ceiling(threads):
    ceiling = make(threads, initial=128)
    ceiling.on_admit()
    run_round(ceiling, threads, busy=SATURATED, queued=100)
    # Calls sent under the old ceiling complete: plenty of rounds' worth, saturated or idle, change nothing.
    assert not any(complete(ceiling, threads, 200, busy=SATURATED, queued=100, in_flight=65))
    assert not any(complete(ceiling, threads, 200, busy=IDLE, queued=100, in_flight=65))
    snapshot = ceiling.snapshot()
    assert (snapshot.ceiling, snapshot.rounds, snapshot.steps_down, snapshot.steps_back) == (64, 1, 1, 0)


def test_once_in_flight_has_drained_to_the_new_ceiling_rounds_resume(threads):
    ceiling = make(threads, initial=128)
    ceiling.on_admit()
    run_round(ceiling, threads, busy=SATURATED, queued=100)
    settle(ceiling, threads)
    assert run_round(ceiling, threads, busy=SATURATED, queued=100) is True
    assert ceiling.snapshot().rounds == 2


def test_the_wall_time_spent_draining_does_not_count_in_the_next_round(threads):
    ceiling = make(threads, initial=128)
    ceiling.on_admit()
    run_round(ceiling, threads, busy=SATURATED, queued=100)
    threads.work(600.0, 0.0)  # a long, idle drain
    settle(ceiling, threads)
    run_round(ceiling, threads, busy=SATURATED, queued=100)
    assert ceiling.ceiling == 32  # a second step down, not a step back


def test_consecutive_saturated_rounds_halve_down_to_the_floor_and_stop_there(threads):
    ceiling = make(threads, initial=128, floor=16)
    levels = []
    ceiling.on_admit()
    for _ in range(5):
        run_round(ceiling, threads, busy=SATURATED, queued=100)
        levels.append(ceiling.ceiling)
        settle(ceiling, threads)
    assert levels == [64, 32, 16, 16, 16]
    assert ceiling.snapshot().steps_down == 3


# --- stepping back and holding -----------------------------------------------------------------------------------


def test_an_idle_round_after_a_step_down_restores_the_level_it_came_from(threads):
    ceiling = make(threads, initial=128)
    step_down(ceiling, threads)
    assert run_round(ceiling, threads, busy=IDLE, queued=100) is True
    assert ceiling.ceiling == 128
    assert ceiling.snapshot().steps_back == 1


def test_a_step_back_undoes_only_the_last_step_down(threads):
    ceiling = make(threads, initial=128)
    step_down(ceiling, threads)
    step_down(ceiling, threads)
    run_round(ceiling, threads, busy=IDLE, queued=100)
    assert ceiling.ceiling == 64


def test_a_restored_level_is_not_stepped_down_again_within_hold_s(threads, clock):
    ceiling = make(threads, initial=128)
    step_down(ceiling, threads)
    run_round(ceiling, threads, busy=IDLE, queued=100)
    held_until = clock() + HOLD_S
    while clock() < held_until - 2.0:  # saturated rounds for most of the hold
        assert run_round(ceiling, threads, busy=SATURATED, queued=100) is False
    snapshot = ceiling.snapshot()
    assert (snapshot.ceiling, snapshot.steps_down) == (128, 1)
    assert snapshot.saturated_rounds > 10


def test_probing_down_resumes_after_hold_s(threads):
    ceiling = make(threads, initial=128)
    step_down(ceiling, threads)
    run_round(ceiling, threads, busy=IDLE, queued=100)
    threads.work(HOLD_S, SATURATED)  # the loop stays busy through the hold
    assert run_round(ceiling, threads, busy=SATURATED, queued=100) is True
    assert ceiling.ceiling == 64


def test_a_round_with_nothing_queued_keeps_the_lower_level_of_a_step_down(threads):
    ceiling = make(threads, initial=128)
    step_down(ceiling, threads)
    run_round(ceiling, threads, busy=IDLE, queued=0)
    # The step down is no longer on trial: a later idle round with calls queued grows from the lower level.
    run_round(ceiling, threads, busy=IDLE, queued=100)
    snapshot = ceiling.snapshot()
    assert (snapshot.ceiling, snapshot.steps_back) == (64 * GROWTH, 0)


# --- growing -----------------------------------------------------------------------------------------------------


def test_an_idle_round_with_calls_queued_multiplies_the_ceiling_by_growth(threads):
    ceiling = make(threads, initial=128)
    ceiling.on_admit()
    assert run_round(ceiling, threads, busy=IDLE, queued=100) is True
    assert ceiling.ceiling == 128 * GROWTH


def test_growth_starts_from_the_limit_when_it_is_above_the_ceiling(threads):
    ceiling = make(threads, initial=128)
    ceiling.on_admit()
    run_round(ceiling, threads, busy=IDLE, queued=100, limit=200)
    assert ceiling.ceiling == 200 * GROWTH


def test_growth_is_capped_at_cap(threads):
    ceiling = make(threads, initial=128, cap=500)
    ceiling.on_admit()
    run_round(ceiling, threads, busy=IDLE, queued=100)
    assert ceiling.ceiling == 500


def test_an_idle_round_at_the_cap_reports_no_change(threads):
    ceiling = make(threads, initial=500, cap=500)
    ceiling.on_admit()
    assert run_round(ceiling, threads, busy=IDLE, queued=100) is False
    assert ceiling.ceiling == 500


# --- nobody waiting ----------------------------------------------------------------------------------------------


def test_a_saturated_round_with_nothing_queued_changes_nothing(threads):
    ceiling = make(threads, initial=128)
    ceiling.on_admit()
    assert run_round(ceiling, threads, busy=SATURATED, queued=0) is False
    snapshot = ceiling.snapshot()
    assert (snapshot.ceiling, snapshot.rounds, snapshot.steps_down) == (128, 1, 0)


def test_an_idle_round_with_nothing_queued_changes_nothing(threads):
    ceiling = make(threads, initial=128)
    ceiling.on_admit()
    assert run_round(ceiling, threads, busy=IDLE, queued=0) is False
    snapshot = ceiling.snapshot()
    assert (snapshot.ceiling, snapshot.rounds) == (128, 1)


def test_completions_with_nobody_waiting_read_the_cpu_clock_only_when_a_round_ends(threads):
    reads = []

    def counting_cpu_clock() -> float:
        reads.append(threads.clock())
        return threads.cpu_clock()

    ceiling = SaturationCeiling(initial=128, cap=CAP, floor=FLOOR, clock=threads.clock, cpu_clock=counting_cpu_clock,
                                thread_id=threads.thread_id, min_round_s=MIN_ROUND_S, min_round_calls=MIN_ROUND_CALLS)
    ceiling.on_admit()
    complete(ceiling, threads, 127, busy=IDLE, queued=0)  # past MIN_ROUND_S, one short of a whole round
    assert len(reads) == 1  # the round's start only
    complete(ceiling, threads, 1, busy=IDLE, queued=0)
    assert len(reads) == 3  # the round's end, and the next round's start


# --- one round per loop thread -----------------------------------------------------------------------------------


def test_cpu_burned_on_another_thread_does_not_count_in_this_threads_round(threads):
    ceiling = make(threads, initial=128)
    threads.current = LOOP_B
    ceiling.on_admit()
    threads.current = LOOP_A
    ceiling.on_admit()
    threads.cpu[LOOP_B] += 1000.0  # the other loop is as busy as can be
    assert run_round(ceiling, threads, busy=IDLE, queued=100) is True
    assert ceiling.ceiling == 128 * GROWTH  # this loop had CPU to spare


def test_each_thread_counts_its_own_completions(threads):
    ceiling = make(threads, initial=MIN_ROUND_CALLS)
    for loop in (LOOP_A, LOOP_B):
        threads.current = loop
        ceiling.on_admit()
        complete(ceiling, threads, MIN_ROUND_CALLS - 1, busy=SATURATED, queued=100)
    assert ceiling.snapshot().rounds == 0  # 62 completions in all, but no thread has a round's worth
    threads.current = LOOP_A
    assert complete(ceiling, threads, 1, busy=SATURATED, queued=100) == [True]
    assert ceiling.snapshot().rounds == 1


def test_a_completion_on_a_thread_without_a_round_starts_one(threads):
    ceiling = make(threads, initial=MIN_ROUND_CALLS)
    threads.current = LOOP_B
    threads.work(600.0, 0.0)  # idle before this thread's first completion: never part of a round
    assert complete(ceiling, threads, 1, busy=SATURATED, queued=100) == [False]  # starts the round, not in it
    assert not any(complete(ceiling, threads, MIN_ROUND_CALLS - 1, busy=SATURATED, queued=100))
    assert ceiling.snapshot().rounds == 0
    assert complete(ceiling, threads, 1, busy=SATURATED, queued=100) == [True]
    assert ceiling.ceiling == FLOOR  # saturated: 32 halved, at the floor of 16


# --- on_admit ----------------------------------------------------------------------------------------------------


def test_the_first_admitted_call_starts_the_first_round(threads):
    ceiling = make(threads, initial=128)
    threads.work(600.0, 0.0)  # the program starts up long before its first call
    ceiling.on_admit()
    run_round(ceiling, threads, busy=SATURATED, queued=100)
    assert ceiling.ceiling == 64


def test_later_admissions_do_not_restart_the_round(threads):
    ceiling = make(threads, initial=MIN_ROUND_CALLS)
    ceiling.on_admit()
    complete(ceiling, threads, MIN_ROUND_CALLS - 1, busy=SATURATED, queued=100)
    ceiling.on_admit()
    assert complete(ceiling, threads, 1, busy=SATURATED, queued=100) == [True]


def test_admission_on_another_thread_starts_only_that_threads_round(threads):
    ceiling = make(threads, initial=MIN_ROUND_CALLS)
    ceiling.on_admit()
    threads.current = LOOP_B
    ceiling.on_admit()
    complete(ceiling, threads, MIN_ROUND_CALLS, busy=SATURATED, queued=100)
    assert ceiling.snapshot().rounds == 1


# --- configuration -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["initial", "cap", "floor", "growth", "min_round_calls"])
@pytest.mark.parametrize("value", [0, -1, 1.5, True, "8"])
def test_counts_that_are_not_positive_whole_numbers_are_refused(threads, name: str, value: object):
    kwargs: dict[str, object] = {"initial": 128, "cap": 1024, name: value}
    with pytest.raises(ConfigurationError, match=name):
        SaturationCeiling(clock=threads.clock, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("step", [0, 1, -0.5, 1.5, float("nan")])
def test_step_must_lie_strictly_between_zero_and_one(threads, step: float):
    with pytest.raises(ConfigurationError, match="step"):
        SaturationCeiling(initial=128, cap=1024, clock=threads.clock, step=step)


@pytest.mark.parametrize("busy_threshold", [0, -0.1, float("nan")])
def test_busy_threshold_must_be_above_zero(threads, busy_threshold: float):
    with pytest.raises(ConfigurationError, match="busy_threshold"):
        SaturationCeiling(initial=128, cap=1024, clock=threads.clock, busy_threshold=busy_threshold)


def test_the_defaults_need_only_initial_and_cap():
    assert SaturationCeiling(initial=128, cap=1024).ceiling == 128


@pytest.mark.parametrize("min_round_s", [0.0, -1.0])
def test_a_min_round_s_that_is_not_positive_is_refused(threads, min_round_s: float):
    with pytest.raises(ConfigurationError, match="min_round_s"):
        make(threads, min_round_s=min_round_s)


# --- state for people --------------------------------------------------------------------------------------------


def test_snapshot_starts_with_no_rounds(threads):
    snapshot = make(threads, initial=128, cap=1024, floor=16).snapshot()
    assert (snapshot.ceiling, snapshot.cap, snapshot.floor) == (128, 1024, 16)
    assert (snapshot.rounds, snapshot.saturated_rounds, snapshot.steps_down, snapshot.steps_back) == (0, 0, 0, 0)
    assert snapshot.last_busy is None


def test_snapshot_reports_the_counters(threads):
    ceiling = make(threads, initial=128)
    step_down(ceiling, threads)
    run_round(ceiling, threads, busy=IDLE, queued=100)
    snapshot = ceiling.snapshot()
    assert (snapshot.ceiling, snapshot.rounds, snapshot.saturated_rounds) == (128, 2, 1)
    assert (snapshot.steps_down, snapshot.steps_back) == (1, 1)
    assert snapshot.last_busy == pytest.approx(IDLE)


def test_repr_shows_the_live_state(threads):
    ceiling = make(threads, initial=128, cap=1024)
    assert "last_busy=-" in repr(ceiling)
    step_down(ceiling, threads)
    text = repr(ceiling)
    for part in ("ceiling=64", "cap=1024", "floor=16", "rounds=1", "last_busy=1.00", "steps_down=1",
                 "steps_back=0"):
        assert part in text


# --- invariants --------------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    initial=st.integers(1, 2000),
    cap=st.integers(1, 2000),
    floor=st.integers(1, 64),
    events=st.lists(st.tuples(st.sampled_from([LOOP_A, LOOP_B]), st.floats(0.0, 0.05), st.floats(0.0, 1.0),
                              st.integers(1, 3000), st.integers(0, 3000), st.integers(0, 50)), max_size=400),
)
def test_the_ceiling_always_stays_between_floor_and_cap(initial, cap, floor, events):
    threads = FakeThreads(FakeClock())
    ceiling = make(threads, initial=initial, cap=cap, floor=floor, min_round_calls=4, min_round_s=0.01)
    low = min(floor, cap)
    for thread, wall, busy, limit, in_flight, queued in events:
        threads.current = thread
        threads.work(wall, busy)
        ceiling.on_admit()
        ceiling.on_completion(limit=limit, in_flight=in_flight, queued=queued)
        assert low <= ceiling.ceiling <= cap


# --- known bugs --------------------------------------------------------------------------------------------------


def test_time_with_nothing_in_flight_does_not_count_as_idle(threads):
    ceiling = make(threads, initial=128)
    ceiling.on_admit()
    # A first burst of 10 calls, shorter than a round, runs the loop flat out and leaves nothing in flight.
    for left in range(9, -1, -1):
        threads.work(STEP_S, SATURATED)
        ceiling.on_completion(limit=128, in_flight=left, queued=0)
    threads.work(600.0, 0.0)  # the program does something else for ten minutes
    ceiling.on_admit()
    # A second burst of thousands of calls keeps the loop busy all along while most of them wait.
    complete(ceiling, threads, 128, busy=SATURATED, queued=1000)
    assert ceiling.ceiling <= 128


def test_cpu_to_spare_while_calls_wait_ends_a_round_early_at_the_first_completion_after_min_round_s(threads):
    ceiling = make(threads, initial=128)
    ceiling.on_admit()
    threads.work(MIN_ROUND_S, IDLE)  # a slow provider: nothing completes for a while, the loop idles
    assert ceiling.on_completion(limit=128, in_flight=127, queued=500) is True
    assert ceiling.ceiling == 128 * GROWTH


def test_a_saturated_round_does_not_end_before_limit_completions(threads):
    ceiling = make(threads, initial=128)
    ceiling.on_admit()
    changes = complete(ceiling, threads, 127, busy=SATURATED, queued=500)
    assert not any(changes)
    assert ceiling.ceiling == 128
    assert complete(ceiling, threads, 1, busy=SATURATED, queued=500) == [True]
    assert ceiling.ceiling == 64
