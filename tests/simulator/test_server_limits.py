"""Provider limits seen from both sides: the client gets 429 with an honest Retry-After; /sim/stats counts them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from _http_servers import wait_until
from sharedlm.simulator import Simulator, SimulatorSettings

from ._helpers import chat_body


async def _post(http: aiohttp.ClientSession, url: str, body: Any) -> tuple[int, dict[str, str], Any]:
    async with http.post(url, json=body) as response:
        return response.status, dict(response.headers), await response.json(content_type=None)


async def test_over_the_concurrency_cap_is_429_with_the_time_until_a_slot_frees(http: aiohttp.ClientSession) -> None:
    async with Simulator(SimulatorSettings(latency=0.3, max_concurrency=2)) as sim:
        url = f"{sim.base_url}/chat/completions"
        running = [asyncio.create_task(_post(http, url, chat_body(str(i)))) for i in range(2)]
        await wait_until(lambda: sim.stats().in_flight == 2, within=5.0)
        status, headers, body = await _post(http, url, chat_body("third"))
        assert status == 429
        assert body["error"]["code"] == "rate_limit_exceeded"
        assert body["error"]["type"] == "requests"
        assert headers["Retry-After"] == "1"
        assert 0 < int(headers["retry-after-ms"]) <= 300  # the earliest running request is due within 0.3 s
        assert [s for s, _, _ in await asyncio.gather(*running)] == [200, 200]
        stats = sim.stats()
        assert stats.rate_limited == 1
        assert stats.rate_limited_by["concurrency"] == 1
        assert stats.responses_by_status == {200: 2, 429: 1}
        assert stats.peak_in_flight == 2


async def test_retrying_once_the_busy_slot_has_freed_succeeds(http: aiohttp.ClientSession) -> None:
    async with Simulator(SimulatorSettings(latency=0.2, max_concurrency=1)) as sim:
        url = f"{sim.base_url}/chat/completions"
        first = asyncio.create_task(_post(http, url, chat_body("first")))
        await wait_until(lambda: sim.stats().in_flight == 1, within=5.0)
        status, _, _ = await _post(http, url, chat_body("second"))
        assert status == 429
        # Waiting on the answer that holds the slot, not on the clock, keeps this exact on a loaded machine.
        assert (await first)[0] == 200
        status, _, _ = await _post(http, url, chat_body("second"))
        assert status == 200


async def test_over_the_request_budget_is_429_until_the_window_has_room(http: aiohttp.ClientSession) -> None:
    async with Simulator(SimulatorSettings(rpm=3)) as sim:
        url = f"{sim.base_url}/chat/completions"
        assert [(await _post(http, url, chat_body()))[0] for _ in range(3)] == [200, 200, 200]
        status, headers, body = await _post(http, url, chat_body())
        assert status == 429
        assert body["error"]["code"] == "rate_limit_exceeded"
        assert 59_000 < int(headers["retry-after-ms"]) <= 60_000
        assert headers["Retry-After"] == "60"
        assert sim.stats().rate_limited_by == {"concurrency": 0, "rpm": 1, "tpm": 0}


async def test_over_the_token_budget_is_429_of_type_tokens(http: aiohttp.ClientSession) -> None:
    async with Simulator(SimulatorSettings(tpm=60)) as sim:
        url = f"{sim.base_url}/chat/completions"
        status, _, data = await _post(http, url, chat_body("x" * 80))
        assert status == 200
        spent = data["usage"]["total_tokens"]
        assert spent > 30  # so that a second one cannot fit in 60
        status, headers, body = await _post(http, url, chat_body("x" * 80))
        assert status == 429
        assert body["error"]["type"] == "tokens"
        assert int(headers["retry-after-ms"]) > 59_000
        stats = sim.stats()
        assert stats.rate_limited_by["tpm"] == 1
        assert stats.prompt_tokens + stats.completion_tokens == spent


async def test_a_request_larger_than_the_whole_token_budget_is_400(http: aiohttp.ClientSession) -> None:
    async with Simulator(SimulatorSettings(tpm=10)) as sim:
        status, _, body = await _post(http, f"{sim.base_url}/chat/completions", chat_body("x" * 400))
        assert status == 400
        assert body["error"]["code"] == "request_too_large"
        assert "--tpm" in body["error"]["message"]


async def test_rejected_requests_do_not_spend_the_budget(http: aiohttp.ClientSession) -> None:
    async with Simulator(SimulatorSettings(rpm=1, max_concurrency=1, latency=0.2)) as sim:
        url = f"{sim.base_url}/chat/completions"
        first = asyncio.create_task(_post(http, url, chat_body()))
        await wait_until(lambda: sim.stats().in_flight == 1, within=5.0)
        status, _, _ = await _post(http, url, chat_body())
        assert status == 429
        await first
        assert sim.stats().rate_limited_by == {"concurrency": 1, "rpm": 0, "tpm": 0}


async def test_gemini_429_has_the_gemini_error_shape_and_retry_headers(http: aiohttp.ClientSession) -> None:
    async with Simulator(SimulatorSettings(rpm=1)) as sim:
        url = f"{sim.gemini_base_url}/models/gemini-2.5-flash:generateContent"
        body = {"contents": [{"parts": [{"text": "hi"}]}]}
        assert (await _post(http, url, body))[0] == 200
        status, headers, data = await _post(http, url, body)
        assert status == 429
        assert data["error"]["status"] == "RESOURCE_EXHAUSTED"
        assert "retry-after-ms" in headers
        assert json.dumps(data)
