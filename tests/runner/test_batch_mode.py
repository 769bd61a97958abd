"""Batch mode of the runner: run_many(batch=True) and ``sharedlm run --batch`` against the simulator."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import sharedlm
from sharedlm._batch import BatchOptions
from sharedlm._errors import UsageError
from sharedlm.examples.extraction_pipeline import ExtractionPipeline
from sharedlm.runner import run_many
from sharedlm.runner._batch_mode import journal_path_for
from sharedlm.simulator import BackgroundSimulator, SimulatorSettings

# Submit when the round is full, never on a timer; poll at once (the simulator's turnaround is 0).
ROUND = BatchOptions(linger=10_000.0, poll_initial=0.0, poll_max=0.0, max_requests=12)


@pytest.fixture(scope="module")
def sim() -> Iterator[BackgroundSimulator]:
    with BackgroundSimulator(SimulatorSettings()) as server:
        yield server


def _pipeline(sim: BackgroundSimulator, model: str = "openai/sim-model") -> ExtractionPipeline:
    sharedlm.configure(model=model, api_key="k", api_base=sim.base_url, cache=False)
    return ExtractionPipeline(sharedlm.get_shared_lm())


def _rows(count: int, tag: str = "") -> list[dict[str, object]]:
    return [{"id": i, "text": f"{tag}Order {i} arrived broken, please refund"} for i in range(count)]


def test_run_many_in_batch_mode_runs_a_two_step_program_in_two_rounds_of_batches(sim: BackgroundSimulator) -> None:
    program = _pipeline(sim)
    before, online_before = sim.batch_stats(), sim.stats().requests
    results = run_many(program, _rows(12), concurrency=12, batch=True, batch_options=ROUND)
    after = sim.batch_stats()
    assert all(r.ok for r in results)
    assert len(results) == 12
    assert all(r.output is not None and r.output["sentiment"] in ("positive", "neutral", "negative") for r in results)
    assert after["batches_created"] - before["batches_created"] == 2
    assert after["lines_submitted"] - before["lines_submitted"] == 24
    assert sim.stats().requests == online_before


def test_after_batch_mode_calls_go_online_again(sim: BackgroundSimulator) -> None:
    program = _pipeline(sim)
    run_many(program, _rows(12), concurrency=12, batch=True, batch_options=ROUND)
    online_before = sim.stats().requests
    results = run_many(program, _rows(1), concurrency=1)
    assert results[0].ok
    assert sim.stats().requests == online_before + 2


def test_batch_mode_refuses_a_provider_without_a_batch_api_before_sending(sim: BackgroundSimulator) -> None:
    program = _pipeline(sim, model="deepseek/sim-model")
    before = sim.batch_stats()["files_uploaded"], sim.stats().requests
    with pytest.raises(UsageError, match="batch API"):
        run_many(program, _rows(1), batch=True)
    assert (sim.batch_stats()["files_uploaded"], sim.stats().requests) == before


def test_batch_mode_with_the_ray_backend_is_a_usage_error(sim: BackgroundSimulator) -> None:
    with pytest.raises(UsageError, match="drop backend='ray'"):
        run_many(_pipeline(sim), _rows(1), batch=True, backend="ray")


def test_batch_options_without_batch_mode_are_a_usage_error(sim: BackgroundSimulator) -> None:
    with pytest.raises(UsageError, match="batch=True"):
        run_many(_pipeline(sim), _rows(1), batch_options=ROUND)


async def test_streaming_in_batch_mode_is_a_usage_error(sim: BackgroundSimulator) -> None:
    from dspy import lm15

    from sharedlm._singleton import shared_engines

    _pipeline(sim)
    engine = shared_engines()[1]
    engine.use_batch(ROUND)
    try:
        with pytest.raises(UsageError, match="cannot stream"):
            async for _ in engine.stream(lm15.Request(model="sim-model", messages=(lm15.Message.user("x"),))):
                pass
    finally:
        engine.use_online()


def test_sharedlm_run_batch_writes_every_row_and_a_journal_beside_the_output(
        sim: BackgroundSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sharedlm._cli import main

    source = tmp_path / "in.jsonl"
    # New texts on every run, so DSPy's disk cache (on for the CLI) cannot answer the first step.
    source.write_text("".join(json.dumps(row) + "\n" for row in _rows(6, tag=f"{uuid.uuid4().hex} ")))
    output = tmp_path / "out.jsonl"
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    before, online_before = sim.batch_stats(), sim.stats().requests
    code = main(["run", "sharedlm.examples.extraction_pipeline:ExtractionPipeline", "--input", str(source),
                 "--output", str(output), "--model", "openai/sim-model", "--api-base", sim.base_url, "--batch",
                 "--batch-linger", "0", "--batch-poll", "0", "--progress", "off"])
    lines = [json.loads(x) for x in output.read_text().splitlines()]
    journal = json.loads(journal_path_for(output).read_text())
    assert code == 0
    assert len(lines) == 6
    assert all(x.get("error") is None for x in lines)
    # Six first steps at least (second steps may repeat a cached prompt); nothing online.
    assert sim.batch_stats()["lines_submitted"] - before["lines_submitted"] >= 6
    assert sim.stats().requests == online_before
    assert journal["batches"]
    assert all(b["state"] == "ended" and b["batch_id"] for b in journal["batches"])


def test_the_cost_line_puts_batch_prices_beside_online_ones() -> None:
    from sharedlm.runner._batch_mode import cost_line

    line = cost_line("openai/gpt-4o-mini", 1_000_000, 1_000_000)
    assert line == "1,000,000 prompt + 1,000,000 completion tokens: $0.3750 at batch prices ($0.7500 online)"


def test_an_unpriced_model_has_no_cost_line() -> None:
    from sharedlm.runner._batch_mode import cost_line

    assert cost_line("openai/sim-model", 10, 10) is None


def test_the_journal_of_a_batch_run_names_each_calls_row_and_step(sim: BackgroundSimulator, tmp_path: Path) -> None:
    program = _pipeline(sim)
    journal = tmp_path / "run.batches.json"
    options = BatchOptions(linger=10_000.0, poll_initial=0.0, poll_max=0.0, max_requests=3, journal=journal)
    results = run_many(program, _rows(3, tag="journal "), concurrency=3, batch=True, batch_options=options)
    lines = [x for b in json.loads(journal.read_text())["batches"] for x in b["lines"].values()]
    assert all(r.ok for r in results)
    assert sorted((x["row"], x["call"]) for x in lines) == [(str(r), c) for r in range(3) for c in range(2)]


def test_lines_failing_in_every_batch_end_as_clear_error_rows() -> None:
    from sharedlm.simulator._batch_store import BatchSettings

    with BackgroundSimulator(SimulatorSettings(batch=BatchSettings(line_failure_rate=1.0))) as failing:
        program = _pipeline(failing)
        options = BatchOptions(linger=0.0, poll_initial=0.0, poll_max=0.0, max_line_attempts=2)
        results = run_many(program, _rows(3, tag="failing "), concurrency=3, batch=True, batch_options=options)
        lines = failing.batch_stats()["lines_submitted"]
    assert all(r.error is not None and "gave up after 2 batches" in r.error.message for r in results), results
    assert lines == 6


def test_a_batch_that_fails_whole_ends_with_every_row_ok() -> None:
    from sharedlm.simulator._batch_store import BatchSettings

    with BackgroundSimulator(SimulatorSettings(batch=BatchSettings(fail_first_batches=1,
                                                                   line_failure_rate=0.2))) as flaky:
        program = _pipeline(flaky)
        options = BatchOptions(linger=0.0, poll_initial=0.0, poll_max=0.0, max_line_attempts=20)
        results = run_many(program, _rows(10, tag="flaky "), concurrency=10, batch=True, batch_options=options)
        stats = flaky.batch_stats()
    assert all(r.ok for r in results)
    assert stats["batches_failed"] == 1
    assert stats["lines_succeeded"] == 20


@pytest.mark.parametrize(("extra", "message"), [(["--dry-run", "2"], "drop --batch"),
                                                (["--backend", "ray"], "drop --backend ray")])
def test_sharedlm_run_batch_with_an_option_it_cannot_serve_is_a_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str) -> None:
    from sharedlm._cli import main

    source = tmp_path / "in.jsonl"
    source.write_text('{"id": 1, "text": "x"}\n')
    code = main(["run", "sharedlm.examples.extraction_pipeline:ExtractionPipeline", "--input", str(source),
                 "--output", str(tmp_path / "out.jsonl"), "--batch", *extra])
    assert code == 2
    assert message in capsys.readouterr().err


def test_calls_answered_from_a_batch_are_priced_at_the_batch_rates(sim: BackgroundSimulator) -> None:
    from sharedlm._pricing import model_price

    program = _pipeline(sim, model="openai/gpt-4o-mini")
    before = sim.batch_stats()
    results = run_many(program, _rows(12, tag="priced "), concurrency=12, batch=True, batch_options=ROUND)
    after = sim.batch_stats()
    price = model_price("openai/gpt-4o-mini")
    assert price is not None
    assert all(r.ok for r in results)
    prompt = after["prompt_tokens"] - before["prompt_tokens"]
    completion = after["completion_tokens"] - before["completion_tokens"]
    batch_cost, online_cost = price.cost(prompt, completion, batch=True), price.cost(prompt, completion)
    assert batch_cost < online_cost
    assert sum(r.cost_usd or 0.0 for r in results) == pytest.approx(batch_cost)
    assert sharedlm.stats().cost_usd == pytest.approx(batch_cost)
    assert sharedlm.get_shared_lm().history[-1]["cost_details"]["kind"] == "batch"


def test_progress_of_a_batch_run_shows_its_batches_and_the_summary_its_cost_at_both_prices(
        sim: BackgroundSimulator, capsys: pytest.CaptureFixture[str]) -> None:
    program = _pipeline(sim, model="openai/gpt-4o-mini")
    results = run_many(program, _rows(12, tag="shown "), concurrency=12, batch=True, batch_options=ROUND,
                       progress=True)
    err = capsys.readouterr().err
    assert all(r.ok for r in results)
    assert "batches 2 submitted, 0 in progress, 2 done | 0 calls waiting" in err
    assert "at batch prices ($" in err


def test_batch_progress_reads_the_shared_engines_batches_only_while_batch_mode_lasts(
        sim: BackgroundSimulator) -> None:
    from sharedlm._singleton import shared_engines
    from sharedlm.runner._progress import batch_progress

    _pipeline(sim)
    engine = shared_engines()[1]
    engine.use_batch(ROUND)
    try:
        during = batch_progress()
    finally:
        engine.use_online()
    assert during == {"submitted": 0, "in_progress": 0, "done": 0, "calls_waiting": 0}
    assert batch_progress() is None


def test_the_cost_line_uses_the_runs_own_price_when_given() -> None:
    from sharedlm._pricing import ModelPrice
    from sharedlm.runner._batch_mode import cost_line

    price = ModelPrice(model="openai/sim-model", prompt=1e-6, completion=2e-6, batch_prompt=0.5e-6,
                       batch_completion=1e-6)
    line = cost_line("openai/sim-model", 1_000_000, 1_000_000, price=price)
    assert line == "1,000,000 prompt + 1,000,000 completion tokens: $1.5000 at batch prices ($3.0000 online)"


def test_sharedlm_run_batch_prices_its_cost_line_at_the_runs_own_price(
        sim: BackgroundSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from sharedlm._cli import main

    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in _rows(4, tag=f"{uuid.uuid4().hex} ")))
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    code = main(["run", "sharedlm.examples.extraction_pipeline:ExtractionPipeline", "--input", str(source),
                 "--output", str(tmp_path / "out.jsonl"), "--model", "openai/sim-model", "--api-base", sim.base_url,
                 "--batch", "--batch-linger", "0", "--batch-poll", "0", "--progress", "plain",
                 "--price", "prompt=1,completion=2,batch_prompt=0.5,batch_completion=1"])
    err = capsys.readouterr().err
    assert code == 0
    assert "at batch prices ($" in err
    assert "online)" in err


class _DraftAndJudge(sharedlm.SharedLMModule):
    """Two steps on two models: a draft on the default model, a verdict on a judge model."""

    def __init__(self, shared_lm: object) -> None:
        import dspy

        super().__init__(shared_lm)
        self.draft = dspy.Predict("text -> summary")
        self.judge = dspy.Predict("text, summary -> verdict")
        self.judge.set_lm(sharedlm.get_shared_lm("openai/judge-model", cache=False))

    async def aforward(self, text: str) -> dict[str, str]:
        summary = (await self.draft.acall(text=text)).summary
        return {"verdict": (await self.judge.acall(text=text, summary=summary)).verdict}


def test_every_model_of_a_program_answers_from_batches(sim: BackgroundSimulator, tmp_path: Path) -> None:
    sharedlm.configure(model="openai/sim-model", api_key="k", api_base=sim.base_url, cache=False)
    program = _DraftAndJudge(sharedlm.get_shared_lm())
    before, online_before = sim.batch_stats(), sim.stats().requests
    options = BatchOptions(linger=10_000.0, poll_initial=0.0, poll_max=0.0, max_requests=6,
                           journal=tmp_path / "out.jsonl.batches.json")
    results = run_many(program, _rows(6), concurrency=6, batch=True, batch_options=options)
    after = sim.batch_stats()
    assert all(r.ok for r in results)
    assert sim.stats().requests == online_before
    assert after["lines_submitted"] - before["lines_submitted"] == 12
    assert (tmp_path / "out.jsonl.batches.openai_judge-model.json").exists()
    models = sharedlm.stats().models
    assert models["openai/judge-model"].calls_succeeded == models["openai/sim-model"].calls_succeeded == 6


def test_batch_mode_refuses_a_second_model_without_a_batch_api_before_sending(sim: BackgroundSimulator) -> None:
    program = _pipeline(sim)
    sharedlm.get_shared_lm("deepseek/judge-model")
    before = sim.batch_stats()["files_uploaded"], sim.stats().requests
    with pytest.raises(UsageError, match="deepseek/judge-model"):
        run_many(program, _rows(1), batch=True)
    assert (sim.batch_stats()["files_uploaded"], sim.stats().requests) == before


def test_sharedlm_run_batch_books_and_settles_every_call_in_the_spend_journal_at_the_batch_rates(
        sim: BackgroundSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sharedlm._cli import main
    from sharedlm._pricing import model_price
    from sharedlm._spend import read_spend_journal
    from sharedlm.runner._run_cost import spend_journal_path

    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in _rows(4, tag=f"{uuid.uuid4().hex} ")))
    output = tmp_path / "out.jsonl"
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    before = sim.batch_stats()
    code = main(["run", "sharedlm.examples.extraction_pipeline:ExtractionPipeline", "--input", str(source),
                 "--output", str(output), "--model", "openai/gpt-4o-mini", "--api-base", sim.base_url, "--batch",
                 "--batch-linger", "0", "--batch-poll", "0", "--progress", "off"])
    after = sim.batch_stats()
    price = model_price("openai/gpt-4o-mini")
    assert price is not None
    batch_cost = price.cost(after["prompt_tokens"] - before["prompt_tokens"],
                            after["completion_tokens"] - before["completion_tokens"], batch=True)
    journal = spend_journal_path(output).read_text()
    assert code == 0
    assert journal.count('"batch": ') == after["lines_submitted"] - before["lines_submitted"]
    spend = read_spend_journal(spend_journal_path(output))
    assert (spend.usd, spend.unsettled, spend.unknown) == (pytest.approx(batch_cost, rel=1e-9), 0, 0)


PRICE_PROGRAMS = Path(__file__).parent / "fixtures" / "price_programs.py"
BATCH_PRICE_PROGRAMS = Path(__file__).parent / "fixtures" / "batch_price_programs.py"
# A price with batch rates at half the online ones, as OpenAI's.
SIM_PRICE = "prompt=1,completion=2,batch_prompt=0.5,batch_completion=1"


@pytest.mark.parametrize(("program", "model", "price"), [
    # the default model priced by a bare --price, the judge (gpt-4o-mini) by the bundled metadata
    ("DraftThenPricedJudge", "openai/sim-model", SIM_PRICE),
    # the default model (gpt-4o-mini) by the bundled metadata, the judge by a --price naming it
    ("DraftThenJudge", "openai/gpt-4o-mini", f"openai/judge-model={SIM_PRICE}"),
])
def test_sharedlm_run_batch_prices_each_rows_calls_at_the_batch_rates_of_the_model_each_went_to(
        sim: BackgroundSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, program: str, model: str,
        price: str) -> None:
    from sharedlm._cli import main
    from sharedlm._pricing import model_price, parse_price
    from sharedlm._spend import read_spend_journal
    from sharedlm.runner._run_cost import spend_journal_path

    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in _rows(4, tag=f"{uuid.uuid4().hex} ")))
    output = tmp_path / "out.jsonl"
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    online_before = sim.stats().requests
    code = main(["run", f"{PRICE_PROGRAMS}:{program}", "--input", str(source), "--output", str(output), "--model",
                 model, "--api-base", sim.base_url, "--batch", "--batch-linger", "0", "--batch-poll", "0",
                 "--progress", "off", "--price", price])
    lines = [json.loads(x) for x in output.read_text().splitlines()]
    models = sharedlm.stats().models
    assert code == 0
    assert sim.stats().requests == online_before  # every call answered from a batch
    assert len(models) == 2
    expected = 0.0
    for name, stats in models.items():
        rate = (model_price(name) if name == "openai/gpt-4o-mini"
                else parse_price(SIM_PRICE, model=name))
        assert rate is not None
        assert stats.calls_succeeded == 4
        expected += rate.cost(stats.prompt_tokens, stats.completion_tokens, batch=True)
    assert all(line["error"] is None for line in lines)
    assert sum(line["cost_usd"] for line in lines) == pytest.approx(expected, rel=1e-9)
    assert read_spend_journal(spend_journal_path(output)).usd == pytest.approx(expected, rel=1e-9)


def test_a_batch_run_of_two_models_reports_each_models_cost_at_its_own_price(
        sim: BackgroundSimulator, capsys: pytest.CaptureFixture[str]) -> None:
    from sharedlm._pricing import model_price, parse_price
    from sharedlm.runner._batch_mode import cost_line

    sharedlm.configure(model="openai/gpt-4o-mini", api_key="k", api_base=sim.base_url, cache=False)
    program = _DraftAndJudge(sharedlm.get_shared_lm())
    options = BatchOptions(linger=10_000.0, poll_initial=0.0, poll_max=0.0, max_requests=6)
    results = run_many(program, _rows(6, tag="two prices "), concurrency=6, batch=True, batch_options=options,
                       progress=True, price={"openai/judge-model": SIM_PRICE})
    err = capsys.readouterr().err
    models = sharedlm.stats().models
    assert all(r.ok for r in results)
    for model, price in (("openai/gpt-4o-mini", model_price("openai/gpt-4o-mini")),
                         ("openai/judge-model", parse_price(SIM_PRICE, model="openai/judge-model"))):
        line = cost_line(model, models[model].prompt_tokens, models[model].completion_tokens, price=price)
        assert line is not None
        assert f"{model}: {line}" in err


def test_the_summary_of_a_batch_run_gives_each_models_batch_rates_as_its_price(
        sim: BackgroundSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from sharedlm._cli import main

    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in _rows(4, tag=f"{uuid.uuid4().hex} ")))
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    monkeypatch.setenv("COLUMNS", "400")  # the summary table's cells on one line each
    code = main(["run", f"{PRICE_PROGRAMS}:DraftThenJudge", "--input", str(source), "--output",
                 str(tmp_path / "out.jsonl"), "--model", "openai/gpt-4o-mini", "--api-base", sim.base_url, "--batch",
                 "--batch-linger", "0", "--batch-poll", "0", "--progress", "off",
                 "--price", f"openai/judge-model={SIM_PRICE}"])
    summary = re.sub(r"[│ ]+", " ", capsys.readouterr().err)
    assert code == 0
    # gpt-4o-mini's bundled batch rates are half its online $0.15/M and $0.6/M; the judge's are its --price's.
    assert ("price openai/gpt-4o-mini: $0.075/M prompt, $0.3/M completion (batch), $0.075/M cached prompt (from "
            "DSPy's bundled model metadata") in summary
    assert "price openai/judge-model: $0.5/M prompt, $1/M completion (batch) (from --price)" in summary


def _judge_only_cost_line(model: str, price: str) -> str:
    """The batch cost line of ``model``'s calls so far, at ``price`` (a --price value)."""
    from sharedlm._pricing import parse_price
    from sharedlm.runner._batch_mode import cost_line

    stats = sharedlm.stats().models[model]
    line = cost_line(model, stats.prompt_tokens, stats.completion_tokens, price=parse_price(price, model=model))
    assert line is not None
    return f"{model}: {line}"


def test_run_many_prices_the_batch_cost_line_of_a_model_at_its_price_when_the_default_model_sends_no_batch(
        sim: BackgroundSimulator, capsys: pytest.CaptureFixture[str]) -> None:
    from sharedlm.runner._program import load_program_target

    sharedlm.configure(model="openai/gpt-4o-mini", api_key="k", api_base=sim.base_url, cache=False)
    program = load_program_target(f"{BATCH_PRICE_PROGRAMS}:JudgeOnly")
    before = sim.batch_stats()
    results = run_many(program, _rows(3, tag="judged only "), concurrency=3, batch=True, progress=True,
                       batch_options=BatchOptions(linger=0.0, poll_initial=0.0, poll_max=0.0),
                       price={"openai/judge-model": SIM_PRICE})
    err = capsys.readouterr().err
    assert all(r.ok for r in results)
    assert sim.batch_stats()["lines_submitted"] - before["lines_submitted"] == 3
    assert sharedlm.stats().models["openai/gpt-4o-mini"].calls_succeeded == 0  # the default model sent nothing
    assert _judge_only_cost_line("openai/judge-model", SIM_PRICE) in err


def test_sharedlm_run_batch_prices_the_cost_line_of_a_model_at_its_price_when_the_default_model_sends_no_batch(
        sim: BackgroundSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from sharedlm._cli import main

    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in _rows(3, tag=f"{uuid.uuid4().hex} ")))
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    code = main(["run", f"{BATCH_PRICE_PROGRAMS}:JudgeOnly", "--input", str(source), "--output",
                 str(tmp_path / "out.jsonl"), "--model", "openai/gpt-4o-mini", "--api-base", sim.base_url, "--batch",
                 "--batch-linger", "0", "--batch-poll", "0", "--progress", "plain",
                 "--price", f"openai/judge-model={SIM_PRICE}"])
    err = capsys.readouterr().err
    assert code == 0
    assert sharedlm.stats().models["openai/gpt-4o-mini"].calls_succeeded == 0  # the default model sent nothing
    assert _judge_only_cost_line("openai/judge-model", SIM_PRICE) in err


def test_the_end_of_run_batch_line_counts_every_models_batches_when_the_default_model_sends_none(
        sim: BackgroundSimulator, capsys: pytest.CaptureFixture[str]) -> None:
    from sharedlm.runner._program import load_program_target

    sharedlm.configure(model="openai/gpt-4o-mini", api_key="k", api_base=sim.base_url, cache=False)
    program = load_program_target(f"{BATCH_PRICE_PROGRAMS}:JudgeOnly")
    before = sim.batch_stats()
    results = run_many(program, _rows(3, tag="counted "), concurrency=3, batch=True, progress=True,
                       batch_options=BatchOptions(linger=0.0, poll_initial=0.0, poll_max=0.0))
    err = capsys.readouterr().err
    assert all(r.ok for r in results)
    submitted = sim.batch_stats()["lines_submitted"] - before["lines_submitted"]
    assert submitted == 3
    summary = next(line for line in err.splitlines() if "batches:" in line and "lines:" in line)
    assert "batches: 0 submitted" not in summary
    assert f"lines: {submitted:,} submitted" in summary


def test_batch_progress_adds_up_every_model_in_batch_mode() -> None:
    from sharedlm._batch._progress import BatchProgress

    default, judge = BatchProgress(), BatchProgress()
    judge.batches_submitted, judge.lines_submitted, judge.calls_waiting = 2, 5, 1
    default.batches_submitted, default.batches_done = 1, 1
    whole = BatchProgress.total([default, judge])
    assert (whole.batches_submitted, whole.batches_done, whole.batches_in_progress, whole.lines_submitted,
            whole.calls_waiting) == (3, 1, 2, 5, 1)
