"""A Ray job whose program uses two shared models: every worker runs both, with the driver's model settings.

Programs that workers run are defined here at module level: workers import this module to unpickle them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dspy
import pytest

import sharedlm
from sharedlm._singleton import shared_engines
from sharedlm.runner._options import RowOptions
from sharedlm.runner._program import prepare_program
from sharedlm.runner._ray._program import ProgramRecipe
from sharedlm.runner._ray._runner import RayPlan, RayRowRunner
from sharedlm.runner._ray._session import RaySession, loopback_environment
from sharedlm.runner._source import source_rows
from sharedlm.simulator import SimulatorProcess, SimulatorSettings

from ._session import local_ray

with loopback_environment():
    pytest.importorskip("ray")

pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.timeout(180)]

DRAFT_MODEL = "openai/draft-model"
JUDGE_MODEL = "openai/judge-model"


class DraftAndJudge(sharedlm.SharedLMModule):
    """A draft on the default model, a verdict on the judge model."""

    def __init__(self, shared_lm: Any) -> None:
        super().__init__(shared_lm)
        self.draft = dspy.Predict("text -> summary")
        self.judge = dspy.Predict("text, summary -> verdict")
        self.judge.set_lm(sharedlm.get_shared_lm(JUDGE_MODEL))

    async def aforward(self, text: str) -> dict[str, str]:
        summary = (await self.draft.acall(text=text)).summary
        return {"verdict": (await self.judge.acall(text=text, summary=summary)).verdict}


@pytest.fixture(scope="module")
def ray_session() -> Iterator[RaySession]:
    with local_ray(num_cpus=2) as session:
        yield session


def _plan(session: RaySession, program: DraftAndJudge) -> RayPlan:
    recipe = ProgramRecipe.from_program(program, shared_lm=sharedlm.get_shared_lm(), name="DraftAndJudge")
    return RayPlan(session=session, workers=2, recipe=recipe, settings=shared_engines()[1].settings)


def test_workers_get_each_other_models_share_of_its_settings(ray_session: RaySession) -> None:
    sharedlm.configure(model=DRAFT_MODEL, api_key="k", api_base="http://127.0.0.1:9/v1", max_parallel_requests=40,
                       models={JUDGE_MODEL: {"rpm": 600, "temperature": 0.0}})
    plan = _plan(ray_session, DraftAndJudge(sharedlm.get_shared_lm()))
    judge = plan.worker_models()[JUDGE_MODEL]
    assert judge["rpm"] == 600
    assert judge["budget_share"] == 0.5  # each of 2 workers paces to half the judge's rpm, as for the default
    assert judge["max_parallel_requests"] == 20
    assert judge["lm_kwargs"]["temperature"] == 0.0
    assert DRAFT_MODEL not in plan.worker_models()


async def test_every_row_runs_both_models_on_the_workers(ray_session: RaySession) -> None:
    with SimulatorProcess(SimulatorSettings(latency=0.01)) as sim:
        sharedlm.configure(model=DRAFT_MODEL, api_key="sim-key", api_base=sim.base_url, cache=False,
                           max_parallel_requests=16, models={JUDGE_MODEL: {"cache": False}})
        program = DraftAndJudge(sharedlm.get_shared_lm())
        runner = RayRowRunner(_plan(ray_session, program), prepare_program(program), RowOptions(concurrency=8))
        results = [r async for r in runner.results(source_rows([{"text": f"t{n}"} for n in range(40)]))]
        served = sim.stats()
    assert [r.ok for r in results] == [True] * 40
    assert served.model("draft-model").served == served.model("judge-model").served == 40
    models = (runner.engine_stats() or {})["models"]
    assert models[JUDGE_MODEL]["calls_succeeded"] == models[DRAFT_MODEL]["calls_succeeded"] == 40
