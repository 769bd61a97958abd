"""The start, through the pacer: a provider that does not push back is not held at the first window.

The stall ticks are called directly with fake wall and CPU clocks, so nothing here depends on real time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from sharedlm._errors import RateLimitedError
from sharedlm._pacing import Pacer
from sharedlm._settings import FlowSettings

INITIAL = 16
CAP = 1024


class Times:
    def __init__(self) -> None:
        self.wall = 1000.0
        self.cpu = 0.0

    def clock(self) -> float:
        return self.wall

    def cpu_clock(self) -> float:
        return self.cpu


@pytest.fixture
async def held() -> AsyncIterator[list[asyncio.Task[None]]]:
    tasks: list[asyncio.Task[None]] = []
    yield tasks
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _hold_calls(pacer: Pacer, count: int, tasks: list[asyncio.Task[None]]) -> None:
    async def hold() -> None:
        async with pacer.attempt():
            await asyncio.Event().wait()

    tasks.extend(asyncio.create_task(hold()) for _ in range(count))
    for _ in range(5):
        await asyncio.sleep(0)


def _pacer(times: Times) -> Pacer:
    return Pacer(FlowSettings(initial_concurrency=INITIAL), cap=CAP, clock=times.clock, cpu_clock=times.cpu_clock)


def _tick(pacer: Pacer, times: Times, seconds: float, *, busy: float) -> None:
    times.wall += seconds
    times.cpu += seconds * busy
    pacer._tick(asyncio.get_running_loop(), pacer._answers)


async def test_a_slow_provider_opens_the_window_without_waiting_a_round_trip(held: list[asyncio.Task[None]]) -> None:
    times = Times()
    pacer = _pacer(times)
    async with pacer.attempt():
        times.wall += 20.0  # it answered, slowly
    await _hold_calls(pacer, 300, held)
    assert pacer.gate.limit < CAP
    assert pacer.gate.queued > 0
    for _ in range(12):
        _tick(pacer, times, 0.05, busy=0.05)
    assert pacer.gate.limit == CAP


async def test_before_any_answer_a_stall_must_last_longer(held: list[asyncio.Task[None]]) -> None:
    times = Times()
    pacer = _pacer(times)
    await _hold_calls(pacer, 300, held)
    for _ in range(12):
        _tick(pacer, times, 0.05, busy=0.05)
    assert pacer.gate.limit == INITIAL  # 0.6 s of silence from a provider never heard from: not yet
    for _ in range(40):
        _tick(pacer, times, 0.05, busy=0.05)
    assert pacer.gate.limit == CAP


async def test_a_busy_loop_with_nothing_back_keeps_the_window(held: list[asyncio.Task[None]]) -> None:
    times = Times()
    pacer = _pacer(times)
    await _hold_calls(pacer, 300, held)
    for _ in range(10):
        _tick(pacer, times, 0.05, busy=1.0)  # formatting prompts: our own CPU is what calls wait for
    assert pacer.gate.limit == INITIAL


async def _refused_attempt(pacer: Pacer) -> None:
    async with pacer.attempt() as slot:
        slot.record.status = 429
        raise RateLimitedError("429")


async def test_after_pushback_a_stall_does_not_open_the_window(held: list[asyncio.Task[None]]) -> None:
    times = Times()
    pacer = _pacer(times)
    with pytest.raises(RateLimitedError):
        await _refused_attempt(pacer)
    limit = pacer.gate.limit
    await _hold_calls(pacer, 300, held)
    for _ in range(10):
        _tick(pacer, times, 0.05, busy=0.0)
    assert pacer.adaptive is not None
    assert pacer.adaptive.limit == limit


async def test_after_a_fast_answer_a_gap_is_a_hiccup_not_a_slow_provider(held: list[asyncio.Task[None]]) -> None:
    times = Times()
    pacer = _pacer(times)
    async with pacer.attempt():
        times.wall += 0.01  # answered in 10 ms
    await _hold_calls(pacer, 300, held)
    for _ in range(12):
        _tick(pacer, times, 0.05, busy=0.0)  # a provider starved for 0.6 s: nothing back, our CPU idle
    assert pacer.gate.limit < CAP
