"""Running the benchmark suite: scenarios in order, each job in its own worker, into one report.

The report is plain JSON-ready data; its shape is documented in :mod:`sharedlm.bench`. Rows of repeated
jobs (the overhead scenario) are folded into one row holding the median run; ratios are computed after that,
within each group of rows that ran the same number of units under the same open-file limit.
"""

from __future__ import annotations

import datetime as _dt
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sharedlm._errors import SharedLMError
from sharedlm.bench._claims import evaluate_claims, rss_per_1000
from sharedlm.bench._launch import STATUS_OK, WorkerOutcome, run_worker
from sharedlm.bench._machine import load_average, machine_facts
from sharedlm.bench._progress import ProgressLine
from sharedlm.bench._scenarios import SCENARIO_NAMES, PlanContext, PlannedRow, ScenarioPlan, plan_scenario
from sharedlm.bench._server import BenchServer, ExternalServer, SimulatedServer
from sharedlm.bench._spec import DEFAULT_BENCH_MODEL, SIMULATOR_API_KEY

STATUS_ALL_OK = "ok"
STATUS_FAILURES = "failures"
STATUS_SKIPPED = "skipped"
REPORT_VERSION = 1
INTERRUPTED = "interrupted"


@dataclass(frozen=True, kw_only=True)
class BenchOptions:
    """What to run.

    Args:
        scenarios: Scenario names, in the order to run them.
        sizes: Unit counts replacing every scenario's default sizes (``--workflows``), or None.
        quick: Small sizes and fewer repeats, about a minute on 2 cores.
        api_base: A provider to use instead of the simulator; scenarios that need the simulator are skipped.
        model: The DSPy model string the variants use.
        api_key: The key for ``api_base``; the simulator's dummy key when None. Never shown.
        variants: Per scenario, the variants to run; None runs every variant of every scenario.
        command: The command line to record in the report.
        python: The interpreter of the workers; the current one when None.
        relaxed_gc: Every job runs its batch under ``sharedlm.relaxed_gc()`` (every variant alike, plain ones too).
    """

    scenarios: tuple[str, ...] = SCENARIO_NAMES
    sizes: tuple[int, ...] | None = None
    quick: bool = False
    api_base: str | None = None
    model: str = DEFAULT_BENCH_MODEL
    api_key: str | None = field(default=None, repr=False)
    variants: Mapping[str, tuple[str, ...]] | None = None
    command: str = "sharedlm bench"
    python: str | None = None
    relaxed_gc: bool = False

    def __post_init__(self) -> None:
        unknown = [name for name in self.scenarios if name not in SCENARIO_NAMES]
        if unknown:
            raise ValueError(f"unknown scenario {unknown[0]!r}; choose from {', '.join(SCENARIO_NAMES)}")
        if self.sizes is not None and (not self.sizes or any(n < 1 for n in self.sizes)):
            raise ValueError(f"sizes must be whole numbers >= 1, got {list(self.sizes)}")


def plan_all(options: BenchOptions) -> list[ScenarioPlan]:
    """Every selected scenario's plan (nothing is started)."""
    ctx = PlanContext(quick=options.quick, sizes=options.sizes, model=options.model,
                      api_key=options.api_key if options.api_key is not None else SIMULATOR_API_KEY,
                      api_base=options.api_base or "http://127.0.0.1:0/v1", variants=options.variants,
                      relaxed_gc=options.relaxed_gc)
    return [plan_scenario(name, ctx) for name in options.scenarios]


def run_bench(options: BenchOptions, *, progress: ProgressLine | None = None,
              worker: Callable[..., WorkerOutcome] = run_worker) -> dict[str, Any]:
    """Run the selected scenarios and return the report (see :mod:`sharedlm.bench` for its shape).

    Args:
        options: What to run.
        progress: Where progress goes; a line on standard error per job when None.
        worker: Runs one job (replaceable for tests of the suite's bookkeeping).
    """
    plans = plan_all(options)
    runnable = [p for p in plans if not _skip_reason(p, options)]
    total = sum(1 for p in runnable for r in p.rows if r.spec is not None)
    progress = progress or ProgressLine(total)
    report: dict[str, Any] = {
        "version": REPORT_VERSION,
        "machine": machine_facts(),
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": options.command,
        "quick": options.quick,
        "provider": options.api_base or "simulator",
        "model": options.model,
        "interrupted": False,
        "scenarios": {},
    }
    for plan in plans:
        reason = _skip_reason(plan, options)
        if reason:
            progress.note(f"{plan.name}: {reason}")
            report["scenarios"][plan.name] = _scenario_header(plan, skipped=reason)
            continue
        scenario = report["scenarios"][plan.name] = _run_scenario(plan, options, progress, worker)
        if scenario["error"] == INTERRUPTED:
            report["interrupted"] = True
            break
    report["machine"]["load_average_at_end"] = load_average()
    report["derived"] = {"rss_per_1000_workflows_mb": {str(k): v for k, v in rss_per_1000(report).items()}}
    report["claims"] = evaluate_claims(report)
    return report


def _skip_reason(plan: ScenarioPlan, options: BenchOptions) -> str | None:
    if options.api_base and plan.needs_simulator:
        return f"skipped: needs the simulator's knobs or counters, and --api-base {options.api_base} was given"
    if not plan.rows:
        return "skipped: no variant selected"
    return None


def _scenario_header(plan: ScenarioPlan, *, skipped: str | None = None, error: str | None = None) -> dict[str, Any]:
    return {"title": plan.title, "unit": plan.unit, "simulator": dict(plan.simulator) if plan.simulator else None,
            "floor_s": None, "repeats": plan.repeats, "skipped": skipped, "error": error, "rows": []}


def _open_server(plan: ScenarioPlan, options: BenchOptions, planned: PlannedRow | None = None) -> BenchServer:
    if options.api_base:
        return ExternalServer(options.api_base)
    if planned is not None and planned.simulator is not None:
        return SimulatedServer(planned.simulator)
    return SimulatedServer(plan.simulator or {})


def _run_scenario(plan: ScenarioPlan, options: BenchOptions, progress: ProgressLine,
                  worker: Callable[..., WorkerOutcome]) -> dict[str, Any]:
    header = _scenario_header(plan)
    if options.api_base:
        header["simulator"] = None
    raw: list[dict[str, Any]] = []
    server: BenchServer | None = None
    try:
        for planned in plan.rows:
            if planned.spec is None:
                raw.append(_skipped_row(planned, plan))
                continue
            if planned.simulator is not None and server is not None:
                server.close()  # a row with its own simulator never shares one
                server = None
            if server is None:
                server = _open_server(plan, options, planned)
            server.reset()
            spec = replace(planned.spec, api_base=server.base_url)
            detail = ", ".join(x for x in (planned.fd_limit_label and f"open-file limit {planned.fd_limit_label}",
                                           planned.note, plan.repeats > 1 and f"repeat {planned.repeat + 1}") if x)
            progress.starting(plan.name, planned.variant, planned.count, detail)
            outcome = worker(spec, timeout_s=planned.timeout_s, python=options.python)
            server_stats = _server_stats(server)
            row = _row(planned, plan, outcome, server_stats)
            raw.append(row)
            progress.finished(plan.name, planned.variant, planned.count, _summary(row))
            if plan.fresh_simulator_per_job or planned.simulator is not None:
                server.close()
                server = None
    except (SharedLMError, OSError) as exc:
        header["error"] = f"{type(exc).__name__}: {exc}"
        progress.note(f"{plan.name}: stopped: {header['error']}")
    except KeyboardInterrupt:
        # Keep what was measured: the caller prints and saves the partial report, then exits 130.
        header["error"] = INTERRUPTED
        progress.note(f"{plan.name}: interrupted")
    finally:
        if server is not None:
            server.close()
    rows = _fold_repeats(raw)
    _add_ratios(rows)
    floors = {r["floor_s"] for r in rows if r["floor_s"] is not None}
    header["floor_s"] = floors.pop() if len(floors) == 1 else None
    header["rows"] = rows
    return header


def _server_stats(server: BenchServer) -> dict[str, Any] | None:
    try:
        return server.stats()
    except OSError:
        return None


def _empty_row(planned: PlannedRow, plan: ScenarioPlan) -> dict[str, Any]:
    return {
        "variant": planned.variant, "workflows": planned.count, "status": STATUS_SKIPPED, "note": planned.note,
        "fd_limit": planned.fd_limit_label, "wall_s": None,
        "floor_s": planned.floor_s if planned.floor_s is not None else plan.floor(planned.count), "vs_best": None,
        "vs_floor": None, "units_ok": None, "units_failed": None, "errors": {}, "error_example": None,
        "calls_per_s": None, "fds_before": None, "peak_fds": None, "rss_peak_mb": None, "server": None,
        "engine": None, "completions": None, "samples_wall_s": [], "worker_s": None, "repeat": planned.repeat,
        "personality": planned.simulator.get("personality") if planned.simulator else None,
    }


def _skipped_row(planned: PlannedRow, plan: ScenarioPlan) -> dict[str, Any]:
    row = _empty_row(planned, plan)
    row["note"] = planned.skip_reason if not planned.note else f"{planned.note}; {planned.skip_reason}"
    return row


def _row(planned: PlannedRow, plan: ScenarioPlan, outcome: WorkerOutcome,
         server_stats: dict[str, Any] | None) -> dict[str, Any]:
    row = _empty_row(planned, plan)
    row["worker_s"] = outcome.elapsed_s
    row["server"] = _server_summary(server_stats)
    result = outcome.result
    if outcome.status != STATUS_OK or result is None:
        row["status"] = outcome.status
        tail = outcome.stderr_tail.strip().splitlines()
        row["error_example"] = tail[-1][:300] if tail else f"exit code {outcome.exit_code}"
        return row
    wall = float(result["wall_s"])
    row.update(
        status=STATUS_ALL_OK if result["units_failed"] == 0 else STATUS_FAILURES,
        wall_s=wall, units_ok=result["units_ok"], units_failed=result["units_failed"], errors=result["errors"],
        error_example=result["error_example"], calls_per_s=result["units_ok"] / wall if wall > 0 else None,
        fds_before=result["fds_before"], peak_fds=result["peak_fds"], rss_peak_mb=result["rss_peak_kb"] / 1024,
        engine=_engine_summary(result.get("engine")), completions=result.get("completions"), samples_wall_s=[wall],
    )
    return row


def _server_summary(stats: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if stats is None:
        return None
    return {"requests": stats["requests"], "ok": stats["ok"], "rate_limited": stats["rate_limited"],
            "distinct_connections": stats["distinct_connections"], "peak_in_flight": stats["peak_in_flight"],
            "responses_by_status": stats["responses_by_status"]}


_ENGINE_FIELDS = ("requests_sent", "retries", "rate_limited", "calls_failed", "peak_in_flight", "peak_limit", "limit",
                  "cap", "connections_opened", "open_connections", "waits", "pauses")


def _engine_summary(engine: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if engine is None else {k: engine.get(k) for k in _ENGINE_FIELDS}


def _summary(row: Mapping[str, Any]) -> str:
    if row["wall_s"] is None:
        return f"{row['status']}: {row['error_example']}"
    failed = f", {row['units_failed']:,} failed" if row["units_failed"] else ""
    return f"{row['wall_s']:.2f} s, {row['units_ok']:,} ok{failed}, peak {row['peak_fds']:,} fds"


def _group_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return row["variant"], row["workflows"], row["fd_limit"], row["note"]


def _fold_repeats(raw: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (variant, count, limit, note): the median measured run, with every run's wall time."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in raw:
        groups.setdefault(_group_key(row), []).append(row)
    folded: list[dict[str, Any]] = []
    for rows in groups.values():
        measured = [r for r in rows if r["wall_s"] is not None]
        if not measured:
            folded.append(rows[0])
            continue
        walls = sorted(r["wall_s"] for r in measured)
        median = statistics.median_high(walls)  # of an even count, the slower of the middle two
        chosen = dict(next(r for r in measured if r["wall_s"] == median))
        chosen["samples_wall_s"] = [r["wall_s"] for r in measured]
        if len(measured) < len(rows):
            lost = ", ".join(r["status"] for r in rows if r["wall_s"] is None)
            lost_note = f"{len(rows) - len(measured)} run(s) {lost}"
            chosen["note"] = f"{chosen['note']}; {lost_note}" if chosen["note"] else lost_note
        chosen.pop("repeat", None)
        folded.append(chosen)
    return folded


def _ratio_group(row: Mapping[str, Any]) -> tuple[Any, ...]:
    # Rows with their own simulator are compared only with rows of the same provider and note.
    own = row.get("personality")
    return row["workflows"], row["fd_limit"], own, row["note"] if own else None


def _add_ratios(rows: list[dict[str, Any]]) -> None:
    """``vs_best``: wall time over the best wall time of rows that completed every unit in the same group;
    ``vs_floor``: wall time over the physical floor."""
    best: dict[tuple[Any, ...], float] = {}
    for row in rows:
        if row["status"] == STATUS_ALL_OK and row["wall_s"]:
            key = _ratio_group(row)
            best[key] = min(best.get(key, row["wall_s"]), row["wall_s"])
    for row in rows:
        row.pop("repeat", None)
        group = _ratio_group(row)
        row.pop("personality", None)  # bookkeeping of the grouping, not part of the report
        if row["wall_s"] is None:
            continue
        floor_best = best.get(group)
        row["vs_best"] = row["wall_s"] / floor_best if floor_best else None
        row["vs_floor"] = row["wall_s"] / row["floor_s"] if row["floor_s"] else None


__all__ = ["BenchOptions", "plan_all", "run_bench"]
