"""Behaviour of RowResult, RowError and TokenUsage as records and JSON lines."""

from __future__ import annotations

import dataclasses

import pytest

from sharedlm.runner._results import OUTPUT_KEYS, RowError, RowResult, TokenUsage, id_key


def test_a_result_round_trips_through_its_json_dict() -> None:
    result = RowResult(id="a", output=None, error=RowError("ValueError", "bad"), attempts=2, latency_s=1.5,
                       usage=TokenUsage(prompt_tokens=10, completion_tokens=3))

    data = result.as_json_dict()

    assert tuple(data) == OUTPUT_KEYS
    assert RowResult.from_json_dict(data) == result
    assert not result.ok


def test_results_are_frozen() -> None:
    result = RowResult(id=1, output={}, error=None, attempts=1, latency_s=0.1)

    with pytest.raises(dataclasses.FrozenInstanceError):
        result.id = 2  # type: ignore[misc]


def test_usage_adds_up() -> None:
    total = TokenUsage(1, 2) + TokenUsage(10, 20)

    assert (total.prompt_tokens, total.completion_tokens, total.total_tokens) == (11, 22, 33)


def test_integer_and_string_ids_share_a_key() -> None:
    assert id_key(7) == id_key("7")
