"""The runtime guard watches the rows the runner runs, whatever the program's base class."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import dspy
import pytest

import sharedlm
from sharedlm import GuardWarning
from sharedlm.simulator import BackgroundSimulator, SimulatorSettings


@pytest.fixture(scope="module")
def sim() -> Iterator[BackgroundSimulator]:
    with BackgroundSimulator(SimulatorSettings()) as server:
        yield server


class LeakyProgram(dspy.Module):
    """A plain dspy.Module that builds an LM per call: the anti-pattern the guard exists for."""

    def __init__(self, shared_lm, base_url):
        super().__init__()
        self.base_url = base_url
        self.agent = dspy.Predict("question -> answer")
        self.agent.set_lm(shared_lm)

    async def aforward(self, question):
        lm = dspy.LM("openai/per-call", api_base=self.base_url, api_key="k", cache=False)
        return await self.agent.acall(question=question, lm=lm)


def _program(sim: BackgroundSimulator) -> LeakyProgram:
    sharedlm.configure(model="openai/sim-model", api_key="k", api_base=sim.base_url, cache=False)
    return LeakyProgram(sharedlm.get_shared_lm(), sim.base_url)


def test_rows_of_a_leaky_program_draw_a_guard_warning(sim: BackgroundSimulator) -> None:
    program = _program(sim)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        results = sharedlm.run_many(program, [{"id": i, "question": f"q{i}"} for i in range(3)], concurrency=2)
    assert all(r.error is None for r in results)
    assert any(issubclass(w.category, GuardWarning) and "lm-in-forward" in str(w.message) for w in record)


def test_error_mode_fails_the_row_with_a_guard_error(monkeypatch: pytest.MonkeyPatch,
                                                     sim: BackgroundSimulator) -> None:
    monkeypatch.setenv("SHAREDLM_GUARD", "error")
    program = _program(sim)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GuardWarning)
        results = sharedlm.run_many(program, [{"id": 1, "question": "q"}], concurrency=1)
    assert results[0].error is not None
    assert results[0].error.type == "GuardError"
