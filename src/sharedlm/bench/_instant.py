"""An engine that answers at once without any network: the ceiling of what DSPy's own work allows.

Built like DSPy's ``dspy/clients/engines/dummy_engine.py``: a canned ``dspy.lm15.Response`` whose text parses
for the single-call signature (one ``answer`` field), so ``Predict.acall`` runs its full adapter path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from dspy import lm15

CANNED_ANSWER = "[[ ## answer ## ]]\nok\n\n[[ ## completed ## ]]"


def canned_response() -> lm15.Response:
    """The answer every call gets."""
    return lm15.Response(id=None, model="instant", message=lm15.Message.assistant([lm15.TextPart(CANNED_ANSWER)]),
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


__all__ = ["CANNED_ANSWER", "AsyncInstantEngine", "InstantEngine", "canned_response"]
