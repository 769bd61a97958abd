"""`sharedlm run` and `sharedlm demo` as real subprocesses: kill -9, Ctrl-C, resume, and the demo end to end."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sharedlm.simulator import BackgroundSimulator, SimulatorSettings

FIXTURES = Path(__file__).parent / "fixtures" / "programs.py"
SLOW_ECHO = f"{FIXTURES}:SlowEcho"
ROWS = 300
WAIT_S = 60.0


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SHAREDLM_")}
    return {**base, "LITELLM_LOCAL_MODEL_COST_MAP": "true", "SHAREDLM_API_KEY": "test-key", **extra}


def sharedlm_cmd(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "sharedlm", *map(str, args)]


def write_rows(path: Path, count: int = ROWS) -> Path:
    path.write_text("".join(json.dumps({"id": f"r{n:04d}", "text": f"t{n}"}) + "\n" for n in range(count)))
    return path


def output_ids(path: Path) -> list[str]:
    ids = []
    for text in path.read_text().splitlines():
        try:
            ids.append(json.loads(text)["id"])
        except ValueError:  # a torn last line
            continue
    return ids


def wait_for_lines(path: Path, count: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        try:
            if path.read_text().count("\n") >= count:
                return
        except FileNotFoundError:  # not written yet
            pass
        if process.poll() is not None:
            raise AssertionError(f"the run ended early with {process.returncode}: {process.stderr}")
        time.sleep(0.02)
    raise AssertionError(f"{path} did not reach {count} lines")


@pytest.fixture
def slow_run(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    source = write_rows(tmp_path / "in.jsonl")
    out = tmp_path / "out.jsonl"
    # 300 rows x 50 ms at 5 in flight: about 3 s, long enough to interrupt mid-run.
    return source, out, ["run", SLOW_ECHO, "--input", str(source), "--output", str(out), "--concurrency", "5",
                        "--progress", "plain"]


def test_run_help_exits_0_and_names_the_options() -> None:
    done = subprocess.run(sharedlm_cmd("run", "--help"), env=env(), capture_output=True, text=True, timeout=WAIT_S)

    assert done.returncode == 0
    for option in ("--input", "--output", "--id-field", "--concurrency", "--resume", "--overwrite", "--limit",
                   "--retries"):
        assert option in done.stdout


def test_a_run_killed_with_sigkill_resumes_to_every_id_exactly_once(slow_run: tuple[Path, Path, list[str]]) -> None:
    _, out, args = slow_run
    process = subprocess.Popen(sharedlm_cmd(*args), env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_for_lines(out, 40, process)
    process.kill()
    process.wait(timeout=WAIT_S)
    before = output_ids(out)

    resumed = subprocess.run(sharedlm_cmd(*args, "--resume"), env=env(), capture_output=True, text=True,
                             timeout=WAIT_S)

    after = output_ids(out)
    assert process.returncode == -signal.SIGKILL
    assert 40 <= len(before) < ROWS
    assert resumed.returncode == 0, resumed.stderr
    assert Counter(after) == Counter(f"r{n:04d}" for n in range(ROWS))
    assert set(before) <= set(after)


def test_sigint_lets_rows_in_flight_finish_exits_130_and_resume_completes_the_rest(
        slow_run: tuple[Path, Path, list[str]]) -> None:
    _, out, args = slow_run
    process = subprocess.Popen(sharedlm_cmd(*args), env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_for_lines(out, 40, process)
    process.send_signal(signal.SIGINT)
    _, err_bytes = process.communicate(timeout=WAIT_S)
    err = err_bytes.decode()
    interrupted_ids = output_ids(out)

    resumed = subprocess.run(sharedlm_cmd(*args, "--resume"), env=env(), capture_output=True, text=True,
                             timeout=WAIT_S)

    assert process.returncode == 130, err
    assert len(interrupted_ids) < ROWS
    assert len(set(interrupted_ids)) == len(interrupted_ids)
    assert out.read_text().endswith("\n")  # flushed: no torn line
    assert "--resume" in err
    assert f"--output {out}" in err
    assert resumed.returncode == 0, resumed.stderr
    assert Counter(output_ids(out)) == Counter(f"r{n:04d}" for n in range(ROWS))


@contextlib.contextmanager
def watchdog(process: subprocess.Popen[bytes]) -> Iterator[None]:
    """Kill ``process`` if the block takes longer than WAIT_S, so a blocked read ends (at EOF) instead of hanging."""
    timer = threading.Timer(WAIT_S, process.kill)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def wait_for_stdout(process: subprocess.Popen[bytes], word: bytes, count: int) -> None:
    """Block until the program said ``word`` ``count`` times on stdout (a handshake: no sleeping, no polling)."""
    assert process.stdout is not None
    seen = 0
    with watchdog(process):
        while seen < count:
            line = process.stdout.readline()
            if not line:
                raise AssertionError(f"the run ended before saying {word!r} {count} times: {process.wait(WAIT_S)}")
            seen += line.count(word)


def wait_for_stderr(process: subprocess.Popen[bytes], text: bytes) -> bytes:
    """Block until the run printed ``text`` on stderr; return what it printed so far."""
    assert process.stderr is not None
    seen = b""
    with watchdog(process):
        while text not in seen:
            line = process.stderr.readline()
            if not line:
                raise AssertionError(f"the run ended before printing {text!r}: {seen!r}")
            seen += line
    return seen


def test_a_second_sigint_cancels_rows_in_flight_at_once(tmp_path: Path) -> None:
    program = tmp_path / "hang.py"
    program.write_text(
        "import asyncio, sys\n"
        "class Hang:\n"
        "    def __init__(self, shared_lm): pass\n"
        "    async def aforward(self, text):\n"
        "        if text != 't0':\n"
        "            sys.stdout.write('started\\n'); sys.stdout.flush()\n"
        "            await asyncio.sleep(3600)\n"
        "        return {'text': text}\n"
    )
    source = write_rows(tmp_path / "in.jsonl", 10)
    out = tmp_path / "out.jsonl"
    process = subprocess.Popen(
        sharedlm_cmd("run", f"{program}:Hang", "--input", source, "--output", out, "--concurrency", "4",
                     "--grace", "600", "--progress", "off"),
        env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # Row 5 starts only once row 1's line is written, so 4 hanging rows mean row 1 is in the output.
        wait_for_stdout(process, b"started", 4)
        process.send_signal(signal.SIGINT)
        first = wait_for_stderr(process, b"taking no new rows")  # the first signal was handled
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=WAIT_S)
    finally:
        process.kill()
    err = first + rest

    assert process.returncode == 130, err
    assert output_ids(out) == ["r0000"]
    assert b"cancelling 4 rows in flight (not written" in err


def test_sigint_stops_rows_of_a_sync_program_after_the_grace_period_and_exits_130(tmp_path: Path) -> None:
    source = write_rows(tmp_path / "in.jsonl", 10)
    out = tmp_path / "out.jsonl"
    process = subprocess.Popen(
        sharedlm_cmd("run", f"{FIXTURES}:SyncHang", "--input", source, "--output", out, "--concurrency", "4",
                     "--grace", "0.1", "--progress", "off"),
        env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_stdout(process, b"started", 4)  # 4 rows hang in their threads; row 1 is written
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=WAIT_S)  # before the fix: never returns, the threads hold the process
    finally:
        process.kill()

    assert process.returncode == 130, err
    assert output_ids(out) == ["r0000"]
    assert b"grace period over: cancelling 4 rows in flight" in err
    assert b"--resume" in err


def test_a_second_run_on_an_output_in_use_exits_2_naming_the_first_and_nothing_is_lost(tmp_path: Path) -> None:
    source = write_rows(tmp_path / "in.jsonl", 3)
    out = tmp_path / "out.jsonl"
    args: list[str | Path] = ["run", f"{FIXTURES}:StdinGate", "--input", source, "--output", out, "--concurrency", "1",
            "--progress", "off"]
    first = subprocess.Popen(sharedlm_cmd(*args), env=env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    try:
        wait_for_stdout(first, b"waiting", 1)  # the first run holds the output and waits on its first row

        second = subprocess.run(sharedlm_cmd(*args, "--resume"), env=env(), capture_output=True, text=True,
                                timeout=WAIT_S)
        _, first_err = first.communicate(b"go\n", timeout=WAIT_S)
    finally:
        first.kill()

    assert second.returncode == 2
    assert "in use by another sharedlm run" in second.stderr
    assert f"pid {first.pid}" in second.stderr
    assert first.returncode == 0, first_err
    assert Counter(output_ids(out)) == Counter(["r0000", "r0001", "r0002"])


def test_a_real_pipeline_run_against_the_simulator_records_usage_per_row(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    nonce = uuid.uuid4().hex  # new texts on every test run, so DSPy's cache cannot answer instead of the server
    source.write_text("".join(json.dumps({"id": n, "text": f"Order #{n} arrived broken ({nonce})."}) + "\n"
                              for n in range(30)))
    out = tmp_path / "out.jsonl"
    with BackgroundSimulator(SimulatorSettings()) as sim:
        done = subprocess.run(
            sharedlm_cmd("run", "sharedlm.examples.extraction_pipeline:ExtractionPipeline", "--input", source,
                         "--output", out, "--model", "openai/sim-model", "--api-base", sim.base_url,
                         "--progress", "off"),
            env=env(), capture_output=True, text=True, timeout=WAIT_S)
        served = sim.stats()
    lines = [json.loads(text) for text in out.read_text().splitlines()]

    assert done.returncode == 0, done.stderr
    assert sorted(line["id"] for line in lines) == list(range(30))
    assert all(line["output"]["sentiment"] in {"positive", "neutral", "negative"} for line in lines)
    assert sum(line["usage"]["prompt_tokens"] for line in lines) == served.prompt_tokens
    assert sum(line["usage"]["completion_tokens"] for line in lines) == served.completion_tokens


def test_the_demo_runs_end_to_end_without_a_key(tmp_path: Path) -> None:
    out = tmp_path / "demo.jsonl"
    plain_env = {k: v for k, v in env().items() if k != "SHAREDLM_API_KEY"}

    done = subprocess.run(sharedlm_cmd("demo", "--rows", "40", "--latency", "0.01", "--output", out,
                                       "--progress", "plain"),
                          env=plain_env, capture_output=True, text=True, timeout=WAIT_S)

    lines: list[dict[str, Any]] = [json.loads(text) for text in out.read_text().splitlines()]
    assert done.returncode == 0, done.stderr
    assert len(lines) == 40
    assert len({line["id"] for line in lines}) == 40
    assert all(line["error"] is None and line["usage"]["prompt_tokens"] > 0 for line in lines)
    assert "rows ok" in done.stderr
    assert str(out) in done.stderr
    assert "--price" not in done.stderr  # demo has no --price to point to
    assert "the simulated model has no price" in done.stderr


DSPY_QA = f"{Path(__file__).parent / 'fixtures' / 'dspy_programs.py'}:QA"


def test_run_help_names_load_and_the_program_forms() -> None:
    done = subprocess.run(sharedlm_cmd("run", "--help"), env=env(), capture_output=True, text=True, timeout=WAIT_S)

    assert done.returncode == 0
    assert "--load STATE.json" in done.stdout
    assert "factory function" in done.stdout


def test_a_state_saved_on_shared_lms_runs_in_a_fresh_process_with_load(tmp_path: Path) -> None:
    import sharedlm
    from sharedlm.runner._program import build_program, load_program_target

    nonce = uuid.uuid4().hex  # new questions on every run, so DSPy's cache cannot answer instead of the server
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": n, "question": f"q{n} {nonce}"}) + "\n" for n in range(5)))
    out, state = tmp_path / "out.jsonl", tmp_path / "optimized.json"
    with BackgroundSimulator(SimulatorSettings(latency=0)) as sim:
        sharedlm.configure(model="openai/sim-model", api_key="sim-key", api_base=sim.base_url)
        program = build_program(load_program_target(DSPY_QA))  # bound to this process's shared LM
        program.answer.signature = program.answer.signature.with_instructions("Answer like a pirate.")
        program.save(str(state))
        done = subprocess.run(
            sharedlm_cmd("run", DSPY_QA, "--load", state, "--input", source, "--output", out, "--model",
                         "openai/sim-model", "--api-base", sim.base_url, "--progress", "off"),
            env=env(), capture_output=True, text=True, timeout=WAIT_S)
        served = sim.stats()
    lines = [json.loads(text) for text in out.read_text().splitlines()]

    assert done.returncode == 0, done.stderr
    assert {line["output"]["instructions"] for line in lines} == {"Answer like a pirate."}
    assert all(line["output"]["shared"] for line in lines)
    assert served.requests == 5
