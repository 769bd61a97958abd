"""What a file run learns from its input rows as they pass: ids that took their number, done ids still present.

:class:`InputTally` wraps the row source of a run without changing it. For each row it tells the input
fingerprint whether the row took its number as id (``--resume`` then checks the input did not change),
and it notes which ids of the rows already done (from an earlier run) the input still has, so a resumed
run that reads its whole input can say how many ids of the output are no longer in the input.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Collection, Iterable, Iterator
from typing import Protocol, overload

from sharedlm.runner._results import id_key
from sharedlm.runner._source import SourceRow, given_id, own_id


class RowNoter(Protocol):
    """What is told about each row read (the :class:`~sharedlm.runner._fingerprint.FingerprintRecorder`)."""

    def note_row(self, *, positional: bool) -> None:
        """Count one row; ``positional`` when it took its number as id."""


class InputTally:
    """Watches the rows of one run go by.

    Args:
        id_field: The field holding a row's id.
        done_keys: Id keys of rows an earlier run finished.
        noter: Told about each row, or None.
    """

    def __init__(self, *, id_field: str, done_keys: Collection[str] = frozenset(),
                 noter: RowNoter | None = None) -> None:
        self.id_field = id_field
        self.rows = 0
        self.exhausted = False
        self._done_keys = done_keys
        self._present: set[str] = set()
        self._noter = noter

    def __repr__(self) -> str:
        return f"InputTally(rows={self.rows}, exhausted={self.exhausted}, done_present={len(self._present)})"

    @property
    def missing_done_ids(self) -> int | None:
        """Ids the earlier run finished that the input no longer has; None until the whole input was read."""
        if not self.exhausted:
            return None
        return len(self._done_keys) - len(self._present)

    def _see(self, row: SourceRow) -> None:
        self.rows += 1
        # Positional for the fingerprint: a readable row with no id, the only kind that can finish under its number
        # (an unreadable row or one with an id of another type is reported under it too, but always as an error).
        positional = row.fields is not None and own_id(row.fields, self.id_field) is None
        if self._noter is not None:
            self._noter.note_row(positional=positional)
        if self._done_keys:
            given = given_id(row, self.id_field)
            key = id_key(given if given is not None else row.number)
            if key in self._done_keys:
                self._present.add(key)

    @overload
    def watch(self, rows: AsyncIterable[SourceRow]) -> AsyncIterator[SourceRow]: ...

    @overload
    def watch(self, rows: Iterable[SourceRow]) -> Iterator[SourceRow]: ...

    def watch(self, rows: Iterable[SourceRow] | AsyncIterable[SourceRow]
              ) -> Iterator[SourceRow] | AsyncIterator[SourceRow]:
        """``rows`` unchanged, seen one by one as the run takes them.

        Args:
            rows: The run's source, sync or async.
        """
        if isinstance(rows, AsyncIterable):
            return self._watch_async(rows)
        return self._watch(rows)

    def _watch(self, rows: Iterable[SourceRow]) -> Iterator[SourceRow]:
        iterator = iter(rows)
        try:
            for row in iterator:
                self._see(row)
                yield row
            self.exhausted = True
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()  # the reader's file closes with the run, not when it is garbage collected

    async def _watch_async(self, rows: AsyncIterable[SourceRow]) -> AsyncIterator[SourceRow]:
        iterator = aiter(rows)
        try:
            async for row in iterator:
                self._see(row)
                yield row
            self.exhausted = True
        finally:
            close = getattr(iterator, "aclose", None)
            if close is not None:
                await close()


__all__ = ["InputTally", "RowNoter"]
