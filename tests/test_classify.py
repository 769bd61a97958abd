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
    assert error is not None
    assert "sk-abcdef123" not in str(error)


def test_redact_leaves_text_without_the_secret_alone() -> None:
    assert redact("nothing here", "sk-abcdef") == "nothing here"


# --- the exception classify was given is redacted in place, with its whole chain ---

KEY = "sk-test-scrub-0123456789"


def _everything(exc: BaseException) -> str:
    texts, seen, pending = [], set(), [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        texts += [str(current), repr(current), repr(current.args), repr(vars(current))]
        pending += [linked for linked in (current.__cause__, current.__context__) if linked is not None]
    return "\n".join(texts)


def test_classify_redacts_the_key_from_the_provider_error_it_was_given() -> None:
    raised = lm15.AuthError(f"Incorrect API key provided: {KEY}", status=401)
    classify(raised, provider="openai", status=401, secret=KEY)
    assert KEY not in _everything(raised)
    assert "Incorrect API key provided: ***" in str(raised)


def test_classify_redacts_the_key_from_every_exception_chained_under_the_one_it_was_given() -> None:
    try:
        try:
            raise ValueError(f"header x-api-key: {KEY}")
        except ValueError as inner:
            raise lm15.TransportError("send failed") from inner
    except lm15.TransportError as outer:
        raised = outer
    classify(raised, provider="openai", status=None, secret=KEY)
    assert KEY not in _everything(raised)


def test_classify_removes_text_it_cannot_redact_from_an_exception_attribute() -> None:
    class Holder:
        def __repr__(self) -> str:
            return f"Holder(headers={{'x-api-key': {KEY!r}}})"

    raised = RuntimeError("request failed")
    raised.request_info = Holder()  # type: ignore[attr-defined]
    classify(raised, provider="openai", status=None, secret=KEY)
    assert KEY not in _everything(raised)


def test_classify_redacts_the_request_head_a_unicode_error_holds() -> None:
    head = f"POST /v1 HTTP/1.1\r\nx-api-key: {KEY}\u2019\r\n\r\n"
    try:
        head.encode("latin-1")
    except UnicodeEncodeError as exc:
        raised = exc
    classify(raised, provider="openai", status=None, secret=KEY)
    assert KEY not in _everything(raised)
    assert KEY not in str(raised.object)
