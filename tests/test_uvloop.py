"""sharedlm on every event loop users run: asyncio's default loop and uvloop (what ``uvicorn[standard]`` installs).

Each test runs its body on a loop made by the parametrized ``loop_factory``, in a fresh ``asyncio.Runner``.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import ssl
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import dspy
import pytest

import sharedlm
from _http_servers import ForwardProxy, ScriptedServer, ServerRequest, TLSFiles, self_signed_tls
from sharedlm._errors import ConfigurationError, ResponseTooLargeError
from sharedlm._http11 import ConnectionPool, HTTP11Exchange, ParsedURL
from sharedlm._http_rules import DEFAULT_LIMITS, ResponseLimits
from sharedlm._resolver import HostResolver
from sharedlm._transport import PooledTransport
from sharedlm.simulator import Simulator, SimulatorSettings

uvloop = pytest.importorskip("uvloop")

pytestmark = pytest.mark.timeout(30)

T = TypeVar("T")
LoopFactory = Callable[[], asyncio.AbstractEventLoop]
LOOPS: dict[str, LoopFactory] = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
on_every_loop = pytest.mark.parametrize("loop_factory", list(LOOPS.values()), ids=list(LOOPS))

SECRET = "sk-test-uvloop-0123456789"


def run(loop_factory: LoopFactory, main: Coroutine[Any, Any, T]) -> T:
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(main)


class QA(dspy.Signature):
    question: str = dspy.InputField()
    answer: str = dspy.OutputField()


class OnePool:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    async def direct_pool(self) -> ConnectionPool:
        return self.pool


@on_every_loop
def test_the_http11_client_keeps_one_connection_alive_across_requests(loop_factory: LoopFactory) -> None:
    async def main() -> tuple[list[bytes], int]:
        pool = ConnectionPool(asyncio.get_running_loop(), max_connections=2, connect_timeout=2.0)

        async def echo(request: ServerRequest) -> None:
            await request.connection.answer(request.target.encode())

        try:
            async with ScriptedServer(echo) as server:
                bodies = []
                for path in ("/a", "/b", "/c"):
                    async with HTTP11Exchange(OnePool(pool), ParsedURL(server.url(path)), "GET", [], b"") as response:
                        bodies.append(await response.read())
            return bodies, pool.connections_opened
        finally:
            pool.close()

    assert run(loop_factory, main()) == ([b"/a", b"/b", b"/c"], 1)


@on_every_loop
def test_connections_opened_ahead_of_need_are_taken_by_the_next_requests(loop_factory: LoopFactory) -> None:
    async def main() -> tuple[int, int, int]:
        pool = ConnectionPool(asyncio.get_running_loop(), max_connections=4, connect_timeout=2.0)
        try:
            async with ScriptedServer() as server:
                started = pool.warm(ParsedURL(server.url("/")).origin, 3)
                while "idle=3" not in repr(pool):  # noqa: ASYNC110
                    await asyncio.sleep(0.001)

                async def fetch(path: str) -> None:
                    async with HTTP11Exchange(OnePool(pool), ParsedURL(server.url(path)), "GET", [], b"") as answer:
                        await answer.read()

                await asyncio.gather(*(fetch(f"/{i}") for i in range(3)))
                return started, pool.connections_opened, len(server.connections)
        finally:
            pool.close()

    assert run(loop_factory, main()) == (3, 3, 3)


@on_every_loop
def test_a_host_name_is_looked_up_and_connected_to_on_every_loop(loop_factory: LoopFactory) -> None:
    async def main() -> tuple[bytes, int]:
        lookups: list[str] = []

        async def lookup(host: str, port: int) -> list[tuple[Any, ...]]:
            lookups.append(host)
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", port))]

        loop = asyncio.get_running_loop()
        pool = ConnectionPool(loop, max_connections=2, connect_timeout=2.0, resolver=HostResolver(loop, lookup=lookup))
        try:
            async with ScriptedServer() as server, HTTP11Exchange(
                    OnePool(pool), ParsedURL(server.url("/v1", host="api.provider.test")), "GET", [], b"") as response:
                return await response.read(), len(lookups)
        finally:
            pool.close()

    assert run(loop_factory, main()) == (b"ok", 1)


async def _fetch_raw(answer: bytes, limits: ResponseLimits = DEFAULT_LIMITS) -> tuple[int, bytes]:
    """One GET to a server that sends ``answer`` as is; the status and body read."""
    pool = ConnectionPool(asyncio.get_running_loop(), max_connections=1, connect_timeout=2.0, limits=limits)

    async def handler(request: ServerRequest) -> None:
        await request.connection.send(answer)

    try:
        async with ScriptedServer(handler) as server, HTTP11Exchange(
                OnePool(pool), ParsedURL(server.url()), "GET", [], b"") as response:
            return response.status, await response.read()
    finally:
        pool.close()


@on_every_loop
def test_a_gzip_bomb_is_refused(loop_factory: LoopFactory) -> None:
    bomb = gzip.compress(bytes(32 << 20))
    answer = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s" % (len(bomb), bomb)
    with pytest.raises(ResponseTooLargeError, match="max_response_decompressed_bytes"):
        run(loop_factory, _fetch_raw(answer, ResponseLimits(decompressed_bytes=1 << 20)))


@on_every_loop
def test_a_10_mib_header_is_refused(loop_factory: LoopFactory) -> None:
    answer = b"HTTP/1.1 200 OK\r\nX-Padding: " + b"a" * (10 << 20) + b"\r\nContent-Length: 2\r\n\r\nok"
    with pytest.raises(ResponseTooLargeError, match="max_response_header_bytes"):
        run(loop_factory, _fetch_raw(answer))


@on_every_loop
def test_an_early_hints_answer_is_skipped_for_the_final_one(loop_factory: LoopFactory) -> None:
    answer = b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal"
    assert run(loop_factory, _fetch_raw(answer)) == (200, b"final")


@on_every_loop
def test_the_loop_a_test_runs_on_is_the_one_its_factory_makes(loop_factory: LoopFactory) -> None:
    async def main() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert run(loop_factory, main()).startswith("uvloop" if loop_factory is uvloop.new_event_loop else "asyncio")


@on_every_loop
def test_an_origin_behind_a_proxy_is_reached_through_aiohttp(loop_factory: LoopFactory,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)

    async def main() -> bytes:
        transport = PooledTransport(max_connections=2, connect_timeout=2.0)
        try:
            async with ScriptedServer() as origin, ForwardProxy() as proxy:
                monkeypatch.setenv("HTTP_PROXY", proxy.url)
                request = type("Request", (), {"method": "GET", "url": origin.url("/"), "headers": [], "body": b""})()
                async with transport.stream(request) as response:
                    return await response.read()
        finally:
            await transport.aclose()

    assert run(loop_factory, main()) == b"ok"


@on_every_loop
def test_the_engine_answers_dspy_calls_through_the_simulator(loop_factory: LoopFactory) -> None:
    async def main() -> tuple[list[str], int, int]:
        async with Simulator(SimulatorSettings(latency=0.01)) as sim:
            sharedlm.configure(model="openai/sim-model", api_key=SECRET, api_base=sim.base_url, cache=False,
                               max_parallel_requests=4)
            predict = dspy.Predict(QA)
            predict.set_lm(sharedlm.get_shared_lm())
            results = await asyncio.gather(*(predict.acall(question=f"q{i}") for i in range(20)))
            return [r.answer for r in results], sim.stats().peak_in_flight, sharedlm.stats().calls_failed

    answers, peak, failed = run(loop_factory, main())
    assert len(answers) == 20
    assert all(isinstance(a, str) and a for a in answers)
    assert peak <= 4
    assert failed == 0


@on_every_loop
def test_the_engine_reaches_a_gemini_style_origin(loop_factory: LoopFactory) -> None:
    async def main() -> str:
        async with Simulator(SimulatorSettings()) as sim:
            sharedlm.configure(model="gemini/gemini-2.5-flash", api_key=SECRET, api_base=sim.gemini_base_url,
                               cache=False)
            predict = dspy.Predict(QA)
            predict.set_lm(sharedlm.get_shared_lm())
            return str((await predict.acall(question="hello")).answer)

    assert run(loop_factory, main())


def test_sync_calls_work_when_uvloop_is_the_event_loop_policy() -> None:
    from sharedlm.simulator import BackgroundSimulator

    previous = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        with BackgroundSimulator(SimulatorSettings()) as sim:
            sharedlm.configure(model="openai/sim-model", api_key=SECRET, api_base=sim.base_url, cache=False)
            predict = dspy.Predict(QA)
            predict.set_lm(sharedlm.get_shared_lm())
            answers = [predict(question=f"q{i}").answer for i in range(3)]
            sharedlm.reset_shared_lm()  # its loop thread was made under the uvloop policy; stop it under it too
    finally:
        asyncio.set_event_loop_policy(previous)
    assert all(isinstance(a, str) and a for a in answers)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return self_signed_tls(tmp_path_factory.mktemp("tls"))


async def _fetch_https(tls_files: TLSFiles, trusted: bool) -> bytes:
    context = tls_files.client_context if trusted else ssl.create_default_context
    pool = ConnectionPool(asyncio.get_running_loop(), max_connections=1, connect_timeout=2.0, ssl_context=context)
    try:
        async with ScriptedServer(ssl=tls_files.server_context()) as server, HTTP11Exchange(
                OnePool(pool), ParsedURL(server.url("/", host="localhost")), "GET", [], b"") as response:
            return await response.read()
    finally:
        pool.close()


@on_every_loop
def test_https_with_a_trusted_certificate_works(loop_factory: LoopFactory, tls_files: TLSFiles) -> None:
    assert run(loop_factory, _fetch_https(tls_files, trusted=True)) == b"ok"


@on_every_loop
def test_https_with_an_untrusted_certificate_is_a_configuration_error(loop_factory: LoopFactory,
                                                                      tls_files: TLSFiles) -> None:
    with pytest.raises(ConfigurationError, match="could not be verified"):
        run(loop_factory, _fetch_https(tls_files, trusted=False))
