"""Behaviour of PROGRAM loading, construction, entry-point choice and input checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dspy
import pytest

from sharedlm._errors import UsageError
from sharedlm.runner._program import (
    build_program,
    load_program_target,
    prepare_program,
    unbound_predictors,
)

FIXTURES = Path(__file__).parent / "fixtures" / "programs.py"
LM = object()  # construction only stores it


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
    with pytest.raises(UsageError, match=r"path/to/file\.py:ClassName"):
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


def test_a_class_that_does_not_take_shared_lm_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="shared_lm"):
        build_program(load_program_target(f"{FIXTURES}:NoSharedLM"), LM)


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
