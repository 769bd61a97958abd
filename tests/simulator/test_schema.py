"""Values built from JSON schemas validate against the types the schemas came from."""

from __future__ import annotations

import datetime
import enum
import uuid
from typing import Annotated, Any, Literal

import pydantic
import pytest

from sharedlm.simulator._schema import schema_instance


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Leaf(pydantic.BaseModel):
    name: str
    qty: int
    tags: list[str]


class Tree(pydantic.BaseModel):
    label: str
    children: list[Tree] = []
    parent: Tree | None = None


class Order(pydantic.BaseModel):
    items: list[Leaf]
    color: Color
    rush: bool | None = None
    when: datetime.datetime
    ref: uuid.UUID
    pair: tuple[int, str]
    score: Annotated[float, pydantic.Field(gt=10, le=20)]
    count: Annotated[int, pydantic.Field(ge=100, multiple_of=5)]
    code: Annotated[str, pydantic.Field(min_length=30, max_length=40)]


TYPES: list[Any] = [
    str, int, float, bool, list[str], dict[str, int], Literal["a", "b"], Literal[1, 2], Color, Leaf, Tree, Order,
    str | None, int | str, list[Leaf], datetime.date, tuple[int, ...],
    Annotated[list[int], pydantic.Field(min_length=3)],
]


@pytest.mark.parametrize("annotation", TYPES, ids=repr)
@pytest.mark.parametrize("variant", [0, 1, 5])
def test_instance_validates_against_its_type(annotation: Any, variant: int) -> None:
    adapter = pydantic.TypeAdapter(annotation)
    adapter.validate_python(schema_instance(adapter.json_schema(), variant), strict=False)


def test_instance_is_deterministic_per_variant() -> None:
    schema = pydantic.TypeAdapter(Order).json_schema()
    assert schema_instance(schema, 3) == schema_instance(schema, 3)
    assert schema_instance(schema, 3) != schema_instance(schema, 4)


def test_gemini_upper_case_types_are_understood() -> None:
    schema = {"type": "OBJECT", "properties": {"n": {"type": "INTEGER"}, "ok": {"type": "BOOLEAN"},
                                               "xs": {"type": "ARRAY", "items": {"type": "STRING"}}}}
    value = schema_instance(schema)
    assert isinstance(value["n"], int)
    assert isinstance(value["ok"], bool)
    assert isinstance(value["xs"][0], str)
