"""The simulator's Gemini batch jobs (inline requests), over raw HTTP in the REST API's shapes."""

from __future__ import annotations

from typing import Any

import aiohttp

from sharedlm.simulator import Simulator, SimulatorSettings
from sharedlm.simulator._batch_store import BatchSettings


def _batch(*keys: str) -> dict[str, Any]:
    requests = [{"request": {"contents": [{"role": "user", "parts": [{"text": f"Question {k}"}]}]},
                 "metadata": {"key": k}} for k in keys]
    return {"batch": {"displayName": "test", "inputConfig": {"requests": {"requests": requests}}}}


class Clock:
    """A hand-driven monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _create(http: aiohttp.ClientSession, sim: Simulator, body: dict[str, Any]) -> dict[str, Any]:
    async with http.post(f"{sim.gemini_base_url}/models/gemini-2.5-flash:batchGenerateContent", json=body) as r:
        assert r.status == 200, await r.text()
        created: dict[str, Any] = await r.json()
        return created


async def _get(http: aiohttp.ClientSession, sim: Simulator, name: str) -> dict[str, Any]:
    async with http.get(f"{sim.gemini_base_url}/{name}") as r:
        assert r.status == 200, await r.text()
        operation: dict[str, Any] = await r.json()
        return operation


async def test_succeeded_job_inlines_one_response_per_key(http: aiohttp.ClientSession) -> None:
    async with Simulator() as sim:
        created = await _create(http, sim, _batch("a", "b"))
        operation = await _get(http, sim, created["name"])
    assert created["name"].startswith("batches/")
    assert operation["done"] is True
    assert operation["metadata"]["state"] == "BATCH_STATE_SUCCEEDED"
    inlined = operation["response"]["inlinedResponses"]["inlinedResponses"]
    assert [i["metadata"]["key"] for i in inlined] == ["a", "b"]
    assert inlined[0]["response"]["candidates"][0]["content"]["parts"][0]["text"]


async def test_job_is_running_until_its_turnaround_passes(http: aiohttp.ClientSession) -> None:
    clock = Clock()
    async with Simulator(SimulatorSettings(batch=BatchSettings(turnaround=10)), clock=clock) as sim:
        created = await _create(http, sim, _batch("a"))
        assert created["done"] is False
        assert created["metadata"]["state"] == "BATCH_STATE_RUNNING"
        clock.now += 10
        assert (await _get(http, sim, created["name"]))["done"] is True


async def test_failed_lines_carry_a_status_error(http: aiohttp.ClientSession) -> None:
    async with Simulator(SimulatorSettings(batch=BatchSettings(line_failure_rate=1.0))) as sim:
        operation = await _get(http, sim, (await _create(http, sim, _batch("a")))["name"])
    item = operation["response"]["inlinedResponses"]["inlinedResponses"][0]
    assert item["error"]["code"] == 500
    assert item["error"]["status"] == "INTERNAL"


async def test_a_job_with_an_expired_line_expires_whole_without_results(http: aiohttp.ClientSession) -> None:
    async with Simulator(SimulatorSettings(batch=BatchSettings(line_expiry_rate=1.0))) as sim:
        operation = await _get(http, sim, (await _create(http, sim, _batch("a")))["name"])
    assert operation["metadata"]["state"] == "BATCH_STATE_EXPIRED"
    assert "response" not in operation


async def test_a_whole_job_failure_is_a_done_operation_with_an_error(http: aiohttp.ClientSession) -> None:
    async with Simulator(SimulatorSettings(batch=BatchSettings(fail_first_batches=1))) as sim:
        operation = await _get(http, sim, (await _create(http, sim, _batch("a")))["name"])
    assert operation["metadata"]["state"] == "BATCH_STATE_FAILED"
    assert operation["error"]["code"] == 13


async def test_file_input_is_refused_with_a_clear_message(http: aiohttp.ClientSession) -> None:
    body = {"batch": {"displayName": "f", "inputConfig": {"fileName": "files/abc"}}}
    async with Simulator() as sim, \
            http.post(f"{sim.gemini_base_url}/models/m:batchGenerateContent", json=body) as response:
        assert response.status == 400
        assert "inline requests only" in (await response.json())["error"]["message"]


async def test_the_batch_list_shows_operations_newest_first(http: aiohttp.ClientSession) -> None:
    async with Simulator() as sim:
        for name in ("one", "two"):
            body = _batch("a")
            body["batch"]["displayName"] = name
            await _create(http, sim, body)
        listing = await _get(http, sim, "batches?pageSize=5")
    assert [o["metadata"]["displayName"] for o in listing["operations"]] == ["two", "one"]
