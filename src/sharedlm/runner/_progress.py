"""Progress of a run on stderr: a live ``rich`` display on a terminal, a plain line every few seconds otherwise.

Both read the run's :class:`~sharedlm.runner._core.RunCounters` and show rows done, failed, skipped and in
flight, rows per second, tokens, the shared engine's in-flight and queued calls when it has them, and an ETA
when the total is known. Below that they show, in batch mode, the batches submitted, in progress and done and
the calls waiting on them, and, when the process has shared LMs for more than one model, each model's calls,
tokens and 429s. The total is known when the input was counted before the run (small files, see
:data:`~sharedlm.runner._readers.COUNT_MAX_BYTES`), when it is Parquet, or from ``--limit``; otherwise
progress shows counts and rates without a bar or ETA rather than read a huge file twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Callable
from typing import IO, Any, Protocol

from sharedlm.runner._core import RunCounters

PLAIN_INTERVAL_S = 5.0
RICH_REFRESH_PER_S = 4.0
PROGRESS_MODES = ("auto", "rich", "plain", "off")


def engine_stats() -> dict[str, Any] | None:
    """The shared engine's stats as a dict, or None when there is no shared engine to ask."""
    try:
        from sharedlm._singleton import stats

        return dict(stats().as_dict())
    except Exception:
        return None


def batch_progress() -> dict[str, int] | None:
    """The batches of every shared engine in batch mode, added up (submitted, in progress, done; calls waiting), or
    None outside batch mode; never builds a shared LM."""
    try:
        from sharedlm._batch._progress import BatchProgress
        from sharedlm._singleton import all_engines

        transports = [transport for engine in all_engines() if (transport := getattr(engine, "batch", None))]
        if not transports:
            return None
        progress = BatchProgress.total([transport.progress for transport in transports])
        return {"submitted": progress.batches_submitted, "in_progress": progress.batches_in_progress,
                "done": progress.batches_done, "calls_waiting": progress.calls_waiting}
    except Exception:
        return None


def format_duration(seconds: float) -> str:
    """``3725.0`` -> ``"1h02m05s"``, ``65`` -> ``"1m05s"``, ``4.2`` -> ``"4.2s"``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


class ProgressSnapshot:
    """What a progress display shows at one moment.

    Args:
        counters: The run's live counters.
        total: Rows in the input (or the ``--limit``), or None when unknown.
        started: ``time.monotonic()`` at the start of the run.
        now: ``time.monotonic()`` now.
        engine: The shared engine's stats (``EngineStats.as_dict()``, with ``models`` per model), or None.
        batch: The batches of batch mode (:func:`batch_progress`), or None.
    """

    def __init__(self, counters: RunCounters, *, total: int | None, started: float, now: float,
                 engine: dict[str, Any] | None = None, batch: dict[str, int] | None = None) -> None:
        self.succeeded = counters.succeeded
        self.failed = counters.failed
        self.skipped = counters.skipped
        self.in_flight = counters.in_flight
        self.tokens = counters.total_tokens
        self.cost = counters.cost_usd if counters.cost_known else None
        self.cost_cap = counters.cost_cap
        self.total = total
        self.elapsed = max(now - started, 1e-9)
        self.engine = engine
        self.batch = batch

    @property
    def processed(self) -> int:
        """Rows accounted for so far: finished in this run or skipped as already done."""
        return self.succeeded + self.failed + self.skipped

    @property
    def rate(self) -> float:
        """Rows finished per second in this run (skipped rows excluded)."""
        return (self.succeeded + self.failed) / self.elapsed

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate, or None when the total or the rate is unknown."""
        if self.total is None or self.rate <= 0:
            return None
        return max(self.total - self.processed, 0) / self.rate

    def line(self) -> str:
        """The snapshot as one plain line."""
        counts, rates = self.parts()
        return " | ".join(counts + rates)

    def cost_text(self) -> str:
        """What the run has cost so far (``$0.0123``, ``of $0.05 cap`` under a cap), or ``cost unknown``."""
        if self.cost is None:
            return "cost unknown"
        cap = f" of ${self.cost_cap:,.4f} cap" if self.cost_cap is not None else ""
        return f"${self.cost:,.4f}{cap}"

    def details(self) -> list[str]:
        """Lines shown below the counts: the batches in batch mode, then one per model when there are several."""
        lines = []
        batch = self.batch
        if batch is not None:
            lines.append(f"batches {batch.get('submitted', 0):,} submitted, {batch.get('in_progress', 0):,} in "
                         f"progress, {batch.get('done', 0):,} done | {batch.get('calls_waiting', 0):,} calls waiting")
        models = (self.engine or {}).get("models") or {}
        if len(models) > 1:
            for model, stats in sorted(models.items()):
                stats = stats if isinstance(stats, dict) else {}
                lines.append(f"{model}: {stats.get('calls', 0):,} calls | {stats.get('tokens_used', 0):,} tokens | "
                             f"{stats.get('rate_limited', 0):,} 429s")
        return lines

    def parts(self) -> tuple[list[str], list[str]]:
        """The snapshot's pieces: row counts, then rates, tokens and times."""
        if self.total:
            head = f"{self.processed:,}/{self.total:,} rows ({min(self.processed / self.total, 1.0):.0%})"
        else:
            head = f"{self.processed:,} rows"
        counts = [head, f"ok {self.succeeded:,}", f"failed {self.failed:,}"]
        if self.skipped:
            counts.append(f"skipped {self.skipped:,}")
        counts.append(f"in flight {self.in_flight:,}")
        rates = [f"{self.rate:,.1f} rows/s", f"{self.tokens:,} tokens", self.cost_text()]
        if self.engine:
            engine = self.engine
            rates.append(f"engine in flight {engine.get('in_flight', 0):,}, queued {engine.get('queued', 0):,}")
        rates.append(f"elapsed {format_duration(self.elapsed)}")
        eta = self.eta
        if eta is not None:
            rates.append(f"ETA {format_duration(eta)}")
        return counts, rates


class ProgressDisplay(Protocol):
    """A running progress display."""

    async def close(self) -> None:
        """Stop the display (after a last refresh)."""


class _Off:
    async def close(self) -> None:
        return None


class _PlainProgress:
    """Prints a snapshot line every ``interval`` seconds from a task on the run's loop, and one at the end."""

    def __init__(self, snapshot: Callable[[], ProgressSnapshot], *, interval: float, stream: IO[str],
                 label: str) -> None:
        self._snapshot = snapshot
        self._interval = interval
        self._stream = stream
        self._label = label
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            self._print()

    def _print(self) -> None:
        snap = self._snapshot()
        text = "".join(f"\nsharedlm: {self._label}:   {line}" for line in snap.details())
        print(f"sharedlm: {self._label}: {snap.line()}{text}", file=self._stream, flush=True)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        # The last state is always shown, also for a run shorter than one interval.
        self._print()


class _RichProgress:
    """A ``rich.live.Live`` display refreshed from rich's own thread; it only reads the counters."""

    def __init__(self, snapshot: Callable[[], ProgressSnapshot], *, stream: IO[str], label: str) -> None:
        from rich.console import Console
        from rich.live import Live

        self._snapshot = snapshot
        self._label = label
        self._live = Live(self, console=Console(file=stream), refresh_per_second=RICH_REFRESH_PER_S, transient=False)
        self._live.start()

    def __rich__(self) -> Any:
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        snap = self._snapshot()
        grid = Table.grid(padding=(0, 1))
        grid.add_column()
        grid.add_column()
        if snap.total:
            bar: Any = ProgressBar(total=snap.total, completed=min(snap.processed, snap.total), width=40)
        else:
            bar = ProgressBar(total=None, pulse=True, width=40)
        counts, rates = snap.parts()
        grid.add_row(Text(self._label, style="bold"), bar)
        grid.add_row(Text(""), Text(" | ".join(counts)))
        grid.add_row(Text(""), Text(" | ".join(rates), style="dim"))
        for line in snap.details():
            grid.add_row(Text(""), Text(line))
        return grid

    async def close(self) -> None:
        self._live.refresh()
        self._live.stop()


def start_progress(
    counters: RunCounters,
    *,
    total: int | None,
    label: str,
    mode: str = "auto",
    stream: IO[str] | None = None,
    interval: float = PLAIN_INTERVAL_S,
    engine: Callable[[], dict[str, Any] | None] = engine_stats,
    batch: Callable[[], dict[str, int] | None] = batch_progress,
) -> ProgressDisplay:
    """Start showing the progress of a run; call from the run's event loop and ``await close()`` at the end.

    Args:
        counters: The run's live counters.
        total: Rows expected, or None when unknown.
        label: What is running, shown in front of the counts.
        mode: ``"auto"`` (rich on a terminal, plain lines otherwise), ``"rich"``, ``"plain"`` or ``"off"``.
        stream: Where to write; stderr by default.
        interval: Seconds between plain lines.
        engine: Returns the shared engine's stats, or None.
        batch: Returns the batches of batch mode, or None outside it.
    """
    if mode not in PROGRESS_MODES:
        raise ValueError(f"progress mode must be one of {PROGRESS_MODES}, got {mode!r}")
    out = stream if stream is not None else sys.stderr
    started = time.monotonic()

    def snapshot() -> ProgressSnapshot:
        return ProgressSnapshot(counters, total=total, started=started, now=time.monotonic(), engine=engine(),
                                batch=batch())

    if mode == "off":
        return _Off()
    if mode == "rich" or (mode == "auto" and out.isatty()):
        return _RichProgress(snapshot, stream=out, label=label)
    return _PlainProgress(snapshot, interval=interval, stream=out, label=label)


__all__ = [
    "PLAIN_INTERVAL_S",
    "PROGRESS_MODES",
    "ProgressSnapshot",
    "batch_progress",
    "engine_stats",
    "format_duration",
    "start_progress",
]
