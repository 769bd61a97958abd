"""Behaviour of the run summary: the per-model lines (calls, tokens and 429s for each model, when there are several)
and the cost lines."""

from __future__ import annotations

import io
from typing import Any

from sharedlm._stats import EngineStats
from sharedlm.runner._summary import RunReport, cost_rows, model_rows, print_summary


def engine(**models: dict[str, Any]) -> dict[str, Any]:
    return {"calls": sum(m.get("calls", 0) for m in models.values()),
            "models": {name.replace("_", "/"): stats for name, stats in models.items()}}


def test_each_model_gets_its_calls_tokens_and_429s_when_two_models_made_calls() -> None:
    rows = model_rows(engine(openai_small={"calls": 1200, "tokens_used": 45000, "rate_limited": 3},
                             openai_big={"calls": 12, "tokens_used": 900, "rate_limited": 0}))

    assert rows == [("model openai/big", "12 calls, 900 tokens, 0 429s"),
                    ("model openai/small", "1,200 calls, 45,000 tokens, 3 429s")]


def test_one_model_gets_no_per_model_lines() -> None:
    assert model_rows(engine(openai_small={"calls": 5, "tokens_used": 50, "rate_limited": 0})) == []


def test_a_model_that_made_no_calls_is_left_out() -> None:
    rows = model_rows(engine(openai_a={"calls": 2, "tokens_used": 20, "rate_limited": 0},
                             openai_b={"calls": 1, "tokens_used": 10, "rate_limited": 0},
                             openai_idle={"calls": 0, "tokens_used": 0, "rate_limited": 0}))

    assert [name for name, _ in rows] == ["model openai/a", "model openai/b"]


def test_engine_stats_without_models_give_no_per_model_lines() -> None:
    assert model_rows({"calls": 3}) == []
    assert model_rows(None) == []


def test_per_model_stats_may_be_engine_stats_objects() -> None:
    rows = model_rows({"models": {"a/x": EngineStats(calls=2, tokens_used=7, rate_limited=1),
                                  "a/y": EngineStats(calls=1)}})

    assert rows[0] == ("model a/x", "2 calls, 7 tokens, 1 429s")


def test_the_printed_summary_shows_the_per_model_lines() -> None:
    report = RunReport(succeeded=2, failed=0, skipped=0, not_run=0, wall_s=1.0, prompt_tokens=10,
                       completion_tokens=5, retries=0, interrupted=False,
                       engine=engine(openai_a={"calls": 2, "tokens_used": 10, "rate_limited": 0},
                                     openai_b={"calls": 2, "tokens_used": 5, "rate_limited": 4}))
    stream = io.StringIO()

    print_summary(report, stream=stream)

    assert "model openai/b" in stream.getvalue()
    assert "2 calls, 5 tokens, 4 429s" in stream.getvalue()


def _report(**cost: object) -> RunReport:
    return RunReport(succeeded=1, failed=0, skipped=0, not_run=0, wall_s=1.0, prompt_tokens=0, completion_tokens=0,
                     retries=0, interrupted=False, cost_usd=0.25, **cost)  # type: ignore[arg-type]


def test_earlier_runs_cost_says_how_many_calls_cut_off_in_flight_it_counts_at_their_worst_case() -> None:
    rows = dict(cost_rows(_report(spent_before=0.5, unsettled_before=3)))
    assert rows["cost (earlier runs)"] == "$0.500000 (with 3 calls cut off in flight, at the worst case)"


def test_spend_cap_line_shows_what_the_ledger_spent_with_calls_of_rows_never_written() -> None:
    rows = dict(cost_rows(_report(spent_before=0.5, cost_cap=2.0, spent_usd=1.0)))
    assert rows["spend cap"] == "$2.000000 (not reached; spent $1.000000)"
