"""The pacer spaces a request budget's sends by when they are released: a loop that wakes late sends half a burst
at once, then the budget's rate, instead of every booked send whose time has passed."""

from __future__ import annotations

import asyncio
from itertools import pairwise

import pytest

from sharedlm import _pacing
from sharedlm._flow._release import RELEASE_BURST_FRACTION
from sharedlm._pacing import Pacer
from sharedlm._settings import FlowSettings

from .conftest import FakeClock

RPM = 600
ATTEMPTS = 30


async def test_sends_booked_before_a_late_wake_up_go_half_a_burst_at_once_then_at_the_rate(
        clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    pacer = Pacer(FlowSettings(rpm=RPM, initial_concurrency=ATTEMPTS), cap=ATTEMPTS, clock=clock,
                  cpu_clock=lambda: 0.0)
    assert pacer.requests is not None
    interval = 1.0 / pacer.requests.rate
    woke = asyncio.Event()
    release_waits: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(delay: float) -> None:
        if not woke.is_set():
            await woke.wait()  # every sleeper wakes only when the test says the loop got round to it
        else:
            release_waits.append(delay)

    monkeypatch.setattr(_pacing.asyncio, "sleep", fake_sleep)

    async def attempt() -> None:
        async with pacer.attempt():
            pass

    tasks = [asyncio.ensure_future(attempt()) for _ in range(ATTEMPTS)]
    for _ in range(5):
        await real_sleep(0)
    released_on_time = pacer.release.released
    clock.advance(10.0)  # the loop was busy for 10 s: every booked send time has passed
    woke.set()
    await asyncio.gather(*tasks)
    late = ATTEMPTS - released_on_time
    waits = sorted(release_waits)
    assert late - len(waits) <= pacer.requests.capacity * RELEASE_BURST_FRACTION  # what went at once
    assert waits[0] < interval
    assert [b - a for a, b in pairwise(waits)] == pytest.approx([interval] * (len(waits) - 1))
