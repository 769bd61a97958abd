"""JSONL input is RFC 8259 JSON: a NaN/Infinity token or a number too large for a float makes its line an error row.

``json.loads`` reads ``NaN``, ``Infinity`` and ``-Infinity``, and reads ``1e400`` as infinity; none of these is JSON
and no provider API takes the float it becomes. Such a line is refused like any unreadable line: an error row under
its line number naming the field, the rest of the file read as usual.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sharedlm._cli import main
from sharedlm.runner._readers import check_input, read_rows

ECHO = f"{Path(__file__).parent / 'fixtures' / 'programs.py'}:Echo"


def write(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def strict_json(line: str) -> Any:
    def refuse(token: str) -> Any:
        raise AssertionError(f"{token} in an output line: not JSON")

    return json.loads(line, parse_constant=refuse)


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_a_nan_or_infinity_token_makes_the_line_an_error_row_naming_line_token_and_field(tmp_path: Path,
                                                                                       token: str) -> None:
    path = write(tmp_path / "in.jsonl", '{"text": "a"}', f'{{"text": "b", "score": {token}}}')

    rows = list(read_rows(path, "jsonl"))

    assert rows[1].fields is None
    assert rows[1].problem is not None
    assert rows[1].problem.startswith(f"in.jsonl line 2 has {token} in field .score")


def test_the_message_of_a_nan_says_what_to_write_instead(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", '{"score": NaN}')

    (row,) = read_rows(path, "jsonl")

    assert row.problem is not None
    assert 'write null or a string such as "NaN" there instead' in row.problem


@pytest.mark.parametrize("number", ["1e400", "-1e400", "1E+400", "1" + "0" * 400 + ".0", "1" + "0" * 250 + "e99"],
                         ids=["exponent", "negative", "capital-plus", "long-digits", "digits-and-exponent"])
def test_a_number_too_large_for_a_float_makes_the_line_an_error_row(tmp_path: Path, number: str) -> None:
    path = write(tmp_path / "in.jsonl", f'{{"x": {number}}}')

    (row,) = read_rows(path, "jsonl")

    assert row.fields is None
    assert row.problem is not None
    assert "line 1 has a number in field .x too large for a 64-bit float" in row.problem
    assert "write null, a string, or a number within" in row.problem


@pytest.mark.parametrize(("line", "field"), [
    ('{"meta": {"scores": [1.5, 2, NaN]}}', ".meta.scores[2]"),
    ('{"rows": [{"v": 1}, {"v": -Infinity}]}', ".rows[1].v"),
    ('{"a b": [[0, 1e999]]}', '.["a b"][0][1]'),
])
def test_a_value_nested_in_lists_and_objects_is_named_by_its_jq_path(tmp_path: Path, line: str,
                                                                     field: str) -> None:
    path = write(tmp_path / "in.jsonl", line)

    (row,) = read_rows(path, "jsonl")

    assert row.problem is not None
    assert f" in field {field}" in row.problem


def test_a_nan_under_a_key_given_twice_still_makes_the_line_an_error_row(tmp_path: Path) -> None:
    # The later value replaces the NaN, but the line is still not JSON: it is refused, never read silently.
    path = write(tmp_path / "in.jsonl", '{"a": NaN, "a": 1}')

    (row,) = read_rows(path, "jsonl")

    assert row.fields is None
    assert row.problem is not None
    assert "under a key given twice" in row.problem


def test_every_line_around_a_refused_one_is_read_as_usual_and_numbered_once(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", '{"n": 1}', '{"n": NaN}', "", '{"n": 1e400}', '{"n": 4}')

    rows = list(read_rows(path, "jsonl"))

    assert [(row.number, row.fields) for row in rows] == [(1, {"n": 1}), (2, None), (4, None), (5, {"n": 4})]


def test_finite_numbers_and_the_words_nan_and_infinity_in_text_are_read_as_usual(tmp_path: Path) -> None:
    # Guards the check's precision: only the tokens and overflowed floats are refused, never text or big values.
    big_int = int("9" * 400)
    path = write(tmp_path / "in.jsonl", f'{{"t": "NaN Infinity 1e400", "max": 1.7976931348623157e308, '
                                        f'"tiny": 1e-400, "big": {big_int}, "neg": -0.0}}')

    (row,) = read_rows(path, "jsonl")

    assert row.problem is None
    assert row.fields == {"t": "NaN Infinity 1e400", "max": 1.7976931348623157e308, "tiny": 0.0, "big": big_int,
                          "neg": -0.0}


def test_a_nan_on_the_first_line_is_that_lines_error_not_a_refusal_of_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", '{"text": NaN}', '{"text": "b"}')

    check_input(path, "jsonl")  # the whole-file probe does not refuse it: only its line is bad
    rows = list(read_rows(path, "jsonl"))

    assert rows[0].problem is not None
    assert "line 1 has NaN" in rows[0].problem
    assert rows[1].fields == {"text": "b"}


def test_a_run_writes_an_input_error_line_for_a_nan_row_and_every_output_line_is_json(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHAREDLM_API_KEY", "test-key")  # Echo never calls the LM; the shared LM needs a key
    source = write(tmp_path / "in.jsonl", '{"text": "a"}', '{"text": NaN}', '{"text": "c"}')
    out = tmp_path / "out.jsonl"

    code = main(["run", ECHO, "--input", str(source), "--output", str(out), "--progress", "off"])

    by_id = {line["id"]: line for line in map(strict_json, out.read_text(encoding="utf-8").splitlines())}
    assert code == 1
    assert set(by_id) == {1, 2, 3}
    assert by_id[2]["error"]["type"] == "InputError"
    assert "line 2 has NaN in field .text" in by_id[2]["error"]["message"]
    assert by_id[3]["output"] == {"upper": "C"}
