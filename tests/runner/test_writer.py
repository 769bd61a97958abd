"""Behaviour of the output file checks and the result writer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sharedlm._errors import UsageError
from sharedlm.runner._results import RowError, RowResult, TokenUsage
from sharedlm.runner._writer import ResultWriter, check_output


def result(row_id: str | int, *, error: str | None = None) -> RowResult:
    return RowResult(id=row_id, output=None if error else {"a": 1}, error=RowError("E", error) if error else None,
                     attempts=1, latency_s=0.25, usage=TokenUsage(3, 4))


def test_a_non_empty_output_is_refused_naming_resume_and_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text('{"id": 1}\n')

    with pytest.raises(UsageError, match="--resume") as caught:
        check_output(path, resume=False, overwrite=False)

    assert "--overwrite" in str(caught.value)


def test_an_empty_or_missing_output_is_accepted_and_not_created(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.touch()
    missing = tmp_path / "missing.jsonl"

    check_output(empty, resume=False, overwrite=False)
    check_output(missing, resume=False, overwrite=False)

    assert not missing.exists()


def test_an_output_in_a_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        check_output(tmp_path / "no" / "out.jsonl", resume=False, overwrite=False)


def test_an_output_that_cannot_be_opened_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")

    with pytest.raises(UsageError):
        check_output(blocker / "out.jsonl", resume=False, overwrite=False)


def test_a_directory_as_output_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is a directory"):
        check_output(tmp_path, resume=False, overwrite=True)


def test_resume_and_overwrite_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="contradict"):
        check_output(tmp_path / "out.jsonl", resume=True, overwrite=True)


def test_the_writer_appends_one_json_line_per_result(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text('{"id": "old", "output": {}, "error": null}\n')

    with ResultWriter(path) as writer:
        writer.write(result(1))
        writer.write(result("two", error="bad"))

    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["id"] for line in lines] == ["old", 1, "two"]
    assert lines[1] == {"id": 1, "output": {"a": 1}, "error": None, "attempts": 1, "latency_s": 0.25,
                        "usage": {"prompt_tokens": 3, "completion_tokens": 4}, "cost_usd": 0.0}
    assert lines[2]["error"] == {"type": "E", "message": "bad"}


def test_each_line_reaches_the_file_before_the_writer_is_closed(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    writer = ResultWriter(path)

    writer.write(result(1))

    assert path.read_text().count("\n") == 1
    writer.close()


def test_truncate_empties_the_file_first(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text("old\n")

    with ResultWriter(path, truncate=True) as writer:
        writer.write(result(1))

    assert len(path.read_text().splitlines()) == 1


def test_a_lone_surrogate_in_a_result_is_written_as_a_json_escape(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    lone = RowResult(id="s\ud83d", output={"text": "half \ud83d of a pair"}, error=None, attempts=1, latency_s=0.0)

    with ResultWriter(path) as writer:
        written = writer.write(lone)

    (line,) = path.read_bytes().splitlines()
    assert written is lone
    assert json.loads(line) == {**lone.as_json_dict(), "latency_s": 0.0}
    assert b"\\ud83d" in line


def test_a_result_that_cannot_be_json_becomes_an_error_line_for_its_row(tmp_path: Path) -> None:
    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no text for this value")

    path = tmp_path / "out.jsonl"
    broken = RowResult(id=7, output={"value": Unprintable()}, error=None, attempts=2, latency_s=0.5)

    with ResultWriter(path) as writer:
        written = writer.write(broken)
        writer.write(result(8))

    lines = [json.loads(text) for text in path.read_text().splitlines()]
    assert written.error is not None
    assert written.error.type == "OutputError"
    assert [line["id"] for line in lines] == [7, 8]
    assert lines[0]["error"]["type"] == "OutputError"
    assert "no text for this value" in lines[0]["error"]["message"]
    assert lines[0]["attempts"] == 2
