"""Streaming readers of input files (JSONL, CSV, Parquet) producing :class:`SourceRow` objects.

Each reader is a generator that holds one line (JSONL, CSV) or one small record batch (Parquet) at a
time, so memory does not grow with the file. Numbering, which is also the id of a row without one:

- JSONL: the 1-based line number in the file. Blank lines are skipped but still counted, so the number
  is the one an editor shows.
- CSV: the 1-based data row number, the header not counted; messages also give the file line.
- Parquet: the 1-based row number.

A line or record that cannot be read becomes a ``SourceRow`` with a ``problem`` naming its location.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sharedlm._errors import UsageError
from sharedlm.runner._source import SourceRow

FORMATS = ("jsonl", "csv", "parquet")
_SUFFIX_FORMATS = {
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet", ".pq": "parquet",
}
# Inputs up to this size are counted before the run so progress can show a total and an ETA; bigger
# files are not read twice just for a total (pass --limit to get one).
COUNT_MAX_BYTES = 128 * 1024 * 1024
PARQUET_BATCH_ROWS = 1024
_COUNT_CHUNK = 1024 * 1024
PARQUET_INSTALL_HINT = "pip install 'sharedlm[parquet]'"


def detect_format(path: Path, explicit: str | None = None) -> str:
    """The input format: ``explicit`` when given, else from the file suffix.

    Args:
        path: The input file.
        explicit: ``"jsonl"``, ``"csv"`` or ``"parquet"``, or None to use the suffix.
    """
    if explicit is not None:
        if explicit not in FORMATS:
            raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got {explicit!r}")
        return explicit
    fmt = _SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(
            f"cannot tell the format of input {str(path)!r} from its suffix {path.suffix!r}: "
            f"use .jsonl, .csv or .parquet, or pass --format {{{','.join(FORMATS)}}}"
        )
    return fmt


def check_input(path: Path, fmt: str) -> None:
    """Fail with a usage error when the input cannot be read at all, before any row is sent.

    Args:
        path: The input file.
        fmt: Its format, from :func:`detect_format`.
    """
    if not path.exists():
        raise UsageError(f"input file {str(path)!r} does not exist")
    if path.is_dir():
        raise UsageError(f"input {str(path)!r} is a directory; pass a .jsonl, .csv or .parquet file")
    if not os.access(path, os.R_OK):
        raise UsageError(f"input file {str(path)!r} is not readable")
    if fmt == "parquet":
        _import_parquet()


def _import_parquet() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise UsageError(f"reading Parquet input needs pyarrow, which is not installed: {PARQUET_INSTALL_HINT}") \
            from None
    return pq


def read_rows(path: Path, fmt: str) -> Iterator[SourceRow]:
    """Stream the rows of an input file, one :class:`SourceRow` at a time.

    Args:
        path: The input file.
        fmt: ``"jsonl"``, ``"csv"`` or ``"parquet"``.
    """
    if fmt == "jsonl":
        return _read_jsonl(path)
    if fmt == "csv":
        return _read_csv(path)
    if fmt == "parquet":
        return _read_parquet(path)
    raise UsageError(f"unknown input format {fmt!r}")


def _read_jsonl(path: Path) -> Iterator[SourceRow]:
    with path.open("rb") as file:
        for number, raw in enumerate(file, start=1):
            line = raw.strip()
            if not line:
                continue
            where = f"line {number}"
            try:
                value = json.loads(line)
            except (ValueError, UnicodeDecodeError) as exc:
                yield SourceRow(number=number, fields=None, where=where,
                                problem=f"{path.name} {where} is not valid JSON: {exc}")
                continue
            if not isinstance(value, dict):
                yield SourceRow(number=number, fields=None, where=where,
                                problem=f"{path.name} {where} is a JSON {type(value).__name__}, not an object")
                continue
            yield SourceRow(number=number, fields=value, where=where)


def _read_csv(path: Path) -> Iterator[SourceRow]:
    # utf-8-sig drops the byte-order mark that spreadsheet exports often start with.
    with path.open("r", encoding="utf-8-sig", newline="") as file:
        reader = csv.reader(file)
        header: list[str] | None = None
        number = 0
        last_line = 0
        while True:
            first_line = last_line + 1
            try:
                record = next(reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as exc:
                last_line = reader.line_num
                if header is None:
                    raise UsageError(f"cannot read the header of CSV input {str(path)!r}: {exc}") from None
                number += 1
                where = f"row {number} (line {first_line})"
                yield SourceRow(number=number, fields=None, where=where,
                                problem=f"{path.name} {where} is not valid CSV: {exc}")
                continue
            last_line = reader.line_num
            if not record:
                continue
            if header is None:
                header = _check_header(path, record)
                continue
            number += 1
            where = f"row {number} (line {first_line})"
            if len(record) != len(header):
                yield SourceRow(number=number, fields=None, where=where,
                                problem=f"{path.name} {where} has {len(record)} fields, the header has {len(header)}")
                continue
            yield SourceRow(number=number, fields=dict(zip(header, record, strict=True)), where=where)


def _check_header(path: Path, header: list[str]) -> list[str]:
    names = [name.strip() for name in header]
    if any(not name for name in names):
        raise UsageError(f"CSV input {str(path)!r} has an empty column name in its header line: {header!r}")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise UsageError(f"CSV input {str(path)!r} repeats column names in its header: {duplicates}")
    return names


def _read_parquet(path: Path) -> Iterator[SourceRow]:
    pq = _import_parquet()
    parquet_file = pq.ParquetFile(path)
    number = 0
    try:
        for batch in parquet_file.iter_batches(batch_size=PARQUET_BATCH_ROWS):
            for row in batch.to_pylist():
                number += 1
                yield SourceRow(number=number, fields=row, where=f"row {number}")
    finally:
        parquet_file.close()


def count_rows(path: Path, fmt: str, *, max_bytes: int = COUNT_MAX_BYTES) -> int | None:
    """A cheap row count for progress, or None when the file is too big to read twice for it.

    JSONL and CSV are counted by newlines (blank lines and quoted newlines make it an estimate);
    Parquet's count comes from its footer, at any size.

    Args:
        path: The input file.
        fmt: Its format.
        max_bytes: Text files larger than this are not counted.
    """
    if fmt == "parquet":
        pq = _import_parquet()
        with pq.ParquetFile(path) as parquet_file:
            return int(parquet_file.metadata.num_rows)
    size = path.stat().st_size
    if size > max_bytes:
        return None
    lines = 0
    last = b"\n"
    with path.open("rb") as file:
        while chunk := file.read(_COUNT_CHUNK):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        lines += 1
    if fmt == "csv":
        lines = max(lines - 1, 0)
    return lines


__all__ = ["COUNT_MAX_BYTES", "FORMATS", "check_input", "count_rows", "detect_format", "read_rows"]
