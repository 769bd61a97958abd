"""Behaviour of program recipes: how a Ray worker gets the program, bound to its own shared LM."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import dspy
import pytest

import sharedlm
from sharedlm._errors import UsageError
from sharedlm.runner._ray._program import ProgramRecipe, absolute_spec

FIXTURES = Path(__file__).parent.parent / "fixtures" / "programs.py"


class Answer(sharedlm.SharedLMModule):
    def __init__(self, shared_lm: Any) -> None:
        super().__init__(shared_lm)
        self.predict = dspy.Predict("question -> answer")
        self.instructions = "be brief"


def test_a_pickled_program_is_rebuilt_bound_to_the_receiving_processs_shared_lm() -> None:
    driver_lm = dspy.LM("openai/driver-model")
    worker_lm = dspy.LM("openai/worker-model")
    recipe = ProgramRecipe.from_program(Answer(shared_lm=driver_lm), shared_lm=driver_lm, name="Answer")

    program = recipe.build(worker_lm)

    assert isinstance(program, Answer)
    assert program.predict.lm is worker_lm
    assert program.instructions == "be brief"


def test_the_pickled_recipe_does_not_carry_the_drivers_lm_or_its_key() -> None:
    driver_lm = dspy.LM("openai/driver-model", api_key="driver-secret-key")
    recipe = ProgramRecipe.from_program(Answer(shared_lm=driver_lm), shared_lm=driver_lm, name="Answer")

    assert recipe.pickled is not None
    assert b"driver-secret-key" not in recipe.pickled
    assert b"driver-model" not in recipe.pickled


def test_a_program_that_cannot_be_pickled_is_a_usage_error_naming_the_way_out() -> None:
    class HoldsALock:
        def __init__(self) -> None:
            self.lock = threading.Lock()

        async def aforward(self, text: str) -> dict[str, str]:
            return {"text": text}

    with pytest.raises(UsageError, match="cannot be sent to Ray workers"):
        ProgramRecipe.from_program(HoldsALock(), shared_lm=None, name="HoldsALock")


def test_a_program_path_is_made_absolute_so_a_worker_elsewhere_finds_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES.parent)

    assert absolute_spec("programs.py:Echo") == f"{FIXTURES}:Echo"
    assert absolute_spec("sharedlm.examples.extraction_pipeline:ExtractionPipeline") == \
        "sharedlm.examples.extraction_pipeline:ExtractionPipeline"


def test_a_spec_recipe_imports_and_constructs_the_program_on_the_given_lm() -> None:
    lm = object()
    recipe = ProgramRecipe.from_spec(f"{FIXTURES}:Echo", name="Echo")

    program = recipe.build(lm)

    assert type(program).__name__ == "Echo"
    assert vars(program)["shared_lm"] is lm
