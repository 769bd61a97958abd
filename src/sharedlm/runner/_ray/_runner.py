"""The driver side of a Ray run: :class:`RayRowRunner` streams rows to worker actors and yields their results.

It has the interface of the local :class:`~sharedlm.runner._core.RowRunner` (``results``, ``counters``,
``stop``, ``cancel``), so the command line's writer, resume, progress, Ctrl-C handling and summary work on it
unchanged. What differs is where rows run:

- the driver reads the input lazily and admits each row itself (:class:`~sharedlm.runner._core.RowAdmission`):
  ids, repeated ids, rows already done (resume) and field mismatches are decided here, once for the whole
  job, and such rows never leave the driver;
- rows that can run go out in chunks to the worker with the most room; a worker holds at most
  ``concurrency`` rows at once, so the driver's memory is bounded by workers x concurrency (plus the rows of
  one chunk being read), never by the input's length;
- each worker streams results back in batches as rows finish, and the driver yields them one by one;
- a worker that dies (its process crashed, or it was killed) loses only the rows whose results had not come
  back: they are sent again to the other workers (some alone, some not at all, as
  :class:`~sharedlm.runner._ray._policy.RedeliveryPolicy` decides), and a replacement worker starts in its place.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import sys
from collections.abc import AsyncIterable, AsyncIterator, Container, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sharedlm._errors import UsageError
from sharedlm._http_rules import is_secret_name, shown_url
from sharedlm._lease import DEFAULT_LEASE_S, SharedBudget
from sharedlm._settings import SharedLMSettings
from sharedlm.runner._control import RunControl
from sharedlm.runner._core import RowAdmission, RunCounters
from sharedlm.runner._options import RowOptions
from sharedlm.runner._program import PreparedProgram
from sharedlm.runner._ray._budget import configure_arguments, worker_settings
from sharedlm.runner._ray._coordinator import BudgetCoordinator, RayBudgetSource, RayRateSources, lease_block
from sharedlm.runner._ray._policy import MAX_WORKER_DEATHS_PER_ROW, RedeliveryPolicy, RowFate
from sharedlm.runner._ray._program import ProgramRecipe
from sharedlm.runner._ray._session import RaySession
from sharedlm.runner._ray._worker import ResultBatch, RowWorker, WorkerInfo, WorkerSetup
from sharedlm.runner._results import RowError, RowId, RowResult, id_key
from sharedlm.runner._source import SourceRow, close_rows

DEFAULT_WORKER_START_TIMEOUT_S = 180.0
# A worker's window is filled by about this many chunks, so it is topped up as its rows finish.
CHUNKS_PER_WINDOW = 4
MAX_CHUNK_ROWS = 256
# Chunks one worker may run at once (Ray's limit on concurrent calls into an async actor).
MAX_CALLS_PER_WORKER = 1000
WORKER_DIED = "WorkerDied"
_ROWS_PER_PAUSE = 256
# At the end of a run, how long live workers get to hand back their leases before they are ended.
GIVE_BACK_TIMEOUT_S = 5.0
# Engine stats that describe a worker's present, not its history: a dead worker's count no longer.
_ENGINE_GAUGES = ("in_flight", "queued", "limit", "cap", "open_connections", "lease_held")


def default_chunk_rows(concurrency: int) -> int:
    """Rows per chunk for a worker window of ``concurrency`` rows.

    Args:
        concurrency: Rows in flight per worker.
    """
    return max(1, min(MAX_CHUNK_ROWS, -(-concurrency // CHUNKS_PER_WINDOW)))


@dataclass(frozen=True, kw_only=True)
class RayPlan:
    """How a run uses Ray.

    Args:
        session: The Ray session (started, joined or reused).
        workers: How many worker actors run rows.
        recipe: How each worker builds the program.
        settings: The job's LM settings as the driver resolved them; each worker gets 1/``workers`` of the
            job's budget (see :mod:`sharedlm.runner._ray._budget`).
        configure_dspy_lm: The driver's program relies on the shared LM being DSPy's global LM.
        chunk_rows: Rows per chunk; from the concurrency when None.
        start_timeout_s: How long workers may take to be placed and to build their LM and program.
        shared_budget: Lease the job's in-flight cap, and its rpm/tpm budgets, to the workers from one
            coordinator actor, so they follow the rows (see :mod:`sharedlm.runner._ray._coordinator`), instead of
            cutting them 1/``workers``.
        lease_s: With ``shared_budget``, how long a lost worker's slots stay leased before they come back.
    """

    session: RaySession
    workers: int
    recipe: ProgramRecipe
    settings: SharedLMSettings
    configure_dspy_lm: bool = False
    chunk_rows: int | None = None
    start_timeout_s: float = DEFAULT_WORKER_START_TIMEOUT_S
    shared_budget: bool = False
    lease_s: float = DEFAULT_LEASE_S

    def __post_init__(self) -> None:
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise UsageError(f"--workers must be a whole number >= 1, got {self.workers!r}")
        if self.chunk_rows is not None and self.chunk_rows < 1:
            raise UsageError(f"chunk_rows must be >= 1, got {self.chunk_rows}")
        if self.lease_s <= 0:
            raise UsageError(f"lease_s must be a number of seconds > 0, got {self.lease_s!r}")
        self.worker_settings()  # fails now, before any row, if the budget cannot be split

    def worker_settings(self) -> SharedLMSettings:
        """One worker's share of the job's settings."""
        return worker_settings(self.settings, self.workers, leased_in_flight=self.shared_budget)

    def worker_models(self) -> dict[str, dict[str, Any]]:
        """The driver's other models (built or declared), as one worker's ``configure(models=...)``: each model's
        settings as the driver resolved them, shared out among the workers like the default model's.

        They hold each model's key, so they come as :class:`WorkerModels`, whose repr (and so a
        :class:`~sharedlm.runner._ray._worker.WorkerSetup`'s) masks it.
        """
        from sharedlm._registry import REGISTRY

        models = WorkerModels()
        for model in REGISTRY.model_names():
            if model == self.settings.model:
                continue
            share = worker_settings(REGISTRY.settings_for(model), self.workers, leased_in_flight=self.shared_budget)
            arguments = configure_arguments(share)
            arguments.pop("model")
            models[model] = arguments
        return models


class WorkerModels(dict[str, dict[str, Any]]):
    """The driver's other models' ``configure`` arguments, as :meth:`RayPlan.worker_models` hands them to a
    worker's :class:`~sharedlm.runner._ray._worker.WorkerSetup`, whose repr then shows no credential (``api_key``
    and credential keywords as ``***``, ``api_base`` with its userinfo and query masked); to the worker, a dict.
    """

    def __repr__(self) -> str:
        return repr({model: _shown_arguments(arguments) for model, arguments in self.items()})


def _shown_arguments(arguments: dict[str, Any]) -> dict[str, Any]:
    """One model's ``configure`` arguments as they may be shown."""
    shown: dict[str, Any] = {}
    for name, value in arguments.items():
        if name == "api_base" and isinstance(value, str):
            value = shown_url(value)
        elif name == "lm_kwargs" and isinstance(value, dict):
            value = {key: "***" if is_secret_name(str(key)) else item for key, item in value.items()}
        elif is_secret_name(name) and value is not None:
            value = "***"
        shown[name] = value
    return shown


class _Slot:
    """One worker position: its current actor and how many rows it has in flight."""

    def __init__(self, index: int, actor: Any) -> None:
        self.index = index
        self.actor = actor
        self.ready = False
        self.alive = True
        self.outstanding = 0
        # Running a suspect row alone: nothing else is sent to it until that row is back.
        self.isolating = False
        self.info: WorkerInfo | None = None

    def __repr__(self) -> str:
        state = "ready" if self.ready else "starting" if self.alive else "dead"
        return f"_Slot({self.index}, {state}, outstanding={self.outstanding}, isolating={self.isolating})"


class _Chunk:
    """Rows sent to one worker in one call, until each has a result (or the call failed)."""

    def __init__(self, slot: _Slot, pending: dict[str, tuple[RowId, SourceRow]], *, isolated: bool = False) -> None:
        self.slot = slot
        self.actor = slot.actor
        self.pending = pending
        self.isolated = isolated
        self.stream: Any = None
        self.task: asyncio.Task[None] | None = None


class RayRowRunner(RunControl):
    """Runs rows on Ray worker actors, at most ``options.concurrency`` rows in flight per worker.

    Args:
        plan: The Ray session, workers, program recipe and job settings.
        program: The program as prepared on the driver (its inputs decide which rows can run).
        options: How rows are taken and run (validated already), the defaults when None: the driver admits rows
            and applies ``limit`` with it, and every worker gets this same value (``concurrency`` is per worker;
            workers keep no DSPy history). Read back as :attr:`options`.
        skip_keys: Id keys of rows already done; they are neither run nor yielded.
    """

    def __init__(
        self,
        plan: RayPlan,
        program: PreparedProgram,
        options: RowOptions | None = None,
        *,
        skip_keys: Container[str] | None = None,
    ) -> None:
        self.plan = plan
        self.program = program
        self.options = options = options if options is not None else RowOptions()
        self._admission = RowAdmission(program.inputs, options, skip_keys=skip_keys)
        self.chunk_rows = min(plan.chunk_rows or default_chunk_rows(options.concurrency), options.concurrency)
        self._min_dispatch = max(1, self.chunk_rows // 2)
        self.counters = RunCounters()
        self.failure: str | None = None
        # (worker index, pid, id of its shared LM) -> result batches received from it.
        self.lm_instances: collections.Counter[tuple[int, int, int]] = collections.Counter()
        # Ray node id -> rows whose results came back from a worker on that node.
        self.rows_by_node: collections.Counter[str] = collections.Counter()
        # Replacement workers being awaited: kept here so they are not collected mid-await, cancelled at the end.
        self._background: set[asyncio.Task[None]] = set()
        # The coordinator actor leasing the job's in-flight cap (plan.shared_budget), and what workers get of it.
        self.coordinator: Any = None
        self._budget: SharedBudget | None = None
        self.policy = RedeliveryPolicy(workers=plan.workers)
        self._engine: dict[tuple[int, int], dict[str, Any]] = {}
        self._slots: list[_Slot] = []
        self._chunks: set[_Chunk] = set()
        # Rows to send again after their worker died: once (as usual), or more often (alone, to an idle worker).
        self._requeued: collections.OrderedDict[str, tuple[RowId, SourceRow]] = collections.OrderedDict()
        self._suspects: collections.OrderedDict[str, tuple[RowId, SourceRow]] = collections.OrderedDict()
        self._events: asyncio.Queue[tuple[str, Any, Any]] | None = None
        self._remote: Any = None
        self._retired: list[Any] = []
        self._exhausted = False
        self._workers_started = False
        RunControl.__init__(self)

    def __repr__(self) -> str:
        c = self.counters
        state = self.run_state
        ready = sum(slot.ready for slot in self._slots)
        return (f"RayRowRunner(program={self.program.name}, workers={ready}/{self.plan.workers}, "
                f"concurrency={self.options.concurrency} per worker, chunk_rows={self.chunk_rows}, {state}, "
                f"taken={c.taken}, "
                f"succeeded={c.succeeded}, failed={c.failed}, skipped={c.skipped}, in_flight={c.in_flight})")

    def _on_stop(self) -> None:
        self._wake()

    def _wake(self) -> None:
        if self._events is not None:
            self._events.put_nowait(("wake", None, None))

    def engine_stats(self) -> dict[str, Any] | None:
        """The workers' engine stats, summed (peaks are the sum of each worker's peak), or None before any.

        Text fields (the budget's owner) are kept when every worker reports the same.
        """
        if not self._engine:
            return None
        total: dict[str, Any] = {}
        texts: dict[str, set[str]] = collections.defaultdict(set)
        for snapshot in self._engine.values():
            for name, value in snapshot.items():
                if isinstance(value, str):
                    texts[name].add(value)
                elif isinstance(value, bool):
                    continue
                elif isinstance(value, int | float):
                    total[name] = total.get(name, 0) + value
                elif isinstance(value, dict):
                    merged = total.setdefault(name, {})
                    for kind, count in value.items():
                        if isinstance(count, dict):  # `models`: each model's numbers, summed over workers alike
                            inner = merged.setdefault(kind, {})
                            for field, number in count.items():
                                if isinstance(number, int | float) and not isinstance(number, bool):
                                    inner[field] = inner.get(field, 0) + number
                        else:
                            merged[kind] = merged.get(kind, 0) + count
        total.update({name: values.pop() for name, values in texts.items() if len(values) == 1})
        return total

    # --- starting workers ---

    @property
    def budget_owner(self) -> str:
        """Who holds the job's in-flight budget: one coordinator actor, or each worker its share."""
        return self._budget.source.owner if self._budget is not None else "each worker (a fixed share)"

    def budget_snapshot(self) -> dict[str, Any] | None:
        """The coordinator's books (total, free, holdings by worker, slots taken back), or None without one."""
        if self.coordinator is None:
            return None
        return dict(self.plan.session.ray.get(self.coordinator.snapshot.remote(), timeout=30))

    def _start_coordinator(self) -> None:
        ray, total = self.plan.session.ray, self.plan.settings.max_parallel_requests
        self.coordinator = ray.remote(BudgetCoordinator).options(num_cpus=0, max_restarts=0).remote(
            total, self.plan.lease_s)
        source = RayBudgetSource(self.coordinator, owner=f"Ray actor BudgetCoordinator ({total} in flight)")
        self._budget = SharedBudget(source=source, holder="", block=lease_block(total, self.plan.workers),
                                    lease_s=self.plan.lease_s,
                                    rates=RayRateSources(self.coordinator, owner="Ray actor BudgetCoordinator"))

    def _setup(self, index: int) -> WorkerSetup:
        return WorkerSetup(index=index, settings=self.plan.worker_settings(), program=self.plan.recipe,
                           rows=self.options, configure_dspy_lm=self.plan.configure_dspy_lm,
                           sys_path=tuple(sys.path), restore_env=dict(self.plan.session.driver_proxy_env),
                           shared_budget=self._budget, models=self.plan.worker_models())

    def _create_actor(self, index: int) -> Any:
        if self._remote is None:
            self._remote = self.plan.session.ray.remote(RowWorker)
        return self._remote.options(num_cpus=1, max_concurrency=MAX_CALLS_PER_WORKER, max_restarts=0,
                                    max_task_retries=0, scheduling_strategy="SPREAD").remote(self._setup(index))

    async def start(self) -> None:
        """Start the workers and wait until each has built its LM and program (fails with their reason if not).

        Called by :meth:`results` when not called before; call it first to fail before touching the output.
        """
        if self._workers_started:
            return
        self._workers_started = True
        if self.plan.shared_budget:
            self._start_coordinator()
        actors = [self._create_actor(index) for index in range(self.plan.workers)]
        try:
            infos: list[WorkerInfo] = await asyncio.wait_for(
                asyncio.gather(*(actor.ready.remote() for actor in actors)), self.plan.start_timeout_s)
        except TimeoutError:
            self._kill([*actors, *([self.coordinator] if self.coordinator is not None else [])])
            raise UsageError(
                f"{self.plan.workers} Ray workers did not start within {self.plan.start_timeout_s:g}s: each worker "
                f"takes 1 CPU and the Ray cluster has {self.plan.session.cpus()}; use fewer --workers"
            ) from None
        except Exception as exc:
            self._kill([*actors, *([self.coordinator] if self.coordinator is not None else [])])
            raise UsageError(f"a Ray worker died while starting: {_first_line(exc)}") from None
        failed = [info for info in infos if info.error is not None]
        if failed:
            self._kill([*actors, *([self.coordinator] if self.coordinator is not None else [])])
            info = failed[0]
            raise UsageError(f"Ray worker {info.index} could not build {self.plan.recipe.name}: "
                             f"{info.error_type}: {info.error}")
        for actor, info in zip(actors, infos, strict=True):
            slot = _Slot(info.index, actor)
            slot.ready, slot.info = True, info
            self._slots.append(slot)

    @property
    def workers_replaced(self) -> int:
        """Replacement workers started after deaths."""
        return self.policy.replaced

    def _replace(self, slot: _Slot, reason: str) -> None:
        slot.ready = False
        slot.isolating = False
        self._retired.append(slot.actor)
        self._engine_gauges_to_zero(slot)
        if self._stopping:
            slot.alive = False
            return
        if not self.policy.take_replacement():
            slot.alive = False
            self.failure = self.failure or f"Ray worker {slot.index} died and was not replaced ({reason})"
            return
        slot.actor = self._create_actor(slot.index)
        task = asyncio.get_running_loop().create_task(self._await_ready(slot, slot.actor))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _await_ready(self, slot: _Slot, actor: Any) -> None:
        assert self._events is not None
        try:
            info = await asyncio.wait_for(actor.ready.remote(), self.plan.start_timeout_s)
        except Exception as exc:  # the replacement died or never started: reported, then handled on the loop
            self._events.put_nowait(("ready", slot, (actor, exc)))
            return
        self._events.put_nowait(("ready", slot, (actor, info)))

    def _engine_gauges_to_zero(self, slot: _Slot) -> None:
        if slot.info is None:
            return
        snapshot = self._engine.get((slot.index, slot.info.pid))
        if snapshot is not None:
            for name in _ENGINE_GAUGES:
                if name in snapshot:
                    snapshot[name] = 0

    # --- the run ---

    async def results(self, rows: Iterable[SourceRow] | AsyncIterable[SourceRow]) -> AsyncIterator[RowResult]:
        """Run every row of ``rows`` on the workers and yield each result as it completes.

        Args:
            rows: The source, read lazily: rows are read only when a worker has room for them.
        """
        if self._started:
            raise RuntimeError("a RayRowRunner runs once; create a new one for another run")
        self._started = True
        self._events = asyncio.Queue()
        is_async = isinstance(rows, AsyncIterable)
        iterator: Iterator[SourceRow] | AsyncIterator[SourceRow] = aiter(rows) if is_async else iter(rows)  # type: ignore[arg-type]
        try:
            await self.start()
            while not self._cancelled:
                async for result in self._dispatch(iterator, is_async):
                    yield result
                if not self._chunks:
                    if self._stopping or (self._exhausted and not self._requeued and not self._suspects):
                        break
                    if not any(slot.alive for slot in self._slots):
                        self.failure = self.failure or "every Ray worker died"
                        break
                kind, subject, payload = await self._events.get()
                for result in self._handle(kind, subject, payload):
                    yield result
        finally:
            await self._shutdown(iterator)

    async def _dispatch(self, iterator: Iterator[SourceRow] | AsyncIterator[SourceRow],
                        is_async: bool) -> AsyncIterator[RowResult]:
        """Send chunks while a worker has room; yield the results of rows that never leave the driver."""
        since_pause = 0
        while not self._stopping:
            target = self.policy.dispatch(self._slots, suspects_waiting=bool(self._suspects))
            if target.alone is not None:
                key, entry = self._suspects.popitem(last=False)
                self._send(target.alone, {key: entry}, isolated=True)
                continue
            slot = target.rows
            if slot is None:
                return
            room = self.options.concurrency - slot.outstanding
            if room < min(self._min_dispatch, self.options.concurrency):
                return
            pending: dict[str, tuple[RowId, SourceRow]] = {}
            size = min(self.chunk_rows, room)
            while self._requeued and len(pending) < size:
                key, entry = self._requeued.popitem(last=False)
                pending[key] = entry
            if not pending:
                while len(pending) < size and not self._exhausted:
                    if self.options.limit is not None and self.counters.taken >= self.options.limit:
                        self._exhausted = True
                        break
                    try:
                        row = await anext(iterator) if is_async else next(iterator)  # type: ignore[arg-type]
                    except (StopIteration, StopAsyncIteration):
                        self._exhausted = True
                        break
                    self.counters.taken += 1
                    admitted = self._admission.admit_safely(row)
                    if admitted is None:
                        self.counters.skipped += 1
                    elif isinstance(admitted, RowResult):
                        self._count(admitted)
                        yield admitted
                    else:
                        pending[id_key(admitted[0])] = (admitted[0], row)
                    since_pause += 1
                    if since_pause >= _ROWS_PER_PAUSE:
                        since_pause = 0
                        await asyncio.sleep(0)
                if not pending:
                    return
            if self._stopping:  # a signal arrived while the chunk was read: its rows are not run (resume runs them)
                self.counters.cancelled += len(pending)
                return
            self._send(slot, pending)

    def _send(self, slot: _Slot, pending: dict[str, tuple[RowId, SourceRow]], *, isolated: bool = False) -> None:
        chunk = _Chunk(slot, pending, isolated=isolated)
        slot.isolating = slot.isolating or isolated
        slot.outstanding += len(pending)
        self.counters.in_flight += len(pending)
        chunk.stream = slot.actor.run_chunk.remote([row for _, row in pending.values()])
        chunk.task = asyncio.get_running_loop().create_task(self._pump(chunk))
        self._chunks.add(chunk)

    async def _pump(self, chunk: _Chunk) -> None:
        assert self._events is not None
        try:
            async for ref in chunk.stream:
                batch = await ref
                self._events.put_nowait(("batch", chunk, batch))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the worker died, or the call failed: handled on the loop
            self._events.put_nowait(("failed", chunk, exc))
            return
        self._events.put_nowait(("done", chunk, None))

    def _handle(self, kind: str, subject: Any, payload: Any) -> list[RowResult]:
        if kind == "batch":
            return self._on_batch(subject, payload)
        if kind == "done":
            self._chunks.discard(subject)
            self._end_isolation(subject)
            if subject.pending:  # cannot happen unless the worker lost rows; treat them like a failed call
                return self._on_failure(subject, "the worker returned without some of the rows", died=False)
            return []
        if kind == "failed":
            self._chunks.discard(subject)
            return self._on_failure(subject, _first_line(payload), died=_actor_died(self.plan.session.ray, payload))
        if kind == "ready":
            self._on_ready(subject, *payload)
        return []

    def _on_batch(self, chunk: _Chunk, batch: ResultBatch) -> list[RowResult]:
        slot = chunk.slot
        self.lm_instances[(slot.index, batch.pid, batch.lm_id)] += 1
        self._engine[(slot.index, batch.pid)] = batch.engine
        results = []
        for result in batch.results:
            entry = chunk.pending.pop(id_key(result.id), None)
            if entry is None:  # not a row of this chunk (cannot happen): never let it make a second line
                continue
            self._release(slot, 1)
            self._count(result)
            results.append(result)
        self.rows_by_node[batch.node_id] += len(results)
        return results

    def _on_failure(self, chunk: _Chunk, reason: str, *, died: bool) -> list[RowResult]:
        slot = chunk.slot
        pending, chunk.pending = chunk.pending, {}
        self._release(slot, len(pending))
        self._end_isolation(chunk)
        if died and chunk.actor is slot.actor:
            self._replace(slot, reason)
        if self._cancelled:
            self.counters.cancelled += len(pending)
            return []
        results = []
        for key, (row_id, row) in pending.items():
            fate = self.policy.row_lost(key)
            if fate is RowFate.GIVE_UP:
                error = RowError(type=WORKER_DIED, message=(
                    f"{row.where}: the Ray worker running this row died {self.policy.deaths(key)} times, so it was "
                    "not sent again (the row may be what crashes it, for example by using too much memory); last: "
                    f"{reason}"))
                result = RowResult(id=row_id, output=None, error=error, attempts=0, latency_s=0.0)
                self._count(result)
                results.append(result)
            elif fate is RowFate.ALONE:
                self._suspects[key] = (row_id, row)
            else:
                self._requeued[key] = (row_id, row)
        return results

    def _end_isolation(self, chunk: _Chunk) -> None:
        if chunk.isolated and chunk.actor is chunk.slot.actor:
            chunk.slot.isolating = False

    def _on_ready(self, slot: _Slot, actor: Any, outcome: WorkerInfo | BaseException) -> None:
        if actor is not slot.actor:
            return
        if isinstance(outcome, WorkerInfo) and outcome.error is None:
            slot.ready, slot.info = True, outcome
            return
        reason = (f"{outcome.error_type}: {outcome.error}" if isinstance(outcome, WorkerInfo)
                  else _first_line(outcome))
        self._replace(slot, f"its replacement failed to start: {reason}")

    def _release(self, slot: _Slot, rows: int) -> None:
        slot.outstanding -= rows
        self.counters.in_flight -= rows

    def _count(self, result: RowResult) -> None:
        self.counters.count(result)
        self.counters.retries += max(0, result.attempts - 1)  # the worker retried; the driver learns it here

    async def _shutdown(self, iterator: Iterator[SourceRow] | AsyncIterator[SourceRow]) -> None:
        ray = self.plan.session.ray
        chunks, self._chunks = list(self._chunks), set()
        for chunk in chunks:
            self.counters.cancelled += len(chunk.pending)
            self._release(chunk.slot, len(chunk.pending))
            chunk.pending = {}
            if chunk.task is not None:
                chunk.task.cancel()
            with contextlib.suppress(Exception):  # the worker is gone already
                ray.cancel(chunk.stream)
        tasks = [chunk.task for chunk in chunks if chunk.task is not None]
        for task in self._background:
            task.cancel()
        tasks += self._background
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self.counters.cancelled += len(self._requeued) + len(self._suspects)
        self._requeued.clear()
        self._suspects.clear()
        await self._give_back([slot.actor for slot in self._slots if slot.ready])
        self._kill([slot.actor for slot in self._slots] + self._retired)
        if self.coordinator is not None:
            self._kill([self.coordinator])
        await close_rows(iterator)

    async def _give_back(self, actors: list[Any]) -> None:
        """Have live workers hand back their leases at once: killed, they would hold them (in Redis) until expiry."""
        refs = []
        for actor in actors:
            with contextlib.suppress(Exception):  # already dead
                refs.append(actor.give_back.remote())
        if refs:
            with contextlib.suppress(Exception):  # a worker that died or hangs: its lease expires on its own
                await asyncio.wait_for(asyncio.gather(*refs, return_exceptions=True), GIVE_BACK_TIMEOUT_S)

    def _kill(self, actors: list[Any]) -> None:
        for actor in actors:
            with contextlib.suppress(Exception):  # already dead
                self.plan.session.ray.kill(actor)


def _actor_died(ray: Any, exc: BaseException) -> bool:
    return isinstance(exc, ray.exceptions.RayActorError | ray.exceptions.WorkerCrashedError)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else repr(exc)}"[:500]


__all__ = [
    "DEFAULT_WORKER_START_TIMEOUT_S",
    "MAX_WORKER_DEATHS_PER_ROW",
    "WORKER_DIED",
    "RayPlan",
    "RayRowRunner",
    "default_chunk_rows",
]
