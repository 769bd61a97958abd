"""Behaviour of --resume's scan and compaction of an earlier run's output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sharedlm.runner._resume import prepare_resume, temp_path_for


def line(row_id: Any, *, ok: bool = True, tag: str = "") -> str:
    return json.dumps({"id": row_id, "output": {"tag": tag} if ok else None,
                       "error": None if ok else {"type": "E", "message": "m"}}) + "\n"


def ids_and_tags(path: Path) -> list[tuple[Any, Any]]:
    rows = [json.loads(text) for text in path.read_text().splitlines()]
    return [(row["id"], (row["output"] or {}).get("tag")) for row in rows]


def test_a_missing_output_means_nothing_is_done(tmp_path: Path) -> None:
    state = prepare_resume(tmp_path / "out.jsonl")

    assert state.done_keys == set()
    assert not state.rewritten


def test_succeeded_ids_are_done_and_failed_ones_are_dropped_to_run_again(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text(line(1) + line(2, ok=False) + line("c"))

    state = prepare_resume(path)

    assert state.done_keys == {"1", "c"}
    assert state.failed == 1
    assert ids_and_tags(path) == [(1, ""), ("c", "")]


def test_a_torn_last_line_is_tolerated_and_dropped(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text(line(1) + line(2)[:15])

    state = prepare_resume(path)

    assert state.done_keys == {"1"}
    assert state.torn == 1
    assert path.read_text() == line(1)


def test_the_latest_successful_line_of_an_id_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text(line(1, tag="old") + line(2) + line(1, tag="new"))

    state = prepare_resume(path)

    assert state.superseded == 1
    assert ids_and_tags(path) == [(2, ""), (1, "new")]


def test_an_id_that_failed_after_succeeding_keeps_its_success(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text(line(1, tag="ok") + line(1, ok=False))

    state = prepare_resume(path)

    assert state.done_keys == {"1"}
    assert ids_and_tags(path) == [(1, "ok")]


def test_a_compact_file_is_not_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text(line(1) + line(2))
    inode = path.stat().st_ino

    state = prepare_resume(path)

    assert not state.rewritten
    assert path.stat().st_ino == inode


def test_a_missing_final_newline_is_repaired(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text(line(1) + line(2).rstrip("\n"))

    state = prepare_resume(path)

    assert state.done_keys == {"1", "2"}
    assert path.read_text().endswith("\n")


def test_a_temp_file_left_by_a_crash_during_compaction_is_removed_and_the_output_is_intact(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text(line(1) + line(2, ok=False))
    temp_path_for(path).write_text(line(1)[:10])  # what a crash halfway through the rewrite leaves

    state = prepare_resume(path)

    assert not temp_path_for(path).exists()
    assert state.done_keys == {"1"}
    assert ids_and_tags(path) == [(1, "")]


def test_describe_names_what_was_found(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text(line(1) + line(2, ok=False) + "{torn")

    text = prepare_resume(path).describe()

    assert "1 rows already succeeded" in text
    assert "1 failed rows will run again" in text
    assert "incomplete" in text


# `sharedlm run --resume` end to end: a row reported under its number is never skipped for another row's id.

ECHO = f"{Path(__file__).parent / 'fixtures' / 'programs.py'}:Echo"


def run_cli(monkeypatch: pytest.MonkeyPatch, *args: str | Path) -> int:
    from sharedlm._cli import main

    monkeypatch.setenv("SHAREDLM_API_KEY", "test-key")  # Echo never calls the LM; the shared LM needs a key
    return main(["run", ECHO, *map(str, args), "--progress", "off"])


def test_resume_never_skips_an_unreadable_line_as_done_by_a_line_giving_its_number_as_id(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"id": "a", "text": "x"}\n{"text": "caf\xe9"}\n{"id": 2, "text": "y"}\n')
    out = tmp_path / "out.jsonl"
    # What a run that let line 3 hold id 2 left: line 2 (undecodable) failed under its number, line 3 succeeded.
    out.write_text(json.dumps({"id": "a", "output": {"upper": "X"}, "error": None}) + "\n"
                   + json.dumps({"id": 2, "output": None, "error": {"type": "InputError", "message": "m"}}) + "\n"
                   + json.dumps({"id": 2, "output": {"upper": "Y"}, "error": None}) + "\n")
    before = out.read_bytes()

    code = run_cli(monkeypatch, "--input", source, "--output", out, "--encoding", "cp1252", "--resume")

    assert code == 2
    assert out.read_bytes() == before


def test_resume_never_skips_a_new_row_without_an_id_at_the_number_a_gone_row_finished_as_its_id(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a", "text": "x"}\n{"id": 2, "text": "y"}\n')
    out = tmp_path / "out.jsonl"
    assert run_cli(monkeypatch, "--input", source, "--output", out) == 0
    source.write_text('{"id": "a", "text": "x"}\n{"text": "new"}\n')  # line 2 replaced by a row without an id
    before = out.read_bytes()

    code = run_cli(monkeypatch, "--input", source, "--output", out, "--resume")

    assert code == 2
    assert out.read_bytes() == before


def test_a_csv_run_whose_numbered_row_collides_with_a_row_id_exits_2_and_writes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.csv"
    source.write_text("id,text\na,x\nlonely\n2,z\n")
    out = tmp_path / "out.jsonl"

    code = run_cli(monkeypatch, "--input", source, "--output", out)

    assert code == 2
    assert not out.exists()
    assert "row 2 (line 3) cannot be read" in capsys.readouterr().err
