"""The cost options of ``sharedlm run``: ``--max-cost``, ``--price`` and ``--dry-run``.

- :func:`check_cost_options` refuses what cannot work before anything is read or sent (exit code 2);
- :func:`start_spend_journal` opens the output's spend journal (``.NAME.spend.jsonl``), in which every call of
  every run is booked before it is sent and settled after (:class:`~sharedlm._spend.SpendJournal`);
- :func:`spent_in_output` adds up what earlier runs of an output spent, from its journal (falling back to its
  lines' ``cost_usd`` for an output written without one), which counts toward ``--max-cost`` on ``--resume``;
- :func:`say_spend_cap` tells what a capped run spent and the exact command that goes on with a higher cap
  (:meth:`~sharedlm.runner._cost.RunCost.suggested_cap`);
- :func:`execute_dry_run` runs ``--dry-run N`` rows spread over the input, uncapped and without DSPy's cache, and
  prints the full run's projected cost, tokens and time (:mod:`sharedlm.runner._dry_run`) and whether it fits
  under ``--max-cost``, without touching the output file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sharedlm._errors import UsageError
from sharedlm._spend import SpendJournal, read_spend_journal
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
        price = options.price
        if isinstance(price, Sequence | Mapping) and not isinstance(price, str) and not price:
            price = None  # an empty sequence or mapping gives no --price
        given = [flag for flag, value in (("--max-cost", options.max_cost), ("--price", price),
                                          ("--dry-run", options.dry_run)) if value is not None]
        if given:
            raise UsageError(f"{' and '.join(given)} only appl{'y' if len(given) > 1 else 'ies'} to --backend local "
                             "(Ray workers each have their own shared LM, and no shared spend ledger)")
    if options.dry_run is not None and options.resume:
        raise UsageError("--dry-run projects a whole run from the input; it does not combine with --resume")


def spend_journal_path(output: Path) -> Path:
    """The spend journal of ``output``: ``.NAME.spend.jsonl`` in the same directory."""
    return output.with_name(f".{output.name}.spend.jsonl")


@dataclass(frozen=True)
class EarlierSpend:
    """What earlier runs of an output spent.

    Args:
        usd: USD, from the journal (calls never settled at their worst case) and the lines it does not cover.
        unknown: Calls or lines whose cost is unknown (a model without a price).
        unsettled: Calls a killed run left in flight, counted at their worst case.
        carry: What the output's lines cost that the journal does not record, ``(usd, unknown lines)``: all of an
            output written without a journal (an older sharedlm), or the rows of a Ray run that died before
            recording them. The next run's journal records it first, so a compaction cannot lose it.
    """

    usd: float = 0.0
    unknown: int = 0
    unsettled: int = 0
    carry: tuple[float, int] | None = None


def earlier_spend(output: Path) -> EarlierSpend:
    """What earlier runs of ``output`` spent; read before a resume compacts the output (see :class:`EarlierSpend`).

    Args:
        output: The output file; a missing file with no journal spent nothing.
    """
    journal = spend_journal_path(output)
    if not journal.exists():
        usd, unknown = _lines_cost(output)
        return EarlierSpend(usd=usd, unknown=unknown, carry=(usd, unknown) if usd or unknown else None)
    spend = read_spend_journal(journal)
    if spend.rows_at is None:
        return EarlierSpend(usd=spend.usd, unknown=spend.unknown, unsettled=spend.unsettled)
    usd, unknown = _lines_cost(output, start=spend.rows_at)  # a Ray run died before recording its rows' cost
    return EarlierSpend(usd=spend.usd + usd, unknown=spend.unknown + unknown, unsettled=spend.unsettled,
                        carry=(usd, unknown))


def spent_in_output(path: Path) -> tuple[float, int]:
    """What earlier runs of an output spent, and how many of their calls (or lines) have an unknown cost.

    From the output's spend journal when it has one: every call booked, failed rows' and rows never written
    included (a killed run's calls in flight at their worst case). Without one (an output of an older sharedlm),
    from its lines' ``cost_usd``: failed lines count too (their calls were paid for); lines written before
    sharedlm priced rows have no ``cost_usd`` and count as 0.

    Args:
        path: The output file; a missing file spent nothing.
    """
    earlier = earlier_spend(path)
    return earlier.usd, earlier.unknown


def _lines_cost(path: Path, *, start: int = 0) -> tuple[float, int]:
    """The sum of the ``cost_usd`` of ``path``'s lines from byte ``start`` on, and lines whose cost is null.

    The file is streamed, so memory stays constant.
    """
    total = 0.0
    unknown = 0
    if not path.exists():
        return total, unknown
    with path.open("rb") as file:
        file.seek(start)
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
        UsageError: When a ``--price`` is malformed or prices a model twice, or ``--max-cost`` is set and a model
            the program is bound to has no known price.
    """
    return run_cost(max_cost=options.max_cost, price=options.price, spent_before=spent_before, batch=options.batch)


def start_spend_journal(options: RunOptions, earlier: EarlierSpend, *, ray: bool = False) -> SpendJournal:
    """Open the output's spend journal for this run; call it after a resume compacted the output.

    It starts over for a new output (none yet) and with ``--overwrite``; otherwise this run's lines follow the
    earlier runs', after what ``earlier`` found in the output's lines and the journal does not hold.

    Args:
        options: The run's options.
        earlier: What earlier runs spent (:func:`earlier_spend`, read before the compaction).
        ray: The rows run on Ray workers, whose calls this process does not see: the journal notes where in the
            output their rows start, and the caller records their cost at the end (:meth:`SpendJournal.carry`).
    """
    output = options.output
    fresh = options.overwrite or not output.exists()
    rows_at = (0 if fresh else output.stat().st_size) if ray else None
    return SpendJournal(spend_journal_path(output), fresh=fresh, carried=None if fresh else earlier.carry,
                        rows_at=rows_at)


def say_spend_cap(report: RunReport, options: RunOptions, *, say: Callable[[str], None]) -> None:
    """Tell what a run stopped by its cap spent and how to go on with a higher cap.

    Args:
        report: The capped run.
        options: Its options.
        say: Prints one message for the user.
    """
    total = report.spent_usd if report.spent_usd is not None else report.spent_before + (report.cost_usd or 0.0)
    spent = total - report.spent_before
    earlier = f" (${total:,.4f} with earlier runs)" if report.spent_before else ""
    higher = report.suggested_cap or 2 * (report.cost_cap or 0.0)
    say(f"spend cap ${report.cost_cap:,.4f} reached: this run spent ${spent:,.4f}{earlier}; no more rows were "
        f"started, rows in flight finished. Finished rows are in {options.output}. To go on with a higher cap:\n"
        f"  {options.resume_command(max_cost=higher)}")


@contextlib.contextmanager
def dspy_cache_off() -> Iterator[None]:
    """Inside the block, DSPy's cache neither answers a call nor stores one (``dspy.configure_cache``, both tiers
    off); the cache the process had is back after it.

    A dry run needs it: rows answered from the cache (an earlier dry run's, or a real run's) cost nothing and use
    no tokens, so they would project $0; and its sample must not fill the cache with answers the real run would
    then get for free, which the projection could not foresee.
    """
    import dspy

    before = vars(dspy).get("cache")  # the lazily built cache, if built: reading dspy.cache would build it
    dspy.configure_cache(enable_disk_cache=False, enable_memory_cache=False)
    try:
        yield
    finally:
        if before is None:
            vars(dspy).pop("cache", None)  # built on its next read, as it would have been
        else:
            dspy.cache = before


def execute_dry_run(options: RunOptions, fmt: str, prepared: PreparedProgram,
                    read: Callable[[], Iterable[SourceRow]], *, stream: Any = None) -> int:
    """Run ``--dry-run N`` rows spread over the input and print the full run's projection; the output is not touched.

    The sample runs without a spend cap and without DSPy's cache (:func:`dspy_cache_off`): capped, its rows would
    fail and project nothing; cached, they would cost nothing. With ``--max-cost``, the projection says whether
    the whole run fits under the cap.

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
    build_run_cost(options)  # what the real run would refuse (a cap on a model without a price), refused here too
    cost = run_cost(price=options.price)  # the sample runs uncapped: the cap is for the whole run
    print(f"sharedlm: dry run: {len(positions):,} of {total:,} rows, spread over {options.input}; the output file "
          "is not touched", file=sys.stderr, flush=True)
    # The sample runs with the run's own row options, bar the limit: the sample's positions already respect it.
    runner = RowRunner(prepared, options.row_options.replace(limit=None), cost=cost)

    async def collect() -> list[Any]:
        return [result async for result in runner.results(rows_at(read(), positions))]

    with dspy_cache_off():
        results = asyncio.run(collect())
    failed = sum(1 for result in results if result.error is not None)
    projection = project(cost=cost, sampled=len(results), total=total, failed=failed,
                         prompt_tokens=sum(r.usage.prompt_tokens for r in results),
                         completion_tokens=sum(r.usage.completion_tokens for r in results),
                         latency_sum_s=sum(r.latency_s for r in results), concurrency=options.concurrency,
                         cap=options.max_cost)
    projection.print(out)
    return 1 if failed else 0


__all__ = [
    "EarlierSpend",
    "build_run_cost",
    "check_cost_options",
    "dspy_cache_off",
    "earlier_spend",
    "execute_dry_run",
    "say_spend_cap",
    "spend_journal_path",
    "spent_in_output",
    "start_spend_journal",
]
