"""Every call priced: the engine's stats carry the calls' cost (unknown is None, never 0), and a spend cap attached
to the engine refuses a call before it is sent and holds under concurrency (simulator on 127.0.0.1)."""

from __future__ import annotations

import asyncio

import dspy
import pytest
from dspy.utils.exceptions import LMBillingError

import sharedlm
from sharedlm._errors import SpendCapReachedError, sharedlm_cause
from sharedlm._pricing import model_price
from sharedlm._singleton import current_engine
from sharedlm._spend import SpendLedger
from sharedlm.simulator import Simulator, SimulatorSettings

PRICED = "openai/gpt-4o-mini"


class QA(dspy.Signature):
    question: str = dspy.InputField()
    answer: str = dspy.OutputField()


def _shared_predict(model: str, base_url: str, **configure: object) -> dspy.Predict:
    sharedlm.configure(model=model, api_key="sim-key", api_base=base_url, cache=False, **configure)  # type: ignore[arg-type]
    predict = dspy.Predict(QA)
    predict.set_lm(sharedlm.get_shared_lm())
    return predict


def _attach(cap: float) -> SpendLedger:
    engine = current_engine()
    assert engine is not None
    ledger = SpendLedger(cap)
    engine.costing.attach(ledger)
    return ledger


async def test_stats_cost_is_the_sum_of_the_calls_costs() -> None:
    async with Simulator(SimulatorSettings(latency=0)) as sim:
        predict = _shared_predict(PRICED, sim.base_url)
        await asyncio.gather(*(predict.acall(question=f"q{i}") for i in range(5)))
        stats = sharedlm.stats()
        history = sharedlm.get_shared_lm().history
        assert stats.cost_known
        assert stats.cost_usd == pytest.approx(sum(entry["cost"] for entry in history))


async def test_stats_cost_is_server_reported_tokens_at_the_bundled_price() -> None:
    async with Simulator(SimulatorSettings(latency=0)) as sim:
        predict = _shared_predict(PRICED, sim.base_url)
        await asyncio.gather(*(predict.acall(question=f"q{i}") for i in range(5)))
        served, price = sim.stats(), model_price(PRICED)
        assert price is not None
        assert sharedlm.stats().cost_usd == pytest.approx(price.cost(served.prompt_tokens, served.completion_tokens))


async def test_unpriced_model_shows_cost_unknown_not_zero() -> None:
    async with Simulator(SimulatorSettings(latency=0)) as sim:
        predict = _shared_predict("openai/sim-model", sim.base_url)
        await predict.acall(question="q")
        stats = sharedlm.stats()
        assert (stats.cost_usd, stats.cost_known) == (None, False)
        assert sharedlm.get_shared_lm().history[-1]["cost"] is None


def test_stats_before_any_call_cost_nothing() -> None:
    assert (sharedlm.stats().cost_usd, sharedlm.stats().cost_known) == (0.0, True)


async def test_call_whose_worst_case_exceeds_the_cap_is_refused_before_it_is_sent() -> None:
    async with Simulator(SimulatorSettings(latency=0)) as sim:
        predict = _shared_predict(PRICED, sim.base_url, max_tokens=1000)
        _attach(1e-6)
        with pytest.raises(LMBillingError) as caught:
            await predict.acall(question="q")
        assert isinstance(sharedlm_cause(caught.value), SpendCapReachedError)
        assert sim.stats().requests == 0


async def test_capped_engine_never_spends_more_than_the_cap_under_concurrency() -> None:
    async with Simulator(SimulatorSettings(latency=0)) as sim:
        predict = _shared_predict(PRICED, sim.base_url, max_tokens=100, max_parallel_requests=50)
        ledger = _attach(0.001)
        outcomes = await asyncio.gather(*(predict.acall(question=f"q{i}") for i in range(400)),
                                        return_exceptions=True)
        refused = [o for o in outcomes if isinstance(sharedlm_cause(o if isinstance(o, BaseException) else None),
                                                      SpendCapReachedError)]
        served, price = sim.stats(), model_price(PRICED)
        assert price is not None
        assert refused
        server_cost = price.cost(served.prompt_tokens, served.completion_tokens)
        assert server_cost <= 0.001
        assert server_cost >= 0.0005
        assert ledger.spent == pytest.approx(server_cost)
        assert ledger.booked == 0.0
