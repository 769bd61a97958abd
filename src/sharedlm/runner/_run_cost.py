"""The cost options of ``sharedlm run``: ``--max-cost``, ``--price`` and ``--dry-run``.

- :func:`check_cost_options` refuses what cannot work before anything is read or sent (exit code 2);
- :func:`spent_in_output` adds up what earlier runs of an output spent (its lines' ``cost_usd``), which counts
  toward ``--max-cost`` on ``--resume``;
- :func:`say_spend_cap` tells what a capped run spent and the exact command that goes on with a higher cap
  (:meth:`~sharedlm.runner._cost.RunCost.suggested_cap`);
- :func:`execute_dry_run` runs ``--dry-run N`` rows spread over the input and prints the full run's projected
  cost, tokens and time (:mod:`sharedlm.runner._dry_run`), without touching the output file.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sharedlm._errors import UsageError
from sharedlm.runner._cost import RunCost, run_cost
from sharedlm.runner._dry_run import count_all, project, rows_at, spread_positions
from sharedlm.runner._source import SourceRow

if TYPE_CHECKING:
    from sharedlm.runner._program import PreparedProgram
    from sharedlm.runner._run import RunOptions
    from sharedlm.runner._summary import RunReport


def check_cost_options(options: RunOptions) -> None:
    """Refuse cost options that do not fit the others; nothing has been read or sent yet.

    Args:
        options: The parsed command-line options.

    Raises:
        UsageError: For a cap that is not a positive number, a dry run of fewer than one row, or a cost option
            with an option it does not combine with.
    """
    if options.max_cost is not None and (not math.isfinite(options.max_cost) or options.max_cost <= 0):
        raise UsageError(f"--max-cost must be a number of USD > 0, got {options.max_cost!r}")
    if options.dry_run is not None and options.dry_run < 1:
        raise UsageError(f"--dry-run must be a number of rows >= 1, got {options.dry_run}")
    if options.backend != "local":
        given = [flag for flag, value in (("--max-cost", options.max_cost), ("--price", options.price),
                                          ("--dry-run", options.dry_run)) if value is not None]
        if given:
            raise UsageError(f"{' and '.join(given)} only appl{'y' if len(given) > 1 else 'ies'} to --backend local "
                             "(Ray workers each have their own shared LM, and no shared spend ledger)")
    if options.dry_run is not None and options.resume:
        raise UsageError("--dry-run projects a whole run from the input; it does not combine with --resume")


def spent_in_output(path: Path) -> tuple[float, int]:
    """What the lines of an earlier run's output cost: the sum of their ``cost_usd``, and lines whose cost is null.

    Failed lines count too: their calls were paid for. Lines written before sharedlm priced rows have no
    ``cost_usd`` and count as 0. The file is streamed, so memory stays constant.

    Args:
        path: The output file; a missing file spent nothing.
    """
    total = 0.0
    unknown = 0
    if not path.exists():
        return total, unknown
    with path.open("rb") as file:
        for raw in file:
            try:
                data = json.loads(raw)
            except ValueError:
                continue  # a torn line: the resume drops it
            if not isinstance(data, dict) or "cost_usd" not in data:
                continue
            cost = data["cost_usd"]
            if cost is None:
                unknown += 1
            elif isinstance(cost, int | float) and not isinstance(cost, bool) and math.isfinite(cost) and cost > 0:
                total += cost
    return total, unknown


def build_run_cost(options: RunOptions, *, spent_before: float = 0.0) -> RunCost:
    """The run's :class:`RunCost`: its ``--price`` and ``--max-cost``, with what earlier runs spent.

    Raises:
        UsageError: When ``--price`` is malformed, or ``--max-cost`` is set and the model has no known price.
    """
    return run_cost(max_cost=options.max_cost, price=options.price, spent_before=spent_before, batch=options.batch)


def say_spend_cap(report: RunReport, options: RunOptions, *, say: Callable[[str], None]) -> None:
    """Tell what a run stopped by its cap spent and how to go on with a higher cap.

    Args:
        report: The capped run.
        options: Its options.
        say: Prints one message for the user.
    """
    spent = report.cost_usd or 0.0
    earlier = f" (${report.spent_before + spent:,.4f} with earlier runs)" if report.spent_before else ""
    higher = report.suggested_cap or 2 * (report.cost_cap or 0.0)
    say(f"spend cap ${report.cost_cap:,.4f} reached: this run spent ${spent:,.4f}{earlier}; no more rows were "
        f"started, rows in flight finished. Finished rows are in {options.output}. To go on with a higher cap:\n"
        f"  {options.resume_command(max_cost=higher)}")


def execute_dry_run(options: RunOptions, fmt: str, prepared: PreparedProgram,
                    read: Callable[[], Iterable[SourceRow]], *, stream: Any = None) -> int:
    """Run ``--dry-run N`` rows spread over the input and print the full run's projection; the output is not touched.

    Args:
        options: The parsed command-line options (``dry_run`` set).
        fmt: The input format.
        prepared: The loaded program.
        read: Opens the input again, as a fresh stream of rows (it is read twice).
        stream: Where the projection goes; stdout by default.

    Returns:
        0 when every sampled row succeeded, else 1.
    """
    from sharedlm.runner._core import RowRunner

    assert options.dry_run is not None
    out = stream if stream is not None else sys.stdout
    rows = count_all(read())
    total = rows if options.limit is None else min(rows, options.limit)
    positions = spread_positions(total, options.dry_run)
    cost = build_run_cost(options)
    print(f"sharedlm: dry run: {len(positions):,} of {total:,} rows, spread over {options.input}; the output file "
          "is not touched", file=sys.stderr, flush=True)
    # The sample runs with the run's own row options, bar the limit: the sample's positions already respect it.
    runner = RowRunner(prepared, options.row_options.replace(limit=None), cost=cost)

    async def collect() -> list[Any]:
        return [result async for result in runner.results(rows_at(read(), positions))]

    results = asyncio.run(collect())
    failed = sum(1 for result in results if result.error is not None)
    projection = project(cost=cost, sampled=len(results), total=total, failed=failed,
                         prompt_tokens=sum(r.usage.prompt_tokens for r in results),
                         completion_tokens=sum(r.usage.completion_tokens for r in results),
                         latency_sum_s=sum(r.latency_s for r in results), concurrency=options.concurrency)
    projection.print(out)
    return 1 if failed else 0


__all__ = [
    "build_run_cost",
    "check_cost_options",
    "execute_dry_run",
    "say_spend_cap",
    "spent_in_output",
]
