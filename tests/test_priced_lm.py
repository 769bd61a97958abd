"""The shared LM's history carries each call's cost, as plain DSPy's does, and saves as a plain dspy.LM."""

from __future__ import annotations

import dspy
import pytest

import sharedlm
from sharedlm.simulator import Simulator, SimulatorSettings

PRICED = "openai/gpt-4o-mini"


class QA(dspy.Signature):
    question: str = dspy.InputField()
    answer: str = dspy.OutputField()


def _shared_predict(model: str, base_url: str) -> dspy.Predict:
    sharedlm.configure(model=model, api_key="sim-key", api_base=base_url, cache=False)
    predict = dspy.Predict(QA)
    predict.set_lm(sharedlm.get_shared_lm())
    return predict


async def test_history_cost_equals_plain_dspy_cost_for_the_same_call() -> None:
    async with Simulator(SimulatorSettings(latency=0)) as sim:
        shared_predict = _shared_predict(PRICED, sim.base_url)
        await shared_predict.acall(question="what is two plus two?")
        plain = dspy.LM(PRICED, api_key="sim-key", api_base=sim.base_url, cache=False)  # noqa: SLM001 - the reference
        plain_predict = dspy.Predict(QA)
        plain_predict.set_lm(plain)
        await plain_predict.acall(question="what is two plus two?")
        shared_entry, plain_entry = sharedlm.get_shared_lm().history[-1], plain.history[-1]
        assert shared_entry["usage"] == plain_entry["usage"]
        assert plain_entry["cost"] is not None
        assert shared_entry["cost"] == plain_entry["cost"]
        assert shared_entry["cost_details"] == plain_entry["cost_details"]


async def test_a_litellm_route_call_costs_what_plain_dspy_says() -> None:
    model = "mistral/mistral-large-latest"
    async with Simulator(SimulatorSettings(latency=0)) as sim:
        shared_predict = _shared_predict(model, sim.base_url)
        await shared_predict.acall(question="what is two plus two?")
        plain = dspy.LM(model, api_key="sim-key", api_base=sim.base_url, cache=False)  # noqa: SLM001 - the reference
        plain_predict = dspy.Predict(QA)
        plain_predict.set_lm(plain)
        await plain_predict.acall(question="what is two plus two?")
        shared_entry, plain_entry = sharedlm.get_shared_lm().history[-1], plain.history[-1]
        assert shared_entry["usage"]["prompt_tokens"] == plain_entry["usage"]["prompt_tokens"]
        assert shared_entry["usage"]["completion_tokens"] == plain_entry["usage"]["completion_tokens"]
        assert plain_entry["cost"] is not None
        assert shared_entry["cost"] == pytest.approx(plain_entry["cost"], rel=1e-9)


def test_saved_shared_lm_state_names_dspys_own_lm_class() -> None:
    sharedlm.configure(model=PRICED, api_key="sim-key")
    assert sharedlm.get_shared_lm().dump_state()["_dspy_lm_class"] == "dspy.clients.lm.LM"


async def test_history_of_a_model_without_a_price_says_why_the_cost_is_unknown() -> None:
    async with Simulator(SimulatorSettings(latency=0)) as sim:
        await _shared_predict("openai/sim-model", sim.base_url).acall(question="q")
        entry = sharedlm.get_shared_lm().history[-1]
        assert entry["cost"] is None
        assert entry["cost_details"]["kind"] == "unknown"
