"""The scenarios of ``sharedlm bench``: what each one runs, against which simulated provider, and its floor.

Planning is pure: :func:`plan_scenario` turns a scenario and the options into :class:`PlannedRow` items (a
job to run in a worker, or a stated skip), without starting anything.

| scenario | provider (simulator) | units | full sizes | --quick sizes | floor |
| --- | --- | --- | --- | --- | --- |
| connections | 0.1 s latency | workflows | 100, 1,000, 2,000 (+ 2,000 under 1,024 open files) | 100 | 2 x 0.1 s |
| latency | 1 s latency | workflows | 100, 1,000, 10,000 (+ 1-workflow RSS baseline) | 200 (2 variants) | 2 x 1 s |
| rate-limited | 0.2 s latency, 64 in flight | calls | 3,000 | 640 | calls / 64 x 0.2 s |
| budget | rpm = 600 (sliding 60 s window) | calls | 700 (about 70 s) | 150 (about 15 s) | calls / 600 x 60 s |
| overhead | no latency | calls | 3,000 x 3 repeats | 500 x 1 | none (calls/s compared) |
| openai | OpenAI personality (see below) | calls | 3,000 per row | 640 per row | per row |
| anthropic | Anthropic personality | calls | 3,000 per row | 640 per row | per row |
| gemini | Gemini personality | calls | 3,000 | 640 | calls / 64 x 0.2 s |
| vllm | vLLM personality | calls | 3,000 | 640 | calls / 64 x 0.2 s |
| personalities | every personality at 1 s latency | workflows | 1,000 | 200 | 2 x 1 s |
| long-latency | 20 s latency, ``max_parallel_requests=5000`` | workflows | 3,000 | 300 | 2 x 20 s |

Rows of the personality scenarios: a cap of 64 in flight at 0.2 s latency (floor ``calls / 64 x 0.2 s``) with each
provider's way of refusing: OpenAI's 429 without ``Retry-After``, Anthropic's ``Retry-After: 1``, Gemini's
``RetryInfo`` in the body; vLLM queues instead. OpenAI and Anthropic also get a row with a request limit of
``HEADER_RPM`` reported in their headers and nothing configured (floor ``calls / 6,000 x 60 s``). The
``personalities`` scenario gives OpenAI and Anthropic ``PERSONALITY_LATENCY_RPM`` in their headers, far above what
is sent, so that the latency target is measured with their headers being read.

``personalities`` and ``long-latency`` also run the same program on a ``sleeping-engine`` (an engine that sleeps the
latency and answers, with no network, no pool and no pacing: the floor DSPy's own work imposes at that latency on
this machine), once, beside the default personality.

The personality scenarios (issue 14) run every row against its own fresh simulator (``PlannedRow.simulator``), so
that one row's limits never carry state into the next. Their jobs run one warm-up call first: it is how a
deployment's limits are learned, as a run that remembers them from an earlier one would start.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sharedlm.bench._spec import (
    INSTANT_ENGINE,
    KIND_CALLS,
    KIND_WORKFLOWS,
    LM_PER_CALL,
    LM_PER_MODULE,
    PLAIN_SHARED,
    RAW_AIOHTTP,
    SHAREDLM,
    SHAREDLM_FLOW_OFF,
    SLEEPING_ENGINE,
    WORKFLOW_VARIANTS,
    JobSpec,
)

CONNECTIONS = "connections"
LATENCY = "latency"
RATE_LIMITED = "rate-limited"
BUDGET = "budget"
OVERHEAD = "overhead"
OPENAI = "openai"
ANTHROPIC = "anthropic"
GEMINI = "gemini"
VLLM = "vllm"
PERSONALITIES = "personalities"
LONG_LATENCY = "long-latency"
PERSONALITY_SCENARIOS = (OPENAI, ANTHROPIC, GEMINI, VLLM)
SCENARIO_NAMES = (CONNECTIONS, LATENCY, RATE_LIMITED, BUDGET, OVERHEAD, *PERSONALITY_SCENARIOS, PERSONALITIES,
                  LONG_LATENCY)

CONNECTIONS_LATENCY_S = 0.1
LOW_FD_LIMIT = 1024
LATENCY_S = 1.0
RATE_LIMITED_LATENCY_S = 0.2
RATE_LIMITED_CONCURRENCY = 64
BUDGET_RPM = 600
OVERHEAD_VARIANTS = (RAW_AIOHTTP, INSTANT_ENGINE, PLAIN_SHARED, SHAREDLM, SHAREDLM_FLOW_OFF)
RATE_LIMITED_VARIANTS = (PLAIN_SHARED, SHAREDLM)
BUDGET_VARIANTS = (SHAREDLM, PLAIN_SHARED)
# Every worker is killed after its hard timeout: BASE + PER_UNIT x units (warm-up included).
TIMEOUT_BASE_S = 60.0
WORKFLOW_WARMUP = 1
OVERHEAD_WARMUP_FULL = 200
OVERHEAD_WARMUP_QUICK = 50
OVERHEAD_REPEATS_FULL = 3
OVERHEAD_REPEATS_QUICK = 1
RSS_BASELINE_NOTE = "RSS baseline (1 workflow)"
# Issue 14: providers with their own habits (sharedlm.simulator._personality).
HEADER_RPM = 6000
PERSONALITY_LATENCY_RPM = 60000
LONG_LATENCY_S = 20.0
LONG_LATENCY_MAX_PARALLEL = 5000
CAPPED_NOTE = "64 in flight"
HEADERS_NOTE = f"rpm={HEADER_RPM} in headers"


@dataclass(frozen=True, kw_only=True)
class PlannedRow:
    """One row of a scenario's table: a job for a worker, or a skip with its reason.

    Args:
        variant: The variant.
        count: Units submitted at once.
        spec: The job to run, or None when skipped.
        skip_reason: Why the row is not measured.
        timeout_s: The worker's hard timeout.
        repeat: Which repetition this is (overhead runs each variant several times).
        note: Shown in the table's note column.
        simulator: Keyword arguments of ``SimulatorSettings`` for a fresh simulator of this row alone, or None to
            use the scenario's.
        floor_s: This row's floor in seconds, or None for the scenario's.
    """

    variant: str
    count: int
    spec: JobSpec | None = None
    skip_reason: str | None = None
    timeout_s: float = TIMEOUT_BASE_S
    repeat: int = 0
    note: str | None = None
    simulator: Mapping[str, Any] | None = None
    floor_s: float | None = None

    @property
    def fd_limit_label(self) -> str | None:
        return self.spec.fd_limit_label if self.spec is not None else None


@dataclass(frozen=True, kw_only=True)
class ScenarioPlan:
    """A scenario ready to run.

    Args:
        name: The scenario's name (``--scenario``).
        title: One line saying what it measures.
        unit: ``"workflows"`` or ``"calls"``.
        simulator: Keyword arguments of ``SimulatorSettings``, or None when it needs no particular provider.
        needs_simulator: Whether it only makes sense against the simulator (knobs or server counters).
        fresh_simulator_per_job: Whether every job gets a new simulator (its limits keep state across resets).
        floor: The physical floor in seconds for a number of units, or None.
        rows: The rows, in the order they run.
        repeats: How often each job runs (the row shows the median).
    """

    name: str
    title: str
    unit: str
    simulator: Mapping[str, Any] | None
    needs_simulator: bool
    fresh_simulator_per_job: bool = False
    floor: Callable[[int], float | None] = field(default=lambda count: None, repr=False)
    rows: tuple[PlannedRow, ...] = ()
    repeats: int = 1


@dataclass(frozen=True, kw_only=True)
class PlanContext:
    """What planning needs from the options.

    Args:
        quick: Small sizes, fewer repeats, the slowest variants skipped at big sizes.
        sizes: ``--workflows``: unit counts that replace every scenario's defaults, or None.
        api_base: The provider's base URL (the simulator's is filled in at run time).
        model: The DSPy model string.
        api_key: The provider key.
        variants: Per scenario, the variants to run (None runs all of them).
        relaxed_gc: Every job runs its batch under ``sharedlm.relaxed_gc()`` (every variant alike).
    """

    quick: bool = False
    sizes: tuple[int, ...] | None = None
    api_base: str = "http://127.0.0.1:0/v1"
    model: str = "openai/bench-model"
    api_key: str = field(default="", repr=False)
    variants: Mapping[str, tuple[str, ...]] | None = None
    relaxed_gc: bool = False

    def chosen(self, scenario: str, variants: tuple[str, ...]) -> tuple[str, ...]:
        if self.variants is None or scenario not in self.variants:
            return variants
        wanted = self.variants[scenario]
        return tuple(v for v in variants if v in wanted)


def _timeout(per_unit_s: float, units: int) -> float:
    return TIMEOUT_BASE_S + per_unit_s * units


def _spec(ctx: PlanContext, scenario: str, variant: str, kind: str, count: int, **extra: Any) -> JobSpec:
    return JobSpec(scenario=scenario, variant=variant, kind=kind, count=count, model=ctx.model,
                   api_base=ctx.api_base, api_key=ctx.api_key, relaxed_gc=ctx.relaxed_gc, **extra)


def _connections(ctx: PlanContext) -> ScenarioPlan:
    sizes = ctx.sizes or ((100,) if ctx.quick else (100, 1000, 2000))
    variants = ctx.chosen(CONNECTIONS, WORKFLOW_VARIANTS)
    rows: list[PlannedRow] = []
    for count in sizes:
        for variant in variants:
            rows.append(PlannedRow(variant=variant, count=count, timeout_s=_timeout(0.05, count),
                                   spec=_spec(ctx, CONNECTIONS, variant, KIND_WORKFLOWS, count,
                                              warmup=WORKFLOW_WARMUP)))
    low = max(sizes)
    for variant in variants:
        if ctx.quick:
            rows.append(PlannedRow(variant=variant, count=low, note=f"open-file limit {LOW_FD_LIMIT}",
                                   skip_reason=f"skipped in --quick (the {LOW_FD_LIMIT} open-file limit needs "
                                               "thousands of workflows to bite)"))
            continue
        rows.append(PlannedRow(variant=variant, count=low, timeout_s=_timeout(0.05, low),
                               spec=_spec(ctx, CONNECTIONS, variant, KIND_WORKFLOWS, low, warmup=WORKFLOW_WARMUP,
                                          fd_limit=LOW_FD_LIMIT)))
    if SHAREDLM in variants and not ctx.quick:
        # sharedlm raises a low soft limit toward the hard one; with both lowered it must clamp its pool instead.
        rows.append(PlannedRow(variant=SHAREDLM, count=low, timeout_s=_timeout(0.05, low),
                               spec=_spec(ctx, CONNECTIONS, SHAREDLM, KIND_WORKFLOWS, low, warmup=WORKFLOW_WARMUP,
                                          fd_limit=LOW_FD_LIMIT, fd_limit_hard=True)))
    return ScenarioPlan(
        name=CONNECTIONS, title=f"N concurrent two-step workflows, {CONNECTIONS_LATENCY_S:g} s provider latency: "
                                "descriptors, connections, failures",
        unit=KIND_WORKFLOWS, simulator={"latency": CONNECTIONS_LATENCY_S}, needs_simulator=False,
        floor=lambda count: 2 * CONNECTIONS_LATENCY_S, rows=tuple(rows))


# In --quick only these run the latency scenario (the pair of issue 2's claim); the rest are measured in full.
_QUICK_LATENCY_VARIANTS = (PLAIN_SHARED, SHAREDLM)
# One LM per workflow or per call at 10,000 workflows means 10,000 to 20,000 pools and connections.
_LATENCY_ANTI_PATTERN_MAX = 2000


def _latency(ctx: PlanContext) -> ScenarioPlan:
    sizes = ctx.sizes or ((200,) if ctx.quick else (100, 1000, 10000))
    variants = ctx.chosen(LATENCY, WORKFLOW_VARIANTS)
    rows: list[PlannedRow] = []
    for count in sizes:
        for variant in variants:
            reason = None
            if ctx.quick and variant not in _QUICK_LATENCY_VARIANTS and count > 10:
                reason = "skipped in --quick (measured in the full run)"
            elif variant in (LM_PER_MODULE, LM_PER_CALL) and count > _LATENCY_ANTI_PATTERN_MAX:
                reason = (f"skipped above {_LATENCY_ANTI_PATTERN_MAX:,} workflows: one LM per workflow or call needs "
                          "a pool and a connection each (see connections)")
            if reason is not None:
                rows.append(PlannedRow(variant=variant, count=count, skip_reason=reason))
                continue
            rows.append(PlannedRow(variant=variant, count=count, timeout_s=_timeout(0.025, count),
                                   spec=_spec(ctx, LATENCY, variant, KIND_WORKFLOWS, count, warmup=WORKFLOW_WARMUP)))
    if SHAREDLM in variants and not ctx.quick:
        rows.append(PlannedRow(variant=SHAREDLM, count=1, note=RSS_BASELINE_NOTE, timeout_s=_timeout(0, 1),
                               spec=_spec(ctx, LATENCY, SHAREDLM, KIND_WORKFLOWS, 1, warmup=WORKFLOW_WARMUP)))
    return ScenarioPlan(
        name=LATENCY, title=f"N concurrent two-step workflows, {LATENCY_S:g} s provider latency: wall time against "
                            f"the floor of 2 x {LATENCY_S:g} s",
        unit=KIND_WORKFLOWS, simulator={"latency": LATENCY_S}, needs_simulator=True,
        floor=lambda count: 2 * LATENCY_S, rows=tuple(rows))


def rate_limited_ideal_s(calls: int) -> float:
    """The fastest a provider capped at 64 in flight with 0.2 s latency can answer ``calls`` calls."""
    return calls / RATE_LIMITED_CONCURRENCY * RATE_LIMITED_LATENCY_S


def _rate_limited(ctx: PlanContext) -> ScenarioPlan:
    sizes = ctx.sizes or ((640,) if ctx.quick else (3000,))
    variants = ctx.chosen(RATE_LIMITED, RATE_LIMITED_VARIANTS)
    rows = [PlannedRow(variant=variant, count=count, timeout_s=_timeout(4 * RATE_LIMITED_LATENCY_S / 64, count),
                       spec=_spec(ctx, RATE_LIMITED, variant, KIND_CALLS, count, warmup=1))
            for count in sizes for variant in variants]
    return ScenarioPlan(
        name=RATE_LIMITED, title=f"single calls submitted at once to a provider capped at {RATE_LIMITED_CONCURRENCY} "
                                 f"in flight ({RATE_LIMITED_LATENCY_S:g} s latency, 429 above the cap)",
        unit=KIND_CALLS, simulator={"latency": RATE_LIMITED_LATENCY_S, "max_concurrency": RATE_LIMITED_CONCURRENCY},
        needs_simulator=True, floor=rate_limited_ideal_s, rows=tuple(rows))


def budget_floor_s(calls: int) -> float:
    """The time ``calls`` take at exactly ``BUDGET_RPM`` per minute."""
    return calls / BUDGET_RPM * 60.0


def _budget(ctx: PlanContext) -> ScenarioPlan:
    sizes = ctx.sizes or ((150,) if ctx.quick else (700,))
    variants = ctx.chosen(BUDGET, BUDGET_VARIANTS)
    rows: list[PlannedRow] = []
    for count in sizes:
        for variant in variants:
            if variant == PLAIN_SHARED and ctx.quick:
                rows.append(PlannedRow(variant=variant, count=count, skip_reason="skipped in --quick (contrast only)"))
                continue
            extra: dict[str, Any] = {"rpm": float(BUDGET_RPM)} if variant == SHAREDLM else {}
            rows.append(PlannedRow(variant=variant, count=count, timeout_s=_timeout(2 * 60 / BUDGET_RPM, count),
                                   note=f"rpm={BUDGET_RPM}" if variant == SHAREDLM else "no budget",
                                   spec=_spec(ctx, BUDGET, variant, KIND_CALLS, count, record_completions=True,
                                              **extra)))
    return ScenarioPlan(
        name=BUDGET, title=f"a request budget of rpm={BUDGET_RPM} against a provider enforcing rpm={BUDGET_RPM} "
                           "(sliding 60 s window)",
        unit=KIND_CALLS, simulator={"rpm": BUDGET_RPM}, needs_simulator=True, fresh_simulator_per_job=True,
        floor=budget_floor_s, rows=tuple(rows))


def _overhead(ctx: PlanContext) -> ScenarioPlan:
    sizes = ctx.sizes or ((500,) if ctx.quick else (3000,))
    variants = ctx.chosen(OVERHEAD, OVERHEAD_VARIANTS)
    repeats = OVERHEAD_REPEATS_QUICK if ctx.quick else OVERHEAD_REPEATS_FULL
    rows: list[PlannedRow] = []
    for count in sizes:
        warmup = min(count, OVERHEAD_WARMUP_QUICK if ctx.quick else OVERHEAD_WARMUP_FULL)
        for repeat in range(repeats):
            # Rotate the order so drift of a noisy machine does not always favour the same variant.
            order = variants[repeat % len(variants):] + variants[:repeat % len(variants)] if variants else ()
            for variant in order:
                rows.append(PlannedRow(variant=variant, count=count, repeat=repeat,
                                       timeout_s=_timeout(0.02, count + warmup),
                                       note="flow control off (adaptive=False)" if variant == SHAREDLM_FLOW_OFF else
                                       "flow control on (adaptive=True)" if variant == SHAREDLM else None,
                                       spec=_spec(ctx, OVERHEAD, variant, KIND_CALLS, count, warmup=warmup)))
    return ScenarioPlan(
        name=OVERHEAD, title="zero-latency Predict.acall throughput (calls/s) after a warm-up; raw aiohttp and an "
                             "instant engine bound it",
        unit=KIND_CALLS, simulator={"latency": 0.0}, needs_simulator=True, rows=tuple(rows), repeats=repeats)


def header_limit_ideal_s(calls: int) -> float:
    """The time ``calls`` take at exactly ``HEADER_RPM`` per minute."""
    return calls / HEADER_RPM * 60.0


# What each personality's calls scenario runs: (note, extra simulator settings, floor).
_CAPPED = {"latency": RATE_LIMITED_LATENCY_S, "max_concurrency": RATE_LIMITED_CONCURRENCY}
_HEADERS = {"latency": RATE_LIMITED_LATENCY_S, "rpm": HEADER_RPM}
_PERSONALITY_ROWS: dict[str, tuple[tuple[str, dict[str, Any], Callable[[int], float]], ...]] = {
    OPENAI: ((f"{CAPPED_NOTE}, no Retry-After", _CAPPED, rate_limited_ideal_s),
             (HEADERS_NOTE, _HEADERS, header_limit_ideal_s)),
    ANTHROPIC: ((f"{CAPPED_NOTE}, Retry-After: 1", _CAPPED, rate_limited_ideal_s),
                (HEADERS_NOTE, _HEADERS, header_limit_ideal_s)),
    GEMINI: ((f"{CAPPED_NOTE}, RetryInfo in the body", _CAPPED, rate_limited_ideal_s),),
    VLLM: ((f"{CAPPED_NOTE}, queued", _CAPPED, rate_limited_ideal_s),),
}
_PERSONALITY_TITLES = {
    OPENAI: "OpenAI personality: token buckets, x-ratelimit-* headers, 429 without Retry-After",
    ANTHROPIC: "Anthropic personality: token buckets, anthropic-ratelimit-* headers, Retry-After in whole seconds",
    GEMINI: "Gemini personality: RESOURCE_EXHAUSTED with a RetryInfo delay in the body, no headers",
    VLLM: "vLLM personality: no 429, what is above the batch queues",
}


def _personality(name: str) -> Callable[[PlanContext], ScenarioPlan]:
    def plan(ctx: PlanContext) -> ScenarioPlan:
        sizes = ctx.sizes or ((640,) if ctx.quick else (3000,))
        variants = ctx.chosen(name, RATE_LIMITED_VARIANTS)
        rows = []
        for note, extra, floor in _PERSONALITY_ROWS[name]:
            for count in sizes:
                for variant in variants:
                    if variant == PLAIN_SHARED and ctx.quick:
                        rows.append(PlannedRow(variant=variant, count=count, note=note,
                                               skip_reason="skipped in --quick (contrast only)"))
                        continue
                    rows.append(PlannedRow(
                        variant=variant, count=count, note=note, simulator={**extra, "personality": name},
                        floor_s=floor(count), timeout_s=_timeout(max(4 * floor(count) / count, 0.01), count),
                        spec=_spec(ctx, name, variant, KIND_CALLS, count, warmup=1)))
        return ScenarioPlan(name=name, title=_PERSONALITY_TITLES[name], unit=KIND_CALLS,
                            simulator={"personality": name}, needs_simulator=True, fresh_simulator_per_job=True,
                            rows=tuple(rows))
    return plan


# What the personalities scenario runs beside each personality; the sleeping engine needs no provider, so it runs once.
_PERSONALITIES_VARIANTS = (*_QUICK_LATENCY_VARIANTS, SLEEPING_ENGINE)
SLEEPING_NOTE = "DSPy alone, no network"


def _personalities(ctx: PlanContext) -> ScenarioPlan:
    sizes = ctx.sizes or ((200,) if ctx.quick else (1000,))
    variants = ctx.chosen(PERSONALITIES, _PERSONALITIES_VARIANTS)
    rows: list[PlannedRow] = []
    if SLEEPING_ENGINE in variants:
        rows.extend(PlannedRow(variant=SLEEPING_ENGINE, count=count, note=SLEEPING_NOTE,
                               timeout_s=_timeout(0.025, count),
                               spec=_spec(ctx, PERSONALITIES, SLEEPING_ENGINE, KIND_WORKFLOWS, count,
                                          warmup=WORKFLOW_WARMUP, latency_s=LATENCY_S))
                    for count in sizes)
    for name in ("default", *PERSONALITY_SCENARIOS):
        simulator: dict[str, Any] = {"latency": LATENCY_S, "personality": name}
        if name in (OPENAI, ANTHROPIC):
            simulator["rpm"] = PERSONALITY_LATENCY_RPM  # limits reported in headers, far above what is sent
        for count in sizes:
            for variant in variants:
                if variant == SLEEPING_ENGINE:
                    continue
                rows.append(PlannedRow(variant=variant, count=count, note=name, simulator=simulator,
                                       timeout_s=_timeout(0.025, count),
                                       spec=_spec(ctx, PERSONALITIES, variant, KIND_WORKFLOWS, count,
                                                  warmup=WORKFLOW_WARMUP)))
    return ScenarioPlan(
        name=PERSONALITIES, title=f"N concurrent two-step workflows at {LATENCY_S:g} s latency against every "
                                  "personality: wall time against the floor of 2 x 1 s",
        unit=KIND_WORKFLOWS, simulator={"latency": LATENCY_S}, needs_simulator=True, fresh_simulator_per_job=True,
        floor=lambda count: 2 * LATENCY_S, rows=tuple(rows))


def _long_latency(ctx: PlanContext) -> ScenarioPlan:
    sizes = ctx.sizes or ((300,) if ctx.quick else (3000,))
    variants = ctx.chosen(LONG_LATENCY, (SHAREDLM, SLEEPING_ENGINE))
    rows = [PlannedRow(variant=variant, count=count,
                       note=SLEEPING_NOTE if variant == SLEEPING_ENGINE else
                       f"max_parallel_requests={LONG_LATENCY_MAX_PARALLEL}",
                       timeout_s=_timeout(0.05, count) + 4 * LONG_LATENCY_S,
                       spec=_spec(ctx, LONG_LATENCY, variant, KIND_WORKFLOWS, count, warmup=WORKFLOW_WARMUP,
                                  **({"latency_s": LONG_LATENCY_S} if variant == SLEEPING_ENGINE else
                                     {"max_parallel_requests": LONG_LATENCY_MAX_PARALLEL})))
            for count in sizes for variant in variants
            if not (ctx.quick and variant == SLEEPING_ENGINE)]
    if ctx.quick and SLEEPING_ENGINE in variants:
        rows += [PlannedRow(variant=SLEEPING_ENGINE, count=count, note=SLEEPING_NOTE,
                            skip_reason="skipped in --quick (the DSPy-alone figure, measured in the full run)")
                 for count in sizes]
    return ScenarioPlan(
        name=LONG_LATENCY, title=f"N concurrent two-step workflows at {LONG_LATENCY_S:g} s latency (long answers), "
                                 f"max_parallel_requests={LONG_LATENCY_MAX_PARALLEL}",
        unit=KIND_WORKFLOWS, simulator={"latency": LONG_LATENCY_S}, needs_simulator=True,
        floor=lambda count: 2 * LONG_LATENCY_S, rows=tuple(rows))


_PLANNERS: dict[str, Callable[[PlanContext], ScenarioPlan]] = {
    CONNECTIONS: _connections,
    LATENCY: _latency,
    RATE_LIMITED: _rate_limited,
    BUDGET: _budget,
    OVERHEAD: _overhead,
    **{name: _personality(name) for name in PERSONALITY_SCENARIOS},
    PERSONALITIES: _personalities,
    LONG_LATENCY: _long_latency,
}


def plan_scenario(name: str, ctx: PlanContext) -> ScenarioPlan:
    """The rows of scenario ``name`` under the given options.

    Args:
        name: One of :data:`SCENARIO_NAMES`.
        ctx: Sizes, quick mode, connection.

    Raises:
        ValueError: For an unknown scenario name.
    """
    try:
        planner = _PLANNERS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIO_NAMES)}") from None
    return planner(ctx)


__all__ = [
    "ANTHROPIC",
    "BUDGET",
    "BUDGET_RPM",
    "CAPPED_NOTE",
    "CONNECTIONS",
    "GEMINI",
    "HEADERS_NOTE",
    "HEADER_RPM",
    "LATENCY",
    "LATENCY_S",
    "LONG_LATENCY",
    "LONG_LATENCY_MAX_PARALLEL",
    "LOW_FD_LIMIT",
    "OPENAI",
    "OVERHEAD",
    "PERSONALITIES",
    "PERSONALITY_SCENARIOS",
    "RATE_LIMITED",
    "RATE_LIMITED_CONCURRENCY",
    "RSS_BASELINE_NOTE",
    "SCENARIO_NAMES",
    "SLEEPING_NOTE",
    "VLLM",
    "PlanContext",
    "PlannedRow",
    "ScenarioPlan",
    "budget_floor_s",
    "header_limit_ideal_s",
    "plan_scenario",
    "rate_limited_ideal_s",
]
