"""Behaviour of the output lock: one run per output file, a refusal that names the holder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sharedlm._errors import UsageError
from sharedlm.runner._lock import LockHolder, OutputLock, lock_path_for


def test_a_second_lock_on_the_same_output_is_refused_naming_the_holder(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"

    with OutputLock(out), pytest.raises(UsageError) as refused:
        OutputLock(out).acquire()

    message = str(refused.value)
    assert "in use by another sharedlm run" in message
    assert f"pid {os.getpid()}" in message
    assert "--output" in message


def test_the_lock_file_records_pid_host_and_start_and_is_removed_at_release(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    lock = OutputLock(out)

    with lock:
        holder = LockHolder.read(lock_path_for(out))
        assert holder.pid == os.getpid()
        assert holder.host
        assert holder.started
        assert "held" in repr(lock)

    assert not lock_path_for(out).exists()
    assert not lock.held


def test_the_lock_can_be_taken_again_after_release(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with OutputLock(out):
        pass

    with OutputLock(out) as again:
        assert again.held


def test_a_lock_file_left_by_a_dead_run_does_not_block(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    lock_path_for(out).write_text(json.dumps({"pid": 999999, "host": "gone", "started": "then"}))

    with OutputLock(out) as lock:
        assert lock.held
        assert LockHolder.read(lock_path_for(out)).pid == os.getpid()


def test_a_lock_in_a_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        OutputLock(tmp_path / "nope" / "out.jsonl").acquire()


def test_an_unreadable_holder_is_described_without_details(tmp_path: Path) -> None:
    path = tmp_path / ".out.jsonl.lock"
    path.write_text("not json")

    assert LockHolder.read(path).describe() == "details not written yet"
