"""``run_many``: the bulk runner for sync code and notebooks.

Outside any event loop, the async core runs on this thread with ``asyncio.run``. Inside one (a Jupyter
notebook already runs a loop on its main thread, and ``asyncio.run`` refuses to nest), the core runs on a
fresh loop in a helper thread while this thread waits; Ctrl-C (``KeyboardInterrupt``) then cancels the rows
in flight before it propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterable, Iterable
from typing import Any

from sharedlm.runner._core import RowRunner
from sharedlm.runner._defaults import DEFAULT_BACKEND, DEFAULT_CONCURRENCY, DEFAULT_ID_FIELD, DEFAULT_RETRY_BACKOFF_S
from sharedlm.runner._program import PreparedProgram, prepare_program
from sharedlm.runner._results import RowResult
from sharedlm.runner._source import source_rows


def run_many(
    program: object,
    rows: Iterable[Any] | AsyncIterable[Any],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    id_field: str = DEFAULT_ID_FIELD,
    retries: int = 0,
    retry_backoff: float = DEFAULT_RETRY_BACKOFF_S,
    ignore_extra_fields: bool = False,
    limit: int | None = None,
    progress: bool = False,
    backend: str = DEFAULT_BACKEND,
    workers: int | None = None,
    ray_address: str | None = None,
) -> list[RowResult]:
    """Run ``program`` on every row and return the results, in completion order (ids make them joinable).

    Works from plain scripts and from notebooks (where an event loop is already running). The returned list
    holds one result per row; to stream results of a very large input instead, use :func:`arun_many` or the
    ``sharedlm run`` command.

    Args:
        program: A program instance (a ``dspy.Module``, or any object with ``acall``/``aforward``/``__call__``).
        rows: Dicts of field values, as an iterable or an async iterable; read lazily.
        concurrency: The most rows in flight at once.
        id_field: The field holding a row's id; a row without it gets its 1-based position as id.
        retries: Extra attempts for a row whose program call failed with an error worth retrying.
        retry_backoff: Seconds before the first retry; doubles per retry, up to 30 s.
        ignore_extra_fields: Drop fields the program does not take instead of failing the row.
        limit: Take at most this many rows.
        progress: Show a progress display on stderr while the rows run.
        backend: ``"local"`` runs the rows in this process; ``"ray"`` runs them in Ray worker processes, each with
            its own shared LM and 1/``workers`` of the job's in-flight cap and rate budgets (``concurrency`` is
            then per worker). The program is pickled to the workers, its shared LM replaced by theirs.
        workers: Ray workers; one per CPU of the Ray cluster when None.
        ray_address: The Ray cluster to join; None uses the Ray session this process has, else starts a local
            Ray on 127.0.0.1 for the call.

    Example:
        >>> results = sharedlm.run_many(pipeline, [{"id": 1, "text": "..."}], concurrency=50)  # doctest: +SKIP
    """
    from sharedlm.runner._run import check_backend

    check_backend(backend, workers=workers, ray_address=ray_address)
    prepared = prepare_program(program)
    if backend == "ray":
        return _run_many_on_ray(prepared, rows, workers=workers, ray_address=ray_address, progress=progress,
                                concurrency=concurrency, id_field=id_field, retries=retries,
                                retry_backoff=retry_backoff, ignore_extra_fields=ignore_extra_fields, limit=limit)
    runner = RowRunner(prepared, concurrency=concurrency, id_field=id_field, retries=retries,
                       retry_backoff=retry_backoff, ignore_extra_fields=ignore_extra_fields, limit=limit)
    return _collect(runner, rows, limit=limit, progress=progress)


def _run_many_on_ray(prepared: PreparedProgram, rows: Iterable[Any] | AsyncIterable[Any], *, workers: int | None,
                     ray_address: str | None, progress: bool, limit: int | None, **options: Any) -> list[RowResult]:
    import sharedlm
    from sharedlm.runner._ray_program import ProgramRecipe
    from sharedlm.runner._ray_runner import RayRowRunner
    from sharedlm.runner._run import open_ray_plan

    recipe = ProgramRecipe.from_program(prepared.program, shared_lm=sharedlm.get_shared_lm(), name=prepared.name)
    with open_ray_plan(recipe, workers=workers, ray_address=ray_address) as plan:
        runner = RayRowRunner(plan, prepared, limit=limit, **options)
        return _collect(runner, rows, limit=limit, progress=progress, engine=runner.engine_stats)


def _collect(runner: Any, rows: Iterable[Any] | AsyncIterable[Any], *, limit: int | None, progress: bool,
             engine: Any = None) -> list[RowResult]:
    async def collect() -> list[RowResult]:
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

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(collect())
    return _run_on_helper_thread(collect)


def _known_length(rows: object, limit: int | None) -> int | None:
    try:
        length = len(rows)  # type: ignore[arg-type]
    except TypeError:
        return limit
    return length if limit is None else min(length, limit)


def _run_on_helper_thread(collect: Any) -> list[RowResult]:
    outcome: dict[str, Any] = {}
    ready = threading.Event()
    state: dict[str, Any] = {}

    async def main() -> list[RowResult]:
        state["loop"] = asyncio.get_running_loop()
        state["task"] = asyncio.current_task()
        ready.set()
        return await collect()

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(main())
        except BaseException as exc:  # handed to the waiting thread, which re-raises it
            outcome["error"] = exc
        finally:
            ready.set()

    thread = threading.Thread(target=target, name="sharedlm-run-many", daemon=True)
    thread.start()
    try:
        thread.join()
    except KeyboardInterrupt:
        ready.wait()
        loop, task = state.get("loop"), state.get("task")
        if loop is not None and task is not None:
            with contextlib.suppress(RuntimeError):  # the loop already finished
                loop.call_soon_threadsafe(task.cancel)
        thread.join()
        raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


__all__ = ["run_many"]
