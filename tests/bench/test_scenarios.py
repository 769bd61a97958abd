"""Planning: sizes, floors, skips that say why, and a hard timeout on every job."""

from __future__ import annotations

import pytest

from sharedlm.bench._scenarios import (
    SCENARIO_NAMES,
    PlanContext,
    budget_floor_s,
    plan_scenario,
    rate_limited_ideal_s,
)
from sharedlm.bench._spec import WORKFLOW_VARIANTS


def test_rate_limited_ideal_is_calls_over_64_times_latency() -> None:
    assert rate_limited_ideal_s(3000) == pytest.approx(9.375)


def test_budget_floor_is_the_time_at_exactly_600_per_minute() -> None:
    assert budget_floor_s(700) == pytest.approx(70.0)


@pytest.mark.parametrize("name", SCENARIO_NAMES)
@pytest.mark.parametrize("quick", [False, True])
def test_every_job_has_a_finite_timeout_and_every_skip_a_reason(name: str, quick: bool) -> None:
    plan = plan_scenario(name, PlanContext(quick=quick))
    assert plan.rows
    for row in plan.rows:
        if row.spec is None:
            assert row.skip_reason
        else:
            assert 0 < row.timeout_s < 1000


def test_full_connections_runs_every_variant_at_100_1000_2000_and_again_under_a_low_limit() -> None:
    plan = plan_scenario("connections", PlanContext())
    normal = {(r.variant, r.count) for r in plan.rows if r.spec is not None and r.spec.fd_limit is None}
    assert normal == {(v, n) for v in WORKFLOW_VARIANTS for n in (100, 1000, 2000)}
    low = [r for r in plan.rows if r.spec is not None and r.spec.fd_limit == 1024]
    assert {r.variant for r in low} == set(WORKFLOW_VARIANTS)
    assert all(r.count == 2000 for r in low)
    assert [r.variant for r in low if r.spec is not None and r.spec.fd_limit_hard] == ["sharedlm"]


def test_workflows_option_replaces_every_scenarios_sizes() -> None:
    for name in SCENARIO_NAMES:
        plan = plan_scenario(name, PlanContext(sizes=(7,)))
        assert {r.count for r in plan.rows if r.spec is not None} <= {7, 1}


def test_quick_latency_skips_slow_variants_and_says_so() -> None:
    plan = plan_scenario("latency", PlanContext(quick=True))
    skipped = {r.variant: r.skip_reason for r in plan.rows if r.spec is None}
    assert "seed-as-written" in skipped
    assert "--quick" in (skipped["seed-as-written"] or "")
    assert {"sharedlm", "plain-shared"} <= {r.variant for r in plan.rows if r.spec is not None}


def test_full_latency_keeps_a_one_workflow_baseline_for_rss() -> None:
    plan = plan_scenario("latency", PlanContext())
    assert any(r.variant == "sharedlm" and r.count == 1 and r.spec is not None for r in plan.rows)


def test_overhead_repeats_rotate_the_order_of_variants() -> None:
    plan = plan_scenario("overhead", PlanContext())
    firsts = [r.variant for r in plan.rows if r.spec is not None][:: len(plan.rows) // plan.repeats]
    assert plan.repeats == 3
    assert len(set(firsts)) == 3


def test_variant_filter_keeps_only_the_named_variants() -> None:
    plan = plan_scenario("overhead", PlanContext(variants={"overhead": ("sharedlm", "sharedlm-flow-off")}))
    assert {r.variant for r in plan.rows} == {"sharedlm", "sharedlm-flow-off"}


def test_budget_gives_sharedlm_the_providers_rpm() -> None:
    plan = plan_scenario("budget", PlanContext())
    ours = [r for r in plan.rows if r.variant == "sharedlm"]
    assert ours[0].spec is not None
    assert ours[0].spec.rpm == 600
    assert plan.simulator == {"rpm": 600}
    assert plan.fresh_simulator_per_job


def test_unknown_scenario_names_the_choices() -> None:
    with pytest.raises(ValueError, match="connections"):
        plan_scenario("nope", PlanContext())


@pytest.mark.parametrize("name", ["openai", "anthropic", "gemini", "vllm"])
def test_every_personality_row_gets_its_own_simulator_of_that_personality(name: str) -> None:
    plan = plan_scenario(name, PlanContext())
    measured = [r for r in plan.rows if r.spec is not None]
    assert measured
    for row in measured:
        assert row.simulator is not None
        assert row.simulator["personality"] == name
        assert row.floor_s is not None
        assert row.floor_s > 0
        assert row.spec is not None
        assert row.spec.warmup == 1


def test_the_header_rows_report_a_limit_and_configure_none() -> None:
    plan = plan_scenario("openai", PlanContext())
    rows = [r for r in plan.rows if r.spec is not None and r.simulator and "rpm" in r.simulator]
    assert rows
    assert all(r.spec is not None and r.spec.rpm is None for r in rows)
    assert all(r.floor_s == pytest.approx(r.count / 6000 * 60) for r in rows)


def test_the_personalities_scenario_covers_every_personality_with_plain_alongside() -> None:
    plan = plan_scenario("personalities", PlanContext())
    seen = {(r.note, r.variant) for r in plan.rows if r.spec is not None and r.variant != "sleeping-engine"}
    assert seen == {(p, v) for p in ("default", "openai", "anthropic", "gemini", "vllm")
                    for v in ("plain-shared", "sharedlm")}


@pytest.mark.parametrize(("scenario", "latency_s"), [("personalities", 1.0), ("long-latency", 20.0)])
def test_dspy_alone_runs_once_on_a_sleeping_engine_at_the_scenarios_latency(scenario: str, latency_s: float) -> None:
    plan = plan_scenario(scenario, PlanContext())
    alone = [r for r in plan.rows if r.variant == "sleeping-engine"]
    assert [(r.spec.latency_s, r.spec.count) for r in alone if r.spec is not None] == [(latency_s, plan.rows[-1].count)]


def test_long_latency_skips_dspy_alone_in_quick_mode() -> None:
    plan = plan_scenario("long-latency", PlanContext(quick=True))
    assert [(r.variant, r.spec is None) for r in plan.rows] == [("sharedlm", False), ("sleeping-engine", True)]


def test_long_latency_raises_max_parallel_requests_to_5000() -> None:
    plan = plan_scenario("long-latency", PlanContext())
    assert [r.spec.max_parallel_requests for r in plan.rows if r.spec is not None and r.variant == "sharedlm"] == [5000]
