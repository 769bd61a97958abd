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
import contextvars
import functools
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Container, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import dspy
from dspy.utils.usage_tracker import track_usage

from sharedlm._errors import (
    AuthenticationError,
    ConfigurationError,
    InputError,
    RequestRejectedError,
    UsageError,
    sharedlm_cause,
)
from sharedlm._guard import guarded_call
from sharedlm.runner._control import RunControl
from sharedlm.runner._defaults import (
    DEFAULT_CONCURRENCY,
    DEFAULT_ID_FIELD,
    DEFAULT_RETRY_BACKOFF_S,
    MAX_RETRY_BACKOFF_S,
)
from sharedlm.runner._outputs import output_dict, row_error, usage_from_tracker
from sharedlm.runner._program import PreparedProgram, ProgramInputs, prepare_program
from sharedlm.runner._results import RowError, RowId, RowResult, TokenUsage, id_key
from sharedlm.runner._source import SourceRow, source_rows

# A sync program runs in worker threads; more threads than this cost more than they give.
MAX_SYNC_WORKERS = 256
# Pause for the event loop after this many rows taken without awaiting (long runs of skipped or bad rows).
_ROWS_PER_PAUSE = 256
_INPUT_ERROR = "InputError"
# Retrying a row cannot fix these; everything else (rate limits, outages, malformed LM answers) may pass.
_NOT_RETRYABLE = (InputError, UsageError, ConfigurationError, AuthenticationError, RequestRejectedError)


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


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{name} must be a whole number >= 1, got {value!r}")
    return value


class RowAdmission:
    """What happens to each input row before it runs: its id, a repeated id, a row already done, a field mismatch.

    The local runner admits rows as it starts them; the Ray backend admits them on the driver, so ids are
    unique and resumed rows are skipped across all workers, and only rows that can run are sent out.

    Args:
        inputs: The fields the program takes.
        id_field: The field holding a row's id.
        skip_keys: Id keys of rows to skip (already succeeded).
        ignore_extra_fields: Drop fields the program does not take instead of failing the row.
    """

    def __init__(self, inputs: ProgramInputs, *, id_field: str = DEFAULT_ID_FIELD,
                 skip_keys: Container[str] | None = None, ignore_extra_fields: bool = False) -> None:
        if not isinstance(id_field, str) or not id_field:
            raise UsageError(f"id_field must be a non-empty field name, got {id_field!r}")
        self.inputs = inputs
        self.id_field = id_field
        self.ignore_extra_fields = ignore_extra_fields
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

    def _identify(self, row: SourceRow) -> tuple[RowId, dict[str, Any] | None, str | None]:
        if row.fields is None:
            return row.number, None, row.problem or f"{row.where} could not be read"
        fields = dict(row.fields)
        raw_id = fields.pop(self.id_field, None)
        if raw_id is None or raw_id == "":
            return row.number, fields, None
        if isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
            return row.number, None, (f"{row.where} has id {raw_id!r} of type {type(raw_id).__name__}; ids must be "
                                      f"strings or whole numbers (row reported under its number {row.number})")
        return raw_id, fields, None


class RowRunner(RunControl):
    """Runs rows through one program with at most ``concurrency`` rows in flight.

    Args:
        program: The program, prepared by :func:`~sharedlm.runner._program.prepare_program`.
        concurrency: The most rows in flight at once; also how many rows are read ahead.
        id_field: The field holding a row's id.
        retries: Extra attempts for a failed row.
        retry_backoff: Seconds before the first retry; doubles per retry.
        skip_keys: Id keys of rows to skip (already succeeded); they are neither run nor yielded.
        ignore_extra_fields: Drop fields the program does not take instead of failing the row.
        limit: Take at most this many rows from the source.
        record_history: Keep DSPy's call history (``dspy.inspect_history``) for the rows; the command line
            turns it off, because DSPy keeps the last 10,000 calls' prompts and answers in memory.
        sleep: The sleep used between retries (a fake clock in tests).
        executor: The thread pool a sync program runs in, shared with other runs and left running; a pool of
            the run's own (shut down at its end) when None.
    """

    def __init__(
        self,
        program: PreparedProgram,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        id_field: str = DEFAULT_ID_FIELD,
        retries: int = 0,
        retry_backoff: float = DEFAULT_RETRY_BACKOFF_S,
        skip_keys: Container[str] | None = None,
        ignore_extra_fields: bool = False,
        limit: int | None = None,
        record_history: bool = True,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        executor: ThreadPoolExecutor | None = None,
    ) -> None:
        self.program = program
        self.concurrency = _positive_int("concurrency", concurrency)
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise UsageError(f"retries must be a whole number >= 0, got {retries!r}")
        if not isinstance(retry_backoff, int | float) or retry_backoff < 0:
            raise UsageError(f"retry_backoff must be a number of seconds >= 0, got {retry_backoff!r}")
        self._admission = RowAdmission(program.inputs, id_field=id_field, skip_keys=skip_keys,
                                       ignore_extra_fields=ignore_extra_fields)
        self.id_field = id_field
        self.retries = retries
        self.retry_backoff = float(retry_backoff)
        self.limit = None if limit is None else _positive_int("limit", limit)
        self.ignore_extra_fields = ignore_extra_fields
        self.counters = RunCounters()
        self._context = {"track_usage": True} if record_history else {"track_usage": True, "disable_history": True}
        self._sleep = sleep
        self._tasks: set[asyncio.Task[RowResult]] = set()
        self._queue: asyncio.Queue[RowResult | None] | None = None
        self._shared_executor = executor
        self._executor: ThreadPoolExecutor | None = None
        RunControl.__init__(self)

    def __repr__(self) -> str:
        c = self.counters
        return (f"RowRunner(program={self.program.name}, concurrency={self.concurrency}, {self.run_state}, "
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
            self._executor = self._shared_executor or ThreadPoolExecutor(
                max_workers=min(self.concurrency, MAX_SYNC_WORKERS), thread_name_prefix="sharedlm-row")
        exhausted = False
        pending = 0  # started rows whose result is not yet taken from the queue
        since_pause = 0
        try:
            while True:
                while not exhausted and not self._stopping and pending < self.concurrency:
                    if self.limit is not None and self.counters.taken >= self.limit:
                        exhausted = True
                        break
                    try:
                        row = await anext(iterator) if is_async else next(iterator)  # type: ignore[arg-type]
                    except (StopIteration, StopAsyncIteration):
                        exhausted = True
                        break
                    self.counters.taken += 1
                    admitted = self._admit(row)
                    if isinstance(admitted, RowResult):
                        self._count(admitted)
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
                self._count(result)
                yield result
        finally:
            await self._shutdown(iterator)

    def _count(self, result: RowResult) -> None:
        c = self.counters
        if result.error is None:
            c.succeeded += 1
        else:
            c.failed += 1
        c.prompt_tokens += result.usage.prompt_tokens
        c.completion_tokens += result.usage.completion_tokens

    def _admit(self, row: SourceRow) -> RowResult | bool:
        """Start ``row``: True when started, False when skipped, or its error result when it cannot run."""
        admitted = self._admission.admit(row)
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
        usage = TokenUsage()
        attempts = 0
        while True:
            attempts += 1
            attempt_usage, output, error = await self._attempt(fields)
            usage = usage + attempt_usage
            if error is None:
                return RowResult(id=row_id, output=output, error=None, attempts=attempts,
                                 latency_s=time.perf_counter() - started, usage=usage)
            if attempts > self.retries or not is_retryable(error):
                return RowResult(id=row_id, output=None, error=row_error(error), attempts=attempts,
                                 latency_s=time.perf_counter() - started, usage=usage)
            self.counters.retries += 1
            await self._sleep(retry_delay(attempts, self.retry_backoff))

    async def _attempt(self, fields: dict[str, Any]) -> tuple[TokenUsage, dict[str, Any] | None, Exception | None]:
        with dspy.context(**self._context), track_usage() as tracker:
            try:
                # The runtime guard watches every row's LM calls (warn mode: a sample of them).
                with guarded_call():
                    if self.program.is_async:
                        value = await self.program.entry(**fields)
                    else:
                        context = contextvars.copy_context()
                        call = functools.partial(context.run, self.program.entry, **fields)
                        value = await asyncio.get_running_loop().run_in_executor(self._executor, call)
            except Exception as exc:
                return usage_from_tracker(tracker.usage_data), None, exc
        return usage_from_tracker(tracker.usage_data), output_dict(value), None

    async def _shutdown(self, iterator: Iterator[SourceRow] | AsyncIterator[SourceRow]) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        self.counters.cancelled += len(tasks)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._executor is not None and self._executor is not self._shared_executor:
            self._executor.shutdown(wait=False, cancel_futures=True)
        close = getattr(iterator, "aclose", None) or getattr(iterator, "close", None)
        if close is not None:
            closed = close()
            if asyncio.iscoroutine(closed):
                await closed


async def arun_many(
    program: object,
    rows: Iterable[Any] | AsyncIterable[Any],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    id_field: str = DEFAULT_ID_FIELD,
    retries: int = 0,
    retry_backoff: float = DEFAULT_RETRY_BACKOFF_S,
    ignore_extra_fields: bool = False,
    limit: int | None = None,
) -> AsyncIterator[RowResult]:
    """Run ``program`` on every row and yield each :class:`RowResult` as it completes (completion order).

    Rows are read lazily, at most ``concurrency`` ahead of the finished ones, so ``rows`` may be a generator
    over a file of any size. Every row yields exactly one result, successful or with its error; a row that
    is not a dict, lacks the program's inputs, has a bad or repeated id, or whose program call fails (after
    ``retries``) yields a result whose ``error`` says why. Closing the generator early cancels rows in flight.

    Args:
        program: A program instance: a ``dspy.Module`` (its ``acall`` is used when it has an ``aforward``,
            else its sync call runs in a worker thread), or any object with ``acall``/``aforward``/``__call__``.
        rows: Dicts of field values, as an iterable or an async iterable.
        concurrency: The most rows in flight at once.
        id_field: The field holding a row's id; a row without it gets its 1-based position as id.
        retries: Extra attempts for a row whose program call failed with an error worth retrying.
        retry_backoff: Seconds before the first retry; doubles per retry, up to 30 s.
        ignore_extra_fields: Drop fields the program does not take instead of failing the row.
        limit: Take at most this many rows.

    Example:
        >>> async for result in sharedlm.arun_many(pipeline, rows, concurrency=100):  # doctest: +SKIP
        ...     print(result.id, result.error or result.output)
    """
    runner = RowRunner(prepare_program(program), concurrency=concurrency, id_field=id_field, retries=retries,
                       retry_backoff=retry_backoff, ignore_extra_fields=ignore_extra_fields, limit=limit)
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
