"""The seed's two-step ExtractionPipeline, written the recommended way.

Step one extracts the entities of a customer message and summarizes it; step two judges the summary's
sentiment and urgency. The module subclasses :class:`sharedlm.SharedLMModule`, so it refuses a missing shared
LM and every predictor it creates is bound to the shared LM after ``__init__``: no ``set_lm`` calls to forget,
and no LM is ever created per module or per call. Signatures are typed, so DSPy parses and checks answers.

Run it over a file with::

    sharedlm run sharedlm.examples.extraction_pipeline:ExtractionPipeline --input tickets.jsonl --output out.jsonl

where each input line has a ``text`` field (and optionally an ``id``).
"""

from __future__ import annotations

from typing import Any, Literal

import dspy

import sharedlm

Sentiment = Literal["positive", "neutral", "negative"]


class ExtractorSignature(dspy.Signature):
    """Extract the named entities of a customer message and summarize it in one sentence."""

    text: str = dspy.InputField(desc="a customer support ticket or product review")
    entities: list[str] = dspy.OutputField(desc="products, people, places, order numbers and dates mentioned")
    summary: str = dspy.OutputField(desc="one sentence saying what the customer wants or reports")


class AnalyzerSignature(dspy.Signature):
    """Judge the sentiment of a customer message and how urgently it needs an answer."""

    summary: str = dspy.InputField(desc="a one-sentence summary of the message")
    entities: list[str] = dspy.InputField(desc="entities the message mentions")
    sentiment: Sentiment = dspy.OutputField()
    urgency: int = dspy.OutputField(desc="1 (can wait) to 5 (act now)")


class ExtractionPipeline(sharedlm.SharedLMModule):
    """Extract entities and a summary from a customer message, then judge its sentiment and urgency.

    Args:
        shared_lm: The shared LM, normally ``sharedlm.get_shared_lm()``.
    """

    def __init__(self, shared_lm: Any) -> None:
        super().__init__(shared_lm)
        self.extractor = dspy.Predict(ExtractorSignature)
        self.analyzer = dspy.Predict(AnalyzerSignature)

    async def aforward(self, text: str) -> dspy.Prediction:
        """Run both steps on one message without blocking the event loop.

        Args:
            text: The customer message.
        """
        extraction = await self.extractor.acall(text=text)
        analysis = await self.analyzer.acall(summary=extraction.summary, entities=extraction.entities)
        return _combine(extraction, analysis)

    def forward(self, text: str) -> dspy.Prediction:
        """The same two steps for sync callers (``pipeline(text=...)``).

        Args:
            text: The customer message.
        """
        extraction = self.extractor(text=text)
        analysis = self.analyzer(summary=extraction.summary, entities=extraction.entities)
        return _combine(extraction, analysis)


def _combine(extraction: dspy.Prediction, analysis: dspy.Prediction) -> dspy.Prediction:
    return dspy.Prediction(entities=extraction.entities, summary=extraction.summary,
                           sentiment=analysis.sentiment, urgency=analysis.urgency)


__all__ = ["AnalyzerSignature", "ExtractionPipeline", "ExtractorSignature", "Sentiment"]
