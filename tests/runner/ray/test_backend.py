"""Behaviour of the Ray backend on a local Ray with 2 CPUs (loopback only), shared by the whole module.

Programs that workers run are defined here at module level: workers import this module (they get the driver's
``sys.path``) to unpickle them.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import dspy
import pytest

import sharedlm
from sharedlm._cli import main
from sharedlm._singleton import shared_engines
from sharedlm.runner import RowOptions, RowResult, run_many
from sharedlm.runner._program import prepare_program
from sharedlm.runner._ray._program import ProgramRecipe
from sharedlm.runner._ray._runner import MAX_WORKER_DEATHS_PER_ROW, WORKER_DIED, RayPlan, RayRowRunner
from sharedlm.runner._ray._session import RaySession, loopback_environment
from sharedlm.runner._source import source_rows
from sharedlm.simulator import SimulatorProcess, SimulatorSettings

from ._session import local_ray

# Ray must be imported inside the loopback environment, or a local Ray would bind to this machine's address.
with loopback_environment():
    pytest.importorskip("ray")

pytestmark = [pytest.mark.ray, pytest.mark.timeout(300)]

ECHO = f"{Path(__file__).parent.parent / 'fixtures' / 'programs.py'}:Echo"
SIM_MODEL = "openai/sim-model"


class Sentiment(dspy.Signature):
    """Classify the sentiment of a product review."""

    text: str = dspy.InputField()
    sentiment: Literal["positive", "neutral", "negative"] = dspy.OutputField()
    confidence: float = dspy.OutputField()


class Classify(sharedlm.SharedLMModule):
    def __init__(self, shared_lm: Any) -> None:
        super().__init__(shared_lm)
        self.classify = dspy.Predict(Sentiment)

    async def aforward(self, text: str) -> dspy.Prediction:
        return await self.classify.acall(text=text)


class WhoAmI(sharedlm.SharedLMModule):
    """Reports the process and the shared LM a row ran on, and whether its predictor is bound to that LM."""

    def __init__(self, shared_lm: Any) -> None:
        super().__init__(shared_lm)
        self.classify = dspy.Predict(Sentiment)

    async def aforward(self, text: str) -> dict[str, Any]:
        await asyncio.sleep(0.01)
        lm = sharedlm.get_shared_lm()
        return {"pid": os.getpid(), "lm_id": id(lm), "bound": self.classify.lm is lm}


def _first_sight(marker: str) -> bool:
    """Whether ``marker`` did not exist yet; it does now."""
    if os.path.exists(marker):
        return False
    Path(marker).touch()
    return True


class CrashOnce:
    """Kills its worker process the first time it sees the row ``kill`` (a marker file remembers it)."""

    def __init__(self, shared_lm: Any, marker: str) -> None:
        self.shared_lm = shared_lm
        self.marker = marker

    async def aforward(self, text: str) -> dict[str, str]:
        await asyncio.sleep(0.02)
        if text == "kill" and await asyncio.to_thread(_first_sight, self.marker):
            os._exit(1)
        return {"upper": text.upper()}


class CrashAlways:
    """Kills every worker process that runs the row ``poison``."""

    def __init__(self, shared_lm: Any) -> None:
        self.shared_lm = shared_lm

    async def aforward(self, text: str) -> dict[str, str]:
        await asyncio.sleep(0.02)
        if text == "poison":
            os._exit(1)
        return {"upper": text.upper()}


@pytest.fixture(scope="module")
def ray_session() -> Iterator[RaySession]:
    with local_ray(num_cpus=2) as session:
        yield session


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorProcess]:
    with SimulatorProcess(SimulatorSettings()) as sim:
        yield sim


def configure(base_url: str = "http://127.0.0.1:9/v1", **settings: Any) -> Any:
    sharedlm.configure(model=SIM_MODEL, api_key="sim-key", api_base=base_url, cache=False, **settings)
    return sharedlm.get_shared_lm()


def plan(session: RaySession, program: object, *, workers: int = 2, **changes: Any) -> RayPlan:
    lm = sharedlm.get_shared_lm()
    recipe = ProgramRecipe.from_program(program, shared_lm=lm, name=type(program).__name__)
    return RayPlan(session=session, workers=workers, recipe=recipe, settings=shared_engines()[1].settings, **changes)


async def run_on_ray(session: RaySession, program: object, rows: list[dict[str, Any]], *, concurrency: int = 10,
                     **changes: Any) -> tuple[RayRowRunner, list[RowResult]]:
    runner = RayRowRunner(plan(session, program, **changes), prepare_program(program),
                          RowOptions(concurrency=concurrency))
    return runner, [result async for result in runner.results(source_rows(rows))]


def outcome(results: list[RowResult]) -> list[tuple[Any, ...]]:
    """Every result but its latency, in an order that does not depend on completion order."""
    return sorted(((r.id, r.output, r.error, r.attempts, r.usage) for r in results), key=repr)


def read_ids(path: Path) -> list[Any]:
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]


def test_a_local_ray_listens_and_talks_on_loopback_only(ray_session: RaySession) -> None:
    psutil = pytest.importorskip("psutil")  # Ray ships it (ray/thirdparty_files) and puts it on sys.path

    assert {node["NodeManagerAddress"] for node in ray_session.ray.nodes()} == {"127.0.0.1"}
    assert ray_session.address.startswith("127.0.0.1:")
    sockets = [(process.name(), connection) for process in psutil.Process().children(recursive=True)
               for connection in _inet_connections(process)]

    assert sockets, "Ray's processes hold no sockets: the check would be empty"
    outside = [(name, c.laddr, c.raddr) for name, c in sockets
               if not _loopback(c.laddr.ip) or (c.raddr and not _loopback(c.raddr.ip))]
    assert outside == []


def _inet_connections(process: Any) -> list[Any]:
    try:
        return list(process.net_connections(kind="inet"))
    except Exception:  # the process ended meanwhile, or is not ours to inspect
        return []


def _loopback(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def test_results_on_ray_equal_the_local_runners_row_for_row(ray_session: RaySession,
                                                            simulator: SimulatorProcess) -> None:
    program = Classify(shared_lm=configure(simulator.base_url))
    rows: list[dict[str, Any]] = [{"id": f"r{n}", "text": f"review number {n}: it broke"} for n in range(60)]
    rows += [{"id": "r3", "text": "a repeated id"}, {"id": "bad", "body": "no text field"}]

    local = run_many(program, rows, concurrency=20)
    remote = run_many(program, rows, concurrency=20, backend="ray", workers=2)

    assert outcome(remote) == outcome(local)
    assert sum(r.ok for r in remote) == 60


async def test_run_many_on_ray_works_inside_a_running_loop_as_in_a_notebook(ray_session: RaySession) -> None:
    program = WhoAmI(shared_lm=configure())

    results = run_many(program, [{"text": f"t{n}"} for n in range(20)], backend="ray", workers=2)

    assert sorted(r.id for r in results) == list(range(1, 21))
    assert all(r.ok for r in results)
    assert asyncio.get_running_loop().is_running()


async def test_each_worker_builds_one_shared_lm_and_keeps_it_for_every_chunk(ray_session: RaySession) -> None:
    program = WhoAmI(shared_lm=configure())

    runner, results = await run_on_ray(ray_session, program, [{"text": f"t{n}"} for n in range(120)],
                                       concurrency=10, chunk_rows=5)

    outputs = [r.output for r in results if r.output is not None]
    assert len(outputs) == 120
    assert all(o["bound"] for o in outputs)
    per_worker: dict[int, set[tuple[int, int]]] = defaultdict(set)
    for (index, pid, lm_id), _batches in runner.lm_instances.items():
        per_worker[index].add((pid, lm_id))
    assert {index: len(instances) for index, instances in per_worker.items()} == {0: 1, 1: 1}
    assert {(o["pid"], o["lm_id"]) for o in outputs} == set().union(*per_worker.values())
    assert os.getpid() not in {o["pid"] for o in outputs}
    assert sum(runner.lm_instances.values()) >= 120 // 5  # many chunks went out, all to the same two LMs


async def test_a_worker_that_dies_loses_only_its_rows_in_flight_which_run_again(ray_session: RaySession,
                                                                                tmp_path: Path) -> None:
    configure()
    program = CrashOnce(None, marker=str(tmp_path / "crashed"))
    rows = [{"id": n, "text": "kill" if n == 25 else f"t{n}"} for n in range(80)]

    runner, results = await run_on_ray(ray_session, program, rows, concurrency=10)

    assert (tmp_path / "crashed").exists()
    assert sorted(r.id for r in results) == list(range(80))
    assert all(r.ok for r in results)
    assert runner.workers_replaced == 1
    assert runner.failure is None


async def test_a_row_that_kills_every_worker_it_runs_on_ends_as_an_error_row(ray_session: RaySession) -> None:
    configure()
    rows = [{"id": n, "text": "poison" if n == 5 else f"t{n}"} for n in range(30)]

    runner, results = await run_on_ray(ray_session, CrashAlways(None), rows, concurrency=4)

    by_id = {r.id: r for r in results}
    assert sorted(by_id) == list(range(30))
    error = by_id[5].error
    assert error is not None
    assert error.type == WORKER_DIED
    assert f"died {MAX_WORKER_DEATHS_PER_ROW} times" in error.message
    assert all(r.ok for r in results if r.id != 5)
    assert runner.workers_replaced == MAX_WORKER_DEATHS_PER_ROW


async def test_the_jobs_in_flight_budget_holds_across_workers(ray_session: RaySession) -> None:
    budget = 20
    with SimulatorProcess(SimulatorSettings(latency=0.3)) as sim:
        program = Classify(shared_lm=configure(sim.base_url, max_parallel_requests=budget))

        runner, results = await run_on_ray(ray_session, program, [{"text": f"t{n}"} for n in range(160)],
                                           concurrency=60)
        served = sim.stats()

    assert all(r.ok for r in results)
    assert len(results) == 160
    assert served.peak_in_flight <= budget
    assert served.peak_in_flight > budget // 2  # both workers' shares were in use at once
    engine = runner.engine_stats()
    assert engine is not None
    assert engine["cap"] == budget


def test_a_run_started_locally_finishes_on_ray_with_every_id_once(ray_session: RaySession, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHAREDLM_API_KEY", "test-key")
    source, out = _write_rows(tmp_path / "in.jsonl", 40), tmp_path / "out.jsonl"

    first = main(["run", ECHO, "-i", str(source), "-o", str(out), "--limit", "15", "--progress", "off"])
    second = main(["run", ECHO, "-i", str(source), "-o", str(out), "--resume", "--backend", "ray", "--workers", "2",
                   "--progress", "off"])

    assert (first, second) == (0, 0)
    assert sorted(read_ids(out)) == sorted(f"r{n}" for n in range(40))


def test_a_run_started_on_ray_finishes_locally_with_every_id_once(ray_session: RaySession, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHAREDLM_API_KEY", "test-key")
    source, out = _write_rows(tmp_path / "in.jsonl", 40), tmp_path / "out.jsonl"

    first = main(["run", ECHO, "-i", str(source), "-o", str(out), "--limit", "15", "--backend", "ray",
                  "--progress", "off"])
    second = main(["run", ECHO, "-i", str(source), "-o", str(out), "--resume", "--progress", "off"])

    assert (first, second) == (0, 0)
    assert sorted(read_ids(out)) == sorted(f"r{n}" for n in range(40))


def test_the_summary_and_exit_code_count_rows_over_all_workers(ray_session: RaySession, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setenv("SHAREDLM_API_KEY", "test-key")
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"text": "boom" if n == 3 else f"t{n}"}) + "\n" for n in range(30)))

    code = main(["run", ECHO, "-i", str(source), "-o", str(tmp_path / "out.jsonl"), "--backend", "ray",
                 "--workers", "2", "--progress", "off"])

    rows = [[cell.strip() for cell in line.split("│") if cell.strip()] for line in capsys.readouterr().err.splitlines()]
    table = {cells[0]: cells[1] for cells in rows if len(cells) == 2}
    assert code == 1
    assert (table["rows ok"], table["rows failed"], table["ray workers"]) == ("29", "1", "2")


def _write_rows(path: Path, count: int) -> Path:
    path.write_text("".join(json.dumps({"id": f"r{n}", "text": f"t{n}"}) + "\n" for n in range(count)))
    return path


async def test_the_driver_counts_each_result_under_the_ray_node_that_ran_it(ray_session: RaySession) -> None:
    program = WhoAmI(shared_lm=configure())

    runner, results = await run_on_ray(ray_session, program, [{"text": f"t{n}"} for n in range(30)])

    nodes = {node["NodeID"] for node in ray_session.ray.nodes()}
    assert len(results) == 30
    assert set(runner.rows_by_node) <= nodes
    assert sum(runner.rows_by_node.values()) == 30
