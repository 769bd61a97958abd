"""The instant engine answers Predict.acall through DSPy's full adapter path, with no network."""

from __future__ import annotations

import dspy

from sharedlm.bench._instant import AsyncInstantEngine, InstantEngine
from sharedlm.bench._workflow import QuestionSignature


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
