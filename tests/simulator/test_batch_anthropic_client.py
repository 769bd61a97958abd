"""The official ``anthropic`` client's ``messages.batches`` against the simulator's Message Batches API."""

from __future__ import annotations

from typing import Any

import pytest

from sharedlm.simulator import Simulator, SimulatorSettings
from sharedlm.simulator._batch_store import BatchSettings

anthropic = pytest.importorskip("anthropic")


def _request(custom_id: str, text: str = "Say hello.") -> dict[str, Any]:
    return {"custom_id": custom_id, "params": {"model": "claude-sonnet-4-5", "max_tokens": 64,
                                               "messages": [{"role": "user", "content": text}]}}


class Clock:
    """A hand-driven monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _sim(clock: Clock | None = None, seed: int = 0, **batch: Any) -> Simulator:
    return Simulator(SimulatorSettings(batch=BatchSettings(**batch), seed=seed), clock=clock)


def _client(sim: Simulator) -> Any:
    return anthropic.AsyncAnthropic(base_url=sim.root_url, api_key="test-key")


async def test_ended_batch_results_answer_each_custom_id() -> None:
    async with Simulator() as sim, _client(sim) as client:
        created = await client.messages.batches.create(requests=[_request("a"), _request("b")])
        batch = await client.messages.batches.retrieve(created.id)
        results = [r async for r in await client.messages.batches.results(created.id)]
    assert batch.processing_status == "ended"
    assert batch.request_counts.succeeded == 2
    assert sorted(r.custom_id for r in results) == ["a", "b"]
    assert results[0].result.type == "succeeded"
    assert results[0].result.message.content[0].text


async def test_batch_is_in_progress_until_its_turnaround_passes() -> None:
    clock = Clock()
    async with _sim(clock, turnaround=30) as sim, _client(sim) as client:
        created = await client.messages.batches.create(requests=[_request("a")])
        assert created.processing_status == "in_progress"
        assert created.results_url is None
        clock.now += 30
        assert (await client.messages.batches.retrieve(created.id)).processing_status == "ended"


async def test_failed_and_expired_lines_have_their_result_types() -> None:
    async with _sim(seed=3, line_failure_rate=0.5, line_expiry_rate=0.5) as sim, \
            _client(sim) as client:
        created = await client.messages.batches.create(requests=[_request(f"r{i}") for i in range(20)])
        results = [r async for r in await client.messages.batches.results(created.id)]
    kinds = {r.result.type for r in results}
    assert kinds == {"errored", "expired"}
    errored = next(r for r in results if r.result.type == "errored")
    assert errored.result.error.error.type == "api_error"


async def test_a_whole_batch_failure_errors_every_line() -> None:
    async with _sim(fail_first_batches=1) as sim, _client(sim) as client:
        created = await client.messages.batches.create(requests=[_request("a"), _request("b")])
        results = [r async for r in await client.messages.batches.results(created.id)]
    assert [r.result.type for r in results] == ["errored", "errored"]


async def test_cancel_ends_the_batch_with_canceled_lines() -> None:
    clock = Clock()
    async with _sim(clock, turnaround=30) as sim, _client(sim) as client:
        created = await client.messages.batches.create(requests=[_request("a")])
        await client.messages.batches.cancel(created.id)
        results = [r async for r in await client.messages.batches.results(created.id)]
    assert [r.result.type for r in results] == ["canceled"]


async def test_duplicate_custom_ids_are_refused() -> None:
    async with Simulator() as sim, _client(sim) as client:
        with pytest.raises(anthropic.BadRequestError, match="duplicate"):
            await client.messages.batches.create(requests=[_request("a"), _request("a")])


async def test_results_of_a_batch_still_in_progress_are_refused() -> None:
    clock = Clock()
    async with _sim(clock, turnaround=30) as sim, _client(sim) as client:
        created = await client.messages.batches.create(requests=[_request("a")])
        with pytest.raises(anthropic.AnthropicError, match="results_url"):
            await client.messages.batches.results(created.id)


async def test_listing_batches_pages_through_them_newest_first() -> None:
    async with Simulator() as sim, _client(sim) as client:
        created = [(await client.messages.batches.create(requests=[_request(f"r{i}")])).id for i in range(5)]
        first = await client.messages.batches.list(limit=2)
        listed = [batch.id async for batch in await client.messages.batches.list(limit=2)]
    assert [b.id for b in first.data] == created[::-1][:2]
    assert first.has_more
    assert listed == created[::-1]


async def test_a_listing_limit_above_1000_is_refused() -> None:
    async with Simulator() as sim, _client(sim) as client:
        with pytest.raises(anthropic.BadRequestError, match="limit"):
            await client.messages.batches.list(limit=1001)
