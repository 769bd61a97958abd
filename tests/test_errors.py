"""The error hierarchy: which failures are fatal, and how an oversized answer reaches a DSPy caller."""

from __future__ import annotations

import dspy
import pytest
from dspy import lm15
from dspy.utils.exceptions import LMProviderError

import sharedlm
from _http_servers import ScriptedServer, ServerRequest
from sharedlm._errors import FatalError, ProviderCallError, ResponseTooLargeError, RetryableError

pytestmark = pytest.mark.timeout(30)


class QA(dspy.Signature):
    question: str = dspy.InputField()
    answer: str = dspy.OutputField()


def test_an_oversized_answer_is_a_fatal_provider_call_error() -> None:
    error = ResponseTooLargeError("too large")
    assert isinstance(error, FatalError)
    assert isinstance(error, ProviderCallError)
    assert not isinstance(error, RetryableError)
    assert isinstance(error, lm15.ProviderError)


async def test_an_oversized_answer_fails_the_call_once_naming_the_setting_that_raises_the_limit() -> None:
    async def big(request: ServerRequest) -> None:
        await request.connection.answer(b"x" * 4096, headers=(("Content-Type", "application/json"),))

    async with ScriptedServer(big) as server:
        sharedlm.configure(model="openai/sim-model", api_key="sk-test-limits-0123456789", api_base=server.url("/v1"),
                           cache=False, max_response_body_bytes=1024)
        predict = dspy.Predict(QA)
        predict.set_lm(sharedlm.get_shared_lm())
        with pytest.raises(LMProviderError) as caught:
            await predict.acall(question="q")
    cause = sharedlm.sharedlm_cause(caught.value)
    assert isinstance(cause, ResponseTooLargeError)
    assert "max_response_body_bytes=1024" in str(cause)
    assert "SHAREDLM_MAX_RESPONSE_BODY_BYTES" in str(cause)
    assert len(server.requests) == 1  # fatal: not retried
