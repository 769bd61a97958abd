"""PooledTransport against servers on 127.0.0.1: direct and proxied routing, counts, loop shutdown, attempt records."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from _http_servers import ForwardProxy, ScriptedServer, ServerRequest, ThreadedServer, wait_until
from sharedlm._errors import ConfigurationError, ResponseTooLargeError
from sharedlm._http11 import HTTP11Exchange, Origin
from sharedlm._http_rules import ResponseLimits
from sharedlm._transport import CURRENT_ATTEMPT, AttemptRecord, PooledTransport, _ProxiedExchange
from sharedlm.simulator import Simulator

pytestmark = pytest.mark.timeout(5)

_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUEST_METHOD")


@dataclass
class Request:
    """The fields of lm15's ``TransportRequest`` that the transport reads."""

    method: str
    url: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


@pytest.fixture(autouse=True)
def _no_proxy_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
async def transport() -> AsyncIterator[PooledTransport]:
    made = PooledTransport(max_connections=4, connect_timeout=2.0)
    yield made
    await made.aclose()


async def send(transport: PooledTransport, request: Request) -> bytes:
    async with transport.stream(request) as response:
        return await response.read()


async def echo_target(request: ServerRequest) -> None:
    await request.connection.answer(request.target.encode())


async def test_a_direct_origin_goes_through_the_http11_pool_and_no_aiohttp_session_is_made(
        transport: PooledTransport) -> None:
    async with ScriptedServer(echo_target) as server:
        exchange = transport.stream(Request("GET", server.url("/v1/models")))
        assert isinstance(exchange, HTTP11Exchange)
        async with exchange as response:
            assert await response.read() == b"/v1/models"
    pools = await transport.loop_pools()
    assert pools.session is None
    assert pools.direct.connections_opened == 1


async def test_http_proxy_in_the_environment_sends_the_origin_through_the_proxy(
        transport: PooledTransport, monkeypatch: pytest.MonkeyPatch) -> None:
    async with ScriptedServer(echo_target) as origin, ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        url = origin.url("/v1/models?x=1")
        exchange = transport.stream(Request("GET", url))
        assert isinstance(exchange, _ProxiedExchange)
        async with exchange as response:
            assert (response.status, await response.read()) == (200, b"/v1/models?x=1")
    assert proxy.request_lines == [f"GET {url} HTTP/1.1"]
    assert (await transport.direct_pool()).connections_opened == 0
    assert transport.connections_opened == 1


def test_https_proxy_in_the_environment_routes_an_https_origin_to_the_proxied_path(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    transport = PooledTransport(max_connections=4, connect_timeout=2.0)
    assert isinstance(transport.stream(Request("POST", "https://api.example.com/v1/chat")), _ProxiedExchange)
    assert transport.proxy_for("https://api.example.com/v1/chat") == "http://127.0.0.1:9"
    # HTTPS_PROXY says nothing about plain http origins.
    assert isinstance(transport.stream(Request("POST", "http://api.example.com/v1/chat")), HTTP11Exchange)


async def test_no_proxy_sends_a_listed_origin_direct_again(transport: PooledTransport,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    async with ScriptedServer(echo_target) as origin, ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        exchange = transport.stream(Request("GET", origin.url("/direct")))
        assert isinstance(exchange, HTTP11Exchange)
        async with exchange as response:
            assert await response.read() == b"/direct"
    assert proxy.request_lines == []
    assert (await transport.loop_pools()).session is None


async def test_open_connections_and_connections_opened_count_direct_connections(
        transport: PooledTransport) -> None:
    gate = asyncio.Event()

    async def handler(request: ServerRequest) -> None:
        if request.target == "/held":
            await gate.wait()
        await request.connection.answer()

    async with ScriptedServer(handler) as server:
        for _ in range(3):
            await send(transport, Request("GET", server.url("/quick")))
        assert (transport.open_connections, transport.connections_opened) == (1, 1)
        held = [asyncio.create_task(send(transport, Request("GET", server.url("/held")))) for _ in range(3)]
        try:
            await wait_until(lambda: len(server.requests) == 6)
            assert (transport.open_connections, transport.connections_opened) == (3, 3)
            gate.set()
            await asyncio.gather(*held)
        finally:
            for task in held:
                task.cancel()
        await transport.aclose_current()
    assert (transport.open_connections, transport.connections_opened) == (0, 3)


def test_pools_are_closed_when_asyncio_run_ends() -> None:
    transport = PooledTransport(max_connections=4, connect_timeout=2.0)
    with ThreadedServer() as server:
        assert asyncio.run(send(transport, Request("GET", server.url()))) == b"ok"
        assert server.client_closed.wait(2), "the pool's socket stayed open after asyncio.run() returned"
    assert transport.open_connections == 0


def test_connections_opened_still_counts_the_connections_of_finished_loops() -> None:
    transport = PooledTransport(max_connections=4, connect_timeout=2.0)
    with ThreadedServer() as server:
        for _ in range(2):
            assert asyncio.run(send(transport, Request("GET", server.url()))) == b"ok"
    assert server.connections == 2
    assert transport.connections_opened == 2
    assert transport.open_connections == 0


async def test_a_direct_request_records_status_and_headers_on_the_current_attempt(
        transport: PooledTransport) -> None:
    async def handler(request: ServerRequest) -> None:
        await request.connection.answer(b"{}", status=429, headers=(("Retry-After", "7"),))

    record = AttemptRecord()
    token = CURRENT_ATTEMPT.set(record)
    try:
        async with ScriptedServer(handler) as server:
            await send(transport, Request("POST", server.url("/v1/chat/completions"), body=b"{}"))
    finally:
        CURRENT_ATTEMPT.reset(token)
    assert record.status == 429
    assert ("Retry-After", "7") in record.headers


async def test_an_openai_chat_request_reaches_the_simulator_on_one_kept_alive_connection(
        transport: PooledTransport) -> None:
    body = json.dumps({"model": "sim-model", "messages": [{"role": "user", "content": "hello"}]}).encode()
    headers = [("Content-Type", "application/json"), ("Authorization", "Bearer sk-test")]
    async with Simulator() as sim:
        answers = [json.loads(await send(transport, Request("POST", f"{sim.base_url}/chat/completions", headers, body)))
                   for _ in range(2)]
        stats = sim.stats()
    assert all(answer["choices"][0]["message"]["content"] for answer in answers)
    assert stats.ok == 2
    assert stats.distinct_connections == 1


def test_a_url_that_cannot_be_sent_is_a_configuration_error() -> None:
    transport = PooledTransport(max_connections=4, connect_timeout=2.0)
    with pytest.raises(ConfigurationError, match="only http:// and https://"):
        transport.stream(Request("GET", "ftp://127.0.0.1/v1"))


async def test_a_closed_transport_opens_no_new_pool() -> None:
    transport = PooledTransport(max_connections=4, connect_timeout=2.0)
    await transport.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await transport.direct_pool()


# --- through a proxy: no redirect followed, answers bounded ---

KEY = "sk-test-proxy-redirect-0123456789"


async def test_a_redirect_through_a_proxy_is_the_answer_and_the_key_never_reaches_the_other_host(
        transport: PooledTransport, monkeypatch: pytest.MonkeyPatch) -> None:
    async with ScriptedServer() as elsewhere:
        async def redirect(request: ServerRequest) -> None:
            await request.connection.answer(b"", status=307, headers=(("Location", elsewhere.url("/stolen",
                                                                                                 host="localhost")),))

        async with ScriptedServer(redirect) as origin, ForwardProxy() as proxy:
            monkeypatch.setenv("HTTP_PROXY", proxy.url)
            headers = [("x-api-key", KEY), ("x-goog-api-key", KEY), ("Authorization", f"Bearer {KEY}")]
            async with transport.stream(Request("POST", origin.url("/v1/messages"), headers, b"{}")) as response:
                status = response.status
                await response.read()
    assert status == 307
    assert elsewhere.requests == []
    assert len(proxy.request_lines) == 1


async def test_a_body_through_a_proxy_over_max_response_body_bytes_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    transport = PooledTransport(max_connections=2, connect_timeout=2.0, limits=ResponseLimits(body_bytes=1024))
    try:
        async def big(request: ServerRequest) -> None:
            await request.connection.answer(b"x" * 8192)

        async with ScriptedServer(big) as origin, ForwardProxy() as proxy:
            monkeypatch.setenv("HTTP_PROXY", proxy.url)
            with pytest.raises(ResponseTooLargeError, match="max_response_body_bytes=1024"):
                await send(transport, Request("GET", origin.url("/")))
    finally:
        await transport.aclose()


async def test_a_gzip_bomb_through_a_proxy_is_refused_naming_max_response_decompressed_bytes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    transport = PooledTransport(max_connections=2, connect_timeout=2.0,
                                limits=ResponseLimits(decompressed_bytes=1024 * 1024))
    bomb = gzip.compress(bytes(16 * 1024 * 1024))
    try:
        async def bombing(request: ServerRequest) -> None:
            await request.connection.answer(bomb, headers=(("Content-Encoding", "gzip"),))

        async with ScriptedServer(bombing) as origin, ForwardProxy() as proxy:
            monkeypatch.setenv("HTTP_PROXY", proxy.url)
            with pytest.raises(ResponseTooLargeError, match="max_response_decompressed_bytes=1048576"):
                await send(transport, Request("GET", origin.url("/")))
    finally:
        await transport.aclose()


def test_the_transport_bounds_direct_answers_by_its_limits() -> None:
    limits = ResponseLimits(header_bytes=100, body_bytes=200, decompressed_bytes=300)
    transport = PooledTransport(max_connections=1, connect_timeout=1.0, limits=limits)

    async def main() -> ResponseLimits:
        try:
            return (await transport.direct_pool()).limits
        finally:
            await transport.aclose()

    assert asyncio.run(main()) is limits


async def test_a_head_through_a_proxy_over_max_response_header_bytes_is_refused_without_the_request_headers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    transport = PooledTransport(max_connections=2, connect_timeout=2.0, limits=ResponseLimits(header_bytes=1024))
    try:
        async def padded(request: ServerRequest) -> None:
            await request.connection.answer(b"ok", headers=(("X-Padding", "a" * 4096),))

        async with ScriptedServer(padded) as origin, ForwardProxy() as proxy:
            monkeypatch.setenv("HTTP_PROXY", proxy.url)
            with pytest.raises(ResponseTooLargeError, match="max_response_header_bytes=1024") as caught:
                await send(transport, Request("GET", origin.url("/"), [("x-api-key", KEY)]))
    finally:
        await transport.aclose()
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None
    assert KEY not in repr(caught.value)


async def test_a_written_request_reports_the_origin_it_went_to(transport: PooledTransport) -> None:
    written: list[object] = []
    record = AttemptRecord(on_written=written.append)
    token = CURRENT_ATTEMPT.set(record)
    try:
        async with ScriptedServer(echo_target) as server:
            await send(transport, Request("GET", server.url("/v1/models")))
    finally:
        CURRENT_ATTEMPT.reset(token)
    assert written == [("http", "127.0.0.1", server.port)]


async def test_warming_a_written_origin_opens_connections_the_next_requests_take(transport: PooledTransport) -> None:
    written: list[Origin | None] = []
    token = CURRENT_ATTEMPT.set(AttemptRecord(on_written=written.append))
    try:
        async with ScriptedServer(echo_target) as server:
            await send(transport, Request("GET", server.url("/v1/a")))
            assert transport.warm(written[0], 3) == 2  # one idle already, within the cap of 4
            await wait_until(lambda: transport.open_connections == 3)
            await asyncio.gather(*(send(transport, Request("GET", server.url(f"/v1/{i}"))) for i in range(3)))
    finally:
        CURRENT_ATTEMPT.reset(token)
    assert transport.connections_opened == 3
    assert len(server.connections) == 3


async def test_nothing_is_warmed_for_a_proxied_origin_or_a_loop_without_a_pool(transport: PooledTransport) -> None:
    assert transport.warm(None, 5) == 0  # a proxy carried the request: its pool is aiohttp's
    assert transport.warm(("http", "127.0.0.1", 9), 5) == 0  # no request on this loop yet
    assert transport.connections_opened == 0
