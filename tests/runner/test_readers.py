"""Behaviour of the input readers: numbering, bad lines reported with their location, formats, counting."""

from __future__ import annotations

import builtins
import json
from pathlib import Path
from typing import Any

import pytest

from sharedlm._errors import UsageError
from sharedlm.runner._readers import check_finished_ids, check_ids, check_input, count_rows, detect_format, read_rows


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
    assert rows[1].fields is None
    assert rows[1].problem is not None
    assert "line 2" in rows[1].problem
    assert "not valid JSON" in rows[1].problem


def test_a_jsonl_line_that_is_not_an_object_is_a_problem_row(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", '[1, 2]\n')

    (row,) = read_rows(path, "jsonl")

    assert row.problem is not None
    assert "JSON list, not an object" in row.problem


def test_invalid_utf8_in_jsonl_is_a_problem_row(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"text": "\xff"}\n{"text": "ok"}\n')

    rows = list(read_rows(path, "jsonl"))

    assert rows[0].problem is not None
    assert rows[1].fields == {"text": "ok"}


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
    assert rows[1].fields is None
    assert rows[1].problem is not None
    assert "row 2 (line 4)" in rows[1].problem
    assert "has 3 fields, the header has 2" in rows[1].problem
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

    assert len(rows) == 2500
    assert rows[-1].number == 2500
    assert rows[-1].fields == {"id": "r2499", "text": "t"}


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


def test_a_cp1252_byte_mid_csv_is_one_error_row_and_every_other_row_is_read(tmp_path: Path) -> None:
    lines = [f"{n},text {n}\n".encode() for n in range(1, 2001)]
    lines[1478] = b"1479,caf\xe9 au lait\n"  # what Excel writes for "café" on Windows
    path = tmp_path / "in.csv"
    path.write_bytes(b"id,text\n" + b"".join(lines))

    rows = list(read_rows(path, "csv"))

    assert [r.number for r in rows] == list(range(1, 2001))
    bad = [r for r in rows if r.fields is None]
    assert [r.number for r in bad] == [1479]
    assert bad[0].problem is not None
    assert "row 1479 (line 1480)" in bad[0].problem
    assert "0xe9" in bad[0].problem
    assert "--encoding cp1252" in bad[0].problem
    assert "café" in bad[0].problem
    assert rows[1479].fields == {"id": "1480", "text": "text 1480"}


def test_a_bad_byte_in_the_first_8_kib_is_an_error_row_not_a_header_error(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(b"id,text\n1,ok\n2,na\xefve\n3,ok\n")

    rows = list(read_rows(path, "csv"))

    assert [(r.number, r.fields is None) for r in rows] == [(1, False), (2, True), (3, False)]


def test_a_bad_byte_in_the_csv_header_is_a_usage_error_suggesting_encoding(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(b"id,r\xe9sum\xe9\n1,a\n")

    with pytest.raises(UsageError, match=r"header.*--encoding cp1252"):
        list(read_rows(path, "csv"))


def test_encoding_reads_a_cp1252_csv_as_text(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes("id,text\n1,café – 5 €\n".encode("cp1252"))

    (row,) = read_rows(path, "csv", encoding="cp1252")

    assert row.fields == {"id": "1", "text": "café – 5 €"}


def test_encoding_reads_a_latin1_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes('{"text": "naïve"}\n'.encode("latin-1"))

    (row,) = read_rows(path, "jsonl", encoding="latin-1")

    assert row.fields == {"text": "naïve"}


def test_an_unknown_or_unsupported_encoding_is_a_usage_error(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", "id\n1\n")

    with pytest.raises(UsageError, match="not an encoding Python knows"):
        check_input(path, "csv", encoding="klingon")
    with pytest.raises(UsageError, match="ASCII-compatible"):
        check_input(path, "csv", encoding="utf-16")


def test_a_utf16_input_is_refused_with_a_conversion_hint(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes("id,text\n1,a\n".encode("utf-16"))

    with pytest.raises(UsageError, match=r"UTF-16.*iconv"):
        check_input(path, "csv")


def test_a_quoted_csv_field_over_the_field_limit_is_an_error_row_for_that_record_alone(tmp_path: Path) -> None:
    huge = "x" * (130 * 1024) + "\nstill, the same \"\"field\"\"\n" + "y" * 2048
    path = tmp_path / "in.csv"
    path.write_text(f'id,text\n1,a\n2,"{huge}"\n3,c\n', encoding="utf-8")

    rows = list(read_rows(path, "csv"))

    assert [r.number for r in rows] == [1, 2, 3]
    assert rows[1].fields is None
    assert rows[1].problem is not None
    assert "row 2 (line 3)" in rows[1].problem
    assert "131,072 characters" in rows[1].problem
    assert rows[2].fields == {"id": "3", "text": "c"}
    assert rows[2].where == "row 3 (line 6)"


def test_a_record_over_the_byte_limit_is_skipped_to_its_end_without_being_held(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", 'id,text\n1,"' + "z" * 5000 + '\n,still inside"\n2,b\n')

    rows = list(read_rows(path, "csv", max_record_bytes=1000))

    assert [r.number for r in rows] == [1, 2]
    assert rows[0].problem is not None
    assert "over the 1,000-byte limit" in rows[0].problem
    assert rows[1].fields == {"id": "2", "text": "b"}


def test_an_unclosed_quote_runs_to_the_end_of_the_file_as_one_record(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", 'id,text\n1,"open\n2,b\n')

    rows = list(read_rows(path, "csv"))

    assert [(r.number, r.fields) for r in rows] == [(1, {"id": "1", "text": "open\n2,b\n"})]


def test_csv_lines_may_end_with_a_lone_carriage_return(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(b'id,text\r1,"a\rb"\r2,c')

    rows = list(read_rows(path, "csv"))

    assert [(r.number, r.fields, r.where) for r in rows] == [
        (1, {"id": "1", "text": "a\rb"}, "row 1 (line 2)"), (2, {"id": "2", "text": "c"}, "row 2 (line 4)")]


def test_a_deeply_nested_jsonl_line_is_an_error_row_and_the_next_line_is_read(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text("[" * 100_000 + "\n" + '{"text": "after"}\n', encoding="utf-8")

    rows = list(read_rows(path, "jsonl"))

    assert rows[0].problem is not None
    assert "nested too deeply" in rows[0].problem
    assert rows[1].fields == {"text": "after"}


def test_a_jsonl_line_with_a_lone_surrogate_is_an_error_row_naming_the_field(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", '{"text": "\\ud83d"}\n{"text": "\\ud83d\\ude00"}\n')

    rows = list(read_rows(path, "jsonl"))

    assert rows[0].problem is not None
    assert "lone surrogate" in rows[0].problem
    assert "'text'" in rows[0].problem
    assert rows[1].fields == {"text": "\N{GRINNING FACE}"}


def test_a_jsonl_line_over_the_byte_limit_is_an_error_row(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", '{"text": "' + "a" * 500 + '"}\n{"text": "b"}\n')

    rows = list(read_rows(path, "jsonl", max_record_bytes=100))

    assert rows[0].problem is not None
    assert "over the 100-byte limit" in rows[0].problem
    assert rows[1].fields == {"text": "b"}


def test_invalid_utf8_in_jsonl_names_the_byte_and_suggests_encoding(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"text": "caf\xe9"}\n')

    (row,) = read_rows(path, "jsonl")

    assert row.problem is not None
    assert "line 1" in row.problem
    assert "0xe9" in row.problem
    assert "--encoding cp1252" in row.problem


def test_the_digest_sees_every_byte_read_up_to_the_last_row_taken(tmp_path: Path) -> None:
    from sharedlm.runner._fingerprint import ContentDigest

    data = b'id,text\n\n1,a\n2,"b\nc"\n3,d\n'
    path = tmp_path / "in.csv"
    path.write_bytes(data)
    digest = ContentDigest()
    reader = read_rows(path, "csv", digest=digest)

    next(reader)
    next(reader)

    assert digest.bytes == len(b'id,text\n\n1,a\n2,"b\nc"\n')


def test_a_csv_header_that_cannot_be_read_is_refused_by_the_input_check(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(b"\nid,r\xe9sum\xe9\n1,a\n")

    with pytest.raises(UsageError, match=r"header of CSV input .*0xe9"):
        check_input(path, "csv")


# Ids: a row reported under its number must not share that id with a row giving the number as its own id.


def test_a_line_without_an_id_and_a_later_line_giving_its_number_as_id_are_refused_naming_both(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", '{"text": "a"}\n{"id": "x", "text": "b"}\n{"text": "c"}\n'
                                        '{"id": 3, "text": "d"}\n')

    with pytest.raises(UsageError) as caught:
        check_ids(path, "jsonl", id_field="id")

    message = str(caught.value)
    assert "line 3 has no 'id' of its own" in message
    assert "line 4 gives 3 as its 'id'" in message
    assert "give line 3 an 'id' of its own, or give line 4 another 'id'" in message


def test_a_line_giving_a_later_lines_number_as_its_id_is_refused_too(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", '{"id": "2", "text": "a"}\n{"text": "b"}\n')

    with pytest.raises(UsageError, match=r"line 2 has no 'id' of its own.*line 1 gives '2' as its 'id'"):
        check_ids(path, "jsonl", id_field="id")


def test_an_undecodable_line_collides_with_a_line_giving_its_number_as_id(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"id": "a", "text": "x"}\n{"text": "caf\xe9"}\n{"id": 2, "text": "y"}\n')

    with pytest.raises(UsageError, match=r"line 2 cannot be read \(.*not valid UTF-8.*line 3 gives 2 as its 'id'"):
        check_ids(path, "jsonl", id_field="id")


def test_a_line_whose_id_is_not_a_string_or_whole_number_is_reported_under_its_number(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", '{"id": "a", "text": "x"}\n{"id": 2.5, "text": "y"}\n{"id": 2, "text": "z"}\n')

    with pytest.raises(UsageError, match=r"line 2 has 'id' 2\.5, which is not a string or a whole number"):
        check_ids(path, "jsonl", id_field="id")


def test_a_csv_row_with_an_empty_id_collides_with_a_row_giving_its_row_number_as_text(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", "id,text\na,x\n,y\n2,z\n")

    with pytest.raises(UsageError, match=r"row 2 \(line 3\) has no 'id' of its own.*row 3 \(line 4\) gives '2'"):
        check_ids(path, "csv", id_field="id")


def test_a_csv_row_with_the_wrong_number_of_fields_collides_with_a_row_giving_its_row_number(tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", "id,text\na,x\nlonely\n2,z\n")

    with pytest.raises(UsageError, match=r"row 2 \(line 3\) cannot be read \(.*has 1 fields"):
        check_ids(path, "csv", id_field="id")


def test_a_parquet_row_with_a_null_id_collides_with_a_row_giving_its_row_number(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": [None, 1], "text": ["x", "y"]}), path)

    with pytest.raises(UsageError, match=r"row 1 has no 'id' of its own.*row 2 gives 1 as its 'id'"):
        check_ids(path, "parquet", id_field="id")


def test_ids_whose_text_is_not_a_row_number_never_collide(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", '{"text": "a"}\n{"text": "b"}\n{"id": "02"}\n{"id": "2.0"}\n{"id": " 2"}\n'
                                        '{"id": 0}\n{"id": -1}\n{"id": "1e0"}\n')

    check_ids(path, "jsonl", id_field="id")


def test_ids_equal_to_their_own_line_numbers_pass_beside_rows_without_ids(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", '{"id": 1}\n{"text": "b"}\n{"id": "3"}\n{"text": "d"}\n')

    check_ids(path, "jsonl", id_field="id")


def test_the_number_of_a_blank_line_is_no_rows_id_so_an_id_may_take_it(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", '{"text": "a"}\n\n{"id": 2, "text": "c"}\n')

    check_ids(path, "jsonl", id_field="id")


def test_only_the_rows_a_limited_run_takes_are_checked_for_ids(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", '{"text": "a"}\n{"id": "x"}\n{"id": 1}\n')

    check_ids(path, "jsonl", id_field="id", limit=2)
    with pytest.raises(UsageError, match="line 3 gives 1"):
        check_ids(path, "jsonl", id_field="id", limit=3)


def test_the_id_check_reads_ids_from_the_field_it_is_given(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", '{"text": "a"}\n{"id": 1, "key": "k"}\n')

    check_ids(path, "jsonl", id_field="key")
    with pytest.raises(UsageError, match="line 2 gives 1 as its 'id'"):
        check_ids(path, "jsonl", id_field="id")


def test_a_resume_refuses_a_row_without_an_id_at_the_number_a_gone_row_finished_as_its_id(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", '{"id": "a"}\n{"text": "new"}\n')

    with pytest.raises(UsageError, match=r"line 2 has no 'id' of its own.*2 is the 'id' of a row the earlier run"):
        check_finished_ids(path, "jsonl", id_field="id", finished={"a", "2"}, output=tmp_path / "out.jsonl")


def test_a_resume_whose_finished_ids_are_not_row_numbers_does_not_read_the_input(tmp_path: Path) -> None:
    missing = tmp_path / "gone.jsonl"  # reading it would fail: proves it is not read

    check_finished_ids(missing, "jsonl", id_field="id", finished={"a", "02", "r7"}, output=tmp_path / "out.jsonl")
