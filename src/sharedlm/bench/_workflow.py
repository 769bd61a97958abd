"""The programs the benchmark runs: the seed's two-step pipeline in its three shapes, and one single call.

These mirror /work/shared/reference/singleton-lm-pattern.md: an extractor ``Predict`` then an analyzer
``Predict`` in an async ``aforward``, with string fields. Every LM is built with ``cache=False`` so repeated
prompts are really sent. Imported by the worker only (it imports DSPy).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dspy


@dataclass(frozen=True, kw_only=True)
class Connection:
    """Where a plain ``dspy.LM`` connects."""

    model: str
    api_base: str
    api_key: str = field(repr=False)

    def plain_lm(self, **extra: Any) -> dspy.LM:
        """A new plain ``dspy.LM`` (DSPy's defaults, ``cache=False``); the anti-pattern variants need fresh ones."""
        return dspy.LM(self.model, api_key=self.api_key, api_base=self.api_base, cache=False, **extra)  # noqa: SLM005


class ExtractorSignature(dspy.Signature):
    """Extract the key facts from the input text."""

    input: str = dspy.InputField()
    output: str = dspy.OutputField()


class AnalyzerSignature(dspy.Signature):
    """Analyze the extracted facts and state what they mean."""

    extraction: str = dspy.InputField()
    analysis: str = dspy.OutputField()


class QuestionSignature(dspy.Signature):
    """Answer the question in a few words."""

    question: str = dspy.InputField()
    answer: str = dspy.OutputField()


class ExtractionPipeline(dspy.Module):
    """The seed's pipeline with the LM it is given set on both predictors (the shared-LM pattern)."""

    def __init__(self, shared_lm: dspy.LM) -> None:
        if shared_lm is None:
            raise ValueError("ExtractionPipeline needs the shared LM; pass sharedlm.get_shared_lm()")
        super().__init__()
        self.extractor = dspy.Predict(ExtractorSignature)
        self.analyzer = dspy.Predict(AnalyzerSignature)
        self.extractor.set_lm(shared_lm)
        self.analyzer.set_lm(shared_lm)

    async def aforward(self, input_data: str) -> dspy.Prediction:
        result1 = await self.extractor.acall(input=input_data)
        return await self.analyzer.acall(extraction=result1.output)


class LMPerModulePipeline(ExtractionPipeline):
    """The seed's first anti-pattern: the pipeline builds its own ``dspy.LM`` in ``__init__``."""

    def __init__(self, connection: Connection) -> None:
        own_lm = connection.plain_lm()
        super().__init__(own_lm)
        self.own_lm = own_lm


class LMPerCallPipeline(dspy.Module):
    """The seed's second anti-pattern: a new ``dspy.LM`` for every call, built inside ``aforward``.

    The seed calls ``set_lm`` on a shared predictor; here the new LM is passed with ``lm=`` instead, which
    builds exactly as many LMs without letting concurrent workflows overwrite each other's choice.
    """

    def __init__(self, connection: Connection) -> None:
        super().__init__()
        self.connection = connection
        # Unbound on purpose: each call passes a new LM with lm= (the anti-pattern being measured).
        self.extractor = dspy.Predict(ExtractorSignature)  # noqa: SLM003
        self.analyzer = dspy.Predict(AnalyzerSignature)  # noqa: SLM003

    async def aforward(self, input_data: str) -> dspy.Prediction:
        result1 = await self.extractor.acall(input=input_data, lm=self.connection.plain_lm())
        return await self.analyzer.acall(extraction=result1.output, lm=self.connection.plain_lm())


def workflow_input(index: int) -> str:
    """A distinct input text for workflow ``index``."""
    return (f"Report {index}: unit {index % 97} shipped {index * 37 % 1000} parcels in week {index % 52 + 1}; "
            f"returns were {index % 13} and the depot at site {index % 7} was closed for {index % 3} days.")


def call_question(index: int) -> str:
    """A distinct question for single call ``index``."""
    return f"Question {index}: what is the capital of region {index % 211}, district {index}?"


__all__ = [
    "AnalyzerSignature",
    "Connection",
    "ExtractionPipeline",
    "ExtractorSignature",
    "LMPerCallPipeline",
    "LMPerModulePipeline",
    "QuestionSignature",
    "call_question",
    "workflow_input",
]
