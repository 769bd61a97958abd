"""Pacer and its CPU saturation ceiling: with adaptive concurrency on, the in-flight gate follows the lower of the
adaptive limit and the ceiling, so saturated rounds with calls waiting lower the gate while the adaptive limit grows."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from sharedlm._pacing import Booking, Pacer
from sharedlm._settings import FlowSettings

CAP = 1024
INITIAL = 64
SATURATED = 1.0
IDLE = 0.1
STEP_S = 0.01


class LoopTimes:
    """The wall clock and the loop thread's CPU clock; both move only when a test moves them."""

    def __init__(self) -> None:
        self.wall = 1000.0
        self.cpu = 0.0

    def clock(self) -> float:
        return self.wall

    def cpu_clock(self) -> float:
        return self.cpu

    def work(self, seconds: float, busy: float) -> None:
        self.wall += seconds
        self.cpu += seconds * busy


class Calls:
    """``count`` calls that each take a slot through ``pacer.admit`` and hold it until the test completes them."""

    def __init__(self, pacer: Pacer, times: LoopTimes, count: int) -> None:
        self.pacer = pacer
        self.times = times
        self.admitted: deque[Booking] = deque()
        self.tasks = [asyncio.create_task(self._call()) for _ in range(count)]

    async def _call(self) -> None:
        self.admitted.append(await self.pacer.admit(tokens=0))

    async def complete(self, times: int, *, busy: float) -> None:
        """Complete the oldest admitted calls one by one, each after STEP_S seconds at ``busy``."""
        for _ in range(times):
            for _ in range(10):  # a granted waiter needs a turn of the loop to pick up its slot
                if self.admitted:
                    break
                await asyncio.sleep(0)
            booking = self.admitted.popleft()
            self.times.work(STEP_S, busy)
            self.pacer.succeeded(booking, used_tokens=None)
        await asyncio.sleep(0)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


StartCalls = Callable[[Pacer, LoopTimes, int], Awaitable[Calls]]


@pytest.fixture
async def start_calls() -> AsyncIterator[StartCalls]:
    """Start calls that queue at a pacer's gate (given a turn of the loop to take their slots); cancel them after."""
    started: list[Calls] = []

    async def start(pacer: Pacer, times: LoopTimes, count: int) -> Calls:
        calls = Calls(pacer, times, count)
        started.append(calls)
        await asyncio.sleep(0)
        return calls

    yield start
    for calls in started:
        await calls.close()


def adaptive_pacer(times: LoopTimes) -> Pacer:
    return Pacer(FlowSettings(adaptive=True, initial_concurrency=INITIAL), cap=CAP, clock=times.clock,
                 cpu_clock=times.cpu_clock)


async def test_a_saturated_round_with_waiters_lowers_the_gate_below_the_adaptive_limit(start_calls: StartCalls) -> None:
    times = LoopTimes()
    pacer = adaptive_pacer(times)
    calls = await start_calls(pacer, times, 200)
    assert (pacer.gate.in_flight, pacer.gate.queued) == (INITIAL, 200 - INITIAL)
    await calls.complete(INITIAL, busy=SATURATED)  # one round: a window's worth of completions
    assert pacer.saturation is not None and pacer.adaptive is not None
    assert pacer.saturation.ceiling == INITIAL // 2
    assert pacer.gate.limit == INITIAL // 2
    assert pacer.adaptive.limit > INITIAL  # slow start kept growing it: the ceiling is what holds the gate


async def test_the_first_round_starts_when_the_first_call_is_admitted(start_calls: StartCalls) -> None:
    times = LoopTimes()
    pacer = adaptive_pacer(times)
    times.work(600.0, 0.0)  # the program starts long before its first call
    calls = await start_calls(pacer, times, 200)
    await calls.complete(INITIAL - 1, busy=SATURATED)
    assert pacer.gate.limit == INITIAL
    await calls.complete(1, busy=SATURATED)
    assert pacer.gate.limit == INITIAL // 2


async def test_saturated_rounds_with_waiters_take_the_gate_down_to_the_saturation_floor(
        start_calls: StartCalls) -> None:
    times = LoopTimes()
    pacer = adaptive_pacer(times)
    calls = await start_calls(pacer, times, 400)
    # Rounds of 64 and 32, each followed by the drain to the lower level, then rounds at the floor.
    await calls.complete(250, busy=SATURATED)
    assert pacer.saturation is not None and pacer.adaptive is not None
    assert pacer.saturation.snapshot().steps_down == 2
    assert pacer.gate.limit == pacer.saturation.ceiling == 16
    assert pacer.gate.in_flight <= 16
    assert pacer.adaptive.limit > 16


async def test_an_idle_round_with_waiters_lets_the_gate_follow_the_adaptive_limit_past_its_start(
        start_calls: StartCalls) -> None:
    times = LoopTimes()
    pacer = adaptive_pacer(times)
    calls = await start_calls(pacer, times, 200)
    await calls.complete(INITIAL, busy=IDLE)
    assert pacer.saturation is not None and pacer.adaptive is not None
    assert pacer.saturation.ceiling == INITIAL * 8
    assert pacer.gate.limit == min(pacer.adaptive.limit, pacer.saturation.ceiling) > INITIAL


async def test_repr_shows_the_cpu_ceiling(start_calls: StartCalls) -> None:
    times = LoopTimes()
    pacer = adaptive_pacer(times)
    calls = await start_calls(pacer, times, 200)
    await calls.complete(INITIAL, busy=SATURATED)
    assert f"cpu_ceiling={INITIAL // 2}" in repr(pacer)


def test_without_adaptive_there_is_no_ceiling_and_the_gate_limit_is_the_cap():
    times = LoopTimes()
    pacer = Pacer(FlowSettings(adaptive=False), cap=CAP, clock=times.clock, cpu_clock=times.cpu_clock)
    assert pacer.saturation is None
    assert pacer.gate.limit == CAP
    assert "cpu_ceiling=None" in repr(pacer)


async def test_without_adaptive_saturated_completions_leave_the_gate_at_the_cap(start_calls: StartCalls) -> None:
    times = LoopTimes()
    pacer = Pacer(FlowSettings(adaptive=False), cap=INITIAL, clock=times.clock, cpu_clock=times.cpu_clock)
    calls = await start_calls(pacer, times, 300)
    await calls.complete(200, busy=SATURATED)
    assert pacer.gate.limit == INITIAL
    assert pacer.gate.in_flight == INITIAL  # still full: the waiters took every freed slot
