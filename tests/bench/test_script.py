"""The scripts in benchmarks/ are thin: they run as plain scripts and answer --help with their scenarios."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.parametrize(("script", "mentions"), [
    ("bench_core.py", "latency"),
    ("bench_flow.py", "rate-limited"),
    ("bench_suite.py", "--scenario"),
])
def test_script_help_runs_and_names_what_it_measures(script: str, mentions: str) -> None:
    env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="true")
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), "--help"], capture_output=True, text=True,
                          timeout=60, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert mentions in done.stdout
    assert "--quick" in done.stdout


def test_script_usage_error_exits_2() -> None:
    done = subprocess.run([sys.executable, str(BENCHMARKS / "bench_core.py"), "--workflows", "0"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
