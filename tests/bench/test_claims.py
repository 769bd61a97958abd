"""The claims of issues 2, 5 and 6, judged on a report: exact ratios, honest size notes, figures without targets."""

from __future__ import annotations

from typing import Any

import pytest

from sharedlm.bench._claims import evaluate_claims, rss_per_1000


def _claim(claims: list[dict[str, Any]], text: str) -> dict[str, Any]:
    matches = [c for c in claims if text in c["claim"]]
    assert len(matches) == 1, [c["claim"] for c in claims]
    return matches[0]


def test_latency_speedup_is_plain_over_sharedlm_wall_time(report: dict[str, Any]) -> None:
    claim = _claim(evaluate_claims(report, (2,)), "at least 4x faster")
    assert claim["value"] == pytest.approx(8.0)
    assert claim["passed"] is True
    assert claim["note"] is None


def test_a_speedup_just_under_the_target_fails(report: dict[str, Any]) -> None:
    report["scenarios"]["latency"]["rows"][1]["wall_s"] = 2.5 * 3.999
    claim = _claim(evaluate_claims(report, (2,)), "at least 4x faster")
    assert claim["passed"] is False


def test_a_claim_measured_at_another_size_says_it_is_indicative(report: dict[str, Any]) -> None:
    for row in report["scenarios"]["latency"]["rows"]:
        if row["workflows"] == 1000:
            row["workflows"] = 200
    claim = _claim(evaluate_claims(report, (2,)), "at least 4x faster")
    assert "200" in claim["note"]
    assert "indicative" in claim["note"]


def test_overhead_ratios_compare_calls_per_second(report: dict[str, Any]) -> None:
    claims = evaluate_claims(report, (2,))
    assert _claim(claims, "at least 2x plain-shared")["value"] == pytest.approx(10.0 / 3.5)
    instant = _claim(claims, "80% of an instant engine")
    assert instant["value"] == pytest.approx(3.0 / 3.5)
    assert instant["passed"] is True


def test_rss_per_1000_workflows_subtracts_the_one_workflow_baseline(report: dict[str, Any]) -> None:
    assert rss_per_1000(report) == {1000: pytest.approx(50.0)}
    claim = _claim(evaluate_claims(report, (2,)), "peak RSS")
    assert claim["passed"] is None
    assert claim["value"] == pytest.approx(50.0)


def test_rate_limited_claims(report: dict[str, Any]) -> None:
    claims = evaluate_claims(report, (5,))
    assert _claim(claims, "no sharedlm call fails")["passed"] is True
    ideal = _claim(claims, "within 1.25x")
    assert ideal["value"] == pytest.approx(11.0 / 9.375)
    assert ideal["passed"] is True
    share = _claim(claims, "429s at most 5%")
    assert share["value"] == pytest.approx(120 / 3000)
    assert share["passed"] is True
    plain = _claim(claims, "plain-shared in the same run")
    assert plain["passed"] is None
    assert "300 of 3,000" in plain["measured"]


def test_budget_claims_need_zero_429s_and_the_rate_within_10_percent(report: dict[str, Any]) -> None:
    claims = evaluate_claims(report, (5,))
    assert _claim(claims, "zero 429s")["passed"] is True
    rate = _claim(claims, "throughput within 10%")
    assert rate["value"] == pytest.approx(700 / 70.5 * 60 / 600)
    assert rate["passed"] is True


def test_one_429_fails_the_budget_claim(report: dict[str, Any]) -> None:
    report["scenarios"]["budget"]["rows"][0]["server"]["rate_limited"] = 1
    assert _claim(evaluate_claims(report, (5,)), "zero 429s")["passed"] is False


def test_flow_control_cost_is_one_minus_on_over_off(report: dict[str, Any]) -> None:
    claim = _claim(evaluate_claims(report, (5,)), "flow control's own cost")
    assert claim["value"] == pytest.approx(1 - (3000 / 3.5) / (3000 / 3.4))
    assert claim["passed"] is True


def test_issue6_reports_descriptors_and_survivors_without_targets(report: dict[str, Any]) -> None:
    claims = evaluate_claims(report, (6,))
    fds = _claim(claims, "peak descriptors of lm-per-module")
    assert fds["value"] == pytest.approx(4.0)
    assert fds["passed"] is None
    survivors = _claim(claims, "1024 soft: who survives")
    assert survivors["value"] == 1.0
    assert "lm-per-module: 10 ok / 1,990 failed" in survivors["measured"]


def test_claims_of_a_scenario_that_ran_without_the_needed_rows_are_not_measured() -> None:
    empty = {"title": "t", "rows": []}
    claims = evaluate_claims({"scenarios": dict.fromkeys(("connections", "latency", "rate-limited", "budget",
                                                          "overhead"), empty)}, (2, 5, 6))
    assert len(claims) >= 8
    assert all(c["passed"] is None and c["value"] is None and c["measured"] == "not measured" for c in claims)


def test_claims_of_scenarios_left_out_of_the_run_are_left_out() -> None:
    assert evaluate_claims({"scenarios": {}}, (2, 5, 6)) == []
