"""A call whose slot goes straight to a waiter steps aside until that waiter has sent: answers come back in bunches,
and a slot must not stand empty while the rest of the bunch is parsed."""

from __future__ import annotations

import asyncio

import pytest

from sharedlm._pacing import WAITER_FIRST_TURNS, Pacer
from sharedlm._settings import FlowSettings

from .conftest import FakeClock


def one_slot_pacer(clock: FakeClock) -> Pacer:
    return Pacer(FlowSettings(adaptive=False), cap=1, clock=clock, cpu_clock=lambda: 0.0)


async def turns_until(condition: object, limit: int = 50) -> None:
    for _ in range(limit):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


async def test_a_waiter_handed_the_slot_sends_before_the_call_that_freed_it_goes_on(clock: FakeClock) -> None:
    pacer = one_slot_pacer(clock)
    order: list[str] = []
    leave = asyncio.Event()

    async def holder() -> None:
        async with pacer.attempt():
            await leave.wait()
        order.append("holder goes on")

    async def waiter() -> None:
        async with pacer.attempt():
            order.append("waiter sends")

    held = asyncio.ensure_future(holder())
    await turns_until(lambda: pacer.gate.in_flight == 1)
    waiting = asyncio.ensure_future(waiter())
    await turns_until(lambda: pacer.gate.queued == 1)
    leave.set()
    await asyncio.gather(held, waiting)
    assert order == ["waiter sends", "holder goes on"]


async def test_a_call_that_hands_its_slot_to_nobody_goes_on_without_stepping_aside(clock: FakeClock) -> None:
    pacer = one_slot_pacer(clock)
    turns = 0
    stop = False

    async def count_turns() -> None:
        nonlocal turns
        while not stop:
            turns += 1
            await asyncio.sleep(0)

    counter = asyncio.ensure_future(count_turns())
    await asyncio.sleep(0)
    async with pacer.attempt():
        before = turns
    after = turns
    stop = True
    await counter
    assert after == before


async def test_a_call_steps_aside_for_waiter_first_turns_turns_of_the_loop(clock: FakeClock) -> None:
    pacer = one_slot_pacer(clock)
    turns = 0
    stop = False
    leave = asyncio.Event()

    async def count_turns() -> None:
        nonlocal turns
        while not stop:
            turns += 1
            await asyncio.sleep(0)

    async def waiter() -> None:
        async with pacer.attempt():
            await leave.wait()

    async with pacer.attempt():
        waiting = asyncio.ensure_future(waiter())
        await turns_until(lambda: pacer.gate.queued == 1)
        counter = asyncio.ensure_future(count_turns())
        await asyncio.sleep(0)
        before = turns
    after = turns
    stop = True
    leave.set()
    await asyncio.gather(counter, waiting)
    assert after - before == WAITER_FIRST_TURNS


async def test_a_call_cancelled_while_it_steps_aside_keeps_its_answer_and_is_cancelled_at_its_next_await(
        clock: FakeClock) -> None:
    pacer = one_slot_pacer(clock)
    leave = asyncio.Event()
    seen: list[str] = []

    async def holder() -> None:
        async with pacer.attempt():
            await leave.wait()
        seen.append("answer kept")
        await asyncio.sleep(0)
        seen.append("went on after the cancellation")

    async def waiter() -> None:
        async with pacer.attempt():
            pass

    held = asyncio.ensure_future(holder())
    await turns_until(lambda: pacer.gate.in_flight == 1)
    waiting = asyncio.ensure_future(waiter())
    await turns_until(lambda: pacer.gate.queued == 1)
    leave.set()
    await turns_until(lambda: pacer.gate.queued == 0)  # the holder handed its slot on and is stepping aside
    held.cancel()
    with pytest.raises(asyncio.CancelledError):
        await held
    await waiting
    assert seen == ["answer kept"]
    assert pacer.gate.in_flight == 0


async def test_a_timeout_that_fires_while_a_call_steps_aside_still_raises_timeout_error(clock: FakeClock) -> None:
    pacer = one_slot_pacer(clock)
    leave = asyncio.Event()

    async def holder() -> None:
        async with asyncio.timeout(None) as scope:
            async with pacer.attempt():
                await leave.wait()
                scope.reschedule(asyncio.get_running_loop().time())  # expires while the call steps aside
            await asyncio.sleep(0)

    async def waiter() -> None:
        async with pacer.attempt():
            pass

    held = asyncio.ensure_future(holder())
    await turns_until(lambda: pacer.gate.in_flight == 1)
    waiting = asyncio.ensure_future(waiter())
    await turns_until(lambda: pacer.gate.queued == 1)
    leave.set()
    with pytest.raises(TimeoutError):
        await held
    await waiting
