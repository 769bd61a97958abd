"""Reading answers for flow control: budgets from headers, the order of retry hints, and what is remembered."""

from __future__ import annotations

from pathlib import Path

import pytest

from sharedlm._flow._memory import Deployment, Learned, Memory
from sharedlm._flow._signals import MEMORY_INTERVAL_S, ProviderSignals

from .conftest import FakeClock

OPENAI_HEADERS = [("x-ratelimit-limit-requests", "600"), ("x-ratelimit-remaining-requests", "599"),
                  ("x-ratelimit-reset-requests", "100ms")]
EXHAUSTED = [("x-ratelimit-limit-requests", "600"), ("x-ratelimit-remaining-requests", "0"),
             ("x-ratelimit-reset-requests", "1m0s")]


def _signals(clock: FakeClock, memory: Memory | None = None, **overrides: object) -> ProviderSignals:
    options: dict[str, object] = {"rpm": None, "tpm": None, "share": 1.0, "clock": clock, "window_seconds": 61.0,
                                  "max_retry_after": 60.0, "memory": memory, "wall_clock": lambda: 1_800_000_000.0}
    options.update(overrides)
    return ProviderSignals(**options)  # type: ignore[arg-type]


def _memory(tmp_path: Path) -> Memory:
    return Memory(tmp_path, Deployment(provider="openai", model="m", base_url="http://127.0.0.1:1/v1", api_key="k"))


def test_an_answer_with_limit_headers_sizes_the_budget(clock: FakeClock) -> None:
    signals = _signals(clock)
    assert signals.on_answer(OPENAI_HEADERS) is True
    assert signals.budgets.requests is not None
    assert signals.budgets.requests.per_minute == 600


def test_an_answer_without_limit_headers_changes_nothing(clock: FakeClock) -> None:
    signals = _signals(clock)
    assert signals.on_answer([("content-type", "application/json"), ("x-request-id", "1")]) is False
    assert signals.on_answer([]) is False
    assert signals.budgets.requests is None


def test_mixed_case_limit_headers_are_read(clock: FakeClock) -> None:
    signals = _signals(clock)
    assert signals.on_answer([("X-RateLimit-Limit-Requests", "60")]) is True


def test_a_429_with_an_exhausted_limit_reports_it(clock: FakeClock) -> None:
    report, changed = _signals(clock).on_rate_limited(EXHAUSTED)
    assert changed
    assert report.requests is not None
    assert report.requests.exhausted


def test_retry_after_headers_come_first(clock: FakeClock) -> None:
    signals = _signals(clock)
    assert signals.retry_hint([("retry-after", "2"), *EXHAUSTED], message="try again in 5s", hint=3.0) == 2.0


def test_a_hint_read_by_the_provider_layer_comes_next(clock: FakeClock) -> None:
    assert _signals(clock).retry_hint(EXHAUSTED, message="try again in 5s", hint=3.0) == 3.0


def test_words_in_the_message_come_next(clock: FakeClock) -> None:
    assert _signals(clock).retry_hint(EXHAUSTED, message="Please try again in 1.898s.") == pytest.approx(1.898)


def test_an_exhausted_limit_gives_the_time_until_one_request_fits(clock: FakeClock) -> None:
    assert _signals(clock).retry_hint(EXHAUSTED) == pytest.approx(0.1)


def test_no_hint_anywhere_is_none(clock: FakeClock) -> None:
    assert _signals(clock).retry_hint([], message="Rate limit reached.") is None


def test_hints_are_clamped_to_max_retry_after(clock: FakeClock) -> None:
    assert _signals(clock, max_retry_after=5.0).retry_hint([("retry-after", "600")]) == 5.0


def test_remembered_figures_start_the_budgets(clock: FakeClock, tmp_path: Path) -> None:
    _memory(tmp_path).save(Learned(capacity=64, rpm=600.0))
    signals = _signals(clock, _memory(tmp_path))
    assert signals.budgets.requests is not None
    assert signals.budgets.requests.per_minute == 600
    assert signals.remembered is not None
    assert signals.remembered.capacity == 64


def test_what_is_learned_is_written_to_memory(clock: FakeClock, tmp_path: Path) -> None:
    signals = _signals(clock, _memory(tmp_path))
    signals.on_answer(OPENAI_HEADERS)
    signals.remember(64)
    signals.flush()
    learned = _memory(tmp_path).load()
    assert learned is not None
    assert (learned.capacity, learned.rpm) == (64, 600.0)


def test_memory_is_written_at_most_once_per_interval(clock: FakeClock, tmp_path: Path) -> None:
    memory = _memory(tmp_path)
    signals = _signals(clock, memory)
    signals.remember(64)
    signals.remember(63)
    loaded = _memory(tmp_path).load()
    assert loaded is not None
    assert loaded.capacity == 64
    clock.advance(MEMORY_INTERVAL_S)
    signals.remember(62)
    loaded = _memory(tmp_path).load()
    assert loaded is not None
    assert loaded.capacity == 62


def test_what_a_provider_that_never_refused_took_at_once_is_remembered(clock: FakeClock, tmp_path: Path) -> None:
    signals = _signals(clock, _memory(tmp_path))
    signals.note_accepted(700)
    signals.note_accepted(300)  # a smaller run later does not lower it
    signals.flush()
    learned = _memory(tmp_path).load()
    assert learned is not None
    assert (learned.accepted, learned.capacity) == (700, None)


def test_once_a_capacity_is_estimated_what_was_taken_before_is_not_remembered(clock: FakeClock,
                                                                             tmp_path: Path) -> None:
    signals = _signals(clock, _memory(tmp_path))
    signals.note_accepted(700)
    signals.remember(64)
    signals.flush()
    learned = _memory(tmp_path).load()
    assert learned is not None
    assert (learned.accepted, learned.capacity) == (None, 64)
