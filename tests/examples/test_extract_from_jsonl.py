"""The repo-root example script runs end to end against the simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import sharedlm
from sharedlm.simulator import BackgroundSimulator, SimulatorSettings

SCRIPT = Path(__file__).parents[2] / "examples" / "extract_from_jsonl.py"


@pytest.mark.skipif(not hasattr(sharedlm, "run_many"), reason="sharedlm.run_many is not exported yet")
def test_the_example_script_writes_one_result_per_row(tmp_path: Path) -> None:
    source = tmp_path / "rows.jsonl"
    source.write_text("".join(json.dumps({"id": f"t-{n}", "text": f"Ticket {n}: refund please."}) + "\n"
                              for n in range(8)))
    target = tmp_path / "results.jsonl"
    with BackgroundSimulator(SimulatorSettings()) as sim:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("SHAREDLM_")},
               "LITELLM_LOCAL_MODEL_COST_MAP": "true", "SHAREDLM_MODEL": "openai/sim-model",
               "SHAREDLM_API_KEY": "sim-key", "SHAREDLM_API_BASE": sim.base_url}
        done = subprocess.run([sys.executable, str(SCRIPT), str(source), str(target)], env=env,
                              capture_output=True, text=True, timeout=60)

    lines = [json.loads(text) for text in target.read_text().splitlines()]
    assert done.returncode == 0, done.stderr
    assert sorted(line["id"] for line in lines) == [f"t-{n}" for n in range(8)]
    assert all(line["error"] is None for line in lines)
