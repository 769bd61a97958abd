"""Simulator personalities: each provider's limiting style, rate-limit headers, 429 bodies and retry habits."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
from typing import Any

import aiohttp
import pytest

from sharedlm._errors import ConfigurationError
from sharedlm._flow import parse_body_retry_hint, parse_limit_headers, parse_retry_after
from sharedlm.simulator import Simulator, SimulatorSettings
from sharedlm.simulator._command import register, settings_from_args
from sharedlm.simulator._limits import FixedWindowBudget, Limits, SlotSchedule, TokenBucketBudget
from sharedlm.simulator._personality import PERSONALITIES, go_duration, personality_named, rfc3339

from ._helpers import chat_body


async def _post(http: aiohttp.ClientSession, url: str, body: Any) -> tuple[int, dict[str, str], Any]:
    async with http.post(url, json=body) as response:
        headers = {name.lower(): value for name, value in response.headers.items()}
        return response.status, headers, await response.json(content_type=None)


@pytest.mark.parametrize(("seconds", "text"), [(0.0199, "20ms"), (1.898, "1.898s"), (63.5, "1m3.5s"), (360, "6m0s"),
                                              (2.0, "2s")])
def test_durations_are_written_as_go_writes_them(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


def test_rfc3339_times_are_rounded_up_to_whole_seconds() -> None:
    assert rfc3339(1_800_000_000.2) == "2027-01-15T08:00:01Z"


def test_an_unknown_personality_is_refused_by_name() -> None:
    with pytest.raises(ConfigurationError, match="personality"):
        SimulatorSettings(personality="bedrock")
    with pytest.raises(ValueError, match="bedrock"):
        personality_named("bedrock")


def test_vllm_refuses_rate_limits() -> None:
    with pytest.raises(ConfigurationError, match="vllm"):
        SimulatorSettings(personality="vllm", rpm=60)


def test_the_personality_round_trips_through_the_command_line() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    settings = SimulatorSettings(personality="gemini", rpm=60)
    args = parser.parse_args(["simulate", *settings.command_args()])
    assert settings_from_args(args) == settings


def test_the_default_personality_adds_no_option() -> None:
    assert "--personality" not in SimulatorSettings().command_args()


def test_a_token_bucket_holds_a_second_of_requests_and_refills_continuously() -> None:
    bucket = TokenBucketBudget(600)  # 10 per second
    for _ in range(10):
        assert bucket.wait(1, 0.0) == 0.0
        bucket.spend(1, 0.0)
    assert bucket.wait(1, 0.0) == pytest.approx(0.1)
    assert bucket.wait(1, 0.1) == pytest.approx(0.0, abs=1e-9)


def test_a_token_bucket_reports_in_per_minute_units() -> None:
    bucket = TokenBucketBudget(600)
    assert (bucket.remaining(0.0), bucket.reset_s(0.0)) == (600, 0.0)
    for _ in range(5):
        bucket.spend(1, 0.0)
    assert bucket.remaining(0.0) == 300
    assert bucket.reset_s(0.0) == pytest.approx(30.0)


def test_a_fixed_window_resets_at_its_boundary() -> None:
    window = FixedWindowBudget(2, window=60.0)
    window.spend(1, 61.0)
    window.spend(1, 62.0)
    assert window.wait(1, 70.0) == pytest.approx(50.0)
    assert window.wait(1, 120.0) == 0.0


def test_a_slot_schedule_queues_what_is_above_its_slots() -> None:
    schedule = SlotSchedule(2)
    assert [schedule.book(0.0, 1.0) for _ in range(5)] == [1.0, 1.0, 2.0, 2.0, 3.0]


def test_a_queueing_limit_refuses_nothing() -> None:
    limits = Limits(max_concurrency=1, rpm=None, tpm=None, queue=True)
    limits.admit(10, 0.0, 1.0)
    assert limits.check(10, 0.0) is None


async def test_openai_answers_carry_its_headers_which_the_engine_reads(http: aiohttp.ClientSession) -> None:
    async with Simulator(SimulatorSettings(personality="openai", rpm=600, tpm=100000)) as sim:
        status, headers, _ = await _post(http, f"{sim.base_url}/chat/completions", chat_body())
    assert status == 200
    report = parse_limit_headers(headers, now_epoch=0.0)
    assert report.requests is not None
    assert report.requests.limit == 600
    assert report.requests.remaining == 540
    assert report.tokens is not None
    assert report.tokens.limit == 100000


async def test_an_openai_429_has_no_retry_after_but_says_when_in_words(http: aiohttp.ClientSession) -> None:
    async with Simulator(SimulatorSettings(personality="openai", rpm=60)) as sim:
        url = f"{sim.base_url}/chat/completions"
        assert (await _post(http, url, chat_body("1")))[0] == 200
        status, headers, body = await _post(http, url, chat_body("2"))
    assert status == 429
    assert parse_retry_after(headers, now_epoch=0.0, max_delay=60) is None
    assert parse_body_retry_hint(body["error"]["message"], max_delay=60) == pytest.approx(1.0, abs=0.01)
    report = parse_limit_headers(headers, now_epoch=0.0)
    assert report.requests is not None
    assert report.requests.exhausted


async def test_anthropic_answers_carry_its_headers_with_rfc3339_resets(http: aiohttp.ClientSession) -> None:
    async with Simulator(SimulatorSettings(personality="anthropic", rpm=600, tpm=100000)) as sim:
        status, headers, _ = await _post(http, f"{sim.root_url}/v1/messages",
                                         {"model": "claude", "max_tokens": 16,
                                          "messages": [{"role": "user", "content": "hi"}]})
    assert status == 200
    report = parse_limit_headers(headers, now_epoch=time.time())
    assert report.requests is not None
    assert report.requests.limit == 600
    assert report.requests.reset_s is not None
    assert report.requests.reset_s <= 61
    assert report.input_tokens is not None
    assert report.tokens is not None


async def test_an_anthropic_429_says_retry_after_in_whole_seconds(http: aiohttp.ClientSession) -> None:
    async with Simulator(SimulatorSettings(personality="anthropic", latency=0.2, max_concurrency=1)) as sim:
        url = f"{sim.base_url}/chat/completions"
        results = await asyncio.gather(_post(http, url, chat_body("1")), _post(http, url, chat_body("2")))
    refused = [headers for status, headers, _ in results if status == 429]
    assert len(refused) == 1
    assert refused[0]["retry-after"] == "1"
    assert "retry-after-ms" not in refused[0]


async def test_a_gemini_429_carries_retry_info_and_no_headers(http: aiohttp.ClientSession) -> None:
    async with Simulator(SimulatorSettings(personality="gemini", rpm=1)) as sim:
        url = f"{sim.gemini_base_url}/models/gemini-2.5-flash:generateContent"
        body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
        assert (await _post(http, url, body))[0] == 200
        status, headers, error = await _post(http, url, body)
    assert status == 429
    assert error["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert parse_retry_after(headers, now_epoch=0.0, max_delay=120) is None
    hint = parse_body_retry_hint(json.dumps(error), max_delay=120)
    assert hint is not None
    assert 0 < hint <= 60
    assert hint == math.ceil(hint)
    assert parse_body_retry_hint(error["error"]["message"], max_delay=120) is not None


async def test_vllm_queues_above_its_batch_instead_of_refusing(http: aiohttp.ClientSession) -> None:
    async with Simulator(SimulatorSettings(personality="vllm", latency=0.05, max_concurrency=2)) as sim:
        url = f"{sim.base_url}/chat/completions"
        results = await asyncio.gather(*(_post(http, url, chat_body(str(i))) for i in range(6)))
        stats = sim.stats()
    assert [status for status, _, _ in results] == [200] * 6
    assert stats.rate_limited == 0


@pytest.mark.parametrize("name", PERSONALITIES)
async def test_every_personality_answers_a_plain_request(http: aiohttp.ClientSession, name: str) -> None:
    async with Simulator(SimulatorSettings(personality=name)) as sim:
        status, _, body = await _post(http, f"{sim.base_url}/chat/completions", chat_body())
    assert status == 200
    assert body["choices"]
