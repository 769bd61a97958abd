"""Engines that answer without any network: the ceiling of what DSPy's own work allows, and its floor at a latency.

Built like DSPy's ``dspy/clients/engines/dummy_engine.py``: a canned ``dspy.lm15.Response`` whose text parses
for the single-call signature (one ``answer`` field), so ``Predict.acall`` runs its full adapter path. The sleeping
engine answers every signature of the benchmark's programs (``output``, ``analysis`` and ``answer``) after sleeping
the provider's latency: what the same DSPy program takes at that latency with no network, no pool and no pacing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

from dspy import lm15

CANNED_ANSWER = "[[ ## answer ## ]]\nok\n\n[[ ## completed ## ]]"
# Every output field of the benchmark's signatures (sharedlm.bench._workflow); the adapter keeps the ones it asks for.
WORKFLOW_ANSWER = ("[[ ## output ## ]]\nfacts\n\n[[ ## analysis ## ]]\nmeaning\n\n[[ ## answer ## ]]\nok\n\n"
                   "[[ ## completed ## ]]")


def canned_response(text: str = CANNED_ANSWER) -> lm15.Response:
    """The answer every call gets."""
    return lm15.Response(id=None, model="instant", message=lm15.Message.assistant([lm15.TextPart(text)]),
                         finish_reason="stop", usage=lm15.Usage(input_tokens=0, output_tokens=0, total_tokens=0))


class InstantEngine:
    """The sync half of the pair ``dspy.LM(engine=..., async_engine=...)`` requires."""

    def __repr__(self) -> str:
        return "InstantEngine()"

    def complete(self, request: lm15.Request) -> lm15.Response:
        return canned_response()

    def stream(self, request: lm15.Request) -> Iterator[Any]:
        return iter(lm15.response_to_events(canned_response()))

    def close(self) -> None:
        pass


class AsyncInstantEngine:
    """Answers every async call with :func:`canned_response`, with no await in between."""

    def __repr__(self) -> str:
        return "AsyncInstantEngine()"

    async def complete(self, request: lm15.Request) -> lm15.Response:
        return canned_response()

    async def stream(self, request: lm15.Request) -> AsyncIterator[Any]:
        for event in lm15.response_to_events(canned_response()):
            yield event

    async def aclose(self) -> None:
        pass


class AsyncSleepingEngine:
    """Answers every async call with :data:`WORKFLOW_ANSWER` after sleeping ``latency_s`` seconds.

    Args:
        latency_s: The provider latency it stands for.
        unslept: How many first calls answer at once (the untimed warm-up needs no latency, only DSPy's caches).
    """

    def __init__(self, latency_s: float, *, unslept: int = 0) -> None:
        self.latency_s = latency_s
        self.unslept = unslept

    def __repr__(self) -> str:
        return f"AsyncSleepingEngine(latency_s={self.latency_s:g}, unslept={self.unslept})"

    async def _wait(self) -> None:
        if self.unslept > 0:
            self.unslept -= 1
            return
        await asyncio.sleep(self.latency_s)

    async def complete(self, request: lm15.Request) -> lm15.Response:
        await self._wait()
        return canned_response(WORKFLOW_ANSWER)

    async def stream(self, request: lm15.Request) -> AsyncIterator[Any]:
        await self._wait()
        for event in lm15.response_to_events(canned_response(WORKFLOW_ANSWER)):
            yield event

    async def aclose(self) -> None:
        pass


__all__ = ["CANNED_ANSWER", "WORKFLOW_ANSWER", "AsyncInstantEngine", "AsyncSleepingEngine", "InstantEngine",
           "canned_response"]
