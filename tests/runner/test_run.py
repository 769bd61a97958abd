"""Behaviour of `sharedlm run` end to end, in process: exit codes, error rows, refusals, resume, limit."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sharedlm._cli import main
from sharedlm.simulator import BackgroundSimulator, SimulatorSettings

FIXTURES = Path(__file__).parent / "fixtures" / "programs.py"
ECHO = f"{FIXTURES}:Echo"


@pytest.fixture(autouse=True)
def _offline_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # The fixture programs never call the LM; the shared LM only needs a key to be built.
    monkeypatch.setenv("SHAREDLM_API_KEY", "test-key")


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return path


def read_output(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def run(*args: str | Path) -> int:
    return main(["run", *map(str, args), "--progress", "off"])


def test_a_run_where_every_row_succeeds_exits_0_with_one_line_per_row(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": f"r{n}", "text": f"t{n}"} for n in range(20)])
    out = tmp_path / "out.jsonl"

    code = run(ECHO, "--input", source, "--output", out, "--concurrency", "4")

    lines = read_output(out)
    assert code == 0
    assert sorted(line["id"] for line in lines) == sorted(f"r{n}" for n in range(20))
    assert {line["id"]: line["output"] for line in lines}["r3"] == {"upper": "T3"}
    assert all(set(line) == {"id", "output", "error", "attempts", "latency_s", "usage", "cost_usd"} for line in lines)


def test_failed_rows_exit_1_and_are_still_written(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "fine"}, {"text": "boom"}])
    out = tmp_path / "out.jsonl"

    code = run(ECHO, "--input", source, "--output", out)

    by_id = {line["id"]: line for line in read_output(out)}
    assert code == 1
    assert by_id[2]["error"]["type"] == "RuntimeError"
    assert by_id[2]["output"] is None
    assert by_id[1]["error"] is None


def test_a_malformed_jsonl_line_is_an_error_row_with_its_line_number_and_the_run_goes_on(tmp_path: Path,
                                                                                        capsys: Any) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "a"}, '{"text": oops}', {"text": "c"}])
    out = tmp_path / "out.jsonl"

    code = run(ECHO, "--input", source, "--output", out)

    by_id = {line["id"]: line for line in read_output(out)}
    assert code == 1
    assert set(by_id) == {1, 2, 3}
    assert by_id[2]["error"]["type"] == "InputError"
    assert "line 2" in by_id[2]["error"]["message"]
    assert by_id[3]["output"] == {"upper": "C"}


def test_a_csv_row_with_the_wrong_number_of_fields_is_an_error_row(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("text\nhello\nto,o many\nbye\n")
    out = tmp_path / "out.jsonl"

    code = run(ECHO, "--input", source, "--output", out)

    by_id = {line["id"]: line for line in read_output(out)}
    assert code == 1
    assert set(by_id) == {1, 2, 3}
    assert "row 2 (line 3)" in by_id[2]["error"]["message"]


def test_rows_whose_fields_do_not_match_fail_naming_the_fields(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "body": "x"}])
    out = tmp_path / "out.jsonl"

    code = run(ECHO, "--input", source, "--output", out)

    (line,) = read_output(out)
    assert code == 1
    assert "missing field 'text'" in line["error"]["message"]
    assert "unexpected field 'body'" in line["error"]["message"]


def test_a_repeated_id_is_an_error_row_for_the_later_row(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}])
    out = tmp_path / "out.jsonl"

    code = run(ECHO, "--input", source, "--output", out)

    lines = read_output(out)
    assert code == 1
    assert [line["output"] for line in lines if line["error"] is None] == [{"upper": "X"}]
    assert "repeats id 'a' of line 1" in next(line["error"]["message"] for line in lines if line["error"])


def test_a_program_that_cannot_be_imported_exits_2_before_any_output(tmp_path: Path, capsys: Any) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "a"}])
    out = tmp_path / "out.jsonl"

    code = run(f"{FIXTURES}:Missing", "--input", source, "--output", out)

    assert code == 2
    assert not out.exists()
    assert "has no attribute 'Missing'" in capsys.readouterr().err


def test_a_program_that_cannot_be_constructed_exits_2(tmp_path: Path, capsys: Any) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "a"}])

    code = run(f"{FIXTURES}:BrokenInit", "--input", source, "--output", tmp_path / "out.jsonl")

    assert code == 2
    assert "cannot build BrokenInit" in capsys.readouterr().err


def test_an_unwritable_output_exits_2_before_the_program_is_even_loaded(tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    program = tmp_path / "prog.py"
    program.write_text(f"open({str(marker)!r}, 'w').close()\nclass P:\n    def __init__(self, shared_lm): pass\n")
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "a"}])

    code = run(f"{program}:P", "--input", source, "--output", tmp_path / "missing-dir" / "out.jsonl")

    assert code == 2
    assert not marker.exists()


@pytest.mark.parametrize("mode", ["--overwrite", "--resume"])
@pytest.mark.parametrize("link", ["same path", "hard link"])
def test_an_output_that_is_the_input_exits_2_and_leaves_the_input_as_it_was(tmp_path: Path, capsys: Any, mode: str,
                                                                            link: str) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "text": "a"}, {"text": "b"}])
    before = source.read_bytes()
    out = source
    if link == "hard link":
        out = tmp_path / "out.jsonl"
        out.hardlink_to(source)

    code = run(ECHO, "--input", source, "--output", out, mode)

    assert code == 2
    assert source.read_bytes() == before
    assert "is the input file" in capsys.readouterr().err


def test_an_output_that_is_the_saved_state_to_load_exits_2_and_leaves_it_as_it_was(tmp_path: Path,
                                                                                    capsys: Any) -> None:
    state = tmp_path / "state.json"
    state.write_text("{}")
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "a"}])

    code = run(ECHO, "--input", source, "--output", state, "--load", state, "--overwrite")

    assert code == 2
    assert state.read_text() == "{}"
    assert "--load" in capsys.readouterr().err


def test_an_input_that_is_not_a_regular_file_exits_2_before_reading_it(tmp_path: Path, capsys: Any) -> None:
    import os

    fifo = tmp_path / "rows.jsonl"
    os.mkfifo(fifo)
    out = tmp_path / "out.jsonl"

    code = run(ECHO, "--input", fifo, "--output", out)

    assert code == 2
    assert not out.exists()
    assert "not a regular file" in capsys.readouterr().err


def test_a_failed_write_to_the_output_stops_the_run_with_the_resume_command_and_the_resume_finishes_it(
        tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from sharedlm.runner import _writer

    source = write_jsonl(tmp_path / "in.jsonl", [{"id": f"r{n}", "text": f"t{n}"} for n in range(30)])
    out = tmp_path / "out.jsonl"
    real_write = _writer.ResultWriter.write

    def disk_full_after_ten(self: _writer.ResultWriter, result: Any) -> Any:
        if self.lines_written >= 10:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, result)

    monkeypatch.setattr(_writer.ResultWriter, "write", disk_full_after_ten)

    code = run(ECHO, "--input", source, "--output", out, "--concurrency", "4")

    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err
    assert "writing" in err
    assert "No space left on device" in err
    assert "--resume" in err
    assert len(read_output(out)) == 10
    monkeypatch.setattr(_writer.ResultWriter, "write", real_write)
    assert run(ECHO, "--input", source, "--output", out, "--resume") == 0
    assert sorted(line["id"] for line in read_output(out)) == sorted(f"r{n}" for n in range(30))


def test_an_existing_output_is_refused_with_exit_2_naming_resume_and_overwrite(tmp_path: Path, capsys: Any) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "a"}])
    out = tmp_path / "out.jsonl"
    out.write_text("precious\n")

    code = run(ECHO, "--input", source, "--output", out)

    err = capsys.readouterr().err
    assert code == 2
    assert out.read_text() == "precious\n"
    assert "--resume" in err
    assert "--overwrite" in err


def test_overwrite_replaces_the_output(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "a"}])
    out = tmp_path / "out.jsonl"
    out.write_text("old\n")

    code = run(ECHO, "--input", source, "--output", out, "--overwrite")

    assert code == 0
    assert [line["id"] for line in read_output(out)] == [1]


def test_resume_skips_succeeded_rows_retries_failed_ones_and_leaves_one_line_per_id(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": n, "text": f"t{n}"} for n in range(1, 6)])
    out = tmp_path / "out.jsonl"
    out.write_text(
        json.dumps({"id": 1, "output": {"upper": "KEPT"}, "error": None}) + "\n"
        + json.dumps({"id": 2, "output": None, "error": {"type": "E", "message": "m"}}) + "\n"
        + '{"id": 3, "outp'  # torn by a crash
    )

    code = run(ECHO, "--input", source, "--output", out, "--resume")

    by_id: dict[int, list[dict[str, Any]]] = {}
    for line in read_output(out):
        by_id.setdefault(line["id"], []).append(line)
    assert code == 0
    assert sorted(by_id) == [1, 2, 3, 4, 5]
    assert all(len(lines) == 1 for lines in by_id.values())
    assert by_id[1][0]["output"] == {"upper": "KEPT"}
    assert by_id[2][0]["output"] == {"upper": "T2"}


def test_resume_of_a_finished_run_sends_nothing_and_exits_0(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "a"}, {"text": "b"}])
    out = tmp_path / "out.jsonl"
    assert run(ECHO, "--input", source, "--output", out) == 0
    before = out.read_text()

    code = run(ECHO, "--input", source, "--output", out, "--resume")

    assert code == 0
    assert out.read_text() == before


def test_limit_takes_only_the_first_rows(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": str(n)} for n in range(10)])
    out = tmp_path / "out.jsonl"

    code = run(ECHO, "--input", source, "--output", out, "--limit", "3")

    assert code == 0
    assert sorted(line["id"] for line in read_output(out)) == [1, 2, 3]


def test_parquet_input_runs(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "text": ["x", "y"]}), source)
    out = tmp_path / "out.jsonl"

    code = run(ECHO, "--input", source, "--output", out)

    assert code == 0
    assert {line["id"]: line["output"]["upper"] for line in read_output(out)} == {"a": "X", "b": "Y"}


def test_a_sync_program_runs(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "a"}])
    out = tmp_path / "out.jsonl"

    code = run(f"{FIXTURES}:SyncEcho", "--input", source, "--output", out)

    assert code == 0
    assert read_output(out)[0]["output"] == {"upper": "A"}


def test_the_summary_and_plain_progress_go_to_stderr(tmp_path: Path, capsys: Any) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "a"}])

    main(["run", ECHO, "--input", str(source), "--output", str(tmp_path / "out.jsonl"), "--progress", "plain"])

    captured = capsys.readouterr()
    assert captured.out == ""
    assert "rows ok" in captured.err
    assert "wall time" in captured.err


def test_a_missing_key_is_a_configuration_error_with_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: Any) -> None:
    monkeypatch.delenv("SHAREDLM_API_KEY")
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "a"}])

    code = run(ECHO, "--input", source, "--output", tmp_path / "out.jsonl", "--model", "openai/gpt-4o-mini")

    assert code == 2
    assert "OPENAI_API_KEY" in capsys.readouterr().err


def test_csv_ids_come_from_the_id_field_option(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("ticket,text\nT-1,a\nT-2,b\nT-1,c\n")
    out = tmp_path / "out.jsonl"

    code = run(ECHO, "--input", source, "--output", out, "--id-field", "ticket")

    lines = read_output(out)
    assert code == 1
    assert sorted(line["id"] for line in lines if line["error"] is None) == ["T-1", "T-2"]
    assert "row 3 (line 4) repeats id 'T-1' of row 1" in next(line["error"]["message"] for line in lines
                                                                if line["error"])


def test_the_resume_command_keeps_the_options_and_drops_overwrite() -> None:
    from sharedlm.runner._run import RunOptions

    options = RunOptions(program="p.py:P", input=Path("in put.jsonl"), output=Path("out.jsonl"), overwrite=True,
                         concurrency=7, limit=10, retries=2, id_field="key")

    command = options.resume_command()

    assert command == ("sharedlm run p.py:P --input 'in put.jsonl' --output out.jsonl --id-field key "
                       "--concurrency 7 --limit 10 --retries 2 --resume")


def write_cp1252_csv(path: Path, rows: int, bad_row: int) -> Path:
    lines = [f"{n},text {n}\n".encode() for n in range(1, rows + 1)]
    lines[bad_row - 1] = f"{bad_row},caf\xe9\n".encode("cp1252")
    path.write_bytes(b"id,text\n" + b"".join(lines))
    return path


def test_a_csv_with_a_cp1252_byte_mid_file_yields_one_line_per_row_the_bad_one_an_error(tmp_path: Path,
                                                                                         capsys: Any) -> None:
    source = write_cp1252_csv(tmp_path / "in.csv", 2000, bad_row=1479)
    out = tmp_path / "out.jsonl"

    code = run(ECHO, "--input", source, "--output", out, "--concurrency", "50")

    lines = read_output(out)
    assert code == 1
    assert len(lines) == 2000
    assert sorted(str(line["id"]) for line in lines) == sorted(str(n) for n in range(1, 2001))
    (bad,) = [line for line in lines if line["error"]]
    assert bad["id"] == 1479
    assert "row 1479 (line 1480)" in bad["error"]["message"]
    assert "--encoding cp1252" in bad["error"]["message"]
    assert "rows failed" in capsys.readouterr().err


def test_encoding_cp1252_reads_every_row_of_such_a_csv(tmp_path: Path) -> None:
    source = write_cp1252_csv(tmp_path / "in.csv", 20, bad_row=7)
    out = tmp_path / "out.jsonl"

    code = run(ECHO, "--input", source, "--output", out, "--encoding", "cp1252")

    by_id = {line["id"]: line for line in read_output(out)}
    assert code == 0
    assert len(by_id) == 20
    assert by_id["7"]["output"] == {"upper": "CAFÉ"}


def test_encoding_on_parquet_input_exits_2(tmp_path: Path, capsys: Any) -> None:
    source = tmp_path / "in.parquet"
    source.write_bytes(b"PAR1")

    code = run(ECHO, "--input", source, "--output", tmp_path / "out.jsonl", "--encoding", "cp1252")

    assert code == 2
    assert "--encoding applies to JSONL and CSV" in capsys.readouterr().err


def test_nested_and_surrogate_lines_become_error_rows_and_the_run_goes_on(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "a"}, "[" * 100_000, '{"text": "\\ud83d"}', {"text": "b"}])
    out = tmp_path / "out.jsonl"

    code = run(ECHO, "--input", source, "--output", out)
    resumed = run(ECHO, "--input", source, "--output", out, "--resume")

    by_id = {line["id"]: line for line in read_output(out)}
    assert code == 1
    assert resumed == 1
    assert sorted(by_id) == [1, 2, 3, 4]
    assert "nested too deeply" in by_id[2]["error"]["message"]
    assert "lone surrogate" in by_id[3]["error"]["message"]
    assert by_id[4]["output"] == {"upper": "B"}


def test_resume_refuses_an_input_that_changed_when_ids_are_line_numbers(tmp_path: Path, capsys: Any) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": f"t{n}"} for n in range(5)])
    out = tmp_path / "out.jsonl"
    assert run(ECHO, "--input", source, "--output", out, "--limit", "3") == 0
    before = out.read_bytes()
    write_jsonl(source, [{"text": "inserted"}] + [{"text": f"t{n}"} for n in range(5)])
    capsys.readouterr()

    code = run(ECHO, "--input", source, "--output", out, "--resume")

    err = capsys.readouterr().err
    assert code == 2
    assert out.read_bytes() == before
    assert "changed since the earlier run" in err
    assert "--overwrite" in err
    assert "'id' field" in err


def test_resume_runs_rows_appended_to_an_input_whose_ids_are_line_numbers(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": f"t{n}"} for n in range(3)])
    out = tmp_path / "out.jsonl"
    assert run(ECHO, "--input", source, "--output", out) == 0
    with source.open("a") as file:
        file.write(json.dumps({"text": "t3"}) + "\n")

    code = run(ECHO, "--input", source, "--output", out, "--resume")

    assert code == 0
    assert sorted(line["id"] for line in read_output(out)) == [1, 2, 3, 4]


def test_resume_with_own_ids_runs_appended_rows_and_counts_ids_gone_from_the_input(tmp_path: Path,
                                                                                 capsys: Any) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": f"k{n}", "text": f"t{n}"} for n in range(4)])
    out = tmp_path / "out.jsonl"
    assert run(ECHO, "--input", source, "--output", out) == 0
    write_jsonl(source, [{"id": "k3", "text": "t3"}, {"id": "k0", "text": "t0"}, {"id": "k9", "text": "t9"}])
    capsys.readouterr()

    code = run(ECHO, "--input", source, "--output", out, "--resume")

    err = capsys.readouterr().err
    assert code == 0
    assert sorted(line["id"] for line in read_output(out)) == ["k0", "k1", "k2", "k3", "k9"]
    assert "output ids not in the input" in err
    assert "2 ids of" in err


def test_resume_of_an_output_without_a_fingerprint_warns_and_goes_on(tmp_path: Path, capsys: Any) -> None:
    from sharedlm.runner._fingerprint import fingerprint_path_for

    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "a"}, {"text": "b"}])
    out = tmp_path / "out.jsonl"
    out.write_text(json.dumps({"id": 1, "output": {"upper": "A"}, "error": None}) + "\n")

    code = run(ECHO, "--input", source, "--output", out, "--resume")

    assert code == 0
    assert "cannot check that the input did not change" in capsys.readouterr().err
    assert sorted(line["id"] for line in read_output(out)) == [1, 2]
    assert fingerprint_path_for(out).exists()


def test_a_run_on_an_output_another_run_holds_exits_2_naming_it(tmp_path: Path, capsys: Any) -> None:
    from sharedlm.runner._lock import OutputLock

    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "a"}])
    out = tmp_path / "out.jsonl"

    with OutputLock(out):
        code = run(ECHO, "--input", source, "--output", out, "--resume")

    assert code == 2
    assert not out.exists()
    assert "in use by another sharedlm run" in capsys.readouterr().err


def test_the_resume_command_keeps_the_encoding() -> None:
    from sharedlm.runner._run import RunOptions

    options = RunOptions(program="p.py:P", input=Path("in.csv"), output=Path("out.jsonl"), encoding="cp1252")

    assert "--encoding cp1252" in options.resume_command()


DSPY_FIXTURES = Path(__file__).parent / "fixtures" / "dspy_programs.py"


def save_no_call_state(path: Path, instructions: str = "Answer like a pirate.") -> Path:
    from sharedlm.runner._program import load_program_target

    program = load_program_target(f"{DSPY_FIXTURES}:NoCall")()
    program.answer.signature = program.answer.signature.with_instructions(instructions)
    program.save(str(path))
    return path


@pytest.fixture(scope="module")
def simulator() -> Iterator[BackgroundSimulator]:
    with BackgroundSimulator(SimulatorSettings(latency=0)) as sim:
        yield sim


def test_a_plain_dspy_module_class_runs_on_the_shared_lm(tmp_path: Path, simulator: BackgroundSimulator) -> None:
    nonce = uuid.uuid4().hex  # new questions on every run, so DSPy's cache cannot answer instead of the server
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": n, "question": f"q{n} {nonce}"} for n in range(6)])
    out = tmp_path / "out.jsonl"
    sent_before = simulator.stats().requests

    code = run(f"{DSPY_FIXTURES}:QA", "--input", source, "--output", out, "--model", "openai/sim-model",
               "--api-base", simulator.base_url)

    lines = read_output(out)
    assert code == 0, lines
    assert all(line["output"]["shared"] for line in lines)
    assert simulator.stats().requests - sent_before == 6


def test_a_factory_function_is_a_program(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"question": "a"}])
    out = tmp_path / "out.jsonl"

    code = run(f"{DSPY_FIXTURES}:make_no_call", "--input", source, "--output", out)

    assert code == 0
    assert read_output(out)[0]["output"]["shared"] is True


def test_a_module_level_program_instance_is_a_program(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"question": "a"}])
    out = tmp_path / "out.jsonl"

    code = run(f"{DSPY_FIXTURES}:NO_CALL", "--input", source, "--output", out)

    assert code == 0
    assert read_output(out)[0]["output"]["shared"] is True


def test_load_runs_every_row_with_the_saved_state(tmp_path: Path) -> None:
    state = save_no_call_state(tmp_path / "optimized.json")
    source = write_jsonl(tmp_path / "in.jsonl", [{"question": f"q{n}"} for n in range(5)])
    out = tmp_path / "out.jsonl"

    code = run(f"{DSPY_FIXTURES}:NoCall", "--input", source, "--output", out, "--load", state)

    lines = read_output(out)
    assert code == 0
    assert {line["output"]["instructions"] for line in lines} == {"Answer like a pirate."}
    assert all(line["output"]["shared"] for line in lines)


def test_a_missing_load_file_exits_2_naming_it_before_the_output_is_touched(tmp_path: Path, capsys: Any) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"question": "a"}])
    out = tmp_path / "out.jsonl"

    code = run(f"{DSPY_FIXTURES}:NoCall", "--input", source, "--output", out, "--load", tmp_path / "nope.json")

    assert code == 2
    assert not out.exists()
    assert "--load" in capsys.readouterr().err


def test_a_load_file_of_another_program_exits_2_before_any_row(tmp_path: Path, capsys: Any) -> None:
    state = save_no_call_state(tmp_path / "optimized.json")
    source = write_jsonl(tmp_path / "in.jsonl", [{"question": "a"}])
    out = tmp_path / "out.jsonl"

    code = run(f"{DSPY_FIXTURES}:Other", "--input", source, "--output", out, "--load", state)

    err = capsys.readouterr().err
    assert code == 2
    assert not out.exists()
    assert "optimized.json' does not match Other" in err


def test_the_resume_command_keeps_load() -> None:
    from sharedlm.runner._run import RunOptions

    options = RunOptions(program="p.py:P", input=Path("in.jsonl"), output=Path("out.jsonl"), load=Path("opt.json"))

    assert "--load opt.json" in options.resume_command()


def test_a_run_over_two_models_shows_each_models_calls_tokens_and_429s(tmp_path: Path, capsys: Any,
                                                                       simulator: BackgroundSimulator) -> None:
    nonce = uuid.uuid4().hex
    source = write_jsonl(tmp_path / "in.jsonl", [{"question": f"q{n} {nonce}"} for n in range(4)])

    code = run(f"{DSPY_FIXTURES}:TwoModels", "--input", source, "--output", tmp_path / "out.jsonl", "--model",
               "openai/sim-model", "--api-base", simulator.base_url)

    rows = [[cell.strip() for cell in line.split("│") if cell.strip()] for line in capsys.readouterr().err.splitlines()]
    table = {cells[0]: cells[1] for cells in rows if len(cells) == 2}
    assert code == 0
    assert table["model openai/sim-model"].startswith("4 calls, ")
    assert table["model openai/judge-model"].startswith("4 calls, ")
    assert table["model openai/judge-model"].endswith(" tokens, 0 429s")


@pytest.mark.ray
@pytest.mark.slow
def test_load_with_the_ray_backend_runs_the_saved_state_on_the_workers(tmp_path: Path) -> None:
    from sharedlm.runner._ray._session import loopback_environment, start_local_ray

    with loopback_environment():
        pytest.importorskip("ray")
    state = save_no_call_state(tmp_path / "optimized.json")
    source = write_jsonl(tmp_path / "in.jsonl", [{"question": f"q{n}"} for n in range(6)])
    out = tmp_path / "out.jsonl"
    session = start_local_ray(num_cpus=1)
    try:
        code = run(f"{DSPY_FIXTURES}:NoCall", "--input", source, "--output", out, "--load", state, "--backend",
                   "ray", "--workers", "1")
    finally:
        session.close()

    lines = read_output(out)
    assert code == 0, lines
    assert {line["output"]["instructions"] for line in lines} == {"Answer like a pirate."}
    assert all(line["output"]["shared"] for line in lines)


def test_a_program_left_with_a_predictor_without_an_lm_exits_2_naming_it(tmp_path: Path, capsys: Any) -> None:
    program = tmp_path / "late.py"
    program.write_text(
        "import dspy\nimport sharedlm\n\n"
        "class P(sharedlm.SharedLMModule):\n"
        "    def __init__(self, shared_lm):\n"
        "        super().__init__(shared_lm)\n"
        "        self.answer = dspy.Predict('question -> answer')\n\n"
        "    async def aforward(self, question):\n"
        "        return {}\n\n"
        "def make(shared_lm):\n"
        "    program = P(shared_lm)\n"
        "    program.late = dspy.Predict('a -> b')  # added after construction: never bound\n"
        "    return program\n")
    source = write_jsonl(tmp_path / "in.jsonl", [{"question": "a"}])
    out = tmp_path / "out.jsonl"

    code = run(f"{program}:make", "--input", source, "--output", out)

    assert code == 2
    assert not out.exists()
    assert "has predictors without an LM (late)" in capsys.readouterr().err


def test_resume_with_another_saved_state_exits_2_and_leaves_the_output_as_it_was(tmp_path: Path,
                                                                                  capsys: Any) -> None:
    first = save_no_call_state(tmp_path / "first.json")
    second = save_no_call_state(tmp_path / "second.json", instructions="Answer like a poet.")
    source = write_jsonl(tmp_path / "in.jsonl", [{"question": f"q{n}"} for n in range(3)])
    out = tmp_path / "out.jsonl"
    assert run(f"{DSPY_FIXTURES}:NoCall", "--input", source, "--output", out, "--load", first, "--limit", "2") == 0
    before = out.read_bytes()
    capsys.readouterr()

    code = run(f"{DSPY_FIXTURES}:NoCall", "--input", source, "--output", out, "--load", second, "--resume")

    assert code == 2
    assert "another program state" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert run(f"{DSPY_FIXTURES}:NoCall", "--input", source, "--output", out, "--load", first, "--resume") == 0
    assert {line["output"]["instructions"] for line in read_output(out)} == {"Answer like a pirate."}
    assert len(read_output(out)) == 3


@pytest.mark.parametrize("name", ["rows.parquet", "empty.parquet"])
def test_a_parquet_input_that_is_not_parquet_exits_2_naming_it_without_a_traceback(tmp_path: Path, capsys: Any,
                                                                                   name: str) -> None:
    source = tmp_path / name
    source.write_text('{"id": 1, "text": "a"}\n' if name == "rows.parquet" else "")
    out = tmp_path / "out.jsonl"

    code = run(ECHO, "--input", source, "--output", out)

    err = capsys.readouterr().err
    assert code == 2
    assert "not a Parquet file" in err
    assert name in err
    assert "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("flags", [["--batch-linger", "3"], ["--batch-poll", "1"], ["--batch-linger", "3",
                                                                                     "--batch-poll", "1"]])
def test_batch_timing_options_without_batch_exit_2_naming_them(tmp_path: Path, capsys: Any, flags: list[str]) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "a"}])
    out = tmp_path / "out.jsonl"

    code = run(ECHO, "--input", source, "--output", out, *flags)

    err = capsys.readouterr().err
    assert code == 2
    assert all(flag in err for flag in flags if flag.startswith("--"))
    assert "--batch" in err
    assert not out.exists()


@pytest.mark.parametrize("text", ['[\n  {"text": "a"},\n  {"text": "b"}\n]\n', '[{"text": "a"}, {"text": "b"}]\n'],
                         ids=["pretty", "one line"])
def test_a_json_array_file_exits_2_with_how_to_make_json_lines(tmp_path: Path, capsys: Any, text: str) -> None:
    source = tmp_path / "rows.json"
    source.write_text(text)
    out = tmp_path / "out.jsonl"

    code = run(ECHO, "--input", source, "--output", out)

    err = capsys.readouterr().err
    assert code == 2
    assert "one JSON array" in err
    assert "jq -c" in err
    assert not out.exists()


def test_a_first_row_that_is_a_list_of_numbers_is_still_an_error_row_not_a_refusal(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", ["[1, 2]", {"text": "a"}])
    out = tmp_path / "out.jsonl"

    code = run(ECHO, "--input", source, "--output", out)

    assert code == 1
    assert len(read_output(out)) == 2


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le"])
def test_utf16_or_utf32_text_without_a_byte_order_mark_exits_2_naming_the_conversion(tmp_path: Path, capsys: Any,
                                                                                     codec: str) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes('{"text": "a"}\n{"text": "b"}\n'.encode(codec))
    out = tmp_path / "out.jsonl"

    code = run(ECHO, "--input", source, "--output", out)

    err = capsys.readouterr().err
    assert code == 2
    assert "without a byte-order mark" in err
    assert "iconv" in err
    assert not out.exists()
