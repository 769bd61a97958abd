"""Behaviour of output conversion and error description."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import math

import dspy
import pydantic

from sharedlm._errors import RateLimitedError, RetriesExhaustedError
from sharedlm.runner._outputs import MAX_ERROR_MESSAGE_CHARS, json_ready, output_dict, row_error, usage_from_tracker


class Color(enum.Enum):
    RED = "red"


class Item(pydantic.BaseModel):
    name: str
    when: datetime.date


@dataclasses.dataclass
class Point:
    x: int
    y: int


def test_a_prediction_becomes_a_dict_of_its_fields() -> None:
    assert output_dict(dspy.Prediction(answer="a", n=2)) == {"answer": "a", "n": 2}


def test_a_pydantic_model_a_dataclass_and_a_plain_value_become_dicts() -> None:
    assert output_dict(Item(name="x", when=datetime.date(2024, 1, 2))) == {"name": "x", "when": "2024-01-02"}
    assert output_dict(Point(1, 2)) == {"x": 1, "y": 2}
    assert output_dict("text") == {"result": "text"}
    assert output_dict(None) == {}


def test_nested_values_become_standard_json() -> None:
    value = {"items": [Item(name="x", when=datetime.date(2024, 1, 2))], "tags": {"a"}, "color": Color.RED,
             "bad": math.nan, "obj": object}

    ready = json_ready(value)

    json.dumps(ready, allow_nan=False)
    assert ready["items"] == [{"name": "x", "when": "2024-01-02"}]
    assert ready["tags"] == ["a"]
    assert ready["color"] == "red"
    assert ready["bad"] == "nan"


def test_a_wrapped_sharedlm_error_is_named_as_the_cause() -> None:
    last = RateLimitedError("429 from provider")
    cause = RetriesExhaustedError("gave up after 7 attempts", last=last, attempts=7)
    try:
        raise RuntimeError("LM call failed") from cause
    except RuntimeError as exc:
        error = row_error(exc)

    assert error.type == "RuntimeError"
    assert "caused by RetriesExhaustedError: gave up after 7 attempts" in error.message


def test_long_error_messages_are_cut() -> None:
    error = row_error(ValueError("x" * (MAX_ERROR_MESSAGE_CHARS + 500)))

    assert len(error.message) < MAX_ERROR_MESSAGE_CHARS + 100
    assert error.message.endswith("500 more characters]")


def test_usage_is_summed_over_models_and_calls() -> None:
    usage = usage_from_tracker({"a": [{"prompt_tokens": 1, "completion_tokens": 2}, {"prompt_tokens": 3}],
                                "b": [{"prompt_tokens": 10, "completion_tokens": 20, "flag": True}]})

    assert (usage.prompt_tokens, usage.completion_tokens) == (14, 22)
