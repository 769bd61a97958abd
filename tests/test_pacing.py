"""Pacer and its CPU saturation ceiling: with adaptive concurrency on, the in-flight gate follows the lower of the
adaptive limit and the ceiling, so saturated rounds with calls waiting lower the gate while the adaptive limit grows."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from sharedlm._errors import (
    ConnectionFailedError,
    PoolTimeoutError,
    ProviderUnavailableError,
    RateLimitedError,
)
from sharedlm._pacing import Attempt, Pacer
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
    """``count`` calls that each hold a slot (``async with pacer.attempt()``) until the test completes them."""

    def __init__(self, pacer: Pacer, times: LoopTimes, count: int) -> None:
        self.pacer = pacer
        self.times = times
        self.admitted: deque[asyncio.Event] = deque()
        self.completed = 0
        self.tasks = [asyncio.create_task(self._call()) for _ in range(count)]

    async def _call(self) -> None:
        done = asyncio.Event()
        async with self.pacer.attempt(0):
            self.admitted.append(done)
            await done.wait()
        self.completed += 1

    async def complete(self, times: int, *, busy: float) -> None:
        """Complete the oldest admitted calls one by one, each after STEP_S seconds at ``busy``."""
        for _ in range(times):
            for _ in range(10):  # a granted waiter needs a turn of the loop to pick up its slot
                if self.admitted:
                    break
                await asyncio.sleep(0)
            done = self.admitted.popleft()
            self.times.work(STEP_S, busy)
            completed = self.completed + 1
            done.set()
            for _ in range(10):  # its task needs a turn of the loop to leave the block and release the slot
                if self.completed == completed:
                    break
                await asyncio.sleep(0)
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
    assert pacer.saturation is not None
    assert pacer.adaptive is not None
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
    assert pacer.saturation is not None
    assert pacer.adaptive is not None
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
    assert pacer.saturation is not None
    assert pacer.adaptive is not None
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


# --- `async with pacer.attempt(tokens) as slot:` releases the slot and settles the booking on every exit path ---

TOKENS = 100


def token_pacer(times: LoopTimes, **flow: object) -> Pacer:
    settings = FlowSettings(tpm=60_000, adaptive=False, **flow)  # type: ignore[arg-type]
    return Pacer(settings, cap=4, clock=times.clock, cpu_clock=times.cpu_clock)


def refunded(pacer: Pacer) -> float:
    assert pacer.tokens is not None
    return pacer.tokens.snapshot().refunded


async def test_leaving_an_attempt_normally_releases_its_slot_and_settles_tokens_with_the_real_usage() -> None:
    pacer = token_pacer(LoopTimes())
    async with pacer.attempt(TOKENS) as slot:
        assert pacer.gate.in_flight == 1
        slot.used_tokens = 30
    assert pacer.gate.in_flight == 0
    assert refunded(pacer) == TOKENS - 30


async def test_an_attempt_without_reported_usage_keeps_its_estimate() -> None:
    pacer = token_pacer(LoopTimes())
    async with pacer.attempt(TOKENS):
        pass
    assert pacer.gate.in_flight == 0
    assert refunded(pacer) == 0


async def test_an_attempt_that_fails_before_any_answer_releases_its_slot_and_refunds_its_tokens() -> None:
    pacer = token_pacer(LoopTimes())
    with pytest.raises(ConnectionFailedError):
        async with pacer.attempt(TOKENS):
            raise ConnectionFailedError("reset")
    assert pacer.gate.in_flight == 0
    assert refunded(pacer) == TOKENS


async def test_an_attempt_that_fails_after_its_answer_began_keeps_its_tokens() -> None:
    pacer = token_pacer(LoopTimes())

    async def answered_500() -> None:
        async with pacer.attempt(TOKENS) as slot:
            slot.record.status = 500
            raise ProviderUnavailableError("500", status=500)

    with pytest.raises(ProviderUnavailableError):
        await answered_500()
    assert pacer.gate.in_flight == 0
    assert refunded(pacer) == 0


async def test_a_429_shrinks_the_limit_before_its_slot_goes_back_and_refunds_its_tokens() -> None:
    times = LoopTimes()
    pacer = Pacer(FlowSettings(tpm=60_000, initial_concurrency=8), cap=8, clock=times.clock,
                  cpu_clock=times.cpu_clock)

    async def answered_429() -> None:
        async with pacer.attempt(TOKENS) as slot:
            slot.record.status = 429
            raise RateLimitedError("429")

    with pytest.raises(RateLimitedError):
        await answered_429()
    assert pacer.gate.limit == 4
    assert pacer.gate.in_flight == 0
    assert refunded(pacer) == TOKENS


async def test_a_cancelled_attempt_releases_its_slot() -> None:
    pacer = token_pacer(LoopTimes())
    inside = asyncio.Event()

    async def hold() -> None:
        async with pacer.attempt(TOKENS):
            inside.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(hold())
    await inside.wait()
    assert pacer.gate.in_flight == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert pacer.gate.in_flight == 0
    assert refunded(pacer) == TOKENS


async def test_an_attempt_that_gets_no_slot_in_time_holds_nothing() -> None:
    pacer = token_pacer(LoopTimes(), pool_timeout=0.01)
    for _ in range(4):
        assert pacer.gate.try_acquire()
    with pytest.raises(PoolTimeoutError):
        async with pacer.attempt(TOKENS):
            pytest.fail("the block must not run without a slot")
    assert pacer.gate.in_flight == 4
    assert pacer.gate.queued == 0
    assert refunded(pacer) == TOKENS


class Provider:
    """A provider that holds ``capacity`` requests at once and refuses more with a 429 until the test ends a round."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.busy = 0
        self.rate_limited = 0
        self.round = asyncio.Event()

    async def send(self, slot: Attempt) -> None:
        if self.busy >= self.capacity:
            self.rate_limited += 1
            slot.record.status = 429
            raise RateLimitedError("429")
        self.busy += 1
        try:
            await self.round.wait()
        finally:
            self.busy -= 1

    def end_round(self) -> None:
        self.round.set()
        self.round = asyncio.Event()


async def test_a_burst_far_above_the_provider_capacity_settles_at_it_with_429s_in_the_first_round_only() -> None:
    times = LoopTimes()
    pacer = Pacer(FlowSettings(), cap=500, clock=times.clock, cpu_clock=times.cpu_clock)
    provider = Provider(capacity=16)
    total = 600
    done = 0

    async def call() -> None:
        nonlocal done
        while True:
            try:
                async with pacer.attempt() as slot:
                    await provider.send(slot)
            except RateLimitedError:
                continue
            done += 1
            return

    async def settle() -> None:
        """Run the loop until every call waits for a slot or for the provider."""
        for _ in range(10_000):
            await asyncio.sleep(0)
            gate = pacer.gate
            if gate.in_flight == provider.busy and gate.queued + provider.busy + done == total:
                return
        pytest.fail(f"the calls did not settle: {pacer!r}, busy={provider.busy}")

    tasks = [asyncio.create_task(call()) for _ in range(total)]
    await settle()
    first_round_429s = provider.rate_limited
    assert pacer.gate.limit == provider.capacity
    while done < total:
        times.work(0.05, 0.0)
        provider.end_round()
        await settle()
        assert pacer.gate.limit == provider.capacity
    await asyncio.gather(*tasks)
    assert provider.rate_limited == first_round_429s <= 128
