"""What a ``sharedlm run --batch`` output cost, when a ``kill -9`` lands between its rounds of batches.

The run is a child process and the simulator is served by the test, on a hand-driven clock: the test moves a batch
to done when it wants and waits for the run's steps on the simulator's own counters (and on the run's spend
journal), never on a timer. The program makes two uncached LM calls per row, one per round of batches.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path

import pytest

from sharedlm._pricing import model_price
from sharedlm.runner._run_cost import spent_in_output
from sharedlm.simulator import Simulator, SimulatorSettings
from sharedlm.simulator._batch_store import BatchSettings

from ._helpers import Clock

PROGRAM = str(Path(__file__).with_name("programs.py")) + ":TwoSteps"
MODEL = "openai/gpt-4o-mini"
ROWS = 20
# A run that does not end in this long is stuck; the test fails instead of hanging.
RUN_TIMEOUT_S = 120.0


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHAREDLM_")}
    env.update(OPENAI_API_KEY="sk-test", DSPY_CACHEDIR=str(tmp_path / "dspy"),
               SHAREDLM_STATE_DIR=str(tmp_path / "state"), LITELLM_LOCAL_MODEL_COST_MAP="true",
               RAY_USAGE_STATS_ENABLED="0")
    return env


async def _start(sim: Simulator, tmp_path: Path, *extra: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sharedlm", "run", PROGRAM, "--input", str(tmp_path / "in.jsonl"),
        "--output", str(tmp_path / "out.jsonl"), "--model", MODEL, "--api-base", sim.base_url, "--batch",
        "--batch-linger", "0.2", "--batch-poll", "0", "--progress", "off", "--concurrency", str(ROWS), *extra,
        env=_env(tmp_path), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE)


def _batch_cost(sim: Simulator) -> float:
    price, stats = model_price(MODEL), sim.batches.stats()
    assert price is not None
    return price.cost(stats["prompt_tokens"], stats["completion_tokens"], batch=True)


async def test_a_batch_run_killed_between_its_rounds_counts_what_it_paid_and_each_line_once_on_resume(
        tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"id": i, "text": f"item {tag} {i}"}) + "\n"
                                               for i in range(ROWS)))
    out = tmp_path / "out.jsonl"
    clock = Clock()
    async with Simulator(SimulatorSettings(batch=BatchSettings(turnaround=3600)), clock=clock) as sim:
        first = await _start(sim, tmp_path)
        await asyncio.wait_for(sim.batches.wait_until(lambda s: s["batches_retrieved"] >= 1), RUN_TIMEOUT_S)
        clock.now += 3600  # the first round's batch is done at its next poll; the second's will take an hour
        # The second round's batch is out: the first round's answers were applied (settled in the spend journal,
        # or still open there at their worst case) and every row waits on its second call, so none is written.
        await asyncio.wait_for(sim.batches.wait_until(lambda s: s["batches_created"] >= 2), RUN_TIMEOUT_S)
        first.kill()
        await first.wait()
        paid = _batch_cost(sim)
        written = out.read_text() if out.exists() else ""
        spent_after_kill = spent_in_output(out)[0]

        clock.step = 3600.0  # from now on every look at a batch finds it done
        resumed = await _start(sim, tmp_path, "--resume")
        _out, err = await asyncio.wait_for(resumed.communicate(), RUN_TIMEOUT_S)
        total = _batch_cost(sim)
        lines = sim.batches.stats()["lines_submitted"]
    assert first.returncode == -9
    assert written == ""
    assert paid > 0
    assert spent_after_kill >= paid  # the first round at its cost, the second's lines at their worst case
    assert resumed.returncode == 0, err.decode(errors="replace")
    assert lines == 2 * ROWS  # the resume reattached to every line: the provider billed each once
    assert spent_in_output(out)[0] == pytest.approx(total, rel=1e-9)  # and each counts once
