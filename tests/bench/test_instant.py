"""The instant engine answers Predict.acall through DSPy's full adapter path, with no network; the sleeping engine
sleeps the latency first."""

from __future__ import annotations

import dspy
import pytest

from sharedlm.bench import _instant
from sharedlm.bench._instant import AsyncInstantEngine, AsyncSleepingEngine, InstantEngine
from sharedlm.bench._workflow import ExtractionPipeline, QuestionSignature


async def test_instant_engine_answer_parses_for_the_single_call_signature() -> None:
    lm = dspy.LM("openai/bench-model", engine=InstantEngine(), async_engine=AsyncInstantEngine(), cache=False)
    predict = dspy.Predict(QuestionSignature)
    predict.set_lm(lm)
    result = await predict.acall(question="anything?")
    assert result.answer == "ok"


def test_instant_engine_answers_sync_calls_too() -> None:
    lm = dspy.LM("openai/bench-model", engine=InstantEngine(), async_engine=AsyncInstantEngine(), cache=False)
    predict = dspy.Predict(QuestionSignature)
    predict.set_lm(lm)
    assert predict(question="anything?").answer == "ok"


async def test_the_sleeping_engine_sleeps_the_latency_after_its_unslept_warm_up_calls(
        monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def record(delay: float) -> None:
        slept.append(delay)

    monkeypatch.setattr(_instant.asyncio, "sleep", record)
    lm = dspy.LM("openai/bench-model", engine=InstantEngine(), async_engine=AsyncSleepingEngine(20.0, unslept=2),
                 cache=False)
    pipeline = ExtractionPipeline(lm)
    await pipeline.acall(input_data="a report")
    assert slept == []
    result = await pipeline.acall(input_data="a report")
    assert slept == [20.0, 20.0]
    assert result.analysis == "meaning"
