"""Behaviour of loading a saved program state (``--load`` / ``load=``): checked, loaded, then bound to shared LMs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dspy
import pytest

import sharedlm
from sharedlm._errors import UsageError
from sharedlm.runner._program import build_program, load_program_target
from sharedlm.runner._saved_state import load_saved_state, read_state_file

DSPY_FIXTURES = Path(__file__).parent / "fixtures" / "dspy_programs.py"
OFFLINE = "http://127.0.0.1:9/v1"  # nothing listens there; these tests build shared LMs but send nothing
NoCall = load_program_target(f"{DSPY_FIXTURES}:NoCall")
Other = load_program_target(f"{DSPY_FIXTURES}:Other")
on_shared_lm = load_program_target(f"{DSPY_FIXTURES}:on_shared_lm")


@pytest.fixture
def shared_lm() -> dspy.LM:
    sharedlm.configure(model="openai/sim-model", api_key="k", api_base=OFFLINE)
    return sharedlm.get_shared_lm()


def saved_state(path: Path, *, instructions: str = "Answer like a pirate.", lm: Any = None) -> Path:
    """A NoCall state saved by DSPy, with ``instructions`` and ``lm`` on its predictor."""
    program = NoCall()
    program.answer.signature = program.answer.signature.with_instructions(instructions)
    program.answer.lm = lm
    program.save(str(path))
    return path


def test_a_saved_state_is_loaded_into_the_built_program(tmp_path: Path, shared_lm: dspy.LM) -> None:
    state = saved_state(tmp_path / "state.json")

    program = build_program(NoCall, shared_lm, load=state)

    assert program.answer.signature.instructions == "Answer like a pirate."


def test_a_loaded_predictor_without_a_saved_lm_is_bound_to_the_default_shared_lm(tmp_path: Path,
                                                                                shared_lm: dspy.LM) -> None:
    state = saved_state(tmp_path / "state.json")

    program = build_program(NoCall, shared_lm, load=state)

    assert program.answer.lm is shared_lm


def test_a_loaded_predictor_comes_back_on_the_shared_lm_for_its_saved_model(tmp_path: Path,
                                                                           shared_lm: dspy.LM) -> None:
    state = saved_state(tmp_path / "state.json", lm=sharedlm.get_shared_lm("openai/big-model"))

    program = build_program(NoCall, shared_lm, load=state)

    assert program.answer.lm.model == "openai/big-model"
    assert on_shared_lm(program.answer.lm)


def test_a_base_url_in_the_state_file_does_not_redirect_the_calls(tmp_path: Path, shared_lm: dspy.LM) -> None:
    state = saved_state(tmp_path / "state.json", lm=dspy.LM("openai/sim-model", api_base="http://elsewhere.test/v1"))

    program = build_program(NoCall, shared_lm, load=state)

    assert program.answer.lm is shared_lm


def test_a_missing_state_file_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"--load '.*nope\.json' does not exist; save the state with"):
        read_state_file(tmp_path / "nope.json")


def test_a_directory_is_a_usage_error_asking_for_a_state_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"is a directory .*save_program=True.*takes a state file"):
        read_state_file(tmp_path)


def test_a_pkl_state_is_refused_because_loading_it_can_run_code(tmp_path: Path) -> None:
    path = tmp_path / "state.pkl"
    path.write_bytes(b"\x80\x04N.")

    with pytest.raises(UsageError, match=r"not a \.json state file \(\.pkl\).*can run code"):
        read_state_file(path)


def test_a_file_that_is_not_json_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{not json")

    with pytest.raises(UsageError, match=r"state\.json' is not valid JSON"):
        read_state_file(path)


def test_json_without_dspy_metadata_is_not_a_saved_state(tmp_path: Path) -> None:
    path = tmp_path / "rows.json"
    path.write_text(json.dumps({"answer": {"demos": []}}))

    with pytest.raises(UsageError, match="is not a saved DSPy program state"):
        read_state_file(path)


def test_the_option_that_named_the_file_is_the_one_messages_name(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"^load= "):
        read_state_file(tmp_path / "nope.json", option="load=")


def test_a_state_saved_from_another_program_is_refused_naming_the_predictors(tmp_path: Path) -> None:
    state = saved_state(tmp_path / "state.json")

    with pytest.raises(UsageError, match=r"does not match Other \(predictors reply\): no state for 'reply'; state "
                                         r"for 'answer', which Other does not have"):
        load_saved_state(Other(), state)


def test_a_refused_state_leaves_the_program_untouched(tmp_path: Path) -> None:
    state = saved_state(tmp_path / "state.json")
    program = Other()
    before = program.reply.signature.instructions

    with pytest.raises(UsageError):
        load_saved_state(program, state)
    assert program.reply.signature.instructions == before


def test_a_state_for_a_program_that_is_not_a_dspy_module_is_a_usage_error(tmp_path: Path) -> None:
    class Plain:
        async def aforward(self, text: str) -> dict[str, str]:
            return {}

    with pytest.raises(UsageError, match=r"Plain is not a dspy\.Module"):
        load_saved_state(Plain(), saved_state(tmp_path / "state.json"))


def test_a_state_dspy_cannot_load_is_a_usage_error_naming_the_file(tmp_path: Path) -> None:
    path = saved_state(tmp_path / "state.json")
    state = json.loads(path.read_text())
    del state["answer"]["signature"]
    path.write_text(json.dumps(state))

    with pytest.raises(UsageError, match=r"state\.json' could not be loaded into NoCall: KeyError"):
        load_saved_state(NoCall(), path)


def test_a_shared_lm_module_loads_its_state_and_stays_on_its_shared_lm(tmp_path: Path, shared_lm: dspy.LM) -> None:
    class Bound(sharedlm.SharedLMModule):
        def __init__(self, shared_lm: Any) -> None:
            super().__init__(shared_lm)
            self.answer = dspy.Predict("question -> answer")

    first = Bound(shared_lm)
    first.answer.signature = first.answer.signature.with_instructions("Be brief.")
    first.save(str(tmp_path / "state.json"))

    program = build_program(Bound, shared_lm, load=tmp_path / "state.json")

    assert program.answer.signature.instructions == "Be brief."
    assert program.answer.lm is shared_lm


def test_a_loaded_program_sent_to_ray_workers_keeps_its_state_and_shared_lm(tmp_path: Path,
                                                                            shared_lm: dspy.LM) -> None:
    from sharedlm.runner._ray._program import ProgramRecipe

    program = build_program(NoCall, shared_lm, load=saved_state(tmp_path / "state.json"))
    recipe = ProgramRecipe.from_program(program, shared_lm=shared_lm, name="NoCall")

    rebuilt: Any = recipe.build(shared_lm)  # what a worker does, here on the same shared LM
    assert rebuilt.answer.signature.instructions == "Answer like a pirate."
    assert rebuilt.answer.lm is shared_lm


def test_the_ray_recipe_of_a_program_path_carries_the_state_file_for_the_workers(tmp_path: Path,
                                                                                 shared_lm: dspy.LM) -> None:
    from sharedlm.runner._ray._program import ProgramRecipe

    recipe = ProgramRecipe.from_spec(f"{DSPY_FIXTURES}:NoCall", name="NoCall", load=saved_state(tmp_path / "s.json"))

    rebuilt: Any = recipe.build(shared_lm)
    assert rebuilt.answer.signature.instructions == "Answer like a pirate."
