"""Behaviour of the Ray worker actor's class, run in this process (no Ray needed): setup, chunks, batches."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

import sharedlm
from sharedlm._lease import LeaseLedger, LocalBudgetSource, SharedBudget, install_shared_budget
from sharedlm._settings import SharedLMSettings
from sharedlm._singleton import shared_engines
from sharedlm.runner._options import RowOptions
from sharedlm.runner._ray._budget import worker_settings
from sharedlm.runner._ray._program import ProgramRecipe
from sharedlm.runner._ray._worker import ResultBatch, RowWorker, WorkerSetup
from sharedlm.runner._source import SourceRow

FIXTURES = Path(__file__).parent.parent / "fixtures" / "programs.py"
JOB = SharedLMSettings(model="openai/sim-model", api_key="worker-secret-key", api_base="http://127.0.0.1:9/v1",
                       max_parallel_requests=100)


class Delayed:
    def __init__(self, shared_lm: Any) -> None:
        self.shared_lm = shared_lm

    async def aforward(self, text: str, delay: float) -> dict[str, Any]:
        await asyncio.sleep(delay)
        return {"text": text, "lm_is_shared": self.shared_lm is sharedlm.get_shared_lm()}


def setup(recipe: ProgramRecipe, *, settings: SharedLMSettings = JOB, **changes: Any) -> WorkerSetup:
    return WorkerSetup(index=0, settings=settings, program=recipe, rows=RowOptions(concurrency=50), **changes)


def pickled(program_class: type) -> ProgramRecipe:
    placeholder = object()
    return ProgramRecipe.from_program(program_class(placeholder), shared_lm=placeholder, name=program_class.__name__)


def rows(*specs: tuple[str, float]) -> list[SourceRow]:
    return [SourceRow(number=n, fields={"id": text, "text": text, "delay": delay}, where=f"row {n}")
            for n, (text, delay) in enumerate(specs, start=1)]


async def batches(worker: RowWorker, chunk: list[SourceRow]) -> list[ResultBatch]:
    return [batch async for batch in worker.run_chunk(chunk)]


def test_a_worker_configures_its_share_of_the_job_and_reports_its_one_lm() -> None:
    share = worker_settings(JOB, 4)

    info = RowWorker(setup(pickled(Delayed), settings=share)).ready()

    assert info.error is None
    assert info.pid == os.getpid()
    assert info.lm_id == id(sharedlm.get_shared_lm())
    assert shared_engines()[1].settings == share


async def test_every_chunk_runs_on_the_same_shared_lm_the_program_was_bound_to() -> None:
    worker = RowWorker(setup(pickled(Delayed)))

    first = await batches(worker, rows(("a", 0.0), ("b", 0.0)))
    second = await batches(worker, rows(("c", 0.0)))

    results = [r for batch in first + second for r in batch.results]
    assert sorted(r.id for r in results) == ["a", "b", "c"]
    assert all(r.output is not None and r.output["lm_is_shared"] for r in results)
    assert {batch.lm_id for batch in first + second} == {worker.ready().lm_id}


async def test_results_stream_back_while_slower_rows_of_the_chunk_still_run() -> None:
    worker = RowWorker(setup(pickled(Delayed)))

    got = await batches(worker, rows(("fast", 0.0), ("slow", 0.3)))

    assert [[r.id for r in batch.results] for batch in got] == [["fast"], ["slow"]]


async def test_many_results_that_finish_together_come_back_in_one_batch() -> None:
    worker = RowWorker(setup(pickled(Delayed)))

    got = await batches(worker, rows(*[(f"r{n}", 0.0) for n in range(20)]))

    assert len(got) == 1
    assert len(got[0].results) == 20


def test_a_program_that_cannot_be_built_is_reported_by_ready_not_raised() -> None:
    worker = RowWorker(setup(ProgramRecipe.from_spec(f"{FIXTURES}:BrokenInit", name="BrokenInit")))

    info = worker.ready()

    assert info.error_type == "UsageError"
    assert info.error is not None
    assert "cannot build BrokenInit" in info.error


def test_a_worker_environment_that_changes_the_jobs_settings_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHAREDLM_RPM", "100")

    info = RowWorker(setup(pickled(Delayed))).ready()

    assert info.error_type == "ConfigurationError"
    assert info.error is not None
    assert "(rpm)" in info.error


def test_a_workers_setup_never_shows_the_api_key() -> None:
    shown = repr(setup(pickled(Delayed))) + repr(RowWorker(setup(pickled(Delayed))))

    assert "worker-secret-key" not in shown


def test_the_drivers_proxy_settings_are_restored_before_the_program_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)

    RowWorker(setup(pickled(Delayed), restore_env={"HTTPS_PROXY": None, "NO_PROXY": "example.internal"}))

    assert "HTTPS_PROXY" not in os.environ
    assert os.environ["NO_PROXY"] == "example.internal"


async def test_a_worker_told_to_give_back_returns_its_lease_at_once() -> None:
    ledger = LeaseLedger(64)
    budget = SharedBudget(source=LocalBudgetSource(ledger), holder="", block=8)
    try:
        worker = RowWorker(setup(pickled(Delayed), settings=worker_settings(JOB, 2, leased_in_flight=True),
                                 shared_budget=budget))
        gate = shared_engines()[1].pacer.gate
        await asyncio.wait_for(gate.acquire(), 5)
        gate.release()
        held = sum(ledger.holdings().values())

        worker.give_back()
    finally:
        install_shared_budget(None)

    assert held >= 8
    assert ledger.holdings() == {}
