"""Behaviour of the input readers: numbering, bad lines reported with their location, formats, counting."""

from __future__ import annotations

import builtins
import json
from pathlib import Path
from typing import Any

import pytest

from sharedlm._errors import UsageError
from sharedlm.runner._readers import check_input, count_rows, detect_format, read_rows


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_jsonl_rows_are_numbered_by_file_line_and_blank_lines_are_skipped(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", '{"text": "a"}\n\n{"text": "b"}\n')

    rows = list(read_rows(path, "jsonl"))

    assert [(r.number, r.fields) for r in rows] == [(1, {"text": "a"}), (3, {"text": "b"})]


def test_a_malformed_jsonl_line_becomes_a_problem_row_naming_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", '{"text": "a"}\n{"text": \n{"text": "c"}\n')

    rows = list(read_rows(path, "jsonl"))

    assert [r.number for r in rows] == [1, 2, 3]
    assert rows[1].fields is None and rows[1].problem is not None
    assert "line 2" in rows[1].problem and "not valid JSON" in rows[1].problem


def test_a_jsonl_line_that_is_not_an_object_is_a_problem_row(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", '[1, 2]\n')

    (row,) = read_rows(path, "jsonl")

    assert row.problem is not None and "JSON list, not an object" in row.problem


def test_invalid_utf8_in_jsonl_is_a_problem_row(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"text": "\xff"}\n{"text": "ok"}\n')

    rows = list(read_rows(path, "jsonl"))

    assert rows[0].problem is not None and rows[1].fields == {"text": "ok"}


def test_jsonl_is_read_one_line_at_a_time(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", "".join(json.dumps({"n": n}) + "\n" for n in range(3)))
    reader = read_rows(path, "jsonl")

    first = next(reader)
    with path.open("a", encoding="utf-8") as file:  # lines appended after reading started are still seen
        file.write('{"n": 3}\n')

    assert first.fields == {"n": 0}
    assert [r.fields["n"] for r in reader if r.fields] == [1, 2, 3]


def test_csv_rows_are_numbered_without_the_header(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", "id,text\nx,hello\n,world\n")

    rows = list(read_rows(path, "csv"))

    assert [(r.number, r.fields) for r in rows] == [(1, {"id": "x", "text": "hello"}), (2, {"id": "", "text": "world"})]


def test_a_csv_row_with_the_wrong_number_of_fields_names_row_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", 'id,text\n1,"two\nlines"\n2,a,b\n3,c\n')

    rows = list(read_rows(path, "csv"))

    assert [r.number for r in rows] == [1, 2, 3]
    assert rows[1].fields is None and rows[1].problem is not None
    assert "row 2 (line 4)" in rows[1].problem and "has 3 fields, the header has 2" in rows[1].problem
    assert rows[2].fields == {"id": "3", "text": "c"}


def test_a_csv_byte_order_mark_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes("\ufeffid,text\n1,a\n".encode())

    (row,) = read_rows(path, "csv")

    assert row.fields == {"id": "1", "text": "a"}


def test_a_csv_header_with_repeated_names_is_a_usage_error(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", "text,text\na,b\n")

    with pytest.raises(UsageError, match="repeats column names"):
        list(read_rows(path, "csv"))


def test_parquet_rows_are_read_in_batches(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": [f"r{n}" for n in range(2500)], "text": ["t"] * 2500}), path)

    rows = list(read_rows(path, "parquet"))

    assert len(rows) == 2500 and rows[-1].number == 2500 and rows[-1].fields == {"id": "r2499", "text": "t"}


def test_parquet_without_pyarrow_is_a_usage_error_naming_the_extra(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "in.parquet"
    path.write_bytes(b"PAR1")
    real_import = builtins.__import__

    def no_pyarrow(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("pyarrow"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)

    with pytest.raises(UsageError, match=r"pip install 'sharedlm\[parquet\]'"):
        check_input(path, "parquet")


@pytest.mark.parametrize(("name", "fmt"), [("a.jsonl", "jsonl"), ("a.NDJSON", "jsonl"), ("a.csv", "csv"),
                                           ("a.parquet", "parquet")])
def test_the_format_comes_from_the_suffix(name: str, fmt: str) -> None:
    assert detect_format(Path(name)) == fmt


def test_an_unknown_suffix_is_a_usage_error_naming_format() -> None:
    with pytest.raises(UsageError, match="--format"):
        detect_format(Path("rows.txt"))


def test_an_explicit_format_wins_over_the_suffix() -> None:
    assert detect_format(Path("rows.txt"), "csv") == "csv"


def test_a_missing_input_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        check_input(tmp_path / "nope.jsonl", "jsonl")


def test_small_text_files_are_counted_by_lines(tmp_path: Path) -> None:
    jsonl = write(tmp_path / "in.jsonl", '{"a": 1}\n{"a": 2}\n{"a": 3}')
    csv_path = write(tmp_path / "in.csv", "id\n1\n2\n")

    assert count_rows(jsonl, "jsonl") == 3
    assert count_rows(csv_path, "csv") == 2


def test_files_above_the_count_limit_are_not_counted(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", '{"a": 1}\n' * 100)

    assert count_rows(path, "jsonl", max_bytes=10) is None
