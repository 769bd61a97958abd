"""The example FastAPI service under a real uvicorn server on uvloop, calling the simulator through the shared LM."""

from __future__ import annotations

import asyncio
import importlib.util
import socket
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import pytest

import sharedlm
from sharedlm.simulator import BackgroundSimulator, SimulatorSettings

uvicorn = pytest.importorskip("uvicorn")
pytest.importorskip("uvloop")
pytest.importorskip("fastapi")

SERVICE = Path(__file__).parents[2] / "examples" / "fastapi_service.py"
CAP = 16
REQUESTS = 500


def load_service() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fastapi_service_example", SERVICE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class ServedApp:
    """An ASGI app served by a real uvicorn server on uvloop, on a thread, at 127.0.0.1 on an ephemeral port."""

    def __init__(self, app: Any) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        started = self.started = threading.Event()

        class _Server(uvicorn.Server):  # type: ignore[name-defined]
            async def startup(self, sockets: list[socket.socket] | None = None) -> None:
                await super().startup(sockets)
                started.set()

        self.server = _Server(uvicorn.Config(app, loop="uvloop", lifespan="on", log_level="warning"))
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self._socket]},
                                        name="uvicorn", daemon=True)

    def __enter__(self) -> ServedApp:
        self._thread.start()
        assert self.started.wait(30), "uvicorn did not start"
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self._thread.join(30)
        self._socket.close()
        assert not self._thread.is_alive()


async def ask_all(url: str, count: int) -> list[tuple[int, dict[str, Any]]]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as client:

        async def ask(n: int) -> tuple[int, dict[str, Any]]:
            async with client.post(f"{url}/ask", json={"id": str(n), "question": f"What is {n} plus one?"}) as answer:
                return answer.status, await answer.json()

        return await asyncio.gather(*(ask(n) for n in range(count)))


def test_500_concurrent_requests_are_all_answered_under_the_in_flight_cap() -> None:
    with BackgroundSimulator(SimulatorSettings(latency=0.1, max_concurrency=CAP)) as sim:
        sharedlm.configure(model="openai/sim-model", api_key="sim-key", api_base=sim.base_url,
                           max_parallel_requests=CAP, cache=False)
        with ServedApp(load_service().app) as served:
            answers = asyncio.run(ask_all(served.url, REQUESTS))
        server = sim.stats()

    assert [status for status, _ in answers] == [200] * REQUESTS
    assert sorted(int(body["id"]) for _, body in answers) == list(range(REQUESTS))
    assert all(isinstance(body["answer"], str) and body["answer"] for _, body in answers)
    # One provider call per request, never more than the cap at once (the simulator would have answered 429).
    assert server.requests == REQUESTS
    assert server.responses_by_status.get(429, 0) == 0
    assert server.peak_in_flight <= CAP
    engine = sharedlm.stats()
    assert engine.calls_succeeded == REQUESTS
    assert engine.peak_in_flight <= CAP
    assert engine.waits > 0


def test_the_handlers_run_on_uvloop_and_health_shows_the_shared_lm() -> None:
    with BackgroundSimulator() as sim:
        sharedlm.configure(model="openai/sim-model", api_key="sim-key", api_base=sim.base_url, cache=False)
        with ServedApp(load_service().app) as served:

            async def health() -> dict[str, Any]:
                async with aiohttp.ClientSession() as client, client.get(f"{served.url}/health") as answer:
                    return await answer.json()

            body = asyncio.run(health())
    assert body["status"] == "ok"
    assert body["event_loop"].startswith("uvloop")
    assert "in_flight" in body["shared_lm"]


def test_a_call_that_fails_for_good_answers_503_with_the_error_named_and_no_key() -> None:
    with BackgroundSimulator(SimulatorSettings(error_rate=1.0)) as sim:
        sharedlm.configure(model="openai/sim-model", api_key="sk-secret-in-test", api_base=sim.base_url, cache=False,
                           max_retries=0)
        with ServedApp(load_service().app) as served:
            [(status, body)] = asyncio.run(ask_all(served.url, 1))
    assert status == 503
    assert body["error"] == "RetriesExhaustedError"
    assert "max_retries" in body["message"]
    assert "sk-secret-in-test" not in str(body)
