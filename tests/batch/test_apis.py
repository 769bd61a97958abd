"""Which batch a request lm15 built belongs to, and how each API's answers map to outcomes."""

from __future__ import annotations

import pytest

from sharedlm._batch._apis import AnthropicBatches, Outcome, target_of
from sharedlm._errors import UsageError


def test_an_openai_chat_request_batches_per_base_url_and_model() -> None:
    target = target_of("POST", "https://api.openai.com/v1/chat/completions", b'{"model": "gpt-4o-mini"}')
    assert target is not None
    assert (target.api.name, target.base_url, target.model) == ("openai", "https://api.openai.com/v1", "gpt-4o-mini")


def test_an_anthropic_messages_request_batches_under_its_base_url() -> None:
    target = target_of("POST", "https://api.anthropic.com/v1/messages", b'{"model": "claude-sonnet-4-5"}')
    assert target is not None
    assert (target.api.name, target.base_url) == ("anthropic", "https://api.anthropic.com/v1")


def test_a_gemini_request_takes_its_model_from_the_path() -> None:
    target = target_of("POST", "https://g.example/v1beta/models/gemini-2.5-flash:generateContent", b"{}")
    assert target is not None
    assert (target.api.name, target.base_url, target.model) == ("gemini", "https://g.example/v1beta",
                                                                "gemini-2.5-flash")


def test_a_get_is_not_a_generation() -> None:
    assert target_of("GET", "https://api.openai.com/v1/models", b"") is None


@pytest.mark.parametrize(("url", "body"), [
    ("https://api.openai.com/v1/chat/completions", b'{"model": "m", "stream": true}'),
    ("https://g.example/v1beta/models/m:streamGenerateContent", b"{}"),
])
def test_a_stream_is_a_usage_error(url: str, body: bytes) -> None:
    with pytest.raises(UsageError, match="cannot stream"):
        target_of("POST", url, body)


def test_an_anthropic_invalid_request_is_the_calls_answer_and_an_overload_is_retried() -> None:
    invalid = AnthropicBatches._outcome({"type": "errored", "error": {"type": "error", "error": {
        "type": "invalid_request_error", "message": "bad"}}})
    overloaded = AnthropicBatches._outcome({"type": "errored", "error": {"type": "error", "error": {
        "type": "overloaded_error", "message": "busy"}}})
    assert (invalid.retry, invalid.status) == (False, 400)
    assert overloaded == Outcome.again("line errored (overloaded_error)")
