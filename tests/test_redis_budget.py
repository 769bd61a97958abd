"""The in-flight budget shared through a real Redis server (started here on 127.0.0.1, in a temporary directory).

Skipped, with the reason, when ``redis-server`` or the ``redis`` client is absent; CI installs both.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import dspy
import pytest

import sharedlm
from _redis_server import free_port, start_redis
from sharedlm._redis_budget import RedisBudgetSource, redis_owner
from sharedlm.simulator import SimulatorProcess, SimulatorSettings

pytestmark = pytest.mark.timeout(120)

CHILD = str(Path(__file__).parent / "_redis_budget_child.py")
LEASE_S = 10.0


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    with start_redis(tmp_path) as url:
        yield url


def test_leases_never_add_up_to_more_than_the_budget(redis_url: str) -> None:
    clock = FakeClock(1000.0)
    first = RedisBudgetSource(redis_url, total=64, lease_s=LEASE_S, clock=clock)
    second = RedisBudgetSource(redis_url, total=64, lease_s=LEASE_S, clock=clock)

    assert (first.grant_now("a", 40), second.grant_now("b", 40), second.grant_now("c", 1)) == (40, 24, 0)
    assert first.holdings() == {"a": 40, "b": 24}


def test_slots_given_back_through_redis_serve_another_process(redis_url: str) -> None:
    clock = FakeClock(1000.0)
    source = RedisBudgetSource(redis_url, total=64, lease_s=LEASE_S, clock=clock)
    source.grant_now("a", 64)

    source.give_back_now("a", 60)

    assert source.grant_now("b", 64) == 60
    assert source.holdings() == {"a": 4, "b": 60}


def test_a_renewed_lease_outlives_the_lease_time(redis_url: str) -> None:
    clock = FakeClock(1000.0)
    source = RedisBudgetSource(redis_url, total=64, lease_s=LEASE_S, clock=clock)
    source.grant_now("a", 64)

    for _ in range(3):
        clock.now += LEASE_S * 0.9
        assert source.renew_now("a") == 64

    assert source.grant_now("b", 1) == 0


def test_a_process_killed_holding_leases_frees_them_within_the_lease_time(redis_url: str) -> None:
    child = subprocess.Popen([sys.executable, CHILD, "hold", redis_url, "64"], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "holding"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    killed_at = time.time()
    before = RedisBudgetSource(redis_url, total=64, lease_s=LEASE_S, clock=FakeClock(killed_at))
    after = RedisBudgetSource(redis_url, total=64, lease_s=LEASE_S, clock=FakeClock(killed_at + LEASE_S + 0.001))

    assert before.grant_now("survivor", 64) == 0  # still leased to the dead process
    assert after.grant_now("survivor", 64) == 64  # one lease time later, all of it is back


def test_a_process_that_exits_cleanly_gives_its_lease_back_at_once(redis_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen([sys.executable, CHILD, "hold-then-exit", redis_url, "64"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "holding"
    held = RedisBudgetSource(redis_url, total=64).holdings()

    child.communicate("exit\n", timeout=60)  # returns once the child has exited

    assert held == {"child": 64}
    assert RedisBudgetSource(redis_url, total=64).holdings() == {}


async def test_reset_shared_lm_gives_the_processes_lease_back_at_once(redis_url: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHAREDLM_BUDGET_URL", redis_url)
    with SimulatorProcess(SimulatorSettings(latency=0.0)) as sim:
        sharedlm.configure(model="openai/sim-model", api_key="sim-key", api_base=sim.base_url, cache=False,
                           max_parallel_requests=32)
        predict = dspy.Predict("text -> sentiment")
        predict.set_lm(sharedlm.get_shared_lm())
        await predict.acall(text="fine")
        books = RedisBudgetSource(redis_url, total=32)
        held = sum(books.holdings().values())

        sharedlm.reset_shared_lm()

    assert held >= 1
    assert books.holdings() == {}


def test_two_processes_sharing_a_budget_never_exceed_it_together_and_lose_no_call(redis_url: str) -> None:
    with SimulatorProcess(SimulatorSettings(latency=0.2, max_concurrency=64)) as sim:
        env = {**os.environ, "SHAREDLM_BUDGET_URL": redis_url, "PYTHONPATH": os.pathsep.join(sys.path)}
        children = [subprocess.Popen([sys.executable, CHILD, "calls", sim.base_url, "150"], stdout=subprocess.PIPE,
                                     text=True, env=env) for _ in range(2)]
        outputs = [child.communicate(timeout=90)[0].strip() for child in children]
        served = sim.stats()

    assert outputs == ["150", "150"]
    assert served.peak_in_flight <= 64
    assert served.rate_limited == 0


def test_the_budget_owner_never_shows_the_password() -> None:
    owner = redis_owner("redis://user:s3cret@cache.internal:6380/2", "sharedlm:budget")

    assert owner == "redis redis://cache.internal:6380/2 key sharedlm:budget"
    assert "s3cret" not in owner


async def test_stats_show_the_lease_held_and_the_redis_budget_that_owns_it(
        redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHAREDLM_BUDGET_URL", redis_url)
    with SimulatorProcess(SimulatorSettings(latency=0.0)) as sim:
        sharedlm.configure(model="openai/sim-model", api_key="sim-key", api_base=sim.base_url, cache=False,
                           max_parallel_requests=32)
        predict = dspy.Predict("text -> sentiment")
        predict.set_lm(sharedlm.get_shared_lm())
        await predict.acall(text="fine")
        stats = sharedlm.stats()

    assert stats.budget_owner == f"redis redis://127.0.0.1:{redis_url.split(':')[2]} key sharedlm:budget:in-flight"
    assert 1 <= stats.lease_held <= 32


def test_without_a_budget_url_stats_show_the_process_owns_its_budget() -> None:
    sharedlm.configure(model="openai/sim-model", api_key="sim-key", api_base="http://127.0.0.1:9/v1")

    stats = sharedlm.stats()

    assert (stats.budget_owner, stats.lease_held) == ("this process", 0)


async def _ask_concurrently(port: int, run: str, requests: int) -> list[int]:
    """POST ``requests`` distinct questions to the service at once; the HTTP statuses, in order."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as client:

        async def ask(n: int) -> int:
            async with client.post(f"http://127.0.0.1:{port}/ask",
                                   json={"id": str(n), "question": f"q{n} {run}"}) as response:
                await response.read()
                return int(response.status)

        return await asyncio.gather(*(ask(n) for n in range(requests)))


@pytest.mark.slow
def test_an_eight_worker_uvicorn_service_shares_one_budget_and_loses_no_request(redis_url: str) -> None:
    # A synchronous test: it drives processes (uvicorn, the simulator, Redis) and runs only the client burst
    # on an event loop, so that no blocking process call sits inside a coroutine.
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    examples = Path(__file__).parent.parent / "examples"
    port = free_port()
    run = uuid.uuid4().hex  # questions never asked before: the example keeps DSPy's answer cache on
    with SimulatorProcess(SimulatorSettings(latency=0.3, max_concurrency=64)) as sim:
        env = {**os.environ, "SHAREDLM_BUDGET_URL": redis_url, "SHAREDLM_MODEL": "openai/sim-model",
               "SHAREDLM_API_BASE": sim.base_url, "OPENAI_API_KEY": "sim-key", "SHAREDLM_MAX_PARALLEL_REQUESTS": "64"}
        service = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "fastapi_service:app", "--app-dir", str(examples), "--host",
             "127.0.0.1", "--port", str(port), "--workers", "8"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            assert service.stderr is not None
            started = 0
            for line in service.stderr:  # uvicorn's log: each worker says when its app is up
                started += "Application startup complete" in line
                if started == 8:
                    break
            assert started == 8, f"uvicorn exited with {service.poll()}"
            statuses = asyncio.run(_ask_concurrently(port, run, 400))
            served = sim.stats()
            holdings = RedisBudgetSource(redis_url, total=64).holdings()  # each worker that served keeps a block
        finally:
            service.terminate()
            service.wait(timeout=60)

    assert statuses == [200] * 400
    assert served.peak_in_flight <= 64
    assert served.rate_limited == 0
    assert holdings
    assert sum(holdings.values()) <= 64
