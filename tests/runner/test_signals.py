"""Behaviour of the interrupt handler: first signal stops and starts the grace period, second cancels."""

from __future__ import annotations

import asyncio
import io
import os
import signal

from sharedlm.runner._core import RowRunner
from sharedlm.runner._options import RowOptions
from sharedlm.runner._program import prepare_program
from sharedlm.runner._results import RowResult
from sharedlm.runner._signals import InterruptHandler
from sharedlm.runner._source import source_rows


class Gate:
    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def aforward(self, text: str) -> dict[str, str]:
        if text == "slow":
            await self.release.wait()
        return {"text": text}


async def run_with_handler(program: Gate, rows: list[dict[str, str]], *, grace_s: float,
                           signals: int) -> tuple[list[RowResult], RowRunner, InterruptHandler, str]:
    runner = RowRunner(prepare_program(program), RowOptions(concurrency=2))
    stream = io.StringIO()
    handler = InterruptHandler(runner, grace_s=grace_s, stream=stream)
    handler.install()
    results: list[RowResult] = []
    try:
        async for result in runner.results(source_rows(rows)):
            results.append(result)
            for _ in range(signals):
                os.kill(os.getpid(), signal.SIGINT)
                await asyncio.sleep(0.01)
            signals = 0
    finally:
        handler.uninstall()
    return results, runner, handler, stream.getvalue()


async def test_the_first_signal_stops_taking_rows_and_cancels_after_the_grace_period() -> None:
    rows = [{"text": "fast"}, {"text": "slow"}, {"text": "never"}]

    results, runner, handler, said = await run_with_handler(Gate(), rows, grace_s=0.05, signals=1)

    assert [r.output for r in results] == [{"text": "fast"}]
    assert handler.interrupted
    assert runner.counters.cancelled == 1
    assert runner.counters.taken == 2
    assert "taking no new rows" in said
    assert "grace period over" in said


async def test_rows_that_finish_within_the_grace_period_are_kept() -> None:
    gate = Gate()
    asyncio.get_running_loop().call_later(0.05, gate.release.set)
    rows = [{"text": "fast"}, {"text": "slow"}, {"text": "never"}]

    results, runner, _, _ = await run_with_handler(gate, rows, grace_s=5.0, signals=1)

    assert sorted(str(r.output) for r in results) == sorted([str({"text": "fast"}), str({"text": "slow"})])
    assert runner.counters.cancelled == 0


async def test_a_second_signal_cancels_at_once() -> None:
    rows = [{"text": "fast"}, {"text": "slow"}]

    results, runner, _, said = await run_with_handler(Gate(), rows, grace_s=600, signals=2)

    assert len(results) == 1
    assert runner.counters.cancelled == 1
    assert "SIGINT again" in said


async def test_uninstall_restores_default_handling() -> None:
    runner = RowRunner(prepare_program(Gate()))
    handler = InterruptHandler(runner)
    handler.install()
    handler.uninstall()

    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
