"""The cost options of `sharedlm run` against the simulator on 127.0.0.1: every row priced, a spend cap that holds
and resumes, a dry run that projects the full run, and refusals of a cap on a model without a price."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Any

import dspy
import pytest

import sharedlm
from sharedlm._cli import main
from sharedlm._pricing import ModelPrice, model_price, parse_price
from sharedlm._spend import read_spend_journal
from sharedlm.examples.extraction_pipeline import ExtractionPipeline
from sharedlm.runner._core import RunCounters
from sharedlm.runner._progress import ProgressSnapshot
from sharedlm.runner._run import RunOptions
from sharedlm.runner._run_cost import spend_journal_path, spent_in_output
from sharedlm.runner._summary import EXIT_SPEND_CAP, RunReport
from sharedlm.simulator import BackgroundSimulator, Simulator, SimulatorSettings

from .fixtures.cost_programs import HOLD_VARIABLE, SECOND_MODEL

PROGRAM = f"{Path(__file__).parent / 'fixtures' / 'priced.py'}:UncachedPipeline"
COST_PROGRAMS = Path(__file__).parent / "fixtures" / "cost_programs.py"
# A child run that does not end in this long is stuck; the test fails instead of hanging.
RUN_TIMEOUT_S = 120.0
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


# --- every model under the cap ---


def run_program(sim: Any, out: Path, program: str, *args: str, rows: int = ROWS) -> int:
    return main(["run", f"{COST_PROGRAMS}:{program}", "--input", str(DEMO_ROWS), "--output", str(out), "--limit",
                 str(rows), "--model", PRICED, "--api-base", sim.base_url, "--concurrency", "50", "--progress", "off",
                 *args])


def every_models_cost(sim: Any) -> float:
    """What the simulator's successful answers cost, each model's tokens at its own price."""
    total = 0.0
    for name, stats in sim.stats().models.items():
        price = model_price(f"openai/{name}")
        assert price is not None
        total += price.cost(stats.prompt_tokens, stats.completion_tokens)
    return total


def test_cap_covers_the_calls_of_a_second_model_the_program_is_bound_to(sim: Any, tmp_path: Path) -> None:
    code = run_program(sim, tmp_path / "out.jsonl", "CheapThenStrong", "--max-cost", "0.02")

    assert code == EXIT_SPEND_CAP
    assert sim.stats().model(SECOND_MODEL.removeprefix("openai/")).served > 0
    assert every_models_cost(sim) <= 0.02


def test_row_calling_a_model_without_a_price_under_a_cap_fails_naming_the_model_and_price(
        sim: Any, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"

    code = run_program(sim, out, "SecondModelBuiltInForward", "--max-cost", "1", rows=3)

    lines = read_lines(out)
    assert code == 1
    assert len(lines) == 3
    assert all("'openai/sim-model' has no price" in line["error"]["message"] for line in lines)
    assert all("--price" in line["error"]["message"] for line in lines)
    assert sim.stats().requests == 0


# --- the spend journal: what an output cost, whatever became of its lines ---


def test_failed_rows_cost_still_counts_after_a_resume_dropped_their_lines(
        sim: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.jsonl"
    assert run_program(sim, out, "FailsAfterItsCalls", rows=10) == 1
    first = server_cost(sim)
    capsys.readouterr()

    assert run_program(sim, out, "FailsAfterItsCalls", "--resume", rows=10) == 1  # drops the first run's lines

    earlier = re.search(r"cost \(earlier runs\) +│ +\$([0-9.,]+)", capsys.readouterr().err)
    assert earlier is not None
    assert float(earlier.group(1)) == pytest.approx(first, abs=1e-6)  # printed to the micro-dollar
    assert spent_in_output(out)[0] == pytest.approx(server_cost(sim), rel=1e-9)


def test_resume_of_an_output_without_a_journal_keeps_the_cost_of_the_lines_it_drops(
        sim: Any, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    ids = [json.loads(line)["id"] for line in DEMO_ROWS.read_text().splitlines()[:2]]
    out.write_text("".join(json.dumps({"id": row_id, "output": None, "error": {"type": "E", "message": "m"},
                                       "cost_usd": 0.25}) + "\n" for row_id in ids))  # an older sharedlm's output

    assert run(sim, out, "--limit", "2", "--resume") == 0

    assert spent_in_output(out)[0] == pytest.approx(0.5 + server_cost(sim), rel=1e-9)


def test_overwrite_starts_the_spend_journal_over(sim: Any, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    assert run(sim, out, "--limit", "5") == 0
    first = server_cost(sim)

    assert run(sim, out, "--limit", "5", "--overwrite") == 0

    assert read_spend_journal(spend_journal_path(out)).usd == pytest.approx(server_cost(sim) - first, rel=1e-9)


def test_journal_is_beside_the_output_and_names_every_call(sim: Any, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    assert run(sim, out, "--limit", "5") == 0
    lines = [json.loads(line) for line in (tmp_path / ".out.jsonl.spend.jsonl").read_text().splitlines()]
    assert sum("book" in line for line in lines) == sum("settle" in line for line in lines) == 10


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHAREDLM_")}
    env.update(SHAREDLM_API_KEY="sim-key", LITELLM_LOCAL_MODEL_COST_MAP="true", RAY_USAGE_STATS_ENABLED="0",
               SHAREDLM_STATE_DIR=os.environ["SHAREDLM_STATE_DIR"])
    return env


async def _child_run(sim: Simulator, out: Path, *args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sharedlm", "run", f"{COST_PROGRAMS}:HoldsAfterItsFirstCall", "--input",
        str(DEMO_ROWS), "--output", str(out), "--limit", "10", "--model", PRICED, "--api-base", sim.base_url,
        "--concurrency", "10", "--progress", "off", *args, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def _rows_held(child: asyncio.subprocess.Process, count: int) -> None:
    """Return once ``count`` rows of ``child`` said they hold: each row's first call returned, settled."""
    assert child.stdout is not None
    held = 0
    while held < count:
        line = await child.stdout.readline()
        assert line, "the run ended before its rows held"
        held += line.strip() == b"held"


async def test_calls_of_a_killed_run_count_toward_the_output_on_resume(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    async with Simulator(SimulatorSettings(latency=0)) as sim:
        # Every row pays for its first call and then waits: killed, the run has written no row.
        held = await _child_run(sim, out, env={**_child_env(), HOLD_VARIABLE: "1"})
        await asyncio.wait_for(_rows_held(held, 10), RUN_TIMEOUT_S)
        held.kill()
        await held.wait()
        killed = server_cost(sim)
        written = len(read_lines(out))
        spent_after_kill = spent_in_output(out)[0]

        resumed = await _child_run(sim, out, "--resume", env=_child_env())
        _out, err = await asyncio.wait_for(resumed.communicate(), RUN_TIMEOUT_S)
        total = server_cost(sim)
    assert held.returncode == -9
    assert written == 0
    assert killed > 0
    assert spent_after_kill == pytest.approx(killed, rel=1e-9)
    assert resumed.returncode == 0, err.decode(errors="replace")
    assert len(read_lines(out)) == 10
    assert spent_in_output(out)[0] == pytest.approx(total, rel=1e-9)


# --- the dry run ---


def test_dry_run_with_a_cap_runs_its_sample_uncapped_and_says_how_many_rows_the_cap_pays_for(
        sim: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(sim, tmp_path / "out.jsonl", "--dry-run", "10", "--max-cost", "0.005") == 0

    printed = capsys.readouterr().out
    assert "(0 failed)" in printed
    assert sim.stats().requests == 20
    found = re.search(r"the projected cost does not fit; at the sample's average row cost it pays for about ([0-9,]+) "
                      r"of 300 rows", printed)
    assert found is not None
    assert 0 < int(found.group(1).replace(",", "")) < 300


def test_second_identical_dry_run_projects_what_the_first_did(
        sim: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # The demo pipeline with DSPy's cache on (in memory here, not to touch the user's disk cache).
    monkeypatch.setattr(dspy, "cache", dspy.clients.Cache(enable_disk_cache=False, enable_memory_cache=True,
                                                          disk_cache_dir=None), raising=False)
    program = "sharedlm.examples.extraction_pipeline:ExtractionPipeline"
    args = ["run", program, "--input", str(DEMO_ROWS), "--output", str(tmp_path / "out.jsonl"), "--limit", "100",
            "--model", PRICED, "--api-base", sim.base_url, "--progress", "off", "--dry-run", "5"]

    assert main(args) == 0
    first = capsys.readouterr().out
    assert main(args) == 0
    second = capsys.readouterr().out

    def projected(printed: str) -> str:
        found = re.search(r"^  cost +(\S+)\n  tokens +(.+)$", printed, re.MULTILINE)
        assert found is not None
        return found.group(0)

    assert projected(first) == projected(second)
    assert sim.stats().requests == 20  # both samples reached the provider: nothing from the cache
    assert len(dspy.cache.memory_cache) == 0  # and neither filled it


# --- a price per model: --price MODEL=prompt=..,completion=.. ---

PRICE_PROGRAMS = Path(__file__).parent / "fixtures" / "price_programs.py"
JUDGE = "openai/judge-model"  # the bundled metadata has no price for it
JUDGE_PRICE = f"{JUDGE}=prompt=1,completion=2"


def run_judged(sim: Any, out: Path, *args: str, rows: int = 10) -> int:
    """Run the draft-then-judge program: drafts on gpt-4o-mini (bundled price), verdicts on :data:`JUDGE`."""
    return main(["run", f"{PRICE_PROGRAMS}:DraftThenJudge", "--input", str(DEMO_ROWS), "--output", str(out),
                 "--limit", str(rows), "--model", PRICED, "--api-base", sim.base_url, "--concurrency", "10",
                 "--progress", "off", *args])


def judged_cost(sim: Any) -> float:
    """What the simulator's answers cost: the drafts at gpt-4o-mini's bundled price, the verdicts at $1/M prompt
    and $2/M completion."""
    prices = {PRICED: model_price(PRICED), JUDGE: parse_price("prompt=1,completion=2", model=JUDGE)}
    total = 0.0
    for name, stats in sim.stats().models.items():
        price = prices[f"openai/{name}"]
        assert price is not None
        total += price.cost(stats.prompt_tokens, stats.completion_tokens)
    return total


def test_a_price_naming_a_second_model_prices_that_models_calls_in_every_row(sim: Any, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"

    assert run_judged(sim, out, "--price", JUDGE_PRICE) == 0

    lines = read_lines(out)
    assert sim.stats().model("judge-model").served == 10
    assert all(line["cost_usd"] is not None for line in lines)
    assert sum(line["cost_usd"] for line in lines) == pytest.approx(judged_cost(sim), rel=1e-9)


def test_the_summary_prices_each_model_at_its_own_price_and_names_where_it_came_from(
        sim: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # the summary table's cells on one line each
    assert run_judged(sim, tmp_path / "out.jsonl", "--price", JUDGE_PRICE) == 0

    summary = re.sub(r"[│ ]+", " ", capsys.readouterr().err)
    assert re.search(r"cost openai/judge-model \$0\.\d+", summary)
    assert "openai/judge-model: $1/M prompt, $2/M completion (from --price)" in summary
    assert "openai/gpt-4o-mini: $0.15/M prompt, $0.6/M completion, $0.075/M cached prompt (from DSPy's" in summary


def test_a_cap_covers_a_second_model_at_the_price_naming_it(sim: Any, tmp_path: Path) -> None:
    # 40 rows cost about $0.02 with the verdicts at $1/M prompt: a $0.01 cap stops the run about half way.
    code = run_judged(sim, tmp_path / "out.jsonl", "--max-cost", "0.01", "--price", JUDGE_PRICE, rows=40)

    assert code == EXIT_SPEND_CAP
    assert sim.stats().model("judge-model").served > 0
    assert judged_cost(sim) <= 0.01


def test_the_resume_command_of_a_capped_run_prices_each_model_as_the_run_did(
        sim: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.jsonl"
    assert run_judged(sim, out, "--max-cost", "0.01", "--price", JUDGE_PRICE, rows=40) == EXIT_SPEND_CAP
    command = capsys.readouterr().err.rsplit("To go on with a higher cap:\n", 1)[1].strip()
    assert f"--price {JUDGE_PRICE}" in command

    assert main(shlex.split(command)[1:]) == 0

    assert len(read_lines(out)) == 40
    assert all(line["cost_usd"] is not None for line in read_lines(out))
    assert spent_in_output(out)[0] == pytest.approx(judged_cost(sim), rel=1e-9)


def test_a_model_priced_twice_is_a_usage_error_naming_it_before_anything_is_sent(
        sim: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run_judged(sim, tmp_path / "out.jsonl", "--price", JUDGE_PRICE, "--price", f"{JUDGE}=prompt=3,completion=4")

    assert code == 2
    assert "--price prices 'openai/judge-model' twice" in capsys.readouterr().err
    assert sim.stats().requests == 0


def test_a_negative_price_naming_a_model_is_a_usage_error_naming_the_flag_and_the_model(
        sim: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run_judged(sim, tmp_path / "out.jsonl", "--price", f"{JUDGE}=prompt=-1,completion=2")

    assert code == 2
    assert "--price for 'openai/judge-model': prompt must be a number of USD per million tokens >= 0" in (
        capsys.readouterr().err)
    assert sim.stats().requests == 0


def test_the_dry_runs_prices_lines_give_each_models_price_and_where_it_came_from(
        sim: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_judged(sim, tmp_path / "out.jsonl", "--dry-run", "4", "--price", JUDGE_PRICE) == 0

    printed = capsys.readouterr().out
    prices = printed.split("prices:\n", 1)[1].splitlines()
    assert prices[0].startswith("  openai/gpt-4o-mini: $0.15/M prompt, $0.6/M completion")
    assert "(from DSPy's bundled model metadata" in prices[0]
    assert prices[1] == "  openai/judge-model: $1/M prompt, $2/M completion (from --price)"
    assert "unknown" not in printed


def test_the_resume_command_gives_each_price_again_as_it_was_given() -> None:
    options = RunOptions(program="p.py:P", input=Path("in.jsonl"), output=Path("out.jsonl"),
                         price=("prompt=0.15,completion=0.6", JUDGE_PRICE))

    assert "--price prompt=0.15,completion=0.6 --price openai/judge-model=prompt=1,completion=2 " in (
        options.resume_command())


def test_the_resume_command_writes_a_price_mapping_as_one_price_per_model() -> None:
    judge = ModelPrice(model=JUDGE, prompt=1e-6, completion=2e-6, batch_prompt=0.5e-6, batch_completion=1e-6)
    options = RunOptions(program="p.py:P", input=Path("in.jsonl"), output=Path("out.jsonl"),
                         price={JUDGE: judge, "openai/other": "prompt=3,completion=4"})

    command = options.resume_command()

    assert ("--price openai/judge-model=prompt=1,completion=2,batch_prompt=0.5,batch_completion=1 "
            "--price openai/other=prompt=3,completion=4 ") in command
