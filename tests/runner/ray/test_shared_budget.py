"""A Ray job's in-flight budget leased from one coordinator actor follows the rows (local Ray, loopback only).

Programs that workers run are defined here at module level: workers import this module to unpickle them.
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dspy
import pytest

import sharedlm
from sharedlm._cli import main
from sharedlm._lease import SharedBudget
from sharedlm._singleton import shared_engines
from sharedlm.runner._core import RunCounters
from sharedlm.runner._options import RowOptions
from sharedlm.runner._program import prepare_program
from sharedlm.runner._ray._budget import worker_settings
from sharedlm.runner._ray._coordinator import BudgetCoordinator, RayBudgetSource, lease_block
from sharedlm.runner._ray._program import ProgramRecipe
from sharedlm.runner._ray._runner import RayPlan, RayRowRunner
from sharedlm.runner._ray._session import RaySession, loopback_environment
from sharedlm.runner._ray._worker import RowWorker, WorkerSetup
from sharedlm.runner._source import source_rows
from sharedlm.runner._summary import RunReport, print_summary
from sharedlm.simulator import SimulatorProcess, SimulatorSettings

from ._session import local_ray

with loopback_environment():
    pytest.importorskip("ray")

pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.timeout(180)]

SIM_MODEL = "openai/sim-model"
ECHO = f"{Path(__file__).parent.parent / 'fixtures' / 'programs.py'}:Echo"
BUDGET = 64
WORKERS = 4


class Answer(dspy.Signature):
    """Classify the sentiment of a product review."""

    text: str = dspy.InputField()
    sentiment: str = dspy.OutputField()


class Ask(sharedlm.SharedLMModule):
    """One LM call per row."""

    def __init__(self, shared_lm: Any) -> None:
        super().__init__(shared_lm)
        self.answer = dspy.Predict(Answer)

    async def aforward(self, text: str) -> dict[str, str]:
        return {"sentiment": (await self.answer.acall(text=text)).sentiment}


@pytest.fixture(scope="module")
def ray_session() -> Iterator[RaySession]:
    with local_ray(num_cpus=WORKERS) as session:  # logical CPUs: one per worker, on this 2-core machine too
        yield session


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorProcess]:
    with SimulatorProcess(SimulatorSettings(latency=0.3)) as sim:
        yield sim


def configure(base_url: str, budget: int) -> Any:
    sharedlm.configure(model=SIM_MODEL, api_key="sim-key", api_base=base_url, cache=False,
                       max_parallel_requests=budget, adaptive=False)
    return sharedlm.get_shared_lm()


async def run_rows(actor: Any, count: int) -> int:
    """Run ``count`` rows on one worker; returns how many came back ok."""
    rows = list(source_rows([{"id": n, "text": f"review {n}"} for n in range(count)]))  # type: ignore[arg-type]
    ok = 0
    async for ref in actor.run_chunk.remote(rows):
        ok += sum(result.ok for result in (await ref).results)
    return ok


async def test_one_busy_worker_leases_nearly_the_whole_budget_while_the_others_idle(
        ray_session: RaySession, simulator: SimulatorProcess) -> None:
    ray = ray_session.ray
    program = Ask(shared_lm=configure(simulator.base_url, BUDGET))
    settings = shared_engines()[1].settings
    coordinator = ray.remote(BudgetCoordinator).options(num_cpus=0).remote(BUDGET)
    budget = SharedBudget(source=RayBudgetSource(coordinator, owner="test coordinator"), holder="",
                          block=lease_block(BUDGET, WORKERS))
    recipe = ProgramRecipe.from_program(program, shared_lm=sharedlm.get_shared_lm(), name="Ask")
    workers = [ray.remote(RowWorker).options(num_cpus=1, max_concurrency=1000).remote(WorkerSetup(
        index=index, settings=worker_settings(settings, WORKERS, leased_in_flight=True), program=recipe,
        rows=RowOptions(concurrency=4 * BUDGET), sys_path=tuple(sys.path),
        restore_env=dict(ray_session.driver_proxy_env), shared_budget=budget)) for index in range(WORKERS)]
    try:
        assert all(info.error is None for info in await asyncio.gather(*(w.ready.remote() for w in workers)))
        assert await asyncio.gather(*(run_rows(w, 8) for w in workers)) == [8] * WORKERS  # every worker leased
        simulator.reset()

        assert await run_rows(workers[0], 3 * BUDGET) == 3 * BUDGET  # now the rows all go to one worker
        served = simulator.stats()
        books = await coordinator.snapshot.remote()
    finally:
        for actor in [*workers, coordinator]:
            ray.kill(actor)

    assert 56 <= served.peak_in_flight <= BUDGET
    assert sum(books["holdings"].values()) <= BUDGET


async def test_a_run_with_a_shared_budget_never_exceeds_it_at_the_provider(ray_session: RaySession) -> None:
    with SimulatorProcess(SimulatorSettings(latency=0.1)) as sim:
        program = Ask(shared_lm=configure(sim.base_url, 20))
        recipe = ProgramRecipe.from_program(program, shared_lm=sharedlm.get_shared_lm(), name="Ask")
        plan = RayPlan(session=ray_session, workers=2, recipe=recipe, settings=shared_engines()[1].settings,
                       shared_budget=True)
        runner = RayRowRunner(plan, prepare_program(program), RowOptions(concurrency=40))
        results = [r async for r in runner.results(source_rows([{"text": f"t{n}"} for n in range(160)]))]
        served = sim.stats()

    assert len(results) == 160
    assert all(r.ok for r in results)
    assert served.peak_in_flight <= 20
    engine = runner.engine_stats()
    assert engine is not None
    assert engine["budget_owner"] == runner.budget_owner == (
        "Ray actor BudgetCoordinator (20 in flight)")
    assert 0 <= engine["lease_held"] <= 20


async def test_a_run_with_a_shared_budget_draws_every_request_from_the_coordinators_rate_book(
        ray_session: RaySession) -> None:
    with SimulatorProcess(SimulatorSettings(latency=0.05)) as sim:
        sharedlm.configure(model=SIM_MODEL, api_key="sim-key", api_base=sim.base_url, cache=False,
                           max_parallel_requests=20, adaptive=False, rpm=6000)
        program = Ask(shared_lm=sharedlm.get_shared_lm())
        recipe = ProgramRecipe.from_program(program, shared_lm=sharedlm.get_shared_lm(), name="Ask")
        plan = RayPlan(session=ray_session, workers=2, recipe=recipe, settings=shared_engines()[1].settings,
                       shared_budget=True)
        runner = RayRowRunner(plan, prepare_program(program), RowOptions(concurrency=20))
        results, books = [], {}
        async for result in runner.results(source_rows([{"text": f"t{n}"} for n in range(60)])):
            results.append(result)
            if len(results) == 60:  # the coordinator ends with the run: read its books before
                books = runner.budget_snapshot() or {}
        served = sim.stats()

    assert [r.ok for r in results] == [True] * 60
    used = {name.split()[-1]: value for name, value in books["rates_used"].items()}
    assert served.requests <= used["requests"] <= 6000  # every request sent drew on the one rpm budget


def test_the_summary_names_the_budgets_owner_and_the_lease_held() -> None:
    report = RunReport.from_counters(RunCounters(), not_run=0, wall_s=1.0, interrupted=False, workers=2,
                                     engine={"lease_held": 12, "budget_owner": "Ray actor BudgetCoordinator (64)"})
    stream = io.StringIO()

    print_summary(report, stream=stream)

    rows = [[cell.strip() for cell in line.split("│") if cell.strip()] for line in stream.getvalue().splitlines()]
    table = {cells[0]: cells[1] for cells in rows if len(cells) == 2}
    assert table["in-flight budget owner"] == "Ray actor BudgetCoordinator (64)"
    assert table["engine lease held at the end"] == "12"



def test_the_command_lines_shared_budget_flag_leases_the_jobs_budget_from_one_coordinator(
        ray_session: RaySession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setenv("SHAREDLM_API_KEY", "test-key")
    monkeypatch.setenv("SHAREDLM_MAX_PARALLEL_REQUESTS", "32")
    monkeypatch.setenv("COLUMNS", "200")  # the summary's lines unwrapped
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"text": f"t{n}"}) + "\n" for n in range(20)))

    code = main(["run", ECHO, "-i", str(source), "-o", str(tmp_path / "out.jsonl"), "--backend", "ray",
                 "--workers", "2", "--shared-budget", "--progress", "off"])

    rows = [[cell.strip() for cell in line.split("│") if cell.strip()] for line in capsys.readouterr().err.splitlines()]
    table = {cells[0]: cells[1] for cells in rows if len(cells) == 2}
    assert code == 0
    assert table["in-flight budget owner"] == "Ray actor BudgetCoordinator (32 in flight)"
