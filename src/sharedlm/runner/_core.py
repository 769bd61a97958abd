"""The streaming core of the bulk runner: :class:`RowRunner`, :class:`RowAdmission` and the public :func:`arun_many`.

Rows are pulled from the source only when there is room in a window of ``concurrency`` rows in flight, so
memory is bounded by the concurrency, never by the input's length (the source is never materialized).
Each row runs as its own asyncio task; a finished task hands its :class:`RowResult` to a queue the core
reads, so the cost per row stays constant however wide the window (no ``asyncio.wait`` over every task).

Per row:

- the id is the row's id field, or its number (line number in a file, position in an iterable) when it has
  none; ids must be strings or integers and unique (a later duplicate is an error row and does not run);
- the fields (id field excluded) are checked against the program's inputs before anything is sent
  (:class:`RowAdmission` decides these, so the Ray backend's driver can decide them once for all workers);
- each attempt runs under ``dspy.context(track_usage=True)`` with its own usage tracker, so token usage is
  per row even with thousands of rows in flight (DSPy keeps settings in a context variable, which each
  asyncio task, and each worker thread given a copied context, has to itself);
- failed attempts are tried again up to ``retries`` times with exponential backoff, unless the error is
  one retrying cannot fix (bad input, bad credentials, a request the provider refused).

Results come out in completion order. Every row taken from the source yields exactly one result, except
rows skipped because they are already done (``skip_keys``) and rows cancelled by :meth:`RowRunner.cancel`,
which are not yielded at all so a resume runs them again.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Container, Iterable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dspy
from dspy.utils.usage_tracker import track_usage

from sharedlm._batch import CURRENT_ROW, RowTag
from sharedlm._errors import (
    AuthenticationError,
    ConfigurationError,
    InputError,
    RequestRejectedError,
    SpendCapReachedError,
    UsageError,
    sharedlm_cause,
)
from sharedlm._gc import relaxed_gc
from sharedlm._guard import guarded_call
from sharedlm.runner._control import RunControl
from sharedlm.runner._cost import NextRow, Prices, RunCost, run_cost
from sharedlm.runner._defaults import MAX_RETRY_BACKOFF_S
from sharedlm.runner._options import RowOptions, row_options
from sharedlm.runner._outputs import output_dict, row_error, usage_from_tracker
from sharedlm.runner._program import PreparedProgram, ProgramInputs, build_program, prepare_program
from sharedlm.runner._results import RowError, RowId, RowResult, TokenUsage, id_key
from sharedlm.runner._source import SourceRow, close_rows, own_id, source_rows
from sharedlm.runner._threads import DaemonThreadPool

# A sync program runs in worker threads; more threads than this cost more than they give.
MAX_SYNC_WORKERS = 256
# Pause for the event loop after this many rows taken without awaiting (long runs of skipped or bad rows).
_ROWS_PER_PAUSE = 256
_INPUT_ERROR = "InputError"


class ProgramExitError(RuntimeError):
    """A row's program called ``sys.exit()``: that row failed (and is not retried), the run goes on."""


# Retrying a row cannot fix these; everything else (rate limits, outages, malformed LM answers) may pass.
_NOT_RETRYABLE = (InputError, UsageError, ConfigurationError, AuthenticationError, RequestRejectedError,
                  SpendCapReachedError, ProgramExitError)


@dataclass
class RunCounters:
    """Live counts of one run, read by progress displays.

    Args:
        taken: Rows taken from the source (skipped and bad rows included).
        skipped: Rows skipped because they already succeeded in an earlier run.
        succeeded: Rows that succeeded in this run.
        failed: Rows that failed in this run (bad input included).
        in_flight: Rows running now.
        cancelled: Rows cancelled while in flight (not yielded; a resume runs them).
        retries: Attempts beyond the first, over all rows.
        prompt_tokens: Prompt tokens of finished rows.
        completion_tokens: Completion tokens of finished rows.
        cost_usd: USD of finished rows whose cost is known.
        cost_unknown_rows: Finished rows whose cost is unknown (a model without a price).
        cost_cap: The run's spend cap in USD, or None.
    """

    taken: int = 0
    skipped: int = 0
    succeeded: int = 0
    failed: int = 0
    in_flight: int = 0
    cancelled: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cost_unknown_rows: int = 0
    cost_cap: float | None = None

    @property
    def cost_known(self) -> bool:
        """Whether every finished row's cost is known."""
        return self.cost_unknown_rows == 0

    def add_cost(self, cost_usd: float | None) -> None:
        """Count a finished row's cost (None: unknown, never counted as 0)."""
        if cost_usd is None:
            self.cost_unknown_rows += 1
        else:
            self.cost_usd += cost_usd

    def count(self, result: RowResult) -> None:
        """Count a row's outcome, tokens and cost (its retries are counted as they happen, or by the caller).

        Args:
            result: The row's result, about to be yielded.
        """
        if result.error is None:
            self.succeeded += 1
        else:
            self.failed += 1
        self.prompt_tokens += result.usage.prompt_tokens
        self.completion_tokens += result.usage.completion_tokens
        self.add_cost(result.cost_usd)

    @property
    def finished(self) -> int:
        """Rows that ran to an outcome in this run."""
        return self.succeeded + self.failed

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


def is_retryable(exc: BaseException) -> bool:
    """Whether trying a row again may succeed after ``exc``.

    Args:
        exc: The exception the row's program raised.
    """
    if isinstance(exc, _NOT_RETRYABLE):
        return False
    return not isinstance(sharedlm_cause(exc), _NOT_RETRYABLE)


def retry_delay(attempt: int, base: float) -> float:
    """Seconds to wait before attempt ``attempt + 1``: doubling from ``base``, at most 30 s.

    Args:
        attempt: The attempt that just failed (1 for the first).
        base: The first delay.
    """
    return min(base * 2 ** (attempt - 1), MAX_RETRY_BACKOFF_S) if base > 0 else 0.0


def _exit_message(exc: SystemExit) -> str:
    return (f"the program raised SystemExit({exc.code!r}) (sys.exit) while running this row; the row failed and "
            "the run went on")


def _stray_exit(exc: BaseException) -> RowError | None:
    """The row's error for a ``SystemExit`` or a ``CancelledError`` the run did not cause, or None to let it pass.

    A cancellation the run asked for (Ctrl-C, a closed generator) leaves the row unwritten, so a resume runs it;
    a ``CancelledError`` the program raised itself (it awaited a task something else cancelled) is its failure.
    """
    if isinstance(exc, SystemExit):
        return RowError(type=ProgramExitError.__name__, message=_exit_message(exc))
    task = asyncio.current_task()
    if task is None or task.cancelling() > 0:
        return None
    return RowError(type=type(exc).__name__,
                    message="the program raised CancelledError while running this row, though the run cancelled "
                            "nothing (it awaited a task or future that was cancelled); the row failed")


def _call_in_thread(entry: Callable[..., Any], /, **fields: Any) -> Any:
    """Call a sync program in a worker thread, with what asyncio cannot carry back as the row's plain error.

    ``StopIteration`` (``next()`` on an exhausted iterator) cannot be set on an asyncio future, which would leave
    the row waiting forever; a ``concurrent.futures.CancelledError`` would arrive as the run's own cancellation.
    """
    try:
        return entry(**fields)
    except StopIteration as exc:
        raise RuntimeError(f"the program raised StopIteration{f' ({exc})' if str(exc) else ''}: next() on an "
                           "exhausted iterator, probably") from exc
    except concurrent.futures.CancelledError as exc:
        raise RuntimeError(f"the program raised concurrent.futures.CancelledError{f' ({exc})' if str(exc) else ''}: "
                           "it waited on a future that was cancelled") from exc


class RowAdmission:
    """What happens to each input row before it runs: its id, a repeated id, a row already done, a field mismatch.

    The local runner admits rows as it starts them; the Ray backend admits them on the driver, so ids are
    unique and resumed rows are skipped across all workers, and only rows that can run are sent out.

    Args:
        inputs: The fields the program takes.
        options: The run's row options (its ``id_field`` and ``ignore_extra_fields`` are used here).
        skip_keys: Id keys of rows to skip (already succeeded).
    """

    def __init__(self, inputs: ProgramInputs, options: RowOptions, *, skip_keys: Container[str] | None = None) -> None:
        self.inputs = inputs
        self.id_field = options.id_field
        self.ignore_extra_fields = options.ignore_extra_fields
        self._skip_keys: Container[str] = skip_keys if skip_keys is not None else frozenset()
        # id key -> number of the row that used it first; the one per-row cost that grows with the input.
        self._seen: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"RowAdmission(id_field={self.id_field!r}, ids_seen={len(self._seen)})"

    def admit(self, row: SourceRow) -> RowResult | tuple[RowId, dict[str, Any]] | None:
        """The row's id and the fields to call the program with; None to skip it; or its error result.

        Args:
            row: The input row.
        """
        row_id, fields, problem = self._identify(row)
        if problem is not None:
            # Reported under its number: a later row giving that number as its own id would share the id, so it
            # counts as used (the file runner refuses such input before running; an iterable cannot be read twice).
            self._seen.setdefault(id_key(row_id), row.number)
            return RowResult(id=row_id, output=None, error=RowError(type=_INPUT_ERROR, message=problem),
                             attempts=0, latency_s=0.0)
        assert fields is not None
        key = id_key(row_id)
        first = self._seen.get(key)
        if first is not None:
            # `where` starts with how the source numbers rows ("line 7", "row 3 (line 4)"): name the first alike.
            kind = row.where.split(str(row.number), 1)[0].strip() or "row"
            return RowResult(id=row_id, output=None, attempts=0, latency_s=0.0, error=RowError(
                type=_INPUT_ERROR,
                message=f"{row.where} repeats id {row_id!r} of {kind} {first}; ids must be unique, so this row "
                        "was not run",
            ))
        self._seen[key] = row.number
        if key in self._skip_keys:
            return None
        mismatch = self.inputs.mismatch(fields, ignore_extra=self.ignore_extra_fields)
        if mismatch is not None:
            return RowResult(id=row_id, output=None, attempts=0, latency_s=0.0,
                             error=RowError(type=_INPUT_ERROR, message=f"{row.where}: {mismatch}"))
        if self.ignore_extra_fields:
            fields = self.inputs.select(fields)
        return row_id, fields

    def admit_safely(self, row: SourceRow) -> RowResult | tuple[RowId, dict[str, Any]] | None:
        """:meth:`admit`, with anything it raises turned into the row's error result instead of ending the run.

        Args:
            row: The input row.
        """
        try:
            return self.admit(row)
        except Exception as exc:
            return RowResult(id=row.number, output=None, attempts=0, latency_s=0.0,
                             error=RowError(type=_INPUT_ERROR, message=f"{row.where} could not be admitted: "
                                                                       f"{row_error(exc).message}"))

    def _identify(self, row: SourceRow) -> tuple[RowId, dict[str, Any] | None, str | None]:
        if row.fields is None:
            return row.number, None, row.problem or f"{row.where} could not be read"
        fields = dict(row.fields)
        raw_id = own_id(fields, self.id_field)
        fields.pop(self.id_field, None)
        if raw_id is None:
            return row.number, fields, None
        if isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
            return row.number, None, (f"{row.where} has id {raw_id!r} of type {type(raw_id).__name__}; ids must be "
                                      f"strings or whole numbers (row reported under its number {row.number})")
        return raw_id, fields, None


class RowRunner(RunControl):
    """Runs rows through one program with at most ``options.concurrency`` rows in flight.

    Args:
        program: The program, prepared by :func:`~sharedlm.runner._program.prepare_program`.
        options: How rows are taken and run (validated already); the defaults when None. Read back as
            :attr:`options`.
        skip_keys: Id keys of rows to skip (already succeeded); they are neither run nor yielded.
        sleep: The sleep used between retries (a fake clock in tests).
        executor: The thread pool a sync program runs in, shared with other runs and left running; a pool of
            the run's own (shut down at its end) when None.
        cost: How rows are priced and the run's spend cap; bundled prices and no cap when None.
    """

    def __init__(
        self,
        program: PreparedProgram,
        options: RowOptions | None = None,
        *,
        skip_keys: Container[str] | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        executor: Executor | None = None,
        cost: RunCost | None = None,
    ) -> None:
        self.program = program
        self.options = options = options if options is not None else RowOptions()
        self._admission = RowAdmission(program.inputs, options, skip_keys=skip_keys)
        self.cost = cost if cost is not None else RunCost()
        self.counters = RunCounters(cost_cap=self.cost.max_cost)
        self._context = {"track_usage": True} if options.record_history else {"track_usage": True,
                                                                              "disable_history": True}
        self._sleep = sleep
        self._tasks: set[asyncio.Task[RowResult]] = set()
        self._queue: asyncio.Queue[RowResult | None] | None = None
        self._shared_executor = executor
        self._executor: Executor | None = None
        RunControl.__init__(self)

    def __repr__(self) -> str:
        c = self.counters
        return (f"RowRunner(program={self.program.name}, concurrency={self.options.concurrency}, {self.run_state}, "
                f"taken={c.taken}, "
                f"succeeded={c.succeeded}, failed={c.failed}, skipped={c.skipped}, in_flight={c.in_flight})")

    def _on_cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    async def results(self, rows: Iterable[SourceRow] | AsyncIterable[SourceRow]) -> AsyncIterator[RowResult]:
        """Run every row of ``rows`` and yield each result as it completes.

        Args:
            rows: The source, read lazily: a row is taken only when the window has room.
        """
        if self._started:
            raise RuntimeError("a RowRunner runs once; create a new one for another run")
        self._started = True
        self._queue = queue = asyncio.Queue[RowResult | None]()
        is_async = isinstance(rows, AsyncIterable)
        iterator: Iterator[SourceRow] | AsyncIterator[SourceRow] = aiter(rows) if is_async else iter(rows)  # type: ignore[arg-type]
        if not self.program.is_async:
            # Daemon threads: a row abandoned by a cancel never holds the process open (see _threads).
            self._executor = self._shared_executor or DaemonThreadPool(
                max_workers=min(self.options.concurrency, MAX_SYNC_WORKERS), thread_name_prefix="sharedlm-row")
        exhausted = False
        pending = 0  # started rows whose result is not yet taken from the queue
        since_pause = 0
        detach = self.cost.attach()  # the shared engine books this run's calls against its cap, if any
        concurrency, limit = self.options.concurrency, self.options.limit
        collector = relaxed_gc() if self.options.relax_gc else contextlib.nullcontext()
        with collector:
            try:
                while True:
                    while not exhausted and not self._stopping and pending < concurrency:
                        if limit is not None and self.counters.taken >= limit:
                            exhausted = True
                            break
                        step = self.cost.next_row(pending)  # under a spend cap: stop when the next row may not fit
                        if step is not NextRow.TAKE:
                            exhausted = step is NextRow.STOP
                            break
                        try:
                            row = await anext(iterator) if is_async else next(iterator)  # type: ignore[arg-type]
                        except (StopIteration, StopAsyncIteration):
                            exhausted = True
                            break
                        self.counters.taken += 1
                        admitted = self._admit(row)
                        if isinstance(admitted, RowResult):
                            self.counters.count(admitted)
                            yield admitted
                        elif admitted:
                            pending += 1
                        since_pause += 1
                        if since_pause >= _ROWS_PER_PAUSE:
                            since_pause = 0
                            await asyncio.sleep(0)
                    if pending == 0 and (exhausted or self._stopping):
                        return
                    # Never reached with nothing pending, so this cannot wait forever.
                    result = await queue.get()
                    pending -= 1
                    if result is None:  # a cancelled row: not yielded, so a resume runs it again
                        self.counters.cancelled += 1
                        continue
                    self.counters.count(result)
                    yield result
            finally:
                try:
                    await self._shutdown(iterator)
                finally:
                    detach()

    def _admit(self, row: SourceRow) -> RowResult | bool:
        """Start ``row``: True when started, False when skipped, or its error result when it cannot run."""
        admitted = self._admission.admit_safely(row)
        if admitted is None:
            self.counters.skipped += 1
            return False
        if isinstance(admitted, RowResult):
            return admitted
        row_id, fields = admitted
        task = asyncio.create_task(self._run_row(row_id, fields))
        self._tasks.add(task)
        self.counters.in_flight = len(self._tasks)
        task.add_done_callback(self._on_done)
        return True

    def _on_done(self, task: asyncio.Task[RowResult]) -> None:
        self._tasks.discard(task)
        self.counters.in_flight = len(self._tasks)
        assert self._queue is not None
        if task.cancelled():
            self._queue.put_nowait(None)
            return
        # _run_row turns every Exception into a result; anything else (KeyboardInterrupt) surfaces on its own.
        self._queue.put_nowait(task.result() if task.exception() is None else None)

    async def _run_row(self, row_id: RowId, fields: dict[str, Any]) -> RowResult:
        started = time.perf_counter()
        CURRENT_ROW.set(RowTag(str(row_id)))  # batch mode journals each call's row (this task's context only)
        try:
            return await self._attempts(row_id, fields, started)
        except Exception as exc:  # a failure around the program's call is still this row's outcome alone
            return RowResult(id=row_id, output=None, error=row_error(exc), attempts=1,
                             latency_s=time.perf_counter() - started)
        except (asyncio.CancelledError, SystemExit) as exc:
            error = _stray_exit(exc)
            if error is None:
                raise
            return RowResult(id=row_id, output=None, error=error, attempts=1, latency_s=time.perf_counter() - started)

    async def _attempts(self, row_id: RowId, fields: dict[str, Any], started: float) -> RowResult:
        usage = TokenUsage()
        cost: float | None = 0.0
        attempts = 0
        while True:
            attempts += 1
            attempt_usage, output, error, attempt_cost = await self._attempt(fields)
            usage = usage + attempt_usage
            cost = None if cost is None or attempt_cost is None else cost + attempt_cost
            if error is None:
                self.cost.row_finished(cost)
                return RowResult(id=row_id, output=output, error=None, attempts=attempts,
                                 latency_s=time.perf_counter() - started, usage=usage, cost_usd=cost)
            if attempts > self.options.retries or not is_retryable(error):
                self.cost.row_finished(cost)
                return RowResult(id=row_id, output=None, error=row_error(error), attempts=attempts,
                                 latency_s=time.perf_counter() - started, usage=usage, cost_usd=cost)
            self.counters.retries += 1
            await self._sleep(retry_delay(attempts, self.options.retry_backoff))

    async def _attempt(
        self, fields: dict[str, Any],
    ) -> tuple[TokenUsage, dict[str, Any] | None, Exception | None, float | None]:
        with dspy.context(**self._context), track_usage() as tracker:
            try:
                # The runtime guard watches every row's LM calls (warn mode: a sample of them).
                with guarded_call():
                    if self.program.is_async:
                        value = await self.program.entry(**fields)
                    else:
                        context = contextvars.copy_context()
                        call = functools.partial(context.run, _call_in_thread, self.program.entry, **fields)
                        value = await asyncio.get_running_loop().run_in_executor(self._executor, call)
                output = output_dict(value)
            except Exception as exc:
                return usage_from_tracker(tracker.usage_data), None, exc, self.cost.row_cost(tracker.usage_data)
            except SystemExit as exc:  # the program's own sys.exit() ends its row, not the run
                return (usage_from_tracker(tracker.usage_data), None, ProgramExitError(_exit_message(exc)),
                        self.cost.row_cost(tracker.usage_data))
        return usage_from_tracker(tracker.usage_data), output, None, self.cost.row_cost(tracker.usage_data)

    async def _shutdown(self, iterator: Iterator[SourceRow] | AsyncIterator[SourceRow]) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        self.counters.cancelled += len(tasks)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._executor is not None and self._executor is not self._shared_executor:
            self._executor.shutdown(wait=False, cancel_futures=True)
        await close_rows(iterator)


async def arun_many(
    program: object,
    rows: Iterable[Any] | AsyncIterable[Any],
    *,
    concurrency: int | None = None,
    id_field: str | None = None,
    retries: int | None = None,
    retry_backoff: float | None = None,
    ignore_extra_fields: bool | None = None,
    limit: int | None = None,
    max_cost: float | None = None,
    price: Prices | None = None,
    load: str | Path | None = None,
    options: RowOptions | None = None,
) -> AsyncIterator[RowResult]:
    """Run ``program`` on every row and yield each :class:`RowResult` as it completes (completion order).

    Rows are read lazily, at most ``concurrency`` ahead of the finished ones, so ``rows`` may be a generator
    over a file of any size. Every row yields exactly one result, successful or with its error; a row that
    is not a dict, lacks the program's inputs, has a bad or repeated id, or whose program call fails (after
    ``retries``) yields a result whose ``error`` says why. Closing the generator early cancels rows in flight.

    Args:
        program: Any DSPy program: an instance, a ``dspy.Module`` (its ``acall`` is used when it has an
            ``aforward``, else its sync call runs in a worker thread) or any object with
            ``acall``/``aforward``/``__call__``; a program class (constructed with ``shared_lm=`` when it is a
            ``sharedlm.SharedLMModule`` or takes ``shared_lm``, else with no arguments); or a factory function (sync,
            no required parameter but ``shared_lm``). A plain ``dspy.Module``'s predictors are bound in place: one
            holding a plain ``dspy.LM`` to the shared LM for its model, one holding none to the default shared LM.
        rows: Dicts of field values, as an iterable or an async iterable.
        concurrency: The most rows in flight at once (default 200).
        id_field: The field holding a row's id (default ``"id"``); a row without it gets its 1-based position as id.
        retries: Extra attempts for a row whose program call failed with an error worth retrying (default 0).
        retry_backoff: Seconds before the first retry (default 1); doubles per retry, up to 30 s.
        ignore_extra_fields: Drop fields the program does not take instead of failing the row (default False).
        limit: Take at most this many rows.
        max_cost: A hard cap in USD on what the rows' LM calls may cost: each call books its worst case before it
            is sent, and no row starts once the next one may not fit; the rows not started are not yielded.
        price: Prices for models DSPy's metadata does not price (or to override it), in USD per million tokens:
            ``"prompt=0.15,completion=0.6"`` or a ``sharedlm._pricing.ModelPrice`` prices the default model;
            ``{"openai/judge": "prompt=2.5,completion=10", ...}`` (values a string or a ``ModelPrice``) prices each
            model named, as the program names it (``"MODEL=prompt=..,completion=.."`` strings, one or a list, too).
        load: A saved program state (the ``.json`` file ``program.save`` writes, e.g. after optimizing), loaded
            into the program before the first row; its predictors are then bound to the shared LMs.
        options: All the row options as one :class:`~sharedlm.runner.RowOptions`; the keyword arguments above
            that are given override its fields.

    Example:
        >>> async for result in sharedlm.arun_many(pipeline, rows, concurrency=100):  # doctest: +SKIP
        ...     print(result.id, result.error or result.output)
    """
    options = row_options(options, concurrency=concurrency, id_field=id_field, retries=retries,
                          retry_backoff=retry_backoff, ignore_extra_fields=ignore_extra_fields, limit=limit)
    # As run_many: a malformed price, or a cap on a default model without one, is refused before the program is
    # constructed; a model the program bound while it was built, before any call is sent.
    cost = run_cost(max_cost=max_cost, price=price)
    prepared = prepare_program(build_program(program, load=load, load_option="load="))
    cost.check_bound_models()
    runner = RowRunner(prepared, options, cost=cost)
    results = runner.results(source_rows(rows))
    try:
        async for result in results:
            yield result
    finally:
        await results.aclose()  # type: ignore[attr-defined]  # an async generator, typed as its protocol


__all__ = [
    "RowAdmission",
    "RowRunner",
    "RunCounters",
    "arun_many",
    "is_retryable",
    "retry_delay",
]
