"""``sharedlm run --dry-run N``: run N rows spread over the input and project the full run's cost, tokens and time.

The input is read twice, streaming, so memory stays bounded whatever its size: the first pass counts its rows,
the second takes the rows at N evenly spaced positions (the middle of N equal slices, so the sample covers the
start, the middle and the end of the file, not only its first rows). Those rows run through the program as in a
real run, but their results go nowhere: the output file is not touched. The projection scales the sample's
average per row to the rows the real run would take, and names where the prices came from. With ``--max-cost``
the sample runs uncapped (a cap would fail its rows and project nothing), and the projection says whether the
whole run fits under the cap, or after about how many rows the cap would stop it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from sharedlm.runner._cost import RunCost
from sharedlm.runner._progress import format_duration
from sharedlm.runner._source import SourceRow


def spread_positions(total: int, count: int) -> list[int]:
    """``count`` evenly spaced 0-based positions among ``total`` rows: the middle of each of ``count`` slices.

    Args:
        total: Rows in the input.
        count: Rows to sample; all rows when it is at least ``total``.
    """
    if count >= total:
        return list(range(total))
    return sorted({(2 * k + 1) * total // (2 * count) for k in range(count)})


def rows_at(rows: Iterable[SourceRow], positions: list[int]) -> Iterator[SourceRow]:
    """The rows of ``rows`` at ``positions`` (sorted, 0-based), streaming; stops after the last one."""
    wanted = iter(positions)
    target = next(wanted, None)
    for index, row in enumerate(rows):
        if target is None:
            return
        if index == target:
            yield row
            target = next(wanted, None)


def count_all(rows: Iterable[SourceRow]) -> int:
    """How many rows ``rows`` yields, reading it through once (memory stays constant)."""
    return sum(1 for _ in rows)


@dataclass(frozen=True, kw_only=True)
class Projection:
    """What a full run would take, projected from a sample of its rows.

    Args:
        sampled: Rows the dry run ran.
        total: Rows the full run would take.
        sample_cost: USD the sample cost, or None when a model it used has no price.
        sample_prompt_tokens: Prompt tokens of the sample.
        sample_completion_tokens: Completion tokens of the sample.
        sample_failed: Sampled rows that failed.
        mean_latency_s: Average seconds per sampled row.
        concurrency: Rows in flight at once in the full run.
        prices: One line per model: its price and where it came from.
        cap: The run's spend cap in USD (``--max-cost``), or None.
    """

    sampled: int
    total: int
    sample_cost: float | None
    sample_prompt_tokens: int
    sample_completion_tokens: int
    sample_failed: int
    mean_latency_s: float
    concurrency: int
    prices: tuple[str, ...]
    cap: float | None = None

    @property
    def scale(self) -> float:
        """Full-run rows per sampled row."""
        return self.total / self.sampled if self.sampled else 0.0

    @property
    def cost(self) -> float | None:
        """Projected USD for the full run, or None when unknown."""
        return None if self.sample_cost is None else self.sample_cost * self.scale

    @property
    def prompt_tokens(self) -> int:
        """Projected prompt tokens."""
        return round(self.sample_prompt_tokens * self.scale)

    @property
    def completion_tokens(self) -> int:
        """Projected completion tokens."""
        return round(self.sample_completion_tokens * self.scale)

    @property
    def time_s(self) -> float:
        """Projected seconds: every row at the sample's average latency, ``concurrency`` rows at a time.

        It assumes the provider keeps up with ``concurrency`` rows in flight (no rate limits hit).
        """
        return self.total * self.mean_latency_s / max(min(self.concurrency, self.total), 1)

    @property
    def rows_under_cap(self) -> int | None:
        """Rows the cap pays for at the sample's average row cost, about where a capped run stops (a little earlier,
        as it keeps room for one call's worst case; later when DSPy's cache answers some calls for free); None
        without a cap or a known cost."""
        if self.cap is None or self.sample_cost is None or not self.sampled:
            return None
        per_row = self.sample_cost / self.sampled
        return self.total if per_row <= 0 else min(math.floor(self.cap / per_row), self.total)

    def cap_line(self) -> str | None:
        """Whether the projected run fits under the cap, or after about how many rows the cap stops it."""
        if self.cap is None:
            return None
        head = f"  cap     ${self.cap:,.4f} (--max-cost): "
        cost, rows = self.cost, self.rows_under_cap
        if cost is None or rows is None:
            return head + "cannot tell whether the run fits: a model has no price"
        if cost <= self.cap:
            return head + f"the projected cost fits, with ${self.cap - cost:,.4f} to spare"
        return head + (f"the projected cost does not fit; at the sample's average row cost it pays for about "
                       f"{rows:,} of {self.total:,} rows")

    def lines(self) -> list[str]:
        """The projection as lines for people."""
        cost = "unknown (a model has no price; supply one with --price)" if self.cost is None else f"${self.cost:,.4f}"
        sample_cost = "unknown" if self.sample_cost is None else f"${self.sample_cost:,.6f}"
        out = [
            f"dry run: {self.sampled:,} of {self.total:,} rows, spread over the input "
            f"({self.sample_failed:,} failed), cost {sample_cost}",
            f"projected for all {self.total:,} rows:",
            f"  cost    {cost}",
            f"  tokens  {self.prompt_tokens + self.completion_tokens:,} ({self.prompt_tokens:,} prompt + "
            f"{self.completion_tokens:,} completion)",
            f"  time    {format_duration(self.time_s)} at --concurrency {self.concurrency} "
            f"(average row latency {self.mean_latency_s:.3f}s; assumes no rate limits)",
        ]
        cap = self.cap_line()
        if cap is not None:
            out.append(cap)
        out.append("prices:")
        out += [f"  {line}" for line in self.prices]
        return out

    def print(self, stream: IO[str]) -> None:
        """Print :meth:`lines` to ``stream``."""
        for line in self.lines():
            print(line, file=stream, flush=True)


def project(*, cost: RunCost, sampled: int, total: int, failed: int, prompt_tokens: int, completion_tokens: int,
            latency_sum_s: float, concurrency: int, cap: float | None = None) -> Projection:
    """Build the :class:`Projection` of a finished sample.

    Args:
        cost: The sample run's cost.
        sampled: Rows run.
        total: Rows the full run would take.
        failed: Sampled rows that failed.
        prompt_tokens: Prompt tokens of the sample.
        completion_tokens: Completion tokens of the sample.
        latency_sum_s: Sum of the sampled rows' latencies.
        concurrency: Rows in flight in the full run.
        cap: The run's spend cap (``--max-cost``), or None.
    """
    return Projection(sampled=sampled, total=total, sample_cost=cost.cost_usd if cost.known else None,
                      sample_prompt_tokens=prompt_tokens, sample_completion_tokens=completion_tokens,
                      sample_failed=failed, mean_latency_s=latency_sum_s / sampled if sampled else 0.0,
                      concurrency=concurrency, prices=tuple(cost.describe_prices()), cap=cap)


__all__ = ["Projection", "count_all", "project", "rows_at", "spread_positions"]
