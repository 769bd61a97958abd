"""A two-step DSPy program whose every call waits on a batch: DSPy parses batch answers like online ones."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, Literal

import dspy

from sharedlm.simulator import Simulator

from ._helpers import bench


class Extract(dspy.Signature):
    """Extract the entities of a message and summarise it."""

    text: str = dspy.InputField()
    entities: list[str] = dspy.OutputField()
    summary: str = dspy.OutputField()


class Judge(dspy.Signature):
    """Judge a summary."""

    summary: str = dspy.InputField()
    sentiment: Literal["positive", "neutral", "negative"] = dspy.OutputField()
    urgency: int = dspy.OutputField()


class Pipeline(dspy.Module):
    """Two predictors with Python between them."""

    def __init__(self) -> None:
        super().__init__()
        self.extract = dspy.Predict(Extract)
        self.judge = dspy.Predict(Judge)

    async def aforward(self, text: str) -> dspy.Prediction:
        extraction = await self.extract.acall(text=text)
        summary = extraction.summary.upper() if len(extraction.entities) > 1 else extraction.summary
        return await self.judge.acall(summary=summary)


class _AsyncEngine:
    """The smallest DSPy async engine: hands each request to an lm15 provider LM (which sends via batches)."""

    def __init__(self, lm: Any, model: str) -> None:
        self.lm = lm
        self.model = model

    async def complete(self, request: Any) -> Any:
        return await self.lm.complete(dataclasses.replace(request, model=self.model))


class _SyncEngine:
    def complete(self, request: Any) -> Any:
        raise RuntimeError("this test runs async only")


async def test_a_two_step_dspy_program_runs_in_two_rounds_of_batches_and_parses_every_answer() -> None:
    async with Simulator() as sim:
        b = bench(sim, max_requests=20)
        lm = dspy.LM("openai/gpt-4o-mini", engine=_SyncEngine(), async_engine=_AsyncEngine(b.lm, b.model),
                     num_retries=0, cache=False)
        program = Pipeline()
        try:
            with dspy.context(lm=lm):
                results = await asyncio.gather(*(program.acall(text=f"Ticket {i}: my order is late") for i in
                                                 range(20)))
        finally:
            await b.aclose()
        stats = sim.batches.stats()
    assert all(r.sentiment in ("positive", "neutral", "negative") and isinstance(r.urgency, int) for r in results)
    assert (stats["batches_created"], stats["lines_submitted"]) == (2, 40)
    assert sim.stats().requests == 0
