"""The official ``openai`` client against the simulator: answers, streams, structured output, errors, retries."""

from __future__ import annotations

import asyncio

import openai
import pydantic
import pytest
from openai.types.chat import ChatCompletionMessageParam

from _http_servers import wait_until
from sharedlm.simulator import Simulator, SimulatorSettings

MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "You are brief."},
    {"role": "user", "content": "Say hello."},
]


def _client(
    sim: Simulator, *, max_retries: int = 2, timeout: float | openai.NotGiven = openai.NOT_GIVEN
) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=sim.base_url, api_key="test-key", max_retries=max_retries, timeout=timeout)


async def test_chat_completion_with_usage(sim: Simulator) -> None:
    async with _client(sim) as client:
        completion = await client.chat.completions.create(model="sim-model", messages=MESSAGES)
    assert completion.choices[0].message.content
    assert completion.usage is not None
    assert completion.usage.total_tokens > 0


async def test_stream_reassembles_with_a_final_usage_chunk(sim: Simulator) -> None:
    async with _client(sim) as client:
        stream = await client.chat.completions.create(model="sim-model", messages=MESSAGES, stream=True,
                                                      stream_options={"include_usage": True})
        chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("Simulated answer")
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0


class Weather(pydantic.BaseModel):
    city: str
    celsius: float
    sunny: bool


async def test_structured_output_parses_into_the_model(sim: Simulator) -> None:
    async with _client(sim) as client:
        completion = await client.chat.completions.parse(model="sim-model", messages=MESSAGES,
                                                         response_format=Weather)
    assert isinstance(completion.choices[0].message.parsed, Weather)


async def test_models_list(sim: Simulator) -> None:
    async with _client(sim) as client:
        models = [m.id async for m in client.models.list()]
    assert "sim-model" in models


async def test_rate_limit_is_a_rate_limit_error_with_the_retry_headers() -> None:
    settings = SimulatorSettings(latency=0.3, max_concurrency=1)
    async with Simulator(settings) as sim, _client(sim, max_retries=0) as client:
        first = asyncio.create_task(client.chat.completions.create(model="m", messages=MESSAGES))
        await wait_until(lambda: sim.stats().in_flight == 1, within=5.0)
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model="m", messages=MESSAGES)
        assert caught.value.code == "rate_limit_exceeded"
        assert 0 < int(caught.value.response.headers["retry-after-ms"]) <= 300
        await first


async def test_client_retries_honour_the_announced_wait_and_succeed() -> None:
    settings = SimulatorSettings(latency=0.2, max_concurrency=2)
    async with Simulator(settings) as sim, _client(sim, max_retries=5) as client:
        results = await asyncio.gather(*[client.chat.completions.create(model="m", messages=MESSAGES)
                                         for _ in range(4)])
        stats = sim.stats()
    assert all(r.choices[0].message.content for r in results)
    assert stats.rate_limited > 0
    assert stats.ok == 4
    assert stats.peak_in_flight <= 2


async def test_server_error_is_an_internal_server_error() -> None:
    async with Simulator(SimulatorSettings(error_rate=1.0)) as sim, _client(sim, max_retries=0) as client:
        with pytest.raises(openai.InternalServerError):
            await client.chat.completions.create(model="m", messages=MESSAGES)


async def test_connection_reset_is_a_connection_error() -> None:
    async with Simulator(SimulatorSettings(reset_rate=1.0)) as sim, _client(sim, max_retries=0) as client:
        with pytest.raises(openai.APIConnectionError):
            await client.chat.completions.create(model="m", messages=MESSAGES)


async def test_hang_is_a_timeout_for_the_client() -> None:
    async with Simulator(SimulatorSettings(hang_rate=1.0)) as sim, _client(sim, max_retries=0, timeout=0.3) as client:
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(model="m", messages=MESSAGES)
