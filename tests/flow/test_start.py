"""The start, through the pacer: a provider that does not push back is not held at the first window.

The stall ticks are called directly with fake wall and CPU clocks, so nothing here depends on real time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sharedlm._errors import RateLimitedError
from sharedlm._flow._memory import Deployment, Learned, Memory
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


async def test_after_a_busy_stretch_one_idle_tick_opens_the_window_when_the_last_send_is_old_enough(
        held: list[asyncio.Task[None]]) -> None:
    times = Times()
    pacer = _pacer(times)
    async with pacer.attempt():
        times.wall += 20.0  # it answered, slowly
    await _hold_calls(pacer, 300, held)  # the window's requests went out now
    for _ in range(10):
        _tick(pacer, times, 0.05, busy=1.0)  # formatting the rest of the burst
    assert pacer.gate.limit == INITIAL
    _tick(pacer, times, 0.05, busy=0.05)  # the first idle tick: nothing waits to be read, nothing came back
    assert pacer.gate.limit == CAP


async def test_a_request_written_late_restarts_the_count(held: list[asyncio.Task[None]]) -> None:
    times = Times()
    pacer = _pacer(times)
    async with pacer.attempt():
        times.wall += 20.0
    await _hold_calls(pacer, 300, held)
    for _ in range(10):
        _tick(pacer, times, 0.05, busy=1.0)
    pacer._note_written()  # the transport wrote a request only now (its connection took that long to open)
    _tick(pacer, times, 0.05, busy=0.05)
    assert pacer.gate.limit == INITIAL


def _remembering_pacer(times: Times, tmp_path: Path, **flow: object) -> Pacer:
    memory = Memory(tmp_path, Deployment(provider="openai", model="m", base_url="http://127.0.0.1:1/v1", api_key="k"))
    return Pacer(FlowSettings(**flow), cap=CAP, clock=times.clock, cpu_clock=times.cpu_clock,  # type: ignore[arg-type]
                 memory=memory)


async def test_the_next_run_starts_at_what_a_provider_that_never_refused_took_at_once(
        held: list[asyncio.Task[None]], tmp_path: Path) -> None:
    times = Times()
    first = _remembering_pacer(times, tmp_path, initial_concurrency=INITIAL)
    async with first.attempt():
        times.wall += 20.0  # it answered, slowly
    await _hold_calls(first, 300, held)
    for _ in range(12):  # a slow provider: the window opens and every call goes out
        _tick(first, times, 0.05, busy=0.05)
    await asyncio.sleep(0)
    assert first.gate.in_flight == 300
    first.flush()
    second = _remembering_pacer(times, tmp_path)
    assert second.gate.limit == 300


async def test_a_configured_starting_window_wins_over_what_was_remembered(
        held: list[asyncio.Task[None]], tmp_path: Path) -> None:
    times = Times()
    Memory(tmp_path, Deployment(provider="openai", model="m", base_url="http://127.0.0.1:1/v1",
                                api_key="k")).save(Learned(accepted=500))
    assert _remembering_pacer(times, tmp_path).gate.limit == 500
    assert _remembering_pacer(times, tmp_path, initial_concurrency=INITIAL).gate.limit == INITIAL


async def test_a_run_that_was_refused_remembers_its_capacity_not_what_it_took(
        held: list[asyncio.Task[None]], tmp_path: Path) -> None:
    times = Times()
    first = _remembering_pacer(times, tmp_path, initial_concurrency=INITIAL)
    await _hold_calls(first, 10, held)
    with pytest.raises(RateLimitedError):
        await _refused_attempt(first)
    first.flush()
    learned = Memory(tmp_path, Deployment(provider="openai", model="m", base_url="http://127.0.0.1:1/v1",
                                          api_key="k")).load()
    assert learned is not None
    assert learned.accepted is None
    assert learned.capacity is not None


# --- connections opened ahead of the window ---


class WarmCalls:
    """Records what the pacer asks the transport to open ahead of need."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, int]] = []

    def __call__(self, origin: object, count: int) -> int:
        self.calls.append((origin, count))
        return count


ORIGIN = ("https", "api.example", 443)


def _warming_pacer(times: Times) -> tuple[Pacer, WarmCalls]:
    pacer = _pacer(times)
    warm = WarmCalls()
    pacer.warm_connections = warm
    return pacer, warm


async def test_held_back_calls_get_their_connections_shortly_before_a_stall_may_open_the_window(
        held: list[asyncio.Task[None]]) -> None:
    times = Times()
    pacer, warm = _warming_pacer(times)
    async with pacer.attempt():
        times.wall += 20.0  # it answered, slowly
    await _hold_calls(pacer, 300, held)
    pacer._note_written(ORIGIN)  # the window's last request went out now
    for _ in range(4):
        _tick(pacer, times, 0.05, busy=0.05)
    assert warm.calls == []  # 0.2 s of silence: a refusal may still come back
    _tick(pacer, times, 0.1, busy=0.05)
    assert warm.calls == [(ORIGIN, INITIAL)]  # as many as the window, at first
    for _ in range(4):
        _tick(pacer, times, 0.05, busy=0.05)
    assert pacer.gate.limit == INITIAL  # the window itself still waits for the stall
    assert [count for _origin, count in warm.calls] == [16, 32, 64, 128, 256]
    _tick(pacer, times, 0.05, busy=0.05)  # the stall: the window opens, nothing is held back any more
    assert pacer.gate.limit == CAP
    assert [count for _origin, count in warm.calls] == [16, 32, 64, 128, 256, 300 - INITIAL]


async def test_what_is_opened_ahead_is_bounded_by_the_cap(held: list[asyncio.Task[None]]) -> None:
    times = Times()
    pacer = Pacer(FlowSettings(initial_concurrency=INITIAL), cap=64, clock=times.clock, cpu_clock=times.cpu_clock)
    warm = WarmCalls()
    pacer.warm_connections = warm
    async with pacer.attempt():
        times.wall += 20.0
    await _hold_calls(pacer, 300, held)
    pacer._note_written(ORIGIN)
    for _ in range(9):
        _tick(pacer, times, 0.05, busy=0.05)
    assert max(count for _origin, count in warm.calls) == 64 - INITIAL


async def test_before_any_answer_connections_open_only_near_the_longer_first_stall(
        held: list[asyncio.Task[None]]) -> None:
    times = Times()
    pacer, warm = _warming_pacer(times)
    await _hold_calls(pacer, 300, held)
    pacer._note_written(ORIGIN)
    for _ in range(30):
        _tick(pacer, times, 0.05, busy=0.05)
    assert warm.calls == []  # 1.5 s from the first wait: the first stall lasts 2 s
    for _ in range(6):
        _tick(pacer, times, 0.05, busy=0.05)
    assert warm.calls != []


async def test_nothing_is_opened_ahead_once_the_provider_pushed_back(held: list[asyncio.Task[None]]) -> None:
    times = Times()
    pacer, warm = _warming_pacer(times)
    with pytest.raises(RateLimitedError):
        await _refused_attempt(pacer)
    await _hold_calls(pacer, 300, held)
    pacer._note_written(ORIGIN)
    for _ in range(60):
        _tick(pacer, times, 0.05, busy=0.0)
    assert warm.calls == []


async def test_nothing_is_opened_ahead_after_a_fast_answer(held: list[asyncio.Task[None]]) -> None:
    times = Times()
    pacer, warm = _warming_pacer(times)
    async with pacer.attempt():
        times.wall += 0.01  # answered in 10 ms: a gap is a hiccup, the window will not open on it
    await _hold_calls(pacer, 300, held)
    pacer._note_written(ORIGIN)
    for _ in range(12):
        _tick(pacer, times, 0.05, busy=0.0)
    assert warm.calls == []


async def test_an_answer_between_ticks_puts_off_opening_ahead(held: list[asyncio.Task[None]]) -> None:
    times = Times()
    pacer, warm = _warming_pacer(times)
    async with pacer.attempt():
        times.wall += 20.0
    await _hold_calls(pacer, 300, held)
    pacer._note_written(ORIGIN)
    for _ in range(4):
        _tick(pacer, times, 0.05, busy=0.05)
    times.wall += 0.05
    pacer._answers += 1  # something came back since the previous tick
    pacer._tick(asyncio.get_running_loop(), pacer._answers - 1)
    assert warm.calls == []


async def test_no_more_are_opened_while_the_loop_is_busy_opening_them(held: list[asyncio.Task[None]]) -> None:
    times = Times()
    pacer, warm = _warming_pacer(times)
    async with pacer.attempt():
        times.wall += 20.0
    await _hold_calls(pacer, 300, held)
    pacer._note_written(ORIGIN)
    for _ in range(4):
        _tick(pacer, times, 0.05, busy=0.05)
    _tick(pacer, times, 0.1, busy=0.05)
    assert [count for _origin, count in warm.calls] == [INITIAL]
    _tick(pacer, times, 0.05, busy=0.9)  # TLS handshakes of the first ones keep the loop busy
    _tick(pacer, times, 0.05, busy=0.9)
    assert [count for _origin, count in warm.calls] == [INITIAL]
    _tick(pacer, times, 0.05, busy=0.1)
    assert [count for _origin, count in warm.calls] == [INITIAL, 2 * INITIAL]
