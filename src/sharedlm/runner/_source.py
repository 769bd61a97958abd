"""Input rows as the runner sees them: :class:`SourceRow`, and the adapter from any iterable of dicts.

Readers of files (:mod:`sharedlm.runner._readers`) and :func:`source_rows` (for Python iterables) both
produce ``SourceRow`` objects, so the core has one kind of input whatever the source. A row that could
not be read at all (a malformed JSONL line, a CSV record with the wrong number of fields) is still a
``SourceRow``: its ``fields`` is None and ``problem`` says what is wrong, so it reaches the output as an
error row instead of vanishing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any


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


__all__ = ["SourceRow", "close_rows", "own_id", "source_rows"]
