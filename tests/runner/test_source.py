"""Behaviour of the row id rule over input rows: which rows are reported under their number, and collisions."""

from __future__ import annotations

from typing import Any

from sharedlm.runner._source import IdCollision, SourceRow, find_id_collision, given_id, number_in_id


def row(number: int, fields: dict[str, Any] | None) -> SourceRow:
    return SourceRow(number=number, fields=fields, where=f"line {number}",
                     problem=None if fields is not None else f"line {number} is not valid JSON")


def test_a_row_gives_itself_a_string_or_whole_number_id_and_nothing_else() -> None:
    assert given_id(row(1, {"id": "a"}), "id") == "a"
    assert given_id(row(1, {"id": 7}), "id") == 7
    assert [given_id(row(1, fields), "id") for fields in ({}, {"id": None}, {"id": ""}, {"id": True},
                                                          {"id": 2.5}, {"id": [1]}, None)] == [None] * 7


def test_an_id_names_a_row_number_only_when_its_text_is_that_number() -> None:
    assert [number_in_id(value) for value in (7, "7", "07", "7.0", " 7", 0, -7, "0", "")] == [
        7, 7, None, None, None, None, None, None, None]


def test_the_first_collision_in_input_order_is_found_whichever_row_comes_first() -> None:
    rows = [row(1, {"id": 4}), row(2, {"text": "b"}), row(3, {"id": "2"}), row(4, None)]

    assert find_id_collision(rows, "id") == IdCollision(numbered=2, given_by=3)
    assert find_id_collision(rows[:2] + rows[3:], "id") == IdCollision(numbered=4, given_by=1)


def test_ids_that_repeat_each_other_are_not_a_collision_of_numbers() -> None:
    rows = [row(1, {"id": "a"}), row(2, {"id": "a"}), row(3, {"id": 3}), row(4, {"id": "3"})]

    assert find_id_collision(rows, "id") is None


def test_rows_past_the_limit_are_not_read() -> None:
    def rows() -> Any:
        yield row(1, {"text": "a"})
        yield row(2, {"id": "x"})
        raise AssertionError("read past the limit")

    assert find_id_collision(rows(), "id", limit=2) is None
