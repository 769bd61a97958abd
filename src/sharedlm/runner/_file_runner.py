"""The file runner: stream rows through a program into an output file, with progress, Ctrl-C and a report.

:func:`run_to_file` is library code under ``sharedlm run`` (:mod:`sharedlm.runner._run`) and ``sharedlm demo``;
it imports neither. It runs the rows here (:class:`~sharedlm.runner._core.RowRunner`) or on Ray workers
(:class:`~sharedlm.runner._ray._runner.RayRowRunner`), appends each result to the output as it finishes, keeps
the input fingerprint beside the output up to date (:mod:`sharedlm.runner._fingerprint`), and notes which ids
of an earlier run the input still has (:mod:`sharedlm.runner._tally`).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import AsyncIterable, Callable, Collection, Iterable
from pathlib import Path
from typing import IO, Any

from sharedlm.runner._core import RowRunner, RunCounters
from sharedlm.runner._cost import RunCost, report_fields
from sharedlm.runner._fingerprint import FingerprintRecorder
from sharedlm.runner._options import RowOptions
from sharedlm.runner._program import PreparedProgram
from sharedlm.runner._progress import engine_stats, start_progress
from sharedlm.runner._ray._runner import RayPlan, RayRowRunner
from sharedlm.runner._signals import InterruptHandler
from sharedlm.runner._source import SourceRow
from sharedlm.runner._summary import RunReport
from sharedlm.runner._tally import InputTally
from sharedlm.runner._writer import ResultWriter


def say(message: str, stream: IO[str] | None = None) -> None:
    """Tell the user ``message`` on ``stream`` (stderr by default), as ``sharedlm: message``."""
    print(f"sharedlm: {message}", file=stream if stream is not None else sys.stderr, flush=True)


async def run_to_file(
    program: PreparedProgram,
    rows: Iterable[SourceRow] | AsyncIterable[SourceRow],
    *,
    output: Path,
    truncate: bool = False,
    total: int | None = None,
    options: RowOptions | None = None,
    skip_keys: Collection[str] | None = None,
    progress: str = "auto",
    label: str | None = None,
    stream: IO[str] | None = None,
    ray: RayPlan | None = None,
    fingerprint: FingerprintRecorder | None = None,
    cost: RunCost | None = None,
) -> RunReport:
    """Stream ``rows`` through ``program``, appending each result to ``output`` as it finishes.

    Args:
        program: The prepared program.
        rows: The input rows, read lazily.
        output: The output JSONL file (appended to).
        truncate: Empty ``output`` first.
        total: Rows expected, for progress, or None.
        options: How rows are taken and run, passed whole to the runner (its ``grace_s`` goes to the Ctrl-C
            handler); when None, the defaults without DSPy's call history (it would hold 10,000 calls in memory).
        skip_keys: Id keys of rows already done.
        progress: ``auto``, ``rich``, ``plain`` or ``off``.
        label: What progress calls the run; the program's name by default.
        stream: Where progress and messages go; stderr by default.
        ray: Run the rows on Ray workers as planned (``options.concurrency`` is then per worker), or None to run
            them here.
        fingerprint: Keeps the input fingerprint beside ``output`` up to date (its digest must be the one the
            reader of ``rows`` feeds), or None to keep none.
        cost: How rows are priced and the spend cap (local runs only), or None for bundled prices and no cap.
    """
    if options is None:
        options = RowOptions(record_history=False)
    runner: RowRunner | RayRowRunner
    engine: Callable[[], dict[str, Any] | None]
    if ray is None:
        runner = RowRunner(program, options, skip_keys=skip_keys, cost=cost)
        engine = engine_stats
    else:
        runner = RayRowRunner(ray, program, options, skip_keys=skip_keys)
        engine = runner.engine_stats
        starting = time.monotonic()
        await runner.start()  # workers that cannot start fail the run before the output is touched
        say(f"{ray.workers} Ray worker{'s' if ray.workers > 1 else ''} ready in {time.monotonic() - starting:.1f}s "
             f"(each with its own shared LM: max_parallel_requests {ray.worker_settings().max_parallel_requests})",
             stream)
    interrupts = InterruptHandler(runner, grace_s=options.grace_s, stream=stream)
    tally = InputTally(id_field=options.id_field, done_keys=skip_keys or frozenset(), noter=fingerprint)
    started = time.monotonic()
    with ResultWriter(output, truncate=truncate) as writer, contextlib.ExitStack() as stack:
        if fingerprint is not None:
            fingerprint.open()
            stack.callback(fingerprint.close)
        interrupts.install()
        display = start_progress(runner.counters, total=total, label=label or program.name, mode=progress,
                                 stream=stream, engine=engine)
        write_failure: str | None = None
        try:
            results = runner.results(tally.watch(rows))
            try:
                async for result in results:
                    try:
                        if fingerprint is not None:
                            fingerprint.checkpoint()  # before the line, so the fingerprint always covers its row
                        written = writer.write(result)
                    except OSError as exc:
                        # The disk is full or the file too large: no later line could be written either. This row
                        # and those in flight are not written, so a resume runs them (it drops a torn last line).
                        write_failure = f"writing {output} failed ({exc.strerror or exc})"
                        runner.counters.succeeded -= result.ok
                        runner.counters.failed -= not result.ok
                        runner.counters.cancelled += 1
                        break
                    if written is not result:  # could not be written as it was: an error line instead
                        runner.counters.succeeded -= result.ok
                        runner.counters.failed += result.ok
            finally:
                await results.aclose()  # type: ignore[attr-defined]  # an async generator, typed as its protocol
        finally:
            await display.close()
            interrupts.uninstall()
    failure = getattr(runner, "failure", None) or write_failure
    return RunReport.from_counters(runner.counters, not_run=runner.counters.cancelled,
                                   wall_s=time.monotonic() - started, interrupted=interrupts.interrupted,
                                   output=output, engine=engine(), failure=failure,
                                   workers=None if ray is None else ray.workers,
                                   missing_ids=tally.missing_done_ids if skip_keys else None,
                                   **report_fields(runner.cost if isinstance(runner, RowRunner) else None,
                                                   rows_left=_rows_left(runner.counters, total)))


def _rows_left(counters: RunCounters, total: int | None) -> int | None:
    """Rows of the input a run did not finish (failed rows run again on resume), or None when the total is unknown."""
    return None if total is None else max(total - counters.skipped - counters.succeeded, 0)


__all__ = ["run_to_file", "say"]
