"""Each provider or network failure becomes a retryable or a fatal sharedlm error, without secrets."""

from __future__ import annotations

import aiohttp
import pytest
from dspy import lm15

from sharedlm._classify import classify, redact
from sharedlm._errors import (
    AuthenticationError,
    ConnectionFailedError,
    ContextTooLongError,
    FatalError,
    ProviderUnavailableError,
    RateLimitedError,
    RequestRejectedError,
    RetryableError,
)


@pytest.mark.parametrize(("raised", "expected"), [
    (lm15.RateLimitError("slow down", status=429), RateLimitedError),
    (lm15.ServerError("boom", status=503), ProviderUnavailableError),
    (lm15.ProviderError("bad gateway", status=502), ProviderUnavailableError),
    (lm15.AuthError("bad key", status=401), AuthenticationError),
    (lm15.InvalidRequestError("no such field", status=400), RequestRejectedError),
    (lm15.ContextLengthError("too long", status=400), ContextTooLongError),
    (lm15.TransportError("reset"), ConnectionFailedError),
    (aiohttp.ServerDisconnectedError(), ConnectionFailedError),
    (ConnectionResetError(104, "reset by peer"), ConnectionFailedError),
])
def test_failure_maps_to_its_sharedlm_class(raised: Exception, expected: type) -> None:
    assert isinstance(classify(raised, provider="openai-chat", status=None, secret=None), expected)


def test_rate_limit_and_5xx_are_retryable_and_4xx_fatal() -> None:
    assert isinstance(classify(lm15.RateLimitError("x", status=429), provider="p", status=429, secret=None),
                      RetryableError)
    assert isinstance(classify(lm15.InvalidRequestError("x", status=404), provider="p", status=404, secret=None),
                      FatalError)


def test_program_bugs_are_not_classified() -> None:
    assert classify(KeyError("field"), provider="p", status=None, secret=None) is None


def test_key_echoed_by_the_provider_is_redacted() -> None:
    error = classify(lm15.AuthError("Incorrect API key provided: sk-abcdef123", status=401), provider="p",
                     status=401, secret="sk-abcdef123")
    assert error is not None and "sk-abcdef123" not in str(error)


def test_redact_leaves_text_without_the_secret_alone() -> None:
    assert redact("nothing here", "sk-abcdef") == "nothing here"
