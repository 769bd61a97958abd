"""Input rows as the runner sees them: :class:`SourceRow`, and the adapter from any iterable of dicts.

Readers of files (:mod:`sharedlm.runner._readers`) and :func:`source_rows` (for Python iterables) both
produce ``SourceRow`` objects, so the core has one kind of input whatever the source. A row that could
not be read at all (a malformed JSONL line, a CSV record with the wrong number of fields) is still a
``SourceRow``: its ``fields`` is None and ``problem`` says what is wrong, so it reaches the output as an
error row instead of vanishing.

It also owns the one rule for what a row's id is (:func:`given_id`) and the check that the ids rows give
themselves never equal the numbers other rows are reported under (:func:`find_id_collision`).

Why that check exists: a row with no id of its own (no id field, an empty one, one that is not a string or a
whole number, or a row that could not be read at all) is reported under its number, and rows are matched by the
text of their id (``7`` and ``"7"`` are one id, see :func:`~sharedlm.runner._results.id_key`), for duplicates and
for ``--resume``. If line 3 had no id and line 7 said ``"id": 3``, the two rows would share id 3: which of them
holds it depends on which one is readable or comes first, and that can change between a run and its resume
(say line 3 could not be read until ``--encoding`` was given), so a resume could skip line 3 as done when only
line 7 ever ran. Numbered ids cannot be made to avoid explicit ones without changing the documented ids of every
row that has none, so a file run refuses such an input before anything runs instead (exit 2), naming both rows.
Ids that rows give themselves may still repeat each other: the later row is an error row, and which row holds the
id does not depend on how the input is read. A resume whose earlier runs numbered no row also uses
:func:`find_numbered_row`: every id they finished was a row's own, so a row now reported under such a number (the
row that gave it being gone) must not be skipped as done.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterable, AsyncIterator, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sharedlm.runner._results import RowId

# The text of the ids rows are reported under when they have none: 1, 2, 3... (never 0, a sign or a leading zero).
_NUMBER_TEXT = re.compile("[1-9][0-9]*")


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One input row before it runs.

    Args:
        number: The row's 1-based position: its line in a JSONL file, its data row (header excluded) in a
            CSV or Parquet file, its position in a Python iterable. It is the row's id when it has none.
        fields: The row's fields, id field included, or None when the row could not be read.
        where: Where the row is, for messages: ``"line 12"`` or ``"row 3 (line 4)"``.
        problem: Why the row could not be read, or None.
    """

    number: int
    fields: dict[str, Any] | None
    where: str
    problem: str | None = None


def own_id(fields: Mapping[str, Any], id_field: str) -> Any:
    """The value of a row's id field, or None when the row takes its number as id (field missing or empty).

    Args:
        fields: The row's fields.
        id_field: The field holding a row's id.
    """
    value = fields.get(id_field)
    return None if value is None or value == "" else value


def given_id(row: SourceRow, id_field: str) -> RowId | None:
    """The id a row gives itself, or None when it is reported under its number.

    A row is reported under its number when it could not be read, has no id field or an empty one, or has an
    id that is not a string or a whole number (``true``, ``2.5``, a list): the runner writes such a row's
    line under its number, so for matching ids it is a numbered row.

    Args:
        row: The input row.
        id_field: The field holding a row's id.
    """
    if row.fields is None:
        return None
    value = own_id(row.fields, id_field)
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return value


def number_in_id(row_id: RowId) -> int | None:
    """The row number whose id has the same text as ``row_id`` (``7`` for ``7`` and ``"7"``), or None.

    Args:
        row_id: An id a row gives itself.
    """
    if isinstance(row_id, int):
        return row_id if row_id > 0 else None
    return int(row_id) if _NUMBER_TEXT.fullmatch(row_id) else None


@dataclass(frozen=True, slots=True)
class IdCollision:
    """A row reported under its number, and a row that gives that same number as its own id.

    Args:
        numbered: The number of the row reported under it (its line in JSONL, its data row in CSV and Parquet).
        given_by: The number of the row that gives it as its own id (``7`` or ``"7"``).
    """

    numbered: int
    given_by: int


def find_id_collision(rows: Iterable[SourceRow], id_field: str, *, limit: int | None = None) -> IdCollision | None:
    """The first collision, in input order, of a row reported under its number with a row giving it as its id.

    Streams ``rows`` once and keeps row numbers only: one byte per numbered row read so far, and the explicit ids
    that are numbers of rows not read yet (none when ids run in step with the rows, as ids 1, 2, 3... do; at most
    one entry per row when they are shuffled, less than the run's own record of ids seen).

    Args:
        rows: The input rows, in order; row numbers increase.
        id_field: The field holding a row's id.
        limit: Check only the first ``limit`` rows (the rows a run with ``--limit`` takes), or None for all.
    """
    numbered = bytearray()  # numbered[n] == 1: row n is reported under its number
    ahead: dict[int, int] = {}  # an id that is the number of a row not read yet -> the row giving it
    for row in itertools.islice(rows, limit):  # never one row past the limit: reading it could be costly or fail
        given_by = ahead.pop(row.number, None)
        row_id = given_id(row, id_field)
        if row_id is None:
            if given_by is not None:
                return IdCollision(numbered=row.number, given_by=given_by)
            if row.number >= len(numbered):
                numbered.extend(bytes(row.number + 1 - len(numbered)))
            numbered[row.number] = 1
            continue
        number = number_in_id(row_id)
        if number is None:
            continue
        if number < len(numbered) and numbered[number]:
            return IdCollision(numbered=number, given_by=row.number)
        if number > row.number:  # a row already read without a mark here has an id of its own (or no such row)
            ahead.setdefault(number, row.number)
    return None


def find_numbered_row(rows: Iterable[SourceRow], id_field: str, numbers: Container[int], *,
                      limit: int | None = None) -> SourceRow | None:
    """The first row reported under its number that is one of ``numbers``; None if none is.

    Args:
        rows: The input rows, in order.
        id_field: The field holding a row's id.
        numbers: The numbers to look for.
        limit: Look at only the first ``limit`` rows, or None for all.
    """
    for row in itertools.islice(rows, limit):
        if row.number in numbers and given_id(row, id_field) is None:
            return row
    return None


def _to_source_row(number: int, row: object) -> SourceRow:
    where = f"row {number}"
    if isinstance(row, Mapping):
        return SourceRow(number=number, fields=dict(row), where=where)
    return SourceRow(number=number, fields=None, where=where,
                     problem=f"{where} is a {type(row).__name__}, not a dict of field values")


def source_rows(rows: Iterable[Any] | AsyncIterable[Any]) -> Iterator[SourceRow] | AsyncIterator[SourceRow]:
    """Number the rows of a Python iterable (sync or async) lazily, one at a time.

    Args:
        rows: Dicts of field values; anything else becomes an error row naming its position.
    """
    if isinstance(rows, AsyncIterable):
        return _async_source_rows(rows)
    return (_to_source_row(number, row) for number, row in enumerate(rows, start=1))


async def _async_source_rows(rows: AsyncIterable[Any]) -> AsyncIterator[SourceRow]:
    number = 0
    async for row in rows:
        number += 1
        yield _to_source_row(number, row)


async def close_rows(iterator: Iterator[Any] | AsyncIterator[Any]) -> None:
    """Close a source's iterator at the end of a run, so its file closes then, not when it is collected.

    Args:
        iterator: The iterator a runner took rows from (a generator, an async generator, or anything else).
    """
    close = getattr(iterator, "aclose", None) or getattr(iterator, "close", None)
    if close is not None:
        closed = close()
        if asyncio.iscoroutine(closed):
            await closed


__all__ = [
    "IdCollision",
    "SourceRow",
    "close_rows",
    "find_id_collision",
    "find_numbered_row",
    "given_id",
    "number_in_id",
    "own_id",
    "source_rows",
]
