"""The CPU ceiling's stall ticks: a slow provider opens the window at once and is never throttled."""

from __future__ import annotations

from sharedlm._flow._saturation import DEFAULT_MIN_STALL_S, SaturationCeiling

from .conftest import FakeClock


class CpuClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _ceiling(clock: FakeClock, cpu: CpuClock, cap: int = 5000) -> SaturationCeiling:
    return SaturationCeiling(initial=128, cap=cap, floor=16, clock=clock, cpu_clock=cpu, thread_id=lambda: 1)


def test_a_stall_with_cpu_to_spare_grows_the_ceiling_at_once() -> None:
    clock, cpu = FakeClock(), CpuClock()
    ceiling = _ceiling(clock, cpu)
    ceiling.on_admit()
    clock.advance(DEFAULT_MIN_STALL_S)
    cpu.now += 0.01
    assert ceiling.on_tick(limit=128, stalled=True) is True
    assert ceiling.ceiling == 5000


def test_a_stall_shorter_than_the_minimum_changes_nothing_yet() -> None:
    clock, cpu = FakeClock(), CpuClock()
    ceiling = _ceiling(clock, cpu)
    ceiling.on_admit()
    step = DEFAULT_MIN_STALL_S / 3
    clock.advance(step)
    assert ceiling.on_tick(limit=128, stalled=True) is False
    clock.advance(step)
    assert ceiling.on_tick(limit=128, stalled=True) is False
    clock.advance(step * 1.01)
    assert ceiling.on_tick(limit=128, stalled=True) is True


def test_an_answer_restarts_the_stall() -> None:
    clock, cpu = FakeClock(), CpuClock()
    ceiling = _ceiling(clock, cpu)
    ceiling.on_admit()
    clock.advance(DEFAULT_MIN_STALL_S / 2)
    ceiling.on_tick(limit=128, stalled=True)
    clock.advance(DEFAULT_MIN_STALL_S / 2)
    ceiling.on_tick(limit=128, stalled=False)
    clock.advance(DEFAULT_MIN_STALL_S / 2)
    assert ceiling.on_tick(limit=128, stalled=True) is False
    assert ceiling.ceiling == 128


def test_a_stall_while_the_loop_is_busy_changes_nothing() -> None:
    clock, cpu = FakeClock(), CpuClock()
    ceiling = _ceiling(clock, cpu)
    ceiling.on_admit()
    clock.advance(DEFAULT_MIN_STALL_S)
    cpu.now += DEFAULT_MIN_STALL_S  # formatting prompts all along: our own CPU is what calls wait for
    assert ceiling.on_tick(limit=128, stalled=True) is False
    assert ceiling.ceiling == 128


def test_a_tick_with_answers_coming_back_changes_nothing() -> None:
    clock, cpu = FakeClock(), CpuClock()
    ceiling = _ceiling(clock, cpu)
    ceiling.on_admit()
    clock.advance(0.1)
    assert ceiling.on_tick(limit=128, stalled=False) is False
    assert ceiling.ceiling == 128


def test_after_a_stall_a_saturated_round_does_not_step_down() -> None:
    clock, cpu = FakeClock(), CpuClock()
    ceiling = _ceiling(clock, cpu, cap=1024)
    ceiling.on_admit()
    clock.advance(DEFAULT_MIN_STALL_S)
    assert ceiling.on_tick(limit=128, stalled=True)
    grown = ceiling.ceiling
    assert grown == 1024
    # A burst of answers keeps the loop busy for a whole round while calls wait.
    ceiling.on_completion(limit=grown, in_flight=grown, queued=100)
    for _ in range(grown + 1):
        clock.advance(0.001)
        cpu.now += 0.001
        ceiling.on_completion(limit=grown, in_flight=grown, queued=100)
    assert ceiling.ceiling == grown
    assert ceiling.snapshot().stalls == 1


def test_after_a_busy_burst_one_idle_tick_opens_the_window_when_the_last_send_is_old_enough() -> None:
    clock, cpu = FakeClock(), CpuClock()
    ceiling = _ceiling(clock, cpu)
    ceiling.on_admit()
    last_send = clock()
    clock.advance(DEFAULT_MIN_STALL_S)
    cpu.now += DEFAULT_MIN_STALL_S  # busy all along: formatting the rest of the burst
    assert ceiling.on_tick(limit=128, stalled=True, quiet_since=last_send) is False
    clock.advance(0.05)
    cpu.now += 0.001  # the first idle tick: nothing is waiting to be read
    assert ceiling.on_tick(limit=128, stalled=True, quiet_since=last_send) is True
    assert ceiling.ceiling == 5000


def test_after_a_busy_burst_a_recent_send_keeps_the_window_closed() -> None:
    clock, cpu = FakeClock(), CpuClock()
    ceiling = _ceiling(clock, cpu)
    ceiling.on_admit()
    clock.advance(DEFAULT_MIN_STALL_S)
    cpu.now += DEFAULT_MIN_STALL_S
    last_send = clock()  # written late, at the end of the busy stretch: its refusal may still be on its way
    assert ceiling.on_tick(limit=128, stalled=True, quiet_since=last_send) is False
    clock.advance(0.05)
    cpu.now += 0.001
    assert ceiling.on_tick(limit=128, stalled=True, quiet_since=last_send) is False
    assert ceiling.ceiling == 128


def test_a_second_stall_counts_from_the_first_not_from_the_old_send() -> None:
    clock, cpu = FakeClock(), CpuClock()
    ceiling = _ceiling(clock, cpu)
    ceiling.on_admit()
    last_send = clock()
    clock.advance(DEFAULT_MIN_STALL_S)
    cpu.now += 0.001
    assert ceiling.on_tick(limit=128, stalled=True, quiet_since=last_send) is True
    clock.advance(0.05)
    cpu.now += 0.001
    assert ceiling.on_tick(limit=128, stalled=True, quiet_since=last_send) is False
