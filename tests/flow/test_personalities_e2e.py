"""The shared engine against every simulator personality: no call lost, limits learned, pushback settled.

Small counts, short latencies, 127.0.0.1 only. Nothing here waits on real time to see something happen: each test
awaits its calls and then reads the counters.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import dspy
import pytest

import sharedlm
from sharedlm._flow import Memory
from sharedlm._singleton import shared_engines
from sharedlm.simulator import Simulator, SimulatorSettings

pytestmark = pytest.mark.timeout(60)

KEY = "sk-flow-test-0123456789"
MODEL = "openai/sim-model"


class QA(dspy.Signature):
    question: str = dspy.InputField()
    answer: str = dspy.OutputField()


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "state"
    monkeypatch.setenv("SHAREDLM_STATE_DIR", str(directory))
    return directory


def _predict(sim: Simulator, **configure: object) -> dspy.Predict:
    configure.setdefault("max_retries", 40)
    configure.setdefault("initial_concurrency", 16)
    sharedlm.configure(model=MODEL, api_key=KEY, api_base=sim.base_url, cache=False, **configure)  # type: ignore[arg-type]
    predict = dspy.Predict(QA)
    predict.set_lm(sharedlm.get_shared_lm())
    return predict


async def _run(predict: dspy.Predict, count: int) -> None:
    await asyncio.gather(*(predict.acall(question=f"q{i}") for i in range(count)))


@pytest.mark.parametrize("personality", ["default", "openai", "anthropic", "gemini"])
async def test_a_concurrency_cap_loses_no_call_and_settles_at_the_cap(personality: str) -> None:
    async with Simulator(SimulatorSettings(latency=0.02, max_concurrency=8, personality=personality)) as sim:
        await _run(_predict(sim), 120)
        engine, server = sharedlm.stats(), sim.stats()
    assert engine.calls_succeeded == 120
    assert engine.calls_failed == 0
    assert server.peak_in_flight <= 8
    assert engine.limit <= 9  # the estimate of what the provider holds, not a fraction of it
    assert server.rate_limited <= 3 * 16  # the first window's excess, not a steady stream


@pytest.mark.parametrize("personality", ["default", "openai", "anthropic", "gemini"])
async def test_a_burst_of_refusals_is_one_decrease(personality: str) -> None:
    async with Simulator(SimulatorSettings(latency=0.05, max_concurrency=8, personality=personality)) as sim:
        await _run(_predict(sim, initial_concurrency=32), 64)
    pacer = shared_engines()[1].pacer
    assert pacer.adaptive is not None
    snapshot = pacer.adaptive.snapshot()
    assert snapshot.decreases <= 2
    assert snapshot.rate_limited >= snapshot.decreases


async def test_vllm_queues_and_nothing_is_refused() -> None:
    async with Simulator(SimulatorSettings(latency=0.01, max_concurrency=4, personality="vllm")) as sim:
        await _run(_predict(sim), 80)
        engine, server = sharedlm.stats(), sim.stats()
    assert engine.calls_succeeded == 80
    assert server.rate_limited == 0
    assert engine.pauses == 0


@pytest.mark.parametrize("personality", ["openai", "anthropic"])
async def test_a_request_limit_in_headers_is_learned_with_nothing_configured(personality: str) -> None:
    async with Simulator(SimulatorSettings(rpm=3000, personality=personality)) as sim:
        await _run(_predict(sim), 40)
        engine = sharedlm.stats()
    pacer = shared_engines()[1].pacer
    assert engine.calls_failed == 0
    assert pacer.requests is not None
    assert pacer.requests.per_minute == 3000


async def test_a_configured_rpm_stays_the_upper_bound() -> None:
    async with Simulator(SimulatorSettings(rpm=3000, personality="openai")) as sim:
        await _run(_predict(sim, rpm=2400.0), 10)
    pacer = shared_engines()[1].pacer
    assert pacer.requests is not None
    assert pacer.requests.per_minute == 2400


async def test_the_learned_capacity_is_remembered_for_the_next_run(state_dir: Path) -> None:
    async with Simulator(SimulatorSettings(latency=0.02, max_concurrency=8)) as sim:
        await _run(_predict(sim), 60)
        engine = shared_engines()[1]
        engine.close_nowait()
        memory = engine.pacer.signals.memory
        assert memory is not None
        assert memory.path.parent == state_dir
        learned = Memory(state_dir, memory.deployment).load()
        assert learned is not None
        assert learned.capacity is not None
        assert 1 <= learned.capacity <= 9
        sharedlm.reset_shared_lm()
        await _run(_predict(sim), 1)
        pacer = shared_engines()[1].pacer
    assert pacer.adaptive is not None
    assert not pacer.adaptive.starting
    assert pacer.adaptive.limit <= learned.capacity + 1
    assert KEY not in await asyncio.to_thread(lambda: "".join(p.read_text() for p in state_dir.iterdir()))


async def test_what_a_provider_that_never_refused_took_is_written_at_exit_and_starts_the_next_run(
        state_dir: Path) -> None:
    from sharedlm._registry import _remember_at_exit

    # 1 s answers: the 200 calls are all in flight together long before the first comes back, even on a busy machine.
    async with Simulator(SimulatorSettings(latency=1.0)) as sim:
        predict = _predict(sim, initial_concurrency=200)
        await _run(predict, 200)  # none refused; the engine is never closed
        pacer = shared_engines()[1].pacer
        memory = pacer.signals.memory
        assert memory is not None
        _remember_at_exit()  # what the interpreter runs at exit
        learned = Memory(state_dir, memory.deployment).load()
        assert learned is not None
        assert (learned.accepted, learned.capacity) == (pacer.gate.peak_in_flight, None)
        assert learned.accepted is not None
        assert learned.accepted > 128
        sharedlm.reset_shared_lm()
        sharedlm.configure(model=MODEL, api_key=KEY, api_base=sim.base_url, cache=False)
        sharedlm.get_shared_lm()
        assert sharedlm.stats().limit == learned.accepted  # not the default first window of 128
