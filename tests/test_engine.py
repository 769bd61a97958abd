"""The shared engine against the simulator on 127.0.0.1: caps, pooling, retries, errors and secrets."""

from __future__ import annotations

import asyncio
import logging
import threading

import dspy
import pytest
from dspy.utils.exceptions import LMInvalidRequestError, LMProviderError

import sharedlm
from sharedlm import (
    CallTimeoutError,
    ConnectionFailedError,
    RateLimitedError,
    RequestRejectedError,
    RetriesExhaustedError,
)
from sharedlm.simulator import BackgroundSimulator, Simulator, SimulatorSettings

SECRET = "sk-test-0123456789-secret"


class QA(dspy.Signature):
    question: str = dspy.InputField()
    answer: str = dspy.OutputField()


def _predict(**configure: object) -> dspy.Predict:
    configure.setdefault("api_key", SECRET)
    configure.setdefault("cache", False)
    sharedlm.configure(model="openai/sim-model", **configure)  # type: ignore[arg-type]
    predict = dspy.Predict(QA)
    predict.set_lm(sharedlm.get_shared_lm())
    return predict


async def test_server_never_sees_more_than_the_cap_and_the_excess_waits() -> None:
    async with Simulator(SimulatorSettings(latency=0.05)) as sim:
        predict = _predict(api_base=sim.base_url, max_parallel_requests=8)
        results = await asyncio.gather(*(predict.acall(question=f"q{i}") for i in range(60)))
        assert len(results) == 60
        assert sim.stats().peak_in_flight <= 8
        assert sim.stats().distinct_connections <= 8
        engine = sharedlm.stats()
        assert engine.peak_in_flight == 8
        assert engine.waits > 0
        assert engine.calls_succeeded == 60


def test_pool_works_across_asyncio_run_calls() -> None:
    with BackgroundSimulator(SimulatorSettings(latency=0.01)) as sim:
        predict = _predict(api_base=sim.base_url, max_parallel_requests=5)

        async def burst(tag: str) -> int:
            results = await asyncio.gather(*(predict.acall(question=f"{tag}{i}") for i in range(20)))
            return len(results)

        assert asyncio.run(burst("a")) == 20
        assert asyncio.run(burst("b")) == 20
        assert sim.stats().peak_in_flight <= 5
        # The first loop's pool was closed when its asyncio.run() ended.
        assert sharedlm.stats().open_connections <= 5


def test_sync_calls_from_threads_share_one_pool_and_one_limit() -> None:
    with BackgroundSimulator(SimulatorSettings(latency=0.02)) as sim:
        predict = _predict(api_base=sim.base_url, max_parallel_requests=4)
        errors: list[BaseException] = []

        def work(i: int) -> None:
            try:
                for j in range(3):
                    predict(question=f"t{i}-{j}")
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        stats = sim.stats()
        assert stats.peak_in_flight <= 4
        assert stats.distinct_connections <= 4
        assert sharedlm.stats().calls_succeeded == 48


def test_dspy_parallel_runs_through_the_shared_limit() -> None:
    with BackgroundSimulator(SimulatorSettings(latency=0.02)) as sim:
        predict = _predict(api_base=sim.base_url, max_parallel_requests=3)
        parallel = dspy.Parallel(num_threads=12)
        results = parallel([(predict, {"question": f"p{i}"}) for i in range(24)])
        assert len(results) == 24
        assert all(r is not None for r in results)
        assert sim.stats().peak_in_flight <= 3


async def test_429s_are_retried_until_every_call_succeeds() -> None:
    async with Simulator(SimulatorSettings(latency=0.02, max_concurrency=3)) as sim:
        predict = _predict(api_base=sim.base_url, max_parallel_requests=12, max_retries=20)
        results = await asyncio.gather(*(predict.acall(question=f"r{i}") for i in range(40)))
        assert len(results) == 40
        engine, server = sharedlm.stats(), sim.stats()
        assert engine.rate_limited > 0
        assert engine.retries >= engine.rate_limited
        assert engine.rate_limited == server.responses_by_status.get(429, 0)
        assert engine.calls_failed == 0


async def test_rate_limits_shrink_the_adaptive_limit() -> None:
    async with Simulator(SimulatorSettings(latency=0.02, max_concurrency=4)) as sim:
        predict = _predict(api_base=sim.base_url, max_parallel_requests=64, max_retries=30)
        await asyncio.gather(*(predict.acall(question=f"a{i}") for i in range(200)))
        assert sharedlm.stats().limit < 64


async def test_spent_retry_budget_fails_once_with_attempts_and_setting_named() -> None:
    async with Simulator(SimulatorSettings(error_rate=1.0)) as sim:
        predict = _predict(api_base=sim.base_url, max_retries=2, backoff_base=0.01, backoff_max=0.02)
        with pytest.raises(LMProviderError) as raised:
            await predict.acall(question="x")
        cause = sharedlm.sharedlm_cause(raised.value)
        assert isinstance(cause, RetriesExhaustedError)
        assert cause.attempts == 3
        assert "max_retries" in str(cause)
        # Exactly three attempts reached the server: DSPy did not retry on top of the engine.
        assert sim.stats().requests == 3


async def test_rejected_request_fails_at_once() -> None:
    async with Simulator(SimulatorSettings()) as sim:
        predict = _predict(api_base=sim.root_url + "/no-such-api", max_retries=5)
        with pytest.raises(LMInvalidRequestError) as raised:
            await predict.acall(question="x")
        assert isinstance(sharedlm.sharedlm_cause(raised.value), RequestRejectedError)
        assert sharedlm.stats().requests_sent == 1


async def test_hung_answer_times_out_with_the_setting_named() -> None:
    async with Simulator(SimulatorSettings(hang_rate=1.0)) as sim:
        predict = _predict(api_base=sim.base_url, timeout=0.2, max_retries=0)
        with pytest.raises(LMProviderError) as raised:
            await predict.acall(question="x")
        cause = sharedlm.sharedlm_cause(raised.value)
        assert isinstance(cause, RetriesExhaustedError)
        assert isinstance(cause.last, CallTimeoutError)
        assert "timeout=0.2" in str(cause)


async def test_connection_refused_is_retried_then_reported() -> None:
    predict = _predict(api_base="http://127.0.0.1:9/v1", max_retries=1, backoff_base=0.01, backoff_max=0.01)
    with pytest.raises(LMProviderError) as raised:
        await predict.acall(question="x")
    cause = sharedlm.sharedlm_cause(raised.value)
    assert isinstance(cause, RetriesExhaustedError)
    assert isinstance(cause.last, ConnectionFailedError)


async def test_retry_after_pauses_new_sends() -> None:
    async with Simulator(SimulatorSettings(latency=0.05, max_concurrency=1)) as sim:
        predict = _predict(api_base=sim.base_url, max_parallel_requests=8, max_retries=30, adaptive=False)
        await asyncio.gather(*(predict.acall(question=f"w{i}") for i in range(10)))
        assert sharedlm.stats().pauses > 0


async def test_gemini_model_string_routes_to_the_simulator() -> None:
    async with Simulator(SimulatorSettings()) as sim:
        sharedlm.configure(model="gemini/gemini-2.5-flash", api_key=SECRET, api_base=sim.gemini_base_url, cache=False)
        predict = dspy.Predict(QA)
        predict.set_lm(sharedlm.get_shared_lm())
        result = await predict.acall(question="hello")
        assert isinstance(result.answer, str)
        assert result.answer
        assert sim.stats().requests == 1


def test_key_never_appears_in_history_logs_or_reprs(caplog: pytest.LogCaptureFixture,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    with BackgroundSimulator(SimulatorSettings()) as sim:
        predict = _predict(api_base=sim.base_url)
        predict(question="what is the key?")
        lm = sharedlm.get_shared_lm()
        dspy.inspect_history(n=5)
        shown = capsys.readouterr().out
        assert "what is the key?" in shown  # the history really was printed
        everything = shown + caplog.text + repr(lm) + repr(lm.engine) + str(lm.history) + repr(sharedlm.stats())
        assert SECRET not in everything


async def test_error_types_reach_dspy_as_its_own_classes() -> None:
    from dspy.utils.exceptions import LMProviderError

    async with Simulator(SimulatorSettings(max_concurrency=1, latency=0.2)) as sim:
        predict = _predict(api_base=sim.base_url, max_retries=0, max_parallel_requests=4, adaptive=False)
        outcomes = await asyncio.gather(*(predict.acall(question=f"e{i}") for i in range(4)), return_exceptions=True)
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        assert failures
        assert all(isinstance(f, LMProviderError) for f in failures)
        assert all(isinstance(sharedlm.sharedlm_cause(f).last, RateLimitedError) for f in failures)  # type: ignore[union-attr]


async def test_mixed_faults_lose_no_call() -> None:
    faults = SimulatorSettings(latency=0.01, error_rate=0.2, reset_rate=0.1, hang_rate=0.05, seed=7)
    async with Simulator(faults) as sim:
        predict = _predict(api_base=sim.base_url, max_retries=15, timeout=0.5, backoff_base=0.01, backoff_max=0.05)
        results = await asyncio.gather(*(predict.acall(question=f"f{i}") for i in range(100)))
        assert len(results) == 100
        assert all(r.answer for r in results)
        engine = sharedlm.stats()
        assert engine.calls_succeeded == 100
        assert engine.calls_failed == 0
        assert engine.retries > 0
        assert engine.requests_sent == 100 + engine.retries
        kinds = set(engine.errors_by_kind)
        assert {"ProviderUnavailableError", "ConnectionFailedError", "CallTimeoutError"} <= kinds


async def test_a_burst_above_the_provider_capacity_completes_with_few_429s() -> None:
    async with Simulator(SimulatorSettings(latency=0.05, max_concurrency=16)) as sim:
        predict = _predict(api_base=sim.base_url, max_parallel_requests=500, max_retries=30)
        await asyncio.gather(*(predict.acall(question=f"b{i}") for i in range(600)))
        engine, server = sharedlm.stats(), sim.stats()
        assert engine.calls_failed == 0
        # Slow start sends at most 128 at first; the 429s that come back clamp the limit to what the provider
        # holds, so almost no further 429s follow. (Where the limit settles is a rule of the pacer, checked on a
        # fake clock in tests/test_pacing.py; here the clocks are real.)
        assert server.responses_by_status.get(429, 0) <= 128
        assert engine.limit < 128
