"""``sharedlm run --batch`` as a real subprocess against the simulator served by the test itself.

The simulator runs on the test's event loop, so the test sees every batch request the run makes and waits for the
run's steps on the simulator's own counters (:meth:`BatchDesk.wait_until`), never on a timer; the run is a child
process, so a kill is a real ``kill -9``. Each run polls at once and submits after a short linger, and the
program (``tests/batch/programs.py:TwoSteps``) makes exactly two uncached LM calls per row.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from sharedlm.runner._batch_mode import journal_path_for
from sharedlm.simulator import Simulator, SimulatorSettings
from sharedlm.simulator._batch_store import BatchSettings

from ._helpers import Clock

PROGRAM = str(Path(__file__).with_name("programs.py")) + ":TwoSteps"
# A run that does not end in this long is stuck; the test fails instead of hanging.
RUN_TIMEOUT_S = 120.0


def _rows(path: Path, count: int) -> None:
    tag = uuid.uuid4().hex[:8]  # a new text every test run
    path.write_text("".join(json.dumps({"id": i, "text": f"item {tag} {i}"}) + "\n" for i in range(count)))


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHAREDLM_")}
    env.update(OPENAI_API_KEY="sk-test", ANTHROPIC_API_KEY="sk-ant-test", DSPY_CACHEDIR=str(tmp_path / "dspy"),
               SHAREDLM_STATE_DIR=str(tmp_path / "state"), LITELLM_LOCAL_MODEL_COST_MAP="true",
               RAY_USAGE_STATS_ENABLED="0")
    return env


async def _start(sim: Simulator, tmp_path: Path, *extra: str, model: str = "openai/sim-model",
                 concurrency: int = 5000) -> asyncio.subprocess.Process:
    base = f"{sim.root_url}/v1" if model.startswith("anthropic/") else sim.base_url
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sharedlm", "run", PROGRAM, "--input", str(tmp_path / "in.jsonl"),
        "--output", str(tmp_path / "out.jsonl"), "--model", model, "--api-base", base, "--batch",
        "--batch-linger", "0.2", "--batch-poll", "0", "--progress", "off", "--concurrency", str(concurrency),
        *extra, env=_env(tmp_path), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE)


async def _finish(process: asyncio.subprocess.Process) -> tuple[int, str]:
    _out, err = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT_S)
    assert process.returncode is not None
    return process.returncode, err.decode(errors="replace")


def _output(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]


def _submitted_bodies(sim: Simulator) -> Counter[str]:
    """How often each request body was submitted, over every batch the simulator holds."""
    return Counter(hashlib.sha256(line.body).hexdigest() for job in sim.batches.store.jobs.values()
                   for line in job.lines)


async def test_5000_rows_of_a_two_step_program_run_from_batches_with_one_line_per_call(tmp_path: Path) -> None:
    rows = 5000
    _rows(tmp_path / "in.jsonl", rows)
    async with Simulator() as sim:
        code, err = await _finish(await _start(sim, tmp_path))
        online = sim.stats().requests
        stats = sim.batches.stats()
        bodies = _submitted_bodies(sim)
    output = _output(tmp_path)
    journal = json.loads(journal_path_for(tmp_path / "out.jsonl").read_text())
    calls = Counter((line["row"], line["call"]) for batch in journal["batches"] for line in batch["lines"].values())
    assert code == 0, err
    assert len(output) == rows
    assert all(line.get("error") is None for line in output)
    assert online == 0  # no online completion request
    assert stats["lines_submitted"] == 2 * rows
    assert len(bodies) == 2 * rows
    assert set(bodies.values()) == {1}
    assert calls == Counter({(str(r), c): 1 for r in range(rows) for c in range(2)})


@pytest.mark.parametrize("model", ["openai/sim-model", "anthropic/claude-sonnet-4-5"])
async def test_a_run_killed_after_its_first_submission_resumes_without_submitting_a_line_twice(
        tmp_path: Path, model: str) -> None:
    rows = 40
    _rows(tmp_path / "in.jsonl", rows)
    clock = Clock()
    # Batches take an hour on the simulator's hand-driven clock: the first run's batch is still in progress
    # when the run dies.
    async with Simulator(SimulatorSettings(batch=BatchSettings(turnaround=3600)), clock=clock) as sim:
        first = await _start(sim, tmp_path, model=model, concurrency=rows)
        # A poll of a batch means its id is in the journal: the run is past its first submission.
        await asyncio.wait_for(sim.batches.wait_until(lambda s: s["batches_retrieved"] >= 1), RUN_TIMEOUT_S)
        first.kill()
        await first.wait()
        journal = json.loads(journal_path_for(tmp_path / "out.jsonl").read_text())
        before = sim.batches.stats()

        clock.step = 3600.0  # from now on every look at a batch finds it done
        code, err = await _finish(await _start(sim, tmp_path, "--resume", model=model, concurrency=rows))
        stats = sim.batches.stats()
        bodies = _submitted_bodies(sim)
    output = _output(tmp_path)
    assert first.returncode == -9
    assert any(batch["batch_id"] for batch in journal["batches"])
    assert before["lines_submitted"] >= 1
    assert code == 0, err
    assert sorted(line["id"] for line in output) == list(range(rows))
    assert all(line.get("error") is None for line in output)
    assert set(bodies.values()) == {1}  # no line submitted twice
    assert stats["lines_submitted"] == 2 * rows


async def test_lines_that_fail_and_a_batch_that_fails_whole_still_end_with_every_row_ok(tmp_path: Path) -> None:
    rows = 200
    _rows(tmp_path / "in.jsonl", rows)
    flaky = BatchSettings(line_failure_rate=0.1, line_expiry_rate=0.05, fail_first_batches=1)
    async with Simulator(SimulatorSettings(batch=flaky)) as sim:
        code, err = await _finish(await _start(sim, tmp_path))
        stats = sim.batches.stats()
    output = _output(tmp_path)
    assert code == 0, err
    assert len(output) == rows
    assert all(line.get("error") is None for line in output)
    assert stats["batches_failed"] >= 1
    assert stats["lines_errored"] + stats["lines_expired"] > 0
    assert stats["lines_succeeded"] == 2 * rows  # each call answered once


async def test_lines_failing_in_every_batch_end_as_clear_error_rows(tmp_path: Path) -> None:
    rows = 20
    _rows(tmp_path / "in.jsonl", rows)
    async with Simulator(SimulatorSettings(batch=BatchSettings(line_failure_rate=1.0))) as sim:
        code, err = await _finish(await _start(sim, tmp_path))
    output = _output(tmp_path)
    assert code == 1, err
    assert len(output) == rows
    assert all("gave up after 5 batches" in line["error"]["message"] for line in output), output[0]


async def test_batches_failing_whole_every_time_end_as_clear_error_rows(tmp_path: Path) -> None:
    rows = 20
    _rows(tmp_path / "in.jsonl", rows)
    async with Simulator(SimulatorSettings(batch=BatchSettings(batch_failure_rate=1.0))) as sim:
        code, err = await _finish(await _start(sim, tmp_path))
    output = _output(tmp_path)
    assert code == 1, err
    assert len(output) == rows
    assert all("gave up after 5 batches: batch failed" in line["error"]["message"] for line in output), output[0]


async def test_an_anthropic_run_killed_as_its_first_batch_is_created_resumes_without_submitting_a_line_twice(
        tmp_path: Path) -> None:
    # Killed the moment the simulator has created the batch: in practice (3 runs of 3) before the run could write
    # its id down, the window in which an Anthropic batch, which has no label, is found again by its custom_ids.
    # Wherever the kill lands, nothing may be submitted twice.
    rows = 40
    _rows(tmp_path / "in.jsonl", rows)
    model = "anthropic/claude-sonnet-4-5"
    async with Simulator() as sim:
        first = await _start(sim, tmp_path, model=model, concurrency=rows)
        await asyncio.wait_for(sim.batches.wait_until(lambda s: s["batches_created"] >= 1), RUN_TIMEOUT_S)
        first.kill()
        await first.wait()
        code, err = await _finish(await _start(sim, tmp_path, "--resume", model=model, concurrency=rows))
        stats = sim.batches.stats()
        bodies = _submitted_bodies(sim)
    output = _output(tmp_path)
    assert code == 0, err
    assert sorted(line["id"] for line in output) == list(range(rows))
    assert all(line.get("error") is None for line in output)
    assert set(bodies.values()) == {1}
    assert stats["lines_submitted"] == 2 * rows
