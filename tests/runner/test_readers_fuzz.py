"""Property tests of the CSV and JSONL readers: every input record is accounted for exactly once.

Whatever the bytes (valid or broken records, undecodable bytes, embedded newlines, quotes and NULs, long
fields, lines read in pieces), a reader yields one row per record, numbered without gaps, and reads every
record it can read exactly as the ``csv`` module (for CSV) reads the whole file at once.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
from collections.abc import Iterator
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sharedlm.runner import _readers
from sharedlm.runner._readers import read_rows

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Small limits, so long fields and oversized records come up in small examples.
FIELD_LIMIT = 40
RECORD_LIMIT = 300
CHUNKS = st.sampled_from([1, 3, 7, 64, 1 << 20])

CSV_TOKENS = [b'"', b",", b"\n", b"\r", b"\r\n", b"\x00", b"a", b"bc", b" ", b'""', b"\xff", b"\xe9", b"\x81",
              "é".encode(), "€".encode(), b"a" * 50, b'"' + b"q" * 45 + b'"']
JSONL_TOKENS = [b'{"a": 1}', b'{"t": "x"}', b"{", b"}", b"[", b"]", b'"\\ud83d"', b'"\\ud83d\\ude00"', b":", b",",
                b"\n", b"\r\n", b" ", b"\t", b"\xff", b"\xe9", b"\x00", b"null", b"[" * 3000, b'{"t": "' + b"y" * 400]


@contextlib.contextmanager
def limits(*, field: int, chunk: int) -> Iterator[None]:
    old_field, old_chunk = csv.field_size_limit(), _readers._READ_CHUNK
    csv.field_size_limit(field)
    _readers._READ_CHUNK = chunk
    try:
        yield
    finally:
        csv.field_size_limit(old_field)
        _readers._READ_CHUNK = old_chunk


def codec_of(encoding: str | None) -> str:
    return "utf-8-sig" if encoding is None else encoding


def decoded(data: bytes, encoding: str | None) -> str:
    return codecs.decode(data, codec_of(encoding), _readers._ESCAPE_ERRORS)


def csv_records_by_the_csv_module(data: bytes, encoding: str | None) -> list[list[str]]:
    """The non-blank records of the whole file as ``csv`` reads it at once, with no field limit."""
    with limits(field=1 << 30, chunk=_readers._READ_CHUNK):
        text = io.TextIOWrapper(io.BytesIO(data), encoding=codec_of(encoding), errors=_readers._ESCAPE_ERRORS,
                                newline="")
        return [record for record in csv.reader(text) if record]


def write_input(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@FUZZ
@given(body=st.lists(st.sampled_from(CSV_TOKENS), max_size=60), encoding=st.sampled_from([None, "cp1252", "latin-1"]),
       chunk=CHUNKS)
def test_every_csv_record_is_one_row_numbered_without_gaps(tmp_path_factory: object, body: list[bytes],
                                                           encoding: str | None, chunk: int) -> None:
    data = b"a,b\n" + b"".join(body)
    path = write_input(tmp_path_factory.mktemp("csv"), "in.csv", data)  # type: ignore[attr-defined]

    with limits(field=FIELD_LIMIT, chunk=chunk):
        rows = list(read_rows(path, "csv", encoding=encoding, max_record_bytes=RECORD_LIMIT))

    expected = csv_records_by_the_csv_module(data, encoding)[1:]
    assert [row.number for row in rows] == list(range(1, len(expected) + 1))
    for row, record in zip(rows, expected, strict=True):
        assert (row.fields is None) == (row.problem is not None)
        if row.fields is not None:
            assert list(row.fields.values()) == record


@FUZZ
@given(records=st.lists(st.lists(st.text(alphabet='ab ,"\n\r\x00é', max_size=60), min_size=3, max_size=3),
                        max_size=25),
       corrupt=st.lists(st.booleans(), min_size=25, max_size=25), encoding=st.sampled_from(["utf-8", "cp1252"]),
       terminator=st.sampled_from(["\n", "\r\n"]), chunk=CHUNKS)
def test_csv_records_read_back_exactly_and_broken_ones_are_error_rows(
        tmp_path_factory: object, records: list[list[str]], corrupt: list[bool], encoding: str, terminator: str,
        chunk: int) -> None:
    bad_byte = b"\xff" if encoding == "utf-8" else b"\x81"  # never valid in that encoding
    blobs = []
    for index, record in enumerate(records):
        line = io.StringIO()
        # csv's writer leaves a lone CR unquoted unless it is in the line terminator: quote everything then.
        lone_cr = any("\r" in field for field in record)
        csv.writer(line, lineterminator=terminator, quoting=csv.QUOTE_ALL if lone_cr else csv.QUOTE_MINIMAL
                   ).writerow([*record, "tail"])
        blob = line.getvalue().encode(encoding)
        if corrupt[index]:
            blob = blob[:-len(terminator)] + bad_byte + terminator.encode()  # into the unquoted last field
        blobs.append(blob)
    path = write_input(tmp_path_factory.mktemp("csv"), "in.csv",  # type: ignore[attr-defined]
                       b"a,b,c,d" + terminator.encode() + b"".join(blobs))

    with limits(field=FIELD_LIMIT, chunk=chunk):
        rows = list(read_rows(path, "csv", encoding=encoding, max_record_bytes=RECORD_LIMIT))

    assert [row.number for row in rows] == list(range(1, len(records) + 1))
    for index, (row, record) in enumerate(zip(rows, records, strict=True)):
        broken = corrupt[index] or len(blobs[index]) > RECORD_LIMIT or max(map(len, record)) > FIELD_LIMIT
        assert (row.fields is None) == broken, row.problem
        if not broken:
            assert row.fields == dict(zip("abcd", [*record, "tail"], strict=True))


@FUZZ
@given(body=st.lists(st.sampled_from(JSONL_TOKENS), max_size=40), encoding=st.sampled_from([None, "cp1252"]),
       chunk=CHUNKS)
def test_every_non_blank_jsonl_line_is_one_row_under_its_line_number(tmp_path_factory: object, body: list[bytes],
                                                                     encoding: str | None, chunk: int) -> None:
    data = b"".join(body)
    path = write_input(tmp_path_factory.mktemp("jsonl"), "in.jsonl", data)  # type: ignore[attr-defined]

    with limits(field=FIELD_LIMIT, chunk=chunk):
        rows = list(read_rows(path, "jsonl", encoding=encoding, max_record_bytes=RECORD_LIMIT))

    lines = data.split(b"\n")
    expected = [number for number, line in enumerate(lines, start=1) if decoded(line, encoding).strip(" \t\r\n")]
    assert [row.number for row in rows] == expected
    for row in rows:
        assert (row.fields is None) == (row.problem is not None)
        assert row.fields is None or isinstance(row.fields, dict)
