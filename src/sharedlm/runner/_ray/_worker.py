"""The Ray worker: a long-lived async actor that holds one shared LM and runs chunks of rows on its event loop.

Ray runs :class:`RowWorker` in a process of its own (``ray.remote(RowWorker)``, see
:mod:`sharedlm.runner._ray._runner`). Its constructor configures the process's shared LM once, from the
driver's resolved settings cut to this worker's share of the job's budget, and builds the program on it. Each
:meth:`RowWorker.run_chunk` call then runs one chunk of rows through the runner's own core
(:class:`~sharedlm.runner._core.RowRunner`: per-row usage, retries, error rows) and streams the results back in
small batches as they finish, so the driver writes them while the rest of the chunk runs, and a worker that
dies loses only the rows whose results had not come back yet. Many chunks run at once on the one event loop
and share the one LM, its connection pool and its budget.

Nothing here imports Ray: the driver wraps the class, and Ray pickles it by reference.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sharedlm._lease import SharedBudget
from sharedlm._settings import SharedLMSettings
from sharedlm.runner._options import RowOptions
from sharedlm.runner._ray._program import ProgramRecipe
from sharedlm.runner._results import RowResult
from sharedlm.runner._source import SourceRow
from sharedlm.runner._threads import DaemonThreadPool

# A batch of results goes back once it has this many rows, or once its first result waited this long.
RESULT_BATCH_ROWS = 64
RESULT_FLUSH_S = 0.02


@dataclass(frozen=True, kw_only=True)
class WorkerSetup:
    """Everything a worker is built from.

    Args:
        index: The worker's number in the job (0-based); a replacement keeps the number of the worker it replaces.
        settings: This worker's share of the job's settings (the API key among them: never shown).
        program: How to build the program.
        rows: How to run each row.
        configure_dspy_lm: Also make the shared LM DSPy's global LM (the driver's program relied on it).
        sys_path: The driver's ``sys.path``; entries this machine has are added to the worker's.
        restore_env: Environment variables to set (or, for None, unset) before the program is built: the
            driver's proxy settings, which a local Ray's processes start without (see
            :mod:`sharedlm.runner._ray._session`).
        result_batch_rows: A batch of results goes back once it has this many rows.
        result_flush_s: ...or once its first result waited this long.
        shared_budget: The job's in-flight budget to lease slots from (the worker names itself as the holder),
            or None: the worker's own cap in ``settings`` is its share.
        models: The driver's other models, declared in the worker as ``configure(models=...)`` does, so a
            program bound to several shared LMs finds each model's settings (its share of them) in the worker.
    """

    index: int
    settings: SharedLMSettings
    program: ProgramRecipe
    rows: RowOptions
    configure_dspy_lm: bool = False
    sys_path: tuple[str, ...] = ()
    restore_env: Mapping[str, str | None] = field(default_factory=dict)
    result_batch_rows: int = RESULT_BATCH_ROWS
    result_flush_s: float = RESULT_FLUSH_S
    shared_budget: SharedBudget | None = None
    models: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __repr__(self) -> str:
        # The other models' configure arguments hold their keys: only their names are shown.
        return (f"WorkerSetup(index={self.index}, settings={self.settings!r}, program={self.program!r}, "
                f"models={sorted(self.models)}, shared_budget={self.shared_budget!r})")


@dataclass(frozen=True, kw_only=True)
class WorkerInfo:
    """Who a worker is: its process and its one shared LM, or why it could not start.

    Args:
        index: The worker's number in the job.
        pid: Its process id.
        lm_id: ``id()`` of its shared LM (unique per process while the LM lives).
        host: The machine it runs on.
        node_id: The Ray node it runs on (hex), or "" outside Ray.
        error: Why the worker could not build its LM or program, or None.
        error_type: The exception class name of ``error``.
    """

    index: int
    pid: int
    lm_id: int
    host: str
    node_id: str = ""
    error: str | None = None
    error_type: str | None = None


@dataclass(frozen=True, kw_only=True)
class ResultBatch:
    """Results a worker streams back while a chunk runs, with its identity and its engine's stats.

    Args:
        results: Finished rows of the chunk.
        pid: The worker's process id.
        lm_id: ``id()`` of the worker's shared LM when the batch was sent.
        engine: The worker's engine stats (``sharedlm.stats().as_dict()``).
        node_id: The Ray node the worker runs on (hex), or "" outside Ray.
    """

    results: list[RowResult]
    pid: int
    lm_id: int
    engine: dict[str, Any]
    node_id: str = ""


def _extend_sys_path(paths: tuple[str, ...]) -> None:
    # Appended, not prepended: the worker's own packages win; the driver's extra directories (a script's,
    # a test suite's, the working directory) make its modules importable here too.
    for path in paths:
        if path not in sys.path and (path == "" or os.path.isdir(path)):
            sys.path.append(path)


def ray_node_id() -> str:
    """The Ray node this process runs on (hex), or "" when Ray is not running here.

    Ray is already imported in a worker actor's process; this module never imports it itself.
    """
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return ""
    try:
        return str(ray.get_runtime_context().get_node_id())
    except Exception:  # a Ray without a runtime context here: no node to report
        return ""


def _restore_env(values: Mapping[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


class RowWorker:
    """A Ray actor that builds the shared LM and the program once, then runs chunks of rows on its event loop.

    Setup errors (bad settings, a program that does not import or construct) do not kill the actor: they are
    kept and reported by :meth:`ready`, so the driver can fail the run with the worker's reason.

    Args:
        setup: What to build.
    """

    def __init__(self, setup: WorkerSetup) -> None:
        import platform

        self.index = setup.index
        self._setup = setup
        self._pid = os.getpid()
        self._host = platform.node()
        self._node_id = ray_node_id()
        self._chunks_run = 0
        self._prepared: Any = None
        self._executor: DaemonThreadPool | None = None
        self._error: tuple[str, str] | None = None
        try:
            self._build(setup)
        except Exception as exc:
            self._error = (type(exc).__name__, str(exc) or repr(exc))

    def __repr__(self) -> str:
        state = f"failed: {self._error[0]}" if self._error else "ready"
        return (f"RowWorker(index={self.index}, pid={self._pid}, program={self._setup.program.name}, {state}, "
                f"chunks_run={self._chunks_run})")

    def _build(self, setup: WorkerSetup) -> None:
        _restore_env(setup.restore_env)
        _extend_sys_path(setup.sys_path)
        import dspy

        from sharedlm._errors import ConfigurationError
        from sharedlm._lease import install_shared_budget
        from sharedlm._singleton import configure, get_shared_lm, reset_shared_lm
        from sharedlm.runner._program import prepare_program, unbound_predictors
        from sharedlm.runner._ray._budget import configure_arguments, differing_fields

        reset_shared_lm()
        budget = setup.shared_budget
        install_shared_budget(None if budget is None else
                              replace(budget, holder=f"ray worker {setup.index} pid {self._pid} on {self._host}"))
        applied = configure(**configure_arguments(setup.settings), models=setup.models or None)
        if applied != setup.settings:
            names = ", ".join(differing_fields(setup.settings, applied))
            raise ConfigurationError(
                f"this worker's environment changes the job's settings ({names}) that the driver left unset; "
                "unset the matching SHAREDLM_* variables in the environment the Ray cluster was started with, or "
                "set them explicitly on the driver"
            )
        shared_lm = get_shared_lm()
        if setup.configure_dspy_lm:
            dspy.configure(lm=shared_lm)
        program = setup.program.build(shared_lm)
        prepared = prepare_program(program)
        unbound = unbound_predictors(prepared.program)
        if unbound and dspy.settings.lm is None:
            raise ConfigurationError(
                f"{prepared.name} has predictors without an LM in the worker ({', '.join(unbound)}): bind them to "
                "the shared LM (subclass sharedlm.SharedLMModule, or call sharedlm.bind_shared_lm) rather than "
                "relying on dspy.configure in the driver"
            )
        self._prepared = prepared
        if not prepared.is_async:
            from sharedlm.runner._core import MAX_SYNC_WORKERS

            self._executor = DaemonThreadPool(max_workers=min(setup.rows.concurrency, MAX_SYNC_WORKERS),
                                              thread_name_prefix="sharedlm-row")

    def _lm_id(self) -> int:
        from sharedlm._singleton import current_engine, get_shared_lm

        return id(get_shared_lm()) if current_engine() is not None else 0

    def ready(self) -> WorkerInfo:
        """Who this worker is, or why it could not start."""
        error_type, error = self._error if self._error is not None else (None, None)
        return WorkerInfo(index=self.index, pid=self._pid, lm_id=self._lm_id(), host=self._host,
                          node_id=self._node_id, error=error, error_type=error_type)

    def give_back(self) -> None:
        """Give back at once what this worker holds of shared budgets (the driver calls it before ending it)."""
        from sharedlm._lease import give_back_all

        give_back_all()

    async def run_chunk(self, rows: list[SourceRow]) -> AsyncIterator[ResultBatch]:
        """Run ``rows`` at once and stream their results back in batches as they finish.

        Args:
            rows: Rows the driver admitted (ids unique, fields checked); each yields exactly one result unless
                the call is cancelled.
        """
        if self._prepared is None:
            raise RuntimeError(f"worker {self.index} could not start: {self._error}")
        from sharedlm.runner._core import RowRunner

        self._chunks_run += 1
        options = self._setup.rows
        # One chunk's window is its rows (the driver bounds the worker's); no history: the driver cannot read it.
        runner = RowRunner(self._prepared, options.replace(concurrency=max(1, len(rows)), limit=None,
                                                           record_history=False), executor=self._executor)
        ready: list[RowResult] = []
        arrived = asyncio.Event()
        finished = False

        async def pump() -> None:
            nonlocal finished
            try:
                async for result in runner.results(rows):
                    ready.append(result)
                    arrived.set()
            finally:
                finished = True
                arrived.set()

        task = asyncio.create_task(pump())
        try:
            while True:
                await arrived.wait()
                if not finished and len(ready) < self._setup.result_batch_rows:
                    await asyncio.sleep(self._setup.result_flush_s)  # let a few more results join this batch
                arrived.clear()
                batch, ready[:] = list(ready), []
                if batch:
                    yield self._batch(batch)
                if finished and not ready:
                    break
            await task  # re-raises what went wrong in the runner, if anything
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    def _batch(self, results: list[RowResult]) -> ResultBatch:
        from sharedlm._singleton import stats

        return ResultBatch(results=results, pid=self._pid, lm_id=self._lm_id(), engine=dict(stats().as_dict()),
                           node_id=self._node_id)


__all__ = ["RESULT_BATCH_ROWS", "RESULT_FLUSH_S", "ResultBatch", "RowWorker", "WorkerInfo",
           "WorkerSetup", "ray_node_id"]
