"""Answers that DSPy's ChatAdapter and JSONAdapter parse into the types the signature asks for."""

from __future__ import annotations

import datetime
import enum
import json
from typing import Any, Literal

import dspy
import pydantic
import pytest

from sharedlm.simulator._answers import AnswerBook, Prompt, read_spec, render


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Item(pydantic.BaseModel):
    name: str
    qty: int
    tags: list[str]


class Order(pydantic.BaseModel):
    items: list[Item]
    rush: bool | None = None


class Typed(dspy.Signature):
    """Answer with many typed fields.
    Instructions may span lines."""

    question: str = dspy.InputField()
    context: list[str] = dspy.InputField()
    answer: str = dspy.OutputField(desc="a free text answer\nwhose description spans lines")
    count: int = dspy.OutputField()
    score: float = dspy.OutputField()
    ok: bool = dspy.OutputField()
    tags: list[str] = dspy.OutputField()
    label: Literal["yes", "no", "it's; complicated"] = dspy.OutputField()
    level: Literal[1, 2, 3] = dspy.OutputField()
    color: Color = dspy.OutputField()
    order: Order = dspy.OutputField()
    note: str | None = dspy.OutputField()
    counts: dict[str, int] = dspy.OutputField()
    day: datetime.date = dspy.OutputField()


SIGNATURES: list[Any] = [Typed, dspy.ChainOfThought(Typed).predict.signature, dspy.Signature("question -> answer")]
INPUTS = {"question": "What is it?", "context": ["one", "two"]}


def _prompt(adapter: dspy.ChatAdapter, signature: Any, **extra: Any) -> Prompt:
    messages = adapter.format(signature, demos=[], inputs={k: v for k, v in INPUTS.items()
                                                           if k in signature.input_fields})
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    user = [m["content"] for m in messages if m["role"] == "user"][-1]
    return Prompt(system, user, **extra)


def _assert_typed(signature: Any, parsed: dict[str, Any]) -> None:
    assert set(parsed) == set(signature.output_fields)
    for name, field in signature.output_fields.items():
        pydantic.TypeAdapter(field.annotation).validate_python(parsed[name], strict=False)


@pytest.mark.parametrize("signature", SIGNATURES, ids=["typed", "chain_of_thought", "plain"])
@pytest.mark.parametrize("variant", range(4))
def test_chat_adapter_parses_every_field_with_its_type(signature: Any, variant: int) -> None:
    adapter = dspy.ChatAdapter(use_json_adapter_fallback=False)
    content = render(read_spec(_prompt(adapter, signature)), variant)
    assert content.endswith("[[ ## completed ## ]]")
    _assert_typed(signature, adapter.parse(signature, content))


@pytest.mark.parametrize("signature", SIGNATURES, ids=["typed", "chain_of_thought", "plain"])
@pytest.mark.parametrize("variant", range(4))
def test_json_adapter_parses_every_field_with_its_type(signature: Any, variant: int) -> None:
    adapter = dspy.JSONAdapter()
    content = render(read_spec(_prompt(adapter, signature, json_mode=True)), variant)
    assert isinstance(json.loads(content), dict)
    _assert_typed(signature, adapter.parse(signature, content))


@pytest.mark.parametrize("variant", range(4))
def test_json_schema_response_format_is_followed(variant: int) -> None:
    adapter = dspy.JSONAdapter()
    fields: dict[str, Any] = {name: (field.annotation, ...) for name, field in Typed.output_fields.items()}
    outputs = pydantic.create_model("Outputs", **fields)
    schema = outputs.model_json_schema()
    content = render(read_spec(_prompt(adapter, Typed, json_mode=True, schema=schema)), variant)
    outputs.model_validate_json(content)
    _assert_typed(Typed, adapter.parse(Typed, content))


def test_demos_and_history_do_not_change_the_fields_asked_for() -> None:
    adapter = dspy.ChatAdapter(use_json_adapter_fallback=False)
    demos = [{"question": "q", "answer": "a"}]
    messages = adapter.format(dspy.Signature("question -> answer: int"), demos=demos, inputs={"question": "x"})
    prompt = Prompt(messages[0]["content"], messages[-1]["content"])
    assert [f.name for f in read_spec(prompt).fields] == ["answer"]
    assert read_spec(prompt).fields[0].kind == "int"


def test_fields_are_read_from_the_user_message_when_the_system_message_lacks_them() -> None:
    user = ("[[ ## q ## ]]\nx\n\nRespond with the corresponding output fields, starting with the field "
            "`[[ ## a ## ]]`, then `[[ ## b ## ]]`, and then ending with the marker for `[[ ## completed ## ]]`.")
    spec = read_spec(Prompt("", user))
    assert spec.mode == "chat"
    assert [f.name for f in spec.fields] == ["a", "b"]


def test_a_prompt_that_is_not_dspy_gets_a_plain_sentence() -> None:
    spec = read_spec(Prompt("You are helpful.", "Say hi."))
    assert spec.mode == "text"
    assert "[[" not in render(spec, 0)


def test_json_mode_without_fields_gives_a_json_object() -> None:
    assert isinstance(json.loads(render(read_spec(Prompt("", "hi", json_mode=True)), 0)), dict)


def test_same_prompt_and_fingerprint_give_the_same_answer_from_the_cache() -> None:
    book = AnswerBook()
    prompt = _prompt(dspy.ChatAdapter(), Typed)
    first = book.answer(prompt, 12345)
    assert book.answer(Prompt(prompt.system, prompt.user), 12345) is first
    assert len(book) == 1


def test_different_fingerprints_pick_different_variants() -> None:
    book = AnswerBook()
    prompt = _prompt(dspy.ChatAdapter(), Typed)
    assert len({book.answer(prompt, f).content for f in range(8)}) == 8


def test_completion_tokens_are_about_four_characters_each() -> None:
    answer = AnswerBook().answer(_prompt(dspy.ChatAdapter(), Typed), 0)
    assert answer.completion_tokens == -(-len(answer.content) // 4)
