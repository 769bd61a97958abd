"""``run_many``: the bulk runner for sync code and notebooks.

Outside any event loop, the async core runs on this thread with ``asyncio.run``. Inside one (a Jupyter
notebook already runs a loop on its main thread, and ``asyncio.run`` refuses to nest), the core runs on a
fresh loop in a helper thread while this thread waits; Ctrl-C (``KeyboardInterrupt``) then cancels the rows
in flight before it propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterable, Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any

from sharedlm._batch import BatchOptions
from sharedlm._errors import UsageError
from sharedlm._loop_thread import LoopThread, running_loop
from sharedlm._pricing import ModelPrice
from sharedlm.runner._backend import check_backend, open_ray_plan
from sharedlm.runner._core import RowRunner
from sharedlm.runner._cost import Prices, run_cost
from sharedlm.runner._defaults import DEFAULT_BACKEND
from sharedlm.runner._options import RowOptions, row_options
from sharedlm.runner._program import PreparedProgram, build_program, prepare_program
from sharedlm.runner._results import RowResult
from sharedlm.runner._source import source_rows

logger = logging.getLogger("sharedlm")


def run_many(
    program: object,
    rows: Iterable[Any] | AsyncIterable[Any],
    *,
    concurrency: int | None = None,
    id_field: str | None = None,
    retries: int | None = None,
    retry_backoff: float | None = None,
    ignore_extra_fields: bool | None = None,
    limit: int | None = None,
    progress: bool = False,
    backend: str = DEFAULT_BACKEND,
    workers: int | None = None,
    ray_address: str | None = None,
    shared_budget: bool = False,
    max_cost: float | None = None,
    price: Prices | None = None,
    batch: bool = False,
    batch_options: BatchOptions | None = None,
    load: str | Path | None = None,
    options: RowOptions | None = None,
) -> list[RowResult]:
    """Run ``program`` on every row and return the results, in completion order (ids make them joinable).

    Works from plain scripts and from notebooks (where an event loop is already running). The returned list
    holds one result per row; to stream results of a very large input instead, use :func:`arun_many` or the
    ``sharedlm run`` command.

    Args:
        program: Any DSPy program: an instance (a ``dspy.Module``, or any object with
            ``acall``/``aforward``/``__call__``), a program class (constructed with ``shared_lm=`` when it is a
            ``sharedlm.SharedLMModule`` or takes ``shared_lm``, else with no arguments), or a factory function (sync,
            no required parameter but ``shared_lm``; called with ``shared_lm=`` when it takes it). A plain
            ``dspy.Module``'s predictors are bound in place: one holding a plain ``dspy.LM`` to the shared LM for
            its model, one holding none to the default shared LM.
        rows: Dicts of field values, as an iterable or an async iterable; read lazily.
        concurrency: The most rows in flight at once (default 200).
        id_field: The field holding a row's id (default ``"id"``); a row without it gets its 1-based position as id.
        retries: Extra attempts for a row whose program call failed with an error worth retrying (default 0).
        retry_backoff: Seconds before the first retry (default 1); doubles per retry, up to 30 s.
        ignore_extra_fields: Drop fields the program does not take instead of failing the row (default False).
        limit: Take at most this many rows.
        progress: Show a progress display on stderr while the rows run.
        backend: ``"local"`` runs the rows in this process; ``"ray"`` runs them in Ray worker processes, each with
            its own shared LM and 1/``workers`` of the job's in-flight cap and rate budgets (``concurrency`` is
            then per worker). The program is pickled to the workers, its shared LM replaced by theirs.
        workers: Ray workers; one per CPU of the Ray cluster when None.
        ray_address: The Ray cluster to join; None uses the Ray session this process has, else starts a local
            Ray on 127.0.0.1 for the call.
        shared_budget: With ``backend="ray"``: one coordinator actor leases the job's in-flight cap to the workers
            in blocks that follow the rows (a worker with rows can use what idle workers give back), instead of
            a fixed 1/``workers`` share each; a lost worker's lease comes back after 10 s.
        max_cost: A hard cap in USD on what the rows' LM calls may cost (local backend): each call books its worst
            case before it is sent and no row starts once the next one may not fit; rows not started are not in
            the returned list (a warning says how many rows ran and what they cost).
        price: Prices for models DSPy's metadata does not price (or to override it), in USD per million tokens:
            ``"prompt=0.15,completion=0.6"`` or a ``sharedlm._pricing.ModelPrice`` prices the default model;
            ``{"openai/judge": "prompt=2.5,completion=10", ...}`` (values a string or a ``ModelPrice``) prices each
            model named, as the program names it (``"MODEL=prompt=..,completion=.."`` strings, one or a list, too).
        batch: Send every LM call through the provider's batch API (OpenAI, Anthropic, Gemini: half price, results
            within 24 hours) instead of online: each call waits on a batch, so a two-step program runs as two rounds
            of batches. ``concurrency`` bounds the rows in flight and so the size of a round. Local backend only.
        batch_options: How calls are grouped into batches and polled (``sharedlm.BatchOptions``); the defaults when
            None. Give it a ``journal`` path to reattach to the batches after a crash.
        load: A saved program state (the ``.json`` file ``program.save`` writes, e.g. after optimizing), loaded
            into the program before the first row; its predictors are then bound to the shared LMs. With
            ``backend="ray"`` the loaded program is what the workers get.
        options: All the row options as one :class:`~sharedlm.runner.RowOptions`; the keyword arguments above
            that are given override its fields. The same value reaches the local runner or, whole, every Ray worker.

    Example:
        >>> results = sharedlm.run_many(pipeline, [{"id": 1, "text": "..."}], concurrency=50)  # doctest: +SKIP
    """
    options = row_options(options, concurrency=concurrency, id_field=id_field, retries=retries,
                          retry_backoff=retry_backoff, ignore_extra_fields=ignore_extra_fields, limit=limit)
    # Options that do not go together are named first, before whether this machine has what they need.
    if backend == "ray" and (max_cost is not None or price is not None):
        raise UsageError("max_cost and price apply to backend='local' only (Ray workers have no shared spend ledger)")
    if batch and backend == "ray":
        raise UsageError("batch=True runs the rows in this process and its shared LM; drop backend='ray'")
    if batch_options is not None and not batch:
        raise UsageError("batch_options is only used with batch=True")
    check_backend(backend, workers=workers, ray_address=ray_address, shared_budget=shared_budget)
    # A malformed price, or a cap on a default model without one, is refused before the program is constructed.
    cost = run_cost(max_cost=max_cost, price=price, batch=batch)
    prepared = prepare_program(build_program(program, load=load, load_option="load="))
    # Under a cap, every model the program bound while it was built (its constructor's shared LMs, the plain
    # dspy.LMs bound above) needs a price too: refused here, before any call is sent, not one row at a time.
    cost.check_bound_models()
    if batch:
        from sharedlm.runner._batch_mode import check_batch_provider

        check_batch_provider()  # before anything is sent
    if backend == "ray":
        return _run_many_on_ray(prepared, rows, options, workers=workers, ray_address=ray_address, progress=progress,
                                shared_budget=shared_budget)
    runner = RowRunner(prepared, options, cost=cost)
    results = _collect(runner, rows, limit=options.limit, progress=progress,
                       batch=(batch_options or BatchOptions()) if batch else None, prices=cost.price_for)
    if cost.capped:
        logger.warning("sharedlm: spend cap $%g reached after %d rows ($%.6f spent); the rest of the rows were not run",
                       max_cost, len(results), cost.cost_usd)
    return results


def _run_many_on_ray(prepared: PreparedProgram, rows: Iterable[Any] | AsyncIterable[Any], options: RowOptions, *,
                     workers: int | None, ray_address: str | None, progress: bool,
                     shared_budget: bool = False) -> list[RowResult]:
    from sharedlm._singleton import get_shared_lm
    from sharedlm.runner._ray._program import ProgramRecipe
    from sharedlm.runner._ray._runner import RayRowRunner

    recipe = ProgramRecipe.from_program(prepared.program, shared_lm=get_shared_lm(), name=prepared.name)
    with open_ray_plan(recipe, workers=workers, ray_address=ray_address, shared_budget=shared_budget) as plan:
        runner = RayRowRunner(plan, prepared, options)
        return _collect(runner, rows, limit=options.limit, progress=progress, engine=runner.engine_stats)


def _collect(runner: Any, rows: Iterable[Any] | AsyncIterable[Any], *, limit: int | None, progress: bool,
             engine: Any = None, batch: BatchOptions | None = None,
             prices: Callable[[str], ModelPrice | None] | None = None) -> list[RowResult]:
    async def collect() -> list[RowResult]:
        async with contextlib.AsyncExitStack() as stack:
            if batch is not None:
                from sharedlm.runner._batch_mode import batch_mode, say

                await stack.enter_async_context(batch_mode(batch, report=say if progress else None, prices=prices))
            return await collect_rows()

    async def collect_rows() -> list[RowResult]:
        display = None
        if progress:
            from sharedlm.runner._progress import engine_stats, start_progress

            display = start_progress(runner.counters, total=_known_length(rows, limit), label=runner.program.name,
                                     engine=engine or engine_stats)
        try:
            return [result async for result in runner.results(source_rows(rows))]
        finally:
            if display is not None:
                await display.close()

    # Not inside the probe's ``except``: exceptions raised in the rows would carry its RuntimeError as context.
    if running_loop() is None:
        return asyncio.run(collect())
    return _run_on_helper_thread(collect)


def _known_length(rows: object, limit: int | None) -> int | None:
    try:
        length = len(rows)  # type: ignore[arg-type]
    except TypeError:
        return limit
    return length if limit is None else min(length, limit)


def _run_on_helper_thread(collect: Callable[[], Coroutine[Any, Any, list[RowResult]]]) -> list[RowResult]:
    loop_thread = LoopThread("sharedlm-run-many").start()
    future = loop_thread.submit(collect())
    try:
        return future.result()
    except KeyboardInterrupt:
        future.cancel()  # cancels the rows in flight; stop() below gives them a bounded time to finish
        raise
    finally:
        loop_thread.stop()


__all__ = ["run_many"]
