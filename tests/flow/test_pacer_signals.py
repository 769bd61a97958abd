"""What the pacer does with what answers say: budgets from headers, rate events apart, pauses only on escalation."""

from __future__ import annotations

import pytest

from sharedlm._errors import RateLimitedError
from sharedlm._pacing import Pacer
from sharedlm._settings import FlowSettings

from .conftest import FakeClock

LIMITS = [("x-ratelimit-limit-requests", "600"), ("x-ratelimit-remaining-requests", "599"),
          ("x-ratelimit-reset-requests", "100ms")]
EXHAUSTED = [("x-ratelimit-limit-requests", "600"), ("x-ratelimit-remaining-requests", "0"),
             ("x-ratelimit-reset-requests", "1m0s")]


def _pacer(clock: FakeClock, **flow: object) -> Pacer:
    flow.setdefault("initial_concurrency", 8)
    return Pacer(FlowSettings(**flow), cap=8, clock=clock, cpu_clock=lambda: 0.0)  # type: ignore[arg-type]


async def _answer(pacer: Pacer, headers: list[tuple[str, str]]) -> None:
    async with pacer.attempt() as slot:
        slot.record.status = 200
        slot.record.headers = headers


async def _refused_attempt(pacer: Pacer, headers: list[tuple[str, str]]) -> None:
    async with pacer.attempt() as slot:
        slot.record.status = 429
        slot.record.headers = headers
        raise RateLimitedError("429")


async def _refuse(pacer: Pacer, headers: list[tuple[str, str]]) -> None:
    with pytest.raises(RateLimitedError):
        await _refused_attempt(pacer, headers)


async def test_an_answer_reporting_a_limit_gives_the_pacer_a_budget(clock: FakeClock) -> None:
    pacer = _pacer(clock)
    await _answer(pacer, LIMITS)
    assert pacer.requests is not None
    assert pacer.requests.per_minute == 600
    assert pacer.counts_tokens is False


async def test_a_429_with_an_exhausted_limit_leaves_the_in_flight_limit_alone(clock: FakeClock) -> None:
    pacer = _pacer(clock)
    await _refuse(pacer, EXHAUSTED)
    assert pacer.gate.limit == 8
    assert pacer.requests is not None
    assert pacer.requests.per_minute == 600


async def test_a_429_without_that_evidence_lowers_the_limit(clock: FakeClock) -> None:
    pacer = _pacer(clock)
    await _refuse(pacer, [])
    assert pacer.gate.limit == 4


async def test_a_retry_hint_delays_only_its_request(clock: FakeClock) -> None:
    pacer = _pacer(clock)
    await _refuse(pacer, [("retry-after", "2")])
    delay, told = pacer.retry_delay(1, [("retry-after", "2")], None)
    assert (delay, told) == (2.0, True)
    assert pacer.pause.pauses == 0


async def test_429s_that_keep_coming_after_the_decrease_pause_the_provider(clock: FakeClock) -> None:
    pacer = _pacer(clock)
    await _refuse(pacer, [])
    pacer.retry_delay(1, [], 1.0)
    clock.advance(1)
    await _refuse(pacer, [])  # sent after the decrease, before any growth: the decrease did not help
    pacer.retry_delay(1, [], 1.0)
    assert pacer.pause.pauses == 1


async def test_a_hint_in_the_message_is_read(clock: FakeClock) -> None:
    pacer = _pacer(clock)
    delay, told = pacer.retry_delay(1, [], None, message="Rate limit reached. Please try again in 1.898s.")
    assert told
    assert delay == pytest.approx(1.898)


async def test_without_adaptive_a_hint_pauses_every_send_as_before(clock: FakeClock) -> None:
    pacer = _pacer(clock, adaptive=False)
    pacer.retry_delay(1, [("retry-after", "2")], None)
    assert pacer.pause.pauses == 1
