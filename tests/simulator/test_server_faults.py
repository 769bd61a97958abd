"""Injected faults seen from both sides: 5xx, connection resets, hangs, latency; and shutdown with hangs."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from _http_servers import wait_until
from sharedlm.simulator import Simulator, SimulatorSettings

from ._helpers import chat_body


async def _status(http: aiohttp.ClientSession, url: str, content: str = "hello") -> int:
    async with http.post(url, json=chat_body(content)) as response:
        await response.read()
        return response.status


async def test_error_rate_one_answers_500_or_503_with_an_openai_body(http: aiohttp.ClientSession) -> None:
    async with Simulator(SimulatorSettings(error_rate=1.0, seed=1)) as sim:
        statuses = set()
        for i in range(20):
            async with http.post(f"{sim.base_url}/chat/completions", json=chat_body(str(i))) as response:
                statuses.add(response.status)
                body = await response.json()
                assert body["error"]["type"] == "server_error"
                assert body["error"]["message"]
        assert statuses == {500, 503}
        faults = sim.stats().faults
        assert faults["error_500"] + faults["error_503"] == 20
        assert sim.stats().responses_by_status == {500: faults["error_500"], 503: faults["error_503"]}


async def test_faults_follow_the_seed(http: aiohttp.ClientSession) -> None:
    runs = []
    for _ in range(2):
        async with Simulator(SimulatorSettings(error_rate=0.5, seed=11)) as sim:
            runs.append([await _status(http, f"{sim.base_url}/chat/completions", str(i)) for i in range(30)])
    assert runs[0] == runs[1]
    assert len(set(runs[0])) > 1


async def test_reset_rate_one_drops_the_connection_without_an_answer(http: aiohttp.ClientSession) -> None:
    async with Simulator(SimulatorSettings(reset_rate=1.0)) as sim:
        with pytest.raises(aiohttp.ClientConnectionError):
            await _status(http, f"{sim.base_url}/chat/completions")
        stats = sim.stats()
        assert stats.faults["reset"] == 1
        assert stats.responses_by_status == {}
        assert stats.in_flight == 0


async def test_a_hang_lasts_until_the_client_gives_up(http: aiohttp.ClientSession) -> None:
    async with Simulator(SimulatorSettings(hang_rate=1.0)) as sim:
        with pytest.raises(asyncio.TimeoutError):
            async with http.post(f"{sim.base_url}/chat/completions", json=chat_body(),
                                 timeout=aiohttp.ClientTimeout(total=0.3)) as response:
                await response.read()
        assert sim.stats().faults["hang"] == 1
        await wait_until(lambda: sim.stats().in_flight == 0, within=5.0)
        stats = sim.stats()
        assert stats.in_flight == 0
        assert stats.abandoned == 1
        assert stats.responses_by_status == {}


async def test_stopping_does_not_wait_for_hanging_requests(http: aiohttp.ClientSession) -> None:
    sim = await Simulator(SimulatorSettings(hang_rate=1.0)).start()
    pending = asyncio.create_task(_status(http, f"{sim.base_url}/chat/completions"))
    await wait_until(lambda: sim.stats().in_flight == 1, within=5.0)
    await asyncio.wait_for(sim.stop(), 2)
    with pytest.raises(aiohttp.ClientConnectionError):
        await asyncio.wait_for(pending, 2)


async def test_latency_delays_the_answer_and_counts_in_flight(http: aiohttp.ClientSession) -> None:
    async with Simulator(SimulatorSettings(latency=0.2)) as sim:
        url = f"{sim.base_url}/chat/completions"
        started = time.monotonic()
        statuses = await asyncio.gather(*[_status(http, url, str(i)) for i in range(5)])
        assert time.monotonic() - started >= 0.2
        assert statuses == [200] * 5
        assert sim.stats().peak_in_flight == 5


async def test_a_client_that_leaves_early_is_counted_as_abandoned(http: aiohttp.ClientSession) -> None:
    async with Simulator(SimulatorSettings(latency=5.0)) as sim:
        with pytest.raises(asyncio.TimeoutError):
            async with http.post(f"{sim.base_url}/chat/completions", json=chat_body(),
                                 timeout=aiohttp.ClientTimeout(total=0.2)) as response:
                await response.read()
        await wait_until(lambda: sim.stats().in_flight == 0, within=5.0)
        assert sim.stats().abandoned == 1
        assert sim.stats().in_flight == 0
