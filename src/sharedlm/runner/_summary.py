"""The end of a run: :class:`RunReport`, its exit code, and the summary table printed to stderr."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sharedlm.runner._core import RunCounters
from sharedlm.runner._progress import format_duration

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
# The spend cap (--max-cost / max_cost=) stopped the run before every row ran; --resume with a higher cap goes on.
EXIT_SPEND_CAP = 3
# Engine stats shown in the summary, in this order, when the shared engine reports them.
ENGINE_FIELDS = ("requests_sent", "retries", "rate_limited", "peak_in_flight", "limit", "cap", "open_connections")
_PER_WORKER_FIELDS = ("peak_in_flight", "limit", "cap", "open_connections")
# Per-model engine stats shown, one line per model, when the run's calls went to more than one model.
MODEL_FIELDS = (("calls", "calls"), ("tokens_used", "tokens"), ("rate_limited", "429s"))


@dataclass(frozen=True, kw_only=True)
class RunReport:
    """What one run did.

    Args:
        succeeded: Rows that succeeded in this run.
        failed: Rows that failed in this run (bad input included).
        skipped: Rows skipped as already done by an earlier run.
        not_run: Rows in flight that were cancelled by an interrupt (not written; a resume runs them).
        wall_s: Seconds the run took.
        prompt_tokens: Prompt tokens over all rows.
        completion_tokens: Completion tokens over all rows.
        retries: Row attempts beyond the first.
        interrupted: The run was stopped by SIGINT or SIGTERM.
        output: The output file, when there is one.
        engine: The shared engine's stats at the end, when available (summed over workers on Ray); its
            ``models`` maps each model string to that model's own stats.
        failure: Why the run ended before every row ran (every Ray worker died), or None.
        workers: Ray workers the run used, or None for the local runner.
        cost_usd: USD this run's rows cost, or None when a model they used has no known price.
        cost_by_model: USD per model this run used (None for a model without a price); empty when not tracked.
        spent_before: USD earlier runs of the same output spent (``--resume``).
        cost_cap: The spend cap in USD, or None.
        spend_capped: The cap stopped the run before every row ran.
        prices: One line per model: its price and where it came from.
        suggested_cap: A cap that should let a capped run finish on resume, or None.
        unsettled_before: Calls earlier runs left in flight (a killed run's), counted in ``spent_before`` at their
            worst case: the provider may have billed them.
        spent_usd: Under a cap, what the output has cost with earlier runs and every call of this run (those of
            rows never written included), as the spend ledger counts it; None to count ``spent_before`` plus
            ``cost_usd``.
        missing_ids: Of the ids a resumed run found done in the output, how many its input no longer has; None
            when the run did not resume finished rows or did not read its whole input.
    """

    succeeded: int
    failed: int
    skipped: int
    not_run: int
    wall_s: float
    prompt_tokens: int
    completion_tokens: int
    retries: int
    interrupted: bool
    output: Path | None = None
    engine: dict[str, Any] | None = None
    failure: str | None = None
    workers: int | None = None
    cost_usd: float | None = None
    cost_by_model: dict[str, float | None] = field(default_factory=dict)
    spent_before: float = 0.0
    cost_cap: float | None = None
    spend_capped: bool = False
    prices: tuple[str, ...] = ()
    suggested_cap: float | None = None
    spent_usd: float | None = None
    unsettled_before: int = 0
    missing_ids: int | None = None

    @classmethod
    def from_counters(cls, counters: RunCounters, **kwargs: Any) -> RunReport:
        """Build the report from a run's final counters plus the remaining fields."""
        return cls(succeeded=counters.succeeded, failed=counters.failed, skipped=counters.skipped,
                   prompt_tokens=counters.prompt_tokens, completion_tokens=counters.completion_tokens,
                   retries=counters.retries, cost_usd=counters.cost_usd if counters.cost_known else None, **kwargs)

    @property
    def rows_per_s(self) -> float:
        """Rows finished in this run per wall-clock second."""
        return (self.succeeded + self.failed) / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def exit_code(self) -> int:
        """130 when interrupted, 3 when the spend cap stopped it, 1 when some row failed or the run could not
        finish, else 0."""
        if self.interrupted:
            return EXIT_INTERRUPTED
        if self.spend_capped:
            return EXIT_SPEND_CAP
        return EXIT_FAILED if self.failed or self.failure else EXIT_OK


# An unknown cost in `sharedlm run`'s summary says how to price it.
UNKNOWN_COST = "unknown (no price: use --price)"


def print_summary(report: RunReport, *, title: str = "sharedlm run", stream: IO[str] | None = None,
                  unknown_cost: str = UNKNOWN_COST) -> None:
    """Print the summary table of ``report``.

    Args:
        report: The finished run.
        title: The table's title.
        stream: Where to print; stderr by default.
        unknown_cost: What an unknown cost reads as.
    """
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("rows ok", f"{report.succeeded:,}")
    table.add_row("rows failed", f"{report.failed:,}")
    table.add_row("rows skipped (done before)", f"{report.skipped:,}")
    if report.missing_ids is not None:
        table.add_row("output ids not in the input", f"{report.missing_ids:,}")
    if report.interrupted or report.failure:
        table.add_row("rows cancelled (not written)", f"{report.not_run:,}")
    if report.workers is not None:
        table.add_row("ray workers", f"{report.workers:,}")
    table.add_row("wall time", format_duration(report.wall_s))
    table.add_row("rows/s", f"{report.rows_per_s:,.1f}")
    table.add_row("tokens (prompt + completion)",
                  f"{report.prompt_tokens + report.completion_tokens:,} ({report.prompt_tokens:,} + "
                  f"{report.completion_tokens:,})")
    table.add_row("row retries", f"{report.retries:,}")
    for row in cost_rows(report, unknown=unknown_cost):
        table.add_row(*row)
    if report.engine:
        for name in ENGINE_FIELDS:
            if name in report.engine:
                # Over Ray workers, peaks and limits are sums of each worker's own.
                summed = " (sum over workers)" if report.workers is not None and name in _PER_WORKER_FIELDS else ""
                table.add_row(f"engine {name.replace('_', ' ')}{summed}", f"{report.engine[name]:,}")
        owner = report.engine.get("budget_owner")
        if isinstance(owner, str) and owner != "this process":  # a shared budget: who holds it, what was leased
            table.add_row("in-flight budget owner", owner)
            table.add_row("engine lease held at the end", f"{report.engine.get('lease_held', 0):,}")
        errors = report.engine.get("errors_by_kind") or {}
        if errors:
            table.add_row("engine errors", ", ".join(f"{kind} {count:,}" for kind, count in sorted(errors.items())))
        for row in model_rows(report.engine):
            table.add_row(*row)
    if report.output is not None:
        table.add_row("output", str(report.output))
    Console(file=stream if stream is not None else sys.stderr, soft_wrap=False).print(table)


def model_rows(engine: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """The summary's per-model lines (calls, tokens, 429s), when calls went to more than one model; else none.

    Args:
        engine: The engine stats of the run (``sharedlm.stats()`` as a dict), whose ``models`` maps each model
            string to its own stats (a dict, or an ``EngineStats``).
    """
    models = (engine or {}).get("models") or {}
    used = {model: _fields(stats) for model, stats in models.items()}
    used = {model: stats for model, stats in used.items() if stats.get("calls")}
    if len(used) < 2:  # one model: the totals above are its own
        return []
    return [(f"model {model}", ", ".join(f"{int(stats.get(name) or 0):,} {label}" for name, label in MODEL_FIELDS))
            for model, stats in sorted(used.items())]


def _fields(stats: object) -> Mapping[str, Any]:
    if isinstance(stats, Mapping):
        return stats
    as_dict = getattr(stats, "as_dict", None)
    return as_dict() if callable(as_dict) else {}


def cost_rows(report: RunReport, *, unknown: str = UNKNOWN_COST) -> list[tuple[str, str]]:
    """The summary's cost lines: this run's cost, per model, earlier runs' and the cap; unknown is never 0.

    Args:
        report: The finished run.
        unknown: What an unknown cost reads as (how to price it, where the command has a way).
    """
    def usd(value: float | None) -> str:
        return unknown if value is None else f"${value:,.6f}"

    rows = [("cost (this run)", usd(report.cost_usd))]
    for model, cost in sorted(report.cost_by_model.items()):
        rows.append((f"cost {model}", usd(cost)))
    if report.spent_before:
        cut_off = report.unsettled_before
        note = f" (with {cut_off:,} call{'s' if cut_off > 1 else ''} cut off in flight, at the worst case)" \
            if cut_off else ""
        rows.append(("cost (earlier runs)", usd(report.spent_before) + note))
    if report.cost_cap is not None:
        total = report.spent_usd if report.spent_usd is not None else \
            None if report.cost_usd is None else report.spent_before + report.cost_usd
        state = "reached" if report.spend_capped else "not reached"
        rows.append(("spend cap", f"${report.cost_cap:,.6f} ({state}; spent {usd(total)})"))
    for line in report.prices:
        rows.append(("price", line))
    return rows


__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_SPEND_CAP",
    "MODEL_FIELDS",
    "RunReport",
    "cost_rows",
    "model_rows",
    "print_summary",
]
