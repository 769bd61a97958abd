"""Behaviour of the shipped ExtractionPipeline against the simulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import sharedlm
from sharedlm.examples.extraction_pipeline import ExtractionPipeline
from sharedlm.runner import run_many
from sharedlm.simulator import BackgroundSimulator, SimulatorSettings


@pytest.fixture
def shared_lm() -> Iterator[object]:
    with BackgroundSimulator(SimulatorSettings()) as sim:
        sharedlm.configure(model="openai/sim-model", api_key="sim-key", api_base=sim.base_url, cache=False)
        yield sharedlm.get_shared_lm()


async def test_the_pipeline_extracts_then_analyzes_with_typed_outputs(shared_lm: object) -> None:
    prediction = await ExtractionPipeline(shared_lm=shared_lm).acall(text="My Nimbus X2 headphones broke.")

    assert isinstance(prediction.entities, list)
    assert all(isinstance(e, str) for e in prediction.entities)
    assert isinstance(prediction.summary, str)
    assert prediction.summary
    assert prediction.sentiment in {"positive", "neutral", "negative"}
    assert isinstance(prediction.urgency, int)


def test_the_pipeline_also_runs_sync(shared_lm: object) -> None:
    prediction = ExtractionPipeline(shared_lm=shared_lm)(text="Great blender.")

    assert prediction.sentiment in {"positive", "neutral", "negative"}


def test_every_predictor_uses_the_shared_lm(shared_lm: object) -> None:
    pipeline = ExtractionPipeline(shared_lm=shared_lm)

    assert [p.lm for _, p in pipeline.named_predictors()] == [shared_lm, shared_lm]


def test_the_pipeline_refuses_a_missing_shared_lm() -> None:
    with pytest.raises(ValueError, match="shared"):
        ExtractionPipeline(shared_lm=None)


def test_the_pipeline_runs_through_run_many(shared_lm: object) -> None:
    rows = [{"id": n, "text": f"Order #{n} is late."} for n in range(5)]

    results = run_many(ExtractionPipeline(shared_lm=shared_lm), rows, concurrency=5)

    assert sorted(r.id for r in results) == list(range(5))
    assert all(r.ok for r in results)
    assert all(r.usage.prompt_tokens > 0 for r in results)
