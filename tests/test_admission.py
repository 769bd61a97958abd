"""The in-flight gate caps calls across event loops, admits in FIFO order, and never leaks a slot."""

from __future__ import annotations

import asyncio
import threading

import pytest

from sharedlm._admission import InFlightGate
from sharedlm._errors import PoolTimeoutError


async def test_calls_beyond_the_limit_wait() -> None:
    gate = InFlightGate(2)
    await gate.acquire()
    await gate.acquire()
    third = asyncio.ensure_future(gate.acquire())
    await asyncio.sleep(0)
    assert not third.done()
    assert gate.queued == 1
    gate.release()
    await third
    assert gate.in_flight == 2
    assert gate.queued == 0


async def test_waiters_are_admitted_in_arrival_order() -> None:
    gate = InFlightGate(1)
    await gate.acquire()
    order: list[int] = []

    async def wait(i: int) -> None:
        await gate.acquire()
        order.append(i)

    tasks = [asyncio.ensure_future(wait(i)) for i in range(5)]
    await asyncio.sleep(0)
    for _ in range(5):
        gate.release()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4]


async def test_cancelled_waiter_does_not_take_a_slot() -> None:
    gate = InFlightGate(1)
    await gate.acquire()
    waiter = asyncio.ensure_future(gate.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    gate.release()
    assert gate.in_flight == 0
    assert gate.queued == 0
    assert gate.try_acquire()


async def test_slot_granted_to_a_cancelled_waiter_passes_on() -> None:
    gate = InFlightGate(1)
    await gate.acquire()
    first = asyncio.ensure_future(gate.acquire())
    second = asyncio.ensure_future(gate.acquire())
    await asyncio.sleep(0)
    gate.release()  # grants `first` ...
    first.cancel()  # ... which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.wait_for(second, 1)
    assert gate.in_flight == 1


async def test_pool_timeout_names_the_setting() -> None:
    gate = InFlightGate(1)
    await gate.acquire()
    with pytest.raises(PoolTimeoutError, match="pool_timeout"):
        await gate.acquire(timeout=0.01)
    assert gate.queued == 0
    assert gate.in_flight == 1


async def test_raising_the_limit_admits_waiters_at_once() -> None:
    gate = InFlightGate(1)
    await gate.acquire()
    waiters = [asyncio.ensure_future(gate.acquire()) for _ in range(3)]
    await asyncio.sleep(0)
    gate.set_limit(4)
    await asyncio.wait_for(asyncio.gather(*waiters), 1)
    assert gate.in_flight == 4


async def test_lowering_the_limit_admits_nobody_until_under_it() -> None:
    gate = InFlightGate(3)
    for _ in range(3):
        await gate.acquire()
    gate.set_limit(1)
    waiter = asyncio.ensure_future(gate.acquire())
    gate.release()
    gate.release()
    await asyncio.sleep(0)
    assert not waiter.done()
    gate.release()
    await asyncio.wait_for(waiter, 1)
    assert gate.in_flight == 1


def test_limit_holds_across_event_loops_in_threads() -> None:
    gate = InFlightGate(3)
    lock = threading.Lock()
    current = peak = 0
    loops: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
    full = threading.Event()

    def note_full() -> None:
        # Every loop's holders may let go once the gate was seen full (no loop can have finished before that).
        with lock:
            if full.is_set():
                return
            full.set()
            for loop, event in loops:
                loop.call_soon_threadsafe(event.set)

    async def work(at_cap: asyncio.Event) -> None:
        nonlocal peak, current
        await gate.acquire()
        with lock:
            current += 1
            peak = max(peak, current)
            reached = current == 3
        if reached:
            note_full()
        await at_cap.wait()
        with lock:
            current -= 1
        gate.release()

    def run_loop(started: threading.Barrier) -> None:
        async def many() -> None:
            at_cap = asyncio.Event()
            with lock:
                loops.append((asyncio.get_running_loop(), at_cap))
                if full.is_set():
                    at_cap.set()
            started.wait()
            await asyncio.gather(*(work(at_cap) for _ in range(20)))

        asyncio.run(many())

    started = threading.Barrier(4)
    threads = [threading.Thread(target=run_loop, args=(started,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads)
    assert peak == 3
    assert gate.in_flight == 0
    assert gate.peak_in_flight == 3


def test_repr_shows_limit_in_flight_and_queue() -> None:
    assert repr(InFlightGate(5)) == "InFlightGate(limit=5, in_flight=0, queued=0)"


async def test_a_slot_taken_over_the_limit_counts_and_its_release_admits_no_one_still_over() -> None:
    gate = InFlightGate(1)
    assert gate.try_acquire()

    gate.take_over_limit()
    waiter = asyncio.ensure_future(gate.acquire())
    await asyncio.sleep(0)

    assert gate.in_flight == 2
    assert gate.peak_in_flight == 2
    gate.release()  # 1 in flight: still at the limit, the waiter keeps waiting
    await asyncio.sleep(0)
    assert not waiter.done()
    gate.release()
    await asyncio.wait_for(waiter, 5)
    assert gate.in_flight == 1
