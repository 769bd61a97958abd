"""Retry hints in the body or message of a provider's error: OpenAI/Groq words, Gemini's RetryInfo."""

from __future__ import annotations

import json

import pytest

from sharedlm._flow._retry_body import parse_body_retry_hint

OPENAI_BODY = json.dumps({"error": {
    "message": "Rate limit reached for gpt-4.1 in organization org-x on tokens per min (TPM): Limit 30000, "
               "Used 28039, Requested 3906. Please try again in 3.89s. Visit https://platform.openai.com.",
    "type": "tokens", "param": None, "code": "rate_limit_exceeded"}})
GEMINI_BODY = json.dumps({"error": {
    "code": 429, "message": "You exceeded your current quota. Please retry in 38.86s.", "status": "RESOURCE_EXHAUSTED",
    "details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "26s"}]}})


def test_openai_words_in_a_json_body_are_read() -> None:
    assert parse_body_retry_hint(OPENAI_BODY, max_delay=60) == pytest.approx(3.89)


@pytest.mark.parametrize(("text", "seconds"), [
    ("Please try again in 1.898s.", 1.898), ("Please try again in 20ms.", 0.02), ("try again in 1m3.5s", 63.5),
    ("Please retry in 38.86s.", 38.86), ("please retry after 2 seconds", 2.0), ("Try again in 500 ms", 0.5),
])
def test_spoken_hints_in_a_message_are_read(text: str, seconds: float) -> None:
    assert parse_body_retry_hint(text, max_delay=120) == pytest.approx(seconds)


def test_gemini_retry_info_wins_over_the_words() -> None:
    assert parse_body_retry_hint(GEMINI_BODY.encode(), max_delay=60) == 26.0


def test_gemini_retry_info_in_proto_object_form_is_read() -> None:
    body = {"error": {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                   "retryDelay": {"seconds": 2, "nanos": 500000000}}]}}
    assert parse_body_retry_hint(json.dumps(body), max_delay=60) == 2.5


def test_a_streaming_gemini_error_list_is_read() -> None:
    assert parse_body_retry_hint("[" + GEMINI_BODY + "]", max_delay=60) == 26.0


def test_a_hint_is_clamped_to_max_delay() -> None:
    assert parse_body_retry_hint("Please try again in 6m0s.", max_delay=60) == 60


@pytest.mark.parametrize("body", [None, "", b"", "Rate limit reached.", "{not json", "try again in a moment",
                                  "retry in 5 fortnights", json.dumps({"error": {"details": [{"@type": "x"}]}}),
                                  json.dumps({"error": {"details": [{"@type": "google.rpc.RetryInfo",
                                                                     "retryDelay": "soon"}]}}), 42])
def test_a_body_without_a_readable_hint_gives_none(body: object) -> None:
    assert parse_body_retry_hint(body, max_delay=60) is None  # type: ignore[arg-type]


def test_an_oversized_body_is_not_scanned() -> None:
    assert parse_body_retry_hint("x" * 70000 + "try again in 1s", max_delay=60) is None
