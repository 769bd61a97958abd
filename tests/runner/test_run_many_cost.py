"""The spend-cap checks of the library entry points (``run_many``, ``arun_many``) against the simulator on 127.0.0.1:
every model the program binds while it is built is checked before any call is sent, as ``sharedlm run`` checks it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import dspy
import pytest

import sharedlm
from sharedlm._errors import UsageError
from sharedlm.runner._program import load_program_target
from sharedlm.simulator import BackgroundSimulator, SimulatorSettings

PRICED = "openai/gpt-4o-mini"
JUDGE = "openai/judge-model"  # the bundled metadata has no price for it
ROWS = [{"id": n, "text": f"Order {n} arrived broken, please refund"} for n in range(3)]
# What the refusal names: the model, and the price= that prices it.
REFUSAL = r"needs a price for every model the run calls.*'openai/judge-model'.*price=\{'openai/judge-model'"


class BindsAJudgeInInit(sharedlm.SharedLMModule):
    """A draft on the default shared LM, then a verdict on a second shared LM its constructor binds."""

    def __init__(self, shared_lm: object) -> None:
        super().__init__(shared_lm)
        self.draft = dspy.Predict("text -> summary")
        self.draft.config.update(max_tokens=200, cache=False)
        self.judge = dspy.Predict("text, summary -> verdict")
        self.judge.set_lm(sharedlm.get_shared_lm(JUDGE, cache=False, max_tokens=200))

    async def aforward(self, text: str) -> dict[str, str]:
        summary = (await self.draft.acall(text=text)).summary
        return {"verdict": (await self.judge.acall(text=text, summary=summary)).verdict}


def _plain_lm_judge() -> Any:
    """The draft-then-judge program whose judge is a plain ``dspy.LM``, which run_many binds to its shared LM."""
    return load_program_target(f"{Path(__file__).parent / 'fixtures' / 'price_programs.py'}:DraftThenJudge")


@pytest.fixture
def sim() -> Iterator[BackgroundSimulator]:
    with BackgroundSimulator(SimulatorSettings(latency=0)) as simulator:
        sharedlm.configure(model=PRICED, api_key="sim-key", api_base=simulator.base_url, cache=False)
        yield simulator


@pytest.mark.parametrize("program", [lambda: BindsAJudgeInInit, _plain_lm_judge],
                         ids=["shared-lm-in-init", "plain-dspy-lm"])
def test_run_many_refuses_a_cap_on_an_unpriced_model_the_program_binds_when_built_before_sending(
        sim: BackgroundSimulator, program: Callable[[], Any]) -> None:
    with pytest.raises(UsageError, match=REFUSAL):
        sharedlm.run_many(program(), ROWS, concurrency=3, max_cost=1.0)

    assert sim.stats().requests == 0


class _CountsConstructions(dspy.Module):
    built: ClassVar[int] = 0

    def __init__(self) -> None:
        super().__init__()
        type(self).built += 1

    async def aforward(self, text: str) -> dict[str, str]:
        return {"text": text}


async def test_arun_many_refuses_a_malformed_price_before_constructing_the_program(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_CountsConstructions, "built", 0)

    with pytest.raises(UsageError, match="--price needs completion"):
        async for _ in sharedlm.arun_many(_CountsConstructions, ROWS, price="prompt=1"):
            pass

    assert _CountsConstructions.built == 0
