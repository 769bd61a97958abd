"""The end of a run: :class:`RunReport`, its exit code, and the summary table printed to stderr."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sharedlm.runner._core import RunCounters
from sharedlm.runner._progress import format_duration

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
# Engine stats shown in the summary, in this order, when the shared engine reports them.
ENGINE_FIELDS = ("requests_sent", "retries", "rate_limited", "peak_in_flight", "limit", "cap", "open_connections")
_PER_WORKER_FIELDS = ("peak_in_flight", "limit", "cap", "open_connections")


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
        engine: The shared engine's stats at the end, when available (summed over workers on Ray).
        failure: Why the run ended before every row ran (every Ray worker died), or None.
        workers: Ray workers the run used, or None for the local runner.
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

    @classmethod
    def from_counters(cls, counters: RunCounters, **kwargs: Any) -> RunReport:
        """Build the report from a run's final counters plus the remaining fields."""
        return cls(succeeded=counters.succeeded, failed=counters.failed, skipped=counters.skipped,
                   prompt_tokens=counters.prompt_tokens, completion_tokens=counters.completion_tokens,
                   retries=counters.retries, **kwargs)

    @property
    def rows_per_s(self) -> float:
        """Rows finished in this run per wall-clock second."""
        return (self.succeeded + self.failed) / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def exit_code(self) -> int:
        """130 when interrupted, 1 when some row failed or the run could not finish, else 0."""
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_FAILED if self.failed or self.failure else EXIT_OK


def print_summary(report: RunReport, *, title: str = "sharedlm run", stream: IO[str] | None = None) -> None:
    """Print the summary table of ``report``.

    Args:
        report: The finished run.
        title: The table's title.
        stream: Where to print; stderr by default.
    """
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("rows ok", f"{report.succeeded:,}")
    table.add_row("rows failed", f"{report.failed:,}")
    table.add_row("rows skipped (done before)", f"{report.skipped:,}")
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
    if report.engine:
        for name in ENGINE_FIELDS:
            if name in report.engine:
                # Over Ray workers, peaks and limits are sums of each worker's own.
                summed = " (sum over workers)" if report.workers is not None and name in _PER_WORKER_FIELDS else ""
                table.add_row(f"engine {name.replace('_', ' ')}{summed}", f"{report.engine[name]:,}")
        errors = report.engine.get("errors_by_kind") or {}
        if errors:
            table.add_row("engine errors", ", ".join(f"{kind} {count:,}" for kind, count in sorted(errors.items())))
    if report.output is not None:
        table.add_row("output", str(report.output))
    Console(file=stream if stream is not None else sys.stderr, soft_wrap=False).print(table)


__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "RunReport", "print_summary"]
