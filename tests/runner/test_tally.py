"""Behaviour of the input tally: rows that took their number as id, and done ids the input no longer has."""

from __future__ import annotations

from sharedlm.runner._source import SourceRow
from sharedlm.runner._tally import InputTally


class Noter:
    def __init__(self) -> None:
        self.positional: list[bool] = []

    def note_row(self, *, positional: bool) -> None:
        self.positional.append(positional)


def rows(*fields: dict[str, object] | None) -> list[SourceRow]:
    return [SourceRow(number=n, fields=f, where=f"line {n}", problem=None if f is not None else "bad")
            for n, f in enumerate(fields, start=1)]


def test_each_row_is_passed_on_unchanged_and_noted_as_positional_or_not() -> None:
    noter = Noter()
    tally = InputTally(id_field="id", noter=noter)
    source = rows({"id": "a"}, {"text": "no id"}, {"id": ""}, None)

    assert list(tally.watch(source)) == source
    assert noter.positional == [False, True, True, False]


def test_done_ids_missing_from_a_fully_read_input_are_counted() -> None:
    tally = InputTally(id_field="id", done_keys={"a", "b", "3"})

    list(tally.watch(rows({"id": "a"}, {"id": "z"}, {"text": "takes number 3"})))

    assert tally.missing_done_ids == 1


def test_missing_ids_are_unknown_until_the_input_was_read_to_its_end() -> None:
    tally = InputTally(id_field="id", done_keys={"a"})
    watched = tally.watch(rows({"id": "b"}, {"id": "c"}))

    next(watched)

    assert tally.missing_done_ids is None
