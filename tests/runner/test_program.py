"""Behaviour of PROGRAM loading, construction, entry-point choice and input checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dspy
import pytest

import sharedlm
from sharedlm._errors import UsageError
from sharedlm.runner._program import (
    build_program,
    is_factory,
    load_program_target,
    prepare_program,
    unbound_predictors,
)

FIXTURES = Path(__file__).parent / "fixtures" / "programs.py"
DSPY_FIXTURES = Path(__file__).parent / "fixtures" / "dspy_programs.py"
LM = object()  # construction only stores it
OFFLINE = "http://127.0.0.1:9/v1"  # nothing listens there; these tests build shared LMs but send nothing
on_shared_lm = load_program_target(f"{DSPY_FIXTURES}:on_shared_lm")


@pytest.fixture
def shared_lm() -> dspy.LM:
    sharedlm.configure(model="openai/sim-model", api_key="k", api_base=OFFLINE)
    return sharedlm.get_shared_lm()


def test_a_program_file_and_class_are_loaded() -> None:
    target = load_program_target(f"{FIXTURES}:Echo")

    assert target.__name__ == "Echo"


def test_a_program_module_and_class_are_loaded() -> None:
    target = load_program_target("sharedlm.examples.extraction_pipeline:ExtractionPipeline")

    assert target.__name__ == "ExtractionPipeline"


def test_a_program_file_may_import_its_siblings(tmp_path: Path) -> None:
    (tmp_path / "helpers_for_sibling_test.py").write_text("VALUE = 42\n")
    (tmp_path / "prog.py").write_text("from helpers_for_sibling_test import VALUE\nclass P:\n    value = VALUE\n")

    assert load_program_target(f"{tmp_path / 'prog.py'}:P").value == 42


@pytest.mark.parametrize("spec", ["no_colon", "file.py:", ":Class", "mod:not-an-identifier"])
def test_a_malformed_program_spec_is_a_usage_error_showing_the_forms(spec: str) -> None:
    with pytest.raises(UsageError, match=r"path/to/file\.py:NAME .*factory function"):
        load_program_target(spec)


def test_a_missing_program_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        load_program_target(f"{tmp_path / 'nope.py'}:P")


def test_a_program_file_that_fails_to_import_is_a_usage_error_naming_the_cause(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text("import not_a_module_anywhere_xyz\n")

    with pytest.raises(UsageError, match="not_a_module_anywhere_xyz"):
        load_program_target(f"{path}:P")


def test_a_missing_module_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="no module named"):
        load_program_target("not_a_package_xyz.mod:P")


def test_a_missing_class_is_a_usage_error_listing_the_classes() -> None:
    with pytest.raises(UsageError, match="SlowEcho"):
        load_program_target(f"{FIXTURES}:Nope")


def test_a_class_is_constructed_with_the_shared_lm() -> None:
    program = build_program(load_program_target(f"{FIXTURES}:Echo"), LM)

    assert program.shared_lm is LM


def test_a_missing_name_lists_the_functions_and_instances_the_module_defines() -> None:
    with pytest.raises(UsageError, match=r"programs it defines: .*NO_CALL.*make_no_call"):
        load_program_target(f"{DSPY_FIXTURES}:Nope")


def test_a_class_that_does_not_take_shared_lm_is_constructed_with_no_arguments() -> None:
    program = build_program(load_program_target(f"{FIXTURES}:NoSharedLM"), LM)

    assert type(program).__name__ == "NoSharedLM"


def test_a_class_whose_constructor_needs_other_arguments_is_a_usage_error_naming_the_rule() -> None:
    class NeedsConfig:
        def __init__(self, config: str) -> None:
            self.config = config

    with pytest.raises(UsageError, match=r"NeedsConfig\(\) failed.*else with no arguments"):
        build_program(NeedsConfig, LM)


def test_a_shared_lm_module_class_is_constructed_with_the_shared_lm(shared_lm: dspy.LM) -> None:
    class Bound(sharedlm.SharedLMModule):
        def __init__(self, shared_lm: Any) -> None:
            super().__init__(shared_lm)
            self.answer = dspy.Predict("question -> answer")

    program = build_program(Bound, shared_lm)

    assert program.answer.lm is shared_lm


def test_a_plain_dspy_module_class_is_built_with_no_arguments_and_bound_to_the_default_shared_lm(
        shared_lm: dspy.LM) -> None:
    program = build_program(load_program_target(f"{DSPY_FIXTURES}:QA"), shared_lm)

    assert program.answer.lm is shared_lm


def test_a_predictor_holding_a_plain_lm_is_bound_to_the_shared_lm_for_its_model(shared_lm: dspy.LM) -> None:
    class Judged(dspy.Module):
        def __init__(self) -> None:
            super().__init__()
            self.judge = dspy.Predict("answer -> verdict")
            self.judge.lm = dspy.LM("openai/judge-model")

        async def aforward(self, answer: str) -> Any:
            return None

    program = build_program(Judged, shared_lm)

    assert program.judge.lm.model == "openai/judge-model"
    assert on_shared_lm(program.judge.lm)
    assert program.judge.lm is not shared_lm


def test_a_predictor_holding_an_lm_of_its_own_class_keeps_it(shared_lm: dspy.LM) -> None:
    from dspy.utils import DummyLM

    class Tested(dspy.Module):
        def __init__(self) -> None:
            super().__init__()
            self.answer = dspy.Predict("question -> answer")
            self.answer.lm = DummyLM([{"answer": "a"}])

        async def aforward(self, question: str) -> Any:
            return None

    program = build_program(Tested, shared_lm)

    assert isinstance(program.answer.lm, DummyLM)


def test_a_module_level_dspy_instance_is_bound_in_place(shared_lm: dspy.LM) -> None:
    instance = load_program_target(f"{DSPY_FIXTURES}:NO_CALL")
    instance.answer.lm = None

    program = build_program(instance, shared_lm)

    assert program is instance
    assert instance.answer.lm is shared_lm


def test_a_factory_without_parameters_is_called_with_no_arguments(shared_lm: dspy.LM) -> None:
    program = build_program(load_program_target(f"{DSPY_FIXTURES}:make_no_call"), shared_lm)

    assert type(program).__name__ == "NoCall"


def test_a_factory_that_takes_shared_lm_is_called_with_it(shared_lm: dspy.LM) -> None:
    program = build_program(load_program_target(f"{DSPY_FIXTURES}:make_with_shared_lm"), shared_lm)

    assert program.given_lm is shared_lm


def test_a_factorys_dspy_module_is_bound_to_the_shared_lm(shared_lm: dspy.LM) -> None:
    program = build_program(load_program_target(f"{DSPY_FIXTURES}:make_no_call"), shared_lm)

    assert program.answer.lm is shared_lm


def test_without_a_shared_lm_given_a_constructor_gets_the_default_shared_lm(shared_lm: dspy.LM) -> None:
    program = build_program(load_program_target(f"{FIXTURES}:Echo"))

    assert program.shared_lm is shared_lm


def test_a_factory_that_returns_no_program_is_a_usage_error() -> None:
    def make() -> dict[str, str]:
        return {"not": "a program"}

    with pytest.raises(UsageError, match=r"factory .*make\(\) returned dict, not a program"):
        build_program(make, LM)


def test_a_factory_that_raises_is_a_usage_error_naming_it() -> None:
    def make() -> Any:
        raise RuntimeError("no config file")

    with pytest.raises(UsageError, match=r"make\(\) failed: RuntimeError: no config file"):
        build_program(make, LM)


def test_a_sync_function_with_a_required_field_is_a_row_program_not_a_factory() -> None:
    def classify(text: str) -> dict[str, str]:
        return {"text": text}

    assert not is_factory(classify)
    assert build_program(classify, LM) is classify


def test_an_async_function_is_a_row_program_even_without_parameters() -> None:
    async def ping() -> dict[str, str]:
        return {}

    assert not is_factory(ping)


def test_a_class_whose_constructor_fails_is_a_usage_error_naming_the_cause() -> None:
    with pytest.raises(UsageError, match="cannot build BrokenInit"):
        build_program(load_program_target(f"{FIXTURES}:BrokenInit"), LM)


def test_an_instance_is_used_as_it_is() -> None:
    instance = object()

    assert build_program(instance, LM) is instance


class AsyncModule(dspy.Module):
    async def aforward(self, text: str, lang: str = "en") -> dspy.Prediction:
        return dspy.Prediction(text=text)


class SyncModule(dspy.Module):
    def forward(self, question: str) -> dspy.Prediction:
        return dspy.Prediction(answer=question)


def test_a_dspy_module_with_aforward_is_called_through_acall() -> None:
    module = AsyncModule()
    prepared = prepare_program(module)

    assert prepared.is_async
    assert prepared.entry == module.acall
    assert prepared.inputs.names == ("text", "lang")
    assert prepared.inputs.required == {"text"}


def test_a_dspy_module_with_only_forward_is_called_sync() -> None:
    prepared = prepare_program(SyncModule())

    assert not prepared.is_async
    assert prepared.inputs.names == ("question",)


def test_a_predict_takes_its_signature_input_fields() -> None:
    prepared = prepare_program(dspy.Predict("question, context -> answer"))

    assert prepared.is_async
    assert prepared.inputs.names == ("question", "context")
    assert "question" in (prepared.inputs.mismatch({"context": "c"}) or "")


def test_a_chain_of_thought_takes_its_predictor_signature_inputs() -> None:
    prepared = prepare_program(dspy.ChainOfThought("question -> answer"))

    assert prepared.inputs.names == ("question",)


def test_a_plain_async_function_is_a_program() -> None:
    async def classify(text: str) -> dict[str, str]:
        return {"text": text}

    prepared = prepare_program(classify)

    assert prepared.is_async
    assert prepared.inputs.names == ("text",)


def test_a_sync_callable_object_is_called_in_a_thread() -> None:
    class Callable:
        def __call__(self, text: str) -> dict[str, str]:
            return {"text": text}

    prepared = prepare_program(Callable())

    assert not prepared.is_async
    assert prepared.inputs.names == ("text",)


def test_an_object_without_an_entry_point_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="no entry point"):
        prepare_program(object())


def test_a_class_instead_of_an_instance_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="pass an instance"):
        prepare_program(AsyncModule)


def test_keyword_arguments_accept_extra_fields() -> None:
    class Open:
        async def aforward(self, text: str, **extra: Any) -> dict[str, Any]:
            return {}

    inputs = prepare_program(Open()).inputs

    assert inputs.mismatch({"text": "a", "anything": 1}) is None
    assert inputs.mismatch({}) is not None


def test_the_mismatch_message_names_missing_and_extra_fields_and_the_program() -> None:
    message = prepare_program(AsyncModule()).inputs.mismatch({"body": "x", "other": 1})

    assert message is not None
    assert "AsyncModule.aforward(text, lang)" in message
    assert "missing field 'text'" in message
    assert "unexpected fields 'body', 'other'" in message


def test_predictors_without_an_lm_are_found() -> None:
    class TwoSteps(dspy.Module):
        def __init__(self) -> None:
            super().__init__()
            self.first = dspy.Predict("a -> b")
            self.second = dspy.Predict("b -> c")
            self.second.lm = dspy.LM("openai/x", api_key="k")

        async def aforward(self, a: str) -> Any:
            return None

    assert unbound_predictors(TwoSteps()) == ["first"]
