"""Behaviour of the input fingerprint kept beside an output for --resume."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from sharedlm._errors import UsageError
from sharedlm.runner._fingerprint import (
    ContentDigest,
    FingerprintRecorder,
    InputFingerprint,
    check_resume_input,
    fingerprint_path_for,
    load_fingerprint,
    prefix_digest,
    state_digest,
)
from sharedlm.runner._readers import read_rows


def recorded(tmp_path: Path, text: str, *, take: int, fmt: str = "jsonl") -> tuple[Path, Path, InputFingerprint]:
    source = tmp_path / f"in.{fmt}"
    source.write_text(text, encoding="utf-8")
    out = tmp_path / "out.jsonl"
    digest = ContentDigest()
    recorder = FingerprintRecorder(out, input_path=source, fmt=fmt, id_field="id", digest=digest)
    recorder.open()
    reader = read_rows(source, fmt, digest=digest)
    for _ in range(take):
        row = next(reader)
        recorder.note_row(positional=row.fields is not None and "id" not in row.fields)
        recorder.checkpoint()
    recorder.close()
    reader.close()  # type: ignore[attr-defined]
    fingerprint = load_fingerprint(out)
    assert fingerprint is not None
    return source, out, fingerprint


def test_the_record_covers_the_rows_read_and_reads_back(tmp_path: Path) -> None:
    _, out, fingerprint = recorded(tmp_path, '{"t": "a"}\n\n{"t": "b"}\n{"t": "c"}\n', take=2)

    assert fingerprint.rows == 2
    assert fingerprint.bytes_read == len('{"t": "a"}\n\n{"t": "b"}\n')
    assert fingerprint.positional_ids
    assert fingerprint.format == "jsonl"
    assert json.loads(fingerprint_path_for(out).read_text())["bytes"] == fingerprint.bytes_read


def test_records_keep_one_length_so_they_can_be_rewritten_in_place() -> None:
    small = InputFingerprint(input="/in", format="csv", id_field="id", bytes_read=0, sha256="0" * 64, rows=0,
                             positional_ids=False)
    big = InputFingerprint(input="/in", format="csv", id_field="id", bytes_read=10**15, sha256="f" * 64, rows=10**12,
                           positional_ids=True)

    assert len(small.to_line()) == len(big.to_line())
    assert InputFingerprint.from_json(json.loads(big.to_line())) == big


def test_an_unchanged_input_with_appended_rows_passes_the_check(tmp_path: Path) -> None:
    source, out, fingerprint = recorded(tmp_path, '{"t": "a"}\n{"t": "b"}\n', take=2)
    with source.open("a", encoding="utf-8") as file:
        file.write('{"t": "new"}\n')

    check_resume_input(fingerprint, input_path=source, fmt="jsonl", id_field="id", output=out)


@pytest.mark.parametrize("changed", ['{"t": "A"}\n{"t": "b"}\n', '{"t": "b"}\n{"t": "a"}\n',
                                     '\n{"t": "a"}\n{"t": "b"}\n', '{"t": "a"}\n'])
def test_an_edited_reordered_shifted_or_cut_input_is_refused_when_ids_are_positions(tmp_path: Path,
                                                                                      changed: str) -> None:
    source, out, fingerprint = recorded(tmp_path, '{"t": "a"}\n{"t": "b"}\n', take=2)
    source.write_text(changed, encoding="utf-8")

    with pytest.raises(UsageError, match=r"changed since the earlier run.*--overwrite.*'id' field"):
        check_resume_input(fingerprint, input_path=source, fmt="jsonl", id_field="id", output=out)


def test_a_changed_input_with_ids_of_its_own_is_not_checked(tmp_path: Path) -> None:
    source, out, fingerprint = recorded(tmp_path, '{"id": 1, "t": "a"}\n{"id": 2, "t": "b"}\n', take=2)
    source.write_text('{"id": 2, "t": "b"}\n{"id": 3, "t": "c"}\n', encoding="utf-8")

    assert not fingerprint.positional_ids
    check_resume_input(fingerprint, input_path=source, fmt="jsonl", id_field="id", output=out)


def test_another_id_field_than_the_earlier_run_is_refused(tmp_path: Path) -> None:
    source, out, fingerprint = recorded(tmp_path, '{"id": 1, "t": "a"}\n', take=1)

    with pytest.raises(UsageError, match="--id-field id"):
        check_resume_input(fingerprint, input_path=source, fmt="jsonl", id_field="key", output=out)


def test_a_resumed_run_that_read_less_keeps_the_earlier_coverage(tmp_path: Path) -> None:
    _, out, earlier = recorded(tmp_path, '{"t": "a"}\n{"t": "b"}\n{"t": "c"}\n', take=3)
    recorder = FingerprintRecorder(out, input_path=tmp_path / "in.jsonl", fmt="jsonl", id_field="id",
                                   digest=ContentDigest(), base=earlier)

    recorder.open()
    recorder.close()

    assert load_fingerprint(out) == earlier


def test_a_resumed_run_over_an_edited_input_with_ids_keeps_its_own_coverage_not_the_unchecked_earlier_one(
        tmp_path: Path) -> None:
    _, out, earlier = recorded(tmp_path, '{"id": "a"}\n{"id": "b"}\n{"id": "c"}\n{"id": "d"}\n', take=4)
    assert not earlier.positional_ids  # so the resume never compared the (since edited) input with it
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a"}\n{"t": "new, positional"}\n', encoding="utf-8")
    digest = ContentDigest()
    recorder = FingerprintRecorder(out, input_path=source, fmt="jsonl", id_field="id", digest=digest, base=earlier)
    recorder.open()
    reader = read_rows(source, "jsonl", digest=digest)
    for row in reader:
        recorder.note_row(positional=row.fields is not None and "id" not in row.fields)
        recorder.checkpoint()
    recorder.close()

    now = load_fingerprint(out)
    assert now is not None
    assert now.positional_ids
    # The next resume of the unchanged input passes: the record is this input's, not the earlier one's.
    check_resume_input(now, input_path=source, fmt="jsonl", id_field="id", output=out)


@pytest.mark.parametrize(("fmt", "first", "appended"), [
    ("jsonl", '{"t": "a"}\n{"t": "b"}', '{"t": "c"}\n'),
    ("csv", "t\na\nb", "c\nd\n"),
])
def test_text_appended_on_a_last_line_that_had_no_line_end_is_refused(tmp_path: Path, fmt: str, first: str,
                                                                     appended: str) -> None:
    source, out, fingerprint = recorded(tmp_path, first, take=2, fmt=fmt)
    with source.open("a", encoding="utf-8") as file:
        file.write(appended)

    with pytest.raises(UsageError, match=rf"had no line end.*Put a line end after byte {len(first)}"):
        check_resume_input(fingerprint, input_path=source, fmt=fmt, id_field="id", output=out)


@pytest.mark.parametrize(("fmt", "first"), [("jsonl", '{"t": "a"}\n{"t": "b"}'), ("csv", "t\na\nb")])
def test_rows_appended_after_a_line_end_added_to_a_last_line_without_one_pass(tmp_path: Path, fmt: str,
                                                                            first: str) -> None:
    source, out, fingerprint = recorded(tmp_path, first, take=2, fmt=fmt)
    with source.open("a", encoding="utf-8") as file:
        file.write("\n" + ('{"t": "c"}\n' if fmt == "jsonl" else "c\n"))

    check_resume_input(fingerprint, input_path=source, fmt=fmt, id_field="id", output=out)


def test_the_prefix_digest_of_parquet_input_follows_its_rows(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"t": ["a", "b", "c"]}), path)
    digest = ContentDigest()
    reader = read_rows(path, "parquet", digest=digest)
    next(reader)
    next(reader)

    assert prefix_digest(path, "parquet", digest.bytes) == digest.hexdigest()
    assert prefix_digest(path, "parquet", digest.bytes * 10) is None


def test_the_record_says_which_saved_program_state_the_run_loaded(tmp_path: Path) -> None:
    state = tmp_path / "optimized.json"
    state.write_text('{"answer": {}}', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    recorder = FingerprintRecorder(out, input_path=tmp_path / "in.jsonl", fmt="jsonl", id_field="id",
                                   digest=ContentDigest(), state_sha256=state_digest(state))
    recorder.open()
    recorder.close()

    fingerprint = load_fingerprint(out)
    assert fingerprint is not None
    assert fingerprint.state_sha256 == hashlib.sha256(state.read_bytes()).hexdigest()
    assert state_digest(None) == ""


def test_a_record_of_an_older_sharedlm_says_nothing_of_the_program_state_and_is_not_checked_for_it(
        tmp_path: Path) -> None:
    line = json.loads(InputFingerprint(input="/in", format="jsonl", id_field="id", bytes_read=0, sha256="0" * 64,
                                       rows=0, positional_ids=False).to_line())
    del line["state_sha256"]
    older = InputFingerprint.from_json(line)
    assert older is not None
    assert older.state_sha256 is None

    check_resume_input(older, input_path=tmp_path / "in.jsonl", fmt="jsonl", id_field="id", output=tmp_path / "o",
                       state_sha256="f" * 64)


@pytest.mark.parametrize(("earlier", "now", "said"), [
    ("a" * 64, "b" * 64, r"loaded a saved program state with SHA-256 aaaaaaaaaaaa\.\.\.; this one loads"),
    ("a" * 64, "", r"loaded a saved program state .*; this one loads none"),
    ("", "b" * 64, r"loaded no saved program state; this one loads"),
])
def test_resuming_with_another_program_state_is_refused_naming_both(tmp_path: Path, earlier: str, now: str,
                                                                    said: str) -> None:
    fingerprint = InputFingerprint(input="/in", format="jsonl", id_field="id", bytes_read=0, sha256="0" * 64, rows=0,
                                   positional_ids=False, state_sha256=earlier)

    with pytest.raises(UsageError, match=said) as refused:
        check_resume_input(fingerprint, input_path=tmp_path / "in.jsonl", fmt="jsonl", id_field="id",
                           output=tmp_path / "out.jsonl", state=tmp_path / "new.json", state_sha256=now)
    assert "--overwrite" in str(refused.value)


def test_resuming_with_the_same_program_state_passes(tmp_path: Path) -> None:
    fingerprint = InputFingerprint(input="/in", format="jsonl", id_field="id", bytes_read=0, sha256="0" * 64, rows=0,
                                   positional_ids=False, state_sha256="c" * 64)

    check_resume_input(fingerprint, input_path=tmp_path / "in.jsonl", fmt="jsonl", id_field="id",
                       output=tmp_path / "out.jsonl", state_sha256="c" * 64)
