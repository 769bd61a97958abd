"""Worker processes: their environment, their result line, and the hard timeout that always stops them."""

from __future__ import annotations

import os
import stat
import tempfile
import time
from pathlib import Path

from sharedlm.bench._launch import (
    STATUS_CRASHED,
    STATUS_TIMED_OUT,
    STDERR_TAIL_CHARS,
    parse_result,
    redacted_tail,
    run_worker,
    worker_command,
    worker_environment,
)
from sharedlm.bench._spec import RESULT_MARKER, JobSpec


def _spec() -> JobSpec:
    return JobSpec(scenario="connections", variant="sharedlm", kind="workflows", count=1,
                   api_base="http://127.0.0.1:9/v1", api_key="sk-secret-value")


def _fake_python(tmp_path: Path, body: str) -> str:
    script = tmp_path / "fake-python"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def test_worker_environment_drops_sharedlm_and_provider_settings() -> None:
    env = worker_environment({"SHAREDLM_RPM": "5", "OPENAI_API_KEY": "k", "MODEL_NAME": "m", "PATH": "/bin"})
    assert env["PATH"] == "/bin"
    assert not {"SHAREDLM_RPM", "OPENAI_API_KEY", "MODEL_NAME"} & set(env)


def test_worker_environment_keeps_dspy_offline_and_loopback_unproxied() -> None:
    env = worker_environment({"NO_PROXY": "example.com"})
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"] == "true"
    assert env["NO_PROXY"].startswith("example.com,")
    assert "127.0.0.1" in env["NO_PROXY"]
    assert "127.0.0.1" in env["no_proxy"]


def test_worker_command_never_lets_the_current_directory_shadow_modules() -> None:
    assert worker_command("/usr/bin/python3")[:3] == ["/usr/bin/python3", "-P", "-m"]


def test_parse_result_takes_the_marked_line_among_other_output() -> None:
    out = f"litellm says hello\n{RESULT_MARKER}{{\"wall_s\": 1.5}}\nbye\n"
    assert parse_result(out) == {"wall_s": 1.5}


def test_parse_result_is_none_without_a_marked_line() -> None:
    assert parse_result("{\"wall_s\": 1.5}\n") is None


def test_a_hanging_worker_is_killed_at_its_timeout(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    python = _fake_python(tmp_path, f"echo $$ > {pid_file}; exec sleep 30")
    started = time.monotonic()
    outcome = run_worker(_spec(), timeout_s=1.0, python=python)
    assert outcome.status == STATUS_TIMED_OUT
    assert time.monotonic() - started < 10
    pid = int(pid_file.read_text())
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_a_worker_without_a_result_line_crashed_and_its_stderr_is_kept(tmp_path: Path) -> None:
    python = _fake_python(tmp_path, "echo 'Traceback: boom' >&2; exit 3")
    outcome = run_worker(_spec(), timeout_s=10.0, python=python)
    assert outcome.status == STATUS_CRASHED
    assert outcome.exit_code == 3
    assert "boom" in outcome.stderr_tail


def test_the_api_key_travels_on_stdin_not_on_the_command_line(tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    python = _fake_python(tmp_path, f"echo \"$@\" > {seen}.args; cat > {seen}.stdin")
    run_worker(_spec(), timeout_s=10.0, python=python)
    assert "sk-secret-value" not in Path(f"{seen}.args").read_text()
    assert "sk-secret-value" in Path(f"{seen}.stdin").read_text()


def test_the_api_key_is_scrubbed_from_a_crashed_workers_stderr(tmp_path: Path) -> None:
    python = _fake_python(tmp_path, "echo 'failed with key sk-secret-value' >&2; exit 1")
    outcome = run_worker(_spec(), timeout_s=10.0, python=python)
    assert "sk-secret-value" not in outcome.stderr_tail
    assert os.path.exists(python)


def test_a_key_cut_by_the_stderr_tail_is_redacted_before_the_cut(tmp_path: Path) -> None:
    # The key ends the text so that the tail's first characters fall inside it: cutting first would keep a part.
    filler = "x" * (STDERR_TAIL_CHARS - 5)
    python = _fake_python(tmp_path, f"printf '%s' 'failed with key sk-secret-value{filler}' >&2; exit 1")
    outcome = run_worker(_spec(), timeout_s=10.0, python=python)
    assert "value" not in outcome.stderr_tail
    assert "***" in outcome.stderr_tail
    assert outcome.stderr_tail.endswith(filler)


def test_the_stderr_tail_of_a_huge_stderr_keeps_its_end_and_hides_every_key() -> None:
    with tempfile.TemporaryFile() as stream:
        stream.write(("noise sk-secret-value " * 100_000).encode() + "é".encode() * 10 + b" the end")
        tail = redacted_tail(stream, "sk-secret-value", 200)
    assert tail.endswith("é" * 10 + " the end")
    assert len(tail) == 200
    assert "secret" not in tail
    assert "value" not in tail.replace("***", "")



def test_each_worker_starts_with_an_empty_state_directory_of_its_own(tmp_path: Path) -> None:
    body = ('printf "%s{\\"dir\\": \\"%s\\", \\"files\\": %s}\\n" "' + RESULT_MARKER + '" "$SHAREDLM_STATE_DIR" '
            '"$(ls -A "$SHAREDLM_STATE_DIR" | wc -l)"; touch "$SHAREDLM_STATE_DIR/learned.json"')
    python = _fake_python(tmp_path, body)
    first = run_worker(_spec(), timeout_s=30, python=python).result
    second = run_worker(_spec(), timeout_s=30, python=python).result
    assert first is not None
    assert second is not None
    assert (first["files"], second["files"]) == (0, 0)
    assert first["dir"] != second["dir"]
    assert not os.path.exists(first["dir"])  # removed with what the job wrote in it
