"""The cost options of `sharedlm run` against the simulator on 127.0.0.1: every row priced, a spend cap that holds
and resumes, a dry run that projects the full run, and refusals of a cap on a model without a price."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import sharedlm
from sharedlm._cli import main
from sharedlm._pricing import model_price
from sharedlm.examples.extraction_pipeline import ExtractionPipeline
from sharedlm.runner._core import RunCounters
from sharedlm.runner._progress import ProgressSnapshot
from sharedlm.runner._run_cost import spent_in_output
from sharedlm.runner._summary import EXIT_SPEND_CAP, RunReport
from sharedlm.simulator import BackgroundSimulator, SimulatorSettings

PROGRAM = f"{Path(__file__).parent / 'fixtures' / 'priced.py'}:UncachedPipeline"
DEMO_ROWS = Path(sharedlm.__file__).parent / "data" / "demo_rows.jsonl"
PRICED = "openai/gpt-4o-mini"
UNPRICED = "openai/sim-model"
ROWS = 300
# The 300 demo rows cost about $0.036 at gpt-4o-mini's price on the simulator: this cap stops about 40% in.
CAP = 0.015


@pytest.fixture(autouse=True)
def _sim_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHAREDLM_API_KEY", "sim-key")  # the simulator takes any key


@pytest.fixture
def sim() -> Any:
    with BackgroundSimulator(SimulatorSettings(latency=0)) as simulator:
        yield simulator


def run(sim: Any, out: Path, *args: str, model: str = PRICED) -> int:
    return main(["run", PROGRAM, "--input", str(DEMO_ROWS), "--output", str(out), "--limit", str(ROWS),
                 "--model", model, "--api-base", sim.base_url, "--concurrency", "50", "--progress", "off", *args])


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def server_cost(sim: Any) -> float:
    price, served = model_price(PRICED), sim.stats()
    assert price is not None
    return price.cost(served.prompt_tokens, served.completion_tokens)


def test_every_row_carries_its_cost_and_they_add_up_to_the_servers_tokens_at_the_price(sim: Any,
                                                                                         tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    assert run(sim, out, "--limit", "40") == 0
    lines = read_lines(out)
    assert all(line["cost_usd"] > 0 for line in lines)
    assert sum(line["cost_usd"] for line in lines) == pytest.approx(server_cost(sim), rel=1e-9)


def test_capped_run_stops_within_the_cap_having_used_most_of_it_and_exits_3(
        sim: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.jsonl"

    code = run(sim, out, "--max-cost", str(CAP))

    spent = server_cost(sim)
    lines = read_lines(out)
    assert code == EXIT_SPEND_CAP == 3
    assert CAP / 2 <= spent <= CAP
    assert 0 < len(lines) < ROWS
    assert sum(line["cost_usd"] for line in lines) == pytest.approx(spent, rel=1e-9)
    assert "spend cap $0.0150 reached" in capsys.readouterr().err


def test_resume_with_a_higher_cap_completes_every_row_exactly_once(
        sim: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.jsonl"
    assert run(sim, out, "--max-cost", str(CAP)) == EXIT_SPEND_CAP
    command = re.search(r"To go on with a higher cap:\n  (.+)", capsys.readouterr().err)
    assert command is not None
    assert "--resume" in command.group(1)
    higher = float(re.search(r"--max-cost (\S+)", command.group(1)).group(1))  # type: ignore[union-attr]

    code = run(sim, out, "--max-cost", str(higher), "--resume")

    lines = read_lines(out)
    expected = [json.loads(line)["id"] for line in DEMO_ROWS.read_text().splitlines()[:ROWS]]
    assert code == 0
    assert sorted(line["id"] for line in lines) == sorted(expected)
    assert all(line["error"] is None for line in lines)
    assert server_cost(sim) <= higher


def test_resume_counts_what_earlier_runs_spent_toward_the_cap(sim: Any, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    assert run(sim, out, "--limit", "20") == 0
    spent, _unknown = spent_in_output(out)
    requests = sim.stats().requests

    code = run(sim, out, "--max-cost", str(spent * 0.999), "--resume")

    assert code == EXIT_SPEND_CAP
    assert sim.stats().requests == requests  # nothing more was sent: the earlier spend already fills the cap


def test_dry_run_projects_the_full_runs_cost_within_15_percent_and_leaves_the_output_alone(
        sim: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.jsonl"

    assert run(sim, out, "--dry-run", "30") == 0
    printed = capsys.readouterr().out
    assert not out.exists()
    found = re.search(r"^  cost +\$([0-9.,]+)", printed, re.MULTILINE)
    assert found is not None
    projected = float(found.group(1).replace(",", ""))
    assert "DSPy's bundled model metadata" in printed
    assert sim.stats().requests == 60  # 30 rows of 2 calls

    assert run(sim, out) == 0
    full = sum(line["cost_usd"] for line in read_lines(out))
    assert abs(projected - full) <= 0.15 * full


def test_dry_run_samples_rows_from_the_whole_input_not_only_its_start(sim: Any, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    rows = [{"id": n, "text": f"message {n}"} for n in range(100)]
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    main(["run", PROGRAM, "--input", str(source), "--output", str(tmp_path / "out.jsonl"), "--model", PRICED,
          "--api-base", sim.base_url, "--progress", "off", "--dry-run", "4"])
    assert sim.stats().requests == 8


def test_cap_on_a_model_without_a_price_is_a_usage_error_naming_price(
        sim: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.jsonl"

    code = run(sim, out, "--max-cost", "1", model=UNPRICED)

    assert code == 2
    assert "--price" in capsys.readouterr().err
    assert sim.stats().requests == 0
    assert not out.exists() or out.read_text() == ""


def test_price_option_prices_a_model_the_metadata_does_not(sim: Any, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"

    assert run(sim, out, "--limit", "10", "--price", "prompt=1,completion=2", model=UNPRICED) == 0

    served = sim.stats()
    total = sum(line["cost_usd"] for line in read_lines(out))
    assert total == pytest.approx(served.prompt_tokens * 1e-6 + served.completion_tokens * 2e-6)


def test_rows_of_a_model_without_a_price_say_cost_unknown_not_zero(
        sim: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.jsonl"

    assert run(sim, out, "--limit", "5", model=UNPRICED) == 0

    assert all(line["cost_usd"] is None for line in read_lines(out))
    assert "unknown (no price: use --price)" in capsys.readouterr().err


@pytest.mark.parametrize("price", ["prompt=1", "prompt=x,completion=1"])
def test_malformed_price_is_a_usage_error(sim: Any, tmp_path: Path, price: str) -> None:
    assert run(sim, tmp_path / "out.jsonl", "--price", price) == 2


def test_cost_options_do_not_combine_with_the_ray_backend(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", PROGRAM, "--input", str(DEMO_ROWS), "--output", str(tmp_path / "o.jsonl"),
                 "--backend", "ray", "--max-cost", "1"])
    assert code == 2
    assert "--backend local" in capsys.readouterr().err


def test_progress_line_shows_the_cost_so_far_against_the_cap() -> None:
    counters = RunCounters(cost_usd=0.0123, cost_cap=0.05)
    line = ProgressSnapshot(counters, total=None, started=0.0, now=1.0).line()
    assert "$0.0123 of $0.0500 cap" in line


def test_progress_line_says_cost_unknown_for_unpriced_rows() -> None:
    counters = RunCounters(cost_unknown_rows=1)
    assert "cost unknown" in ProgressSnapshot(counters, total=None, started=0.0, now=1.0).line()


def test_run_stopped_by_the_cap_exits_3_unless_interrupted() -> None:
    report = RunReport(succeeded=1, failed=0, skipped=0, not_run=0, wall_s=1.0, prompt_tokens=0,
                       completion_tokens=0, retries=0, interrupted=False, spend_capped=True)
    assert report.exit_code == 3
    assert RunReport(**{**report.__dict__, "interrupted": True}).exit_code == 130


def test_run_many_with_a_cap_returns_the_rows_that_fit_and_spends_at_most_the_cap(sim: Any) -> None:
    sharedlm.configure(model=PRICED, api_key="sim-key", api_base=sim.base_url, cache=False, max_tokens=200)
    rows = [json.loads(line) for line in DEMO_ROWS.read_text().splitlines()[:100]]
    pipeline = ExtractionPipeline(sharedlm.get_shared_lm())

    results = sharedlm.run_many(pipeline, rows, concurrency=20, max_cost=0.005)

    assert 0 < len(results) < 100
    assert server_cost(sim) <= 0.005
    assert sum(result.cost_usd or 0.0 for result in results) == pytest.approx(server_cost(sim), rel=1e-9)


def test_spent_in_output_sums_every_lines_cost_failed_ones_included(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": 1, "output": {}, "error": null, "cost_usd": 0.25}\n'
                   '{"id": 2, "output": null, "error": {"type": "E", "message": "m"}, "cost_usd": 0.5}\n'
                   '{"id": 3, "output": {}, "error": null, "cost_usd": null}\n'
                   '{"id": 4, "output": {}, "error": null}\n'
                   '{"id": 5, "outp')
    assert spent_in_output(out) == (0.75, 1)


def test_spent_in_output_of_a_missing_file_is_nothing(tmp_path: Path) -> None:
    assert spent_in_output(tmp_path / "none.jsonl") == (0.0, 0)
