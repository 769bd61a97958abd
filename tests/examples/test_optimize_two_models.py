"""The two-model example runs end to end against its built-in simulator: optimize and save, load in a fresh
process, then ``sharedlm run --load`` over a file in another."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "examples" / "optimize_two_models.py"
SENTIMENTS = {"positive", "negative", "neutral"}
REVIEWS = 6


@dataclass(frozen=True)
class Tour:
    """What one run of the example left behind."""

    done: subprocess.CompletedProcess[str]
    workdir: Path


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> Tour:
    workdir = tmp_path_factory.mktemp("two-models")
    # No SHAREDLM_* settings: the example starts its own simulator on 127.0.0.1 and points every step at it.
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SHAREDLM_") and k != "TEACHER_MODEL"},
           "LITELLM_LOCAL_MODEL_COST_MAP": "true", "SHAREDLM_STATE_DIR": str(workdir / "state"),
           "DSPY_CACHEDIR": str(workdir / "dspy-cache")}
    done = subprocess.run([sys.executable, str(SCRIPT), "--workdir", str(workdir / "out")], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    return Tour(done=done, workdir=workdir / "out")


def test_the_tour_succeeds(tour: Tour) -> None:
    assert tour.done.returncode == 0, tour.done.stdout + tour.done.stderr


def test_optimizing_calls_the_teacher_and_the_task_model(tour: Tour) -> None:
    lines = tour.done.stdout.splitlines()
    calls = {line.split(":")[0].strip(): int(line.split(":")[1].split()[0]) for line in lines
             if line.strip().startswith(("openai/task-model:", "openai/teacher-model:"))}
    assert calls["openai/teacher-model"] > 0
    assert calls["openai/task-model"] > 0


def test_the_saved_program_holds_the_teachers_demos_and_no_secret(tour: Tour) -> None:
    text = (tour.workdir / "optimized.json").read_text()
    state = json.loads(text)["classify.predict"]
    assert state["demos"]
    assert state["lm"]["model"] == "openai/task-model"
    assert "simulator-key" not in text
    assert "127.0.0.1" not in text


def test_a_fresh_process_loads_the_saved_program(tour: Tour) -> None:
    loaded = [line for line in tour.done.stdout.splitlines() if line.startswith("loaded ")]
    assert len(loaded) == 1
    assert "3 demos, running on openai/task-model" in loaded[0]


def test_sharedlm_run_with_load_classifies_every_row(tour: Tour) -> None:
    rows = [json.loads(line) for line in (tour.workdir / "sentiments.jsonl").read_text().splitlines()]
    assert sorted(row["id"] for row in rows) == [f"r-{n}" for n in range(REVIEWS)]
    assert all(row["error"] is None for row in rows)
    assert {row["output"]["sentiment"] for row in rows} <= SENTIMENTS


def test_the_tour_runs_on_no_foreign_lm(tour: Tour) -> None:
    assert "foreign-lm" not in tour.done.stderr


def test_the_tour_copies_programs_without_failing_to_copy_an_lm(tour: Tour) -> None:
    assert "Failed to deep copy" not in tour.done.stderr
