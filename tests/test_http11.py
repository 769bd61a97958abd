"""The keep-alive HTTP/1.1 client against small servers on 127.0.0.1 that answer exactly the bytes each test needs."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import re
import socket
import ssl
import zlib
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any

import pytest

from _http_servers import LOOPBACK, Handler, ScriptedServer, ServerRequest, TLSFiles, self_signed_tls, wait_until
from sharedlm._errors import ConfigurationError, ConnectionFailedError
from sharedlm._http11 import WARM_RETRY_S, ConnectionPool, HTTP11Exchange, HTTP11Response, ParsedURL, build_head
from sharedlm._resolver import HostResolver

pytestmark = pytest.mark.timeout(5)


class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class OnePool:
    """The :class:`~sharedlm._http11.PoolSource` of a test: always the same pool."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    async def direct_pool(self) -> ConnectionPool:
        return self.pool


def exchange(pool: ConnectionPool, url: str, *, method: str = "GET", headers: list[tuple[str, str]] | None = None,
             body: bytes = b"", on_head: Callable[[HTTP11Response], None] | None = None) -> HTTP11Exchange:
    return HTTP11Exchange(OnePool(pool), ParsedURL(url), method, headers or [], body, on_head=on_head)


async def fetch(pool: ConnectionPool, url: str, **options: Any) -> tuple[HTTP11Response, bytes]:
    async with exchange(pool, url, **options) as response:
        return response, await response.read()


PoolFactory = Callable[..., ConnectionPool]
Spawn = Callable[[Coroutine[Any, Any, Any]], "asyncio.Task[Any]"]


@pytest.fixture
async def spawn() -> AsyncIterator[Spawn]:
    """Starts tasks that are cancelled and awaited when the test ends, so a failing test leaves none behind."""
    tasks: list[asyncio.Task[Any]] = []

    def start(coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        tasks.append(asyncio.create_task(coroutine))
        return tasks[-1]

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture
async def new_pool() -> AsyncIterator[PoolFactory]:
    """Builds pools on the test's loop (4 connections, 2 s connect timeout unless told) and closes them after."""
    made: list[ConnectionPool] = []

    def make(**options: Any) -> ConnectionPool:
        options.setdefault("max_connections", 4)
        options.setdefault("connect_timeout", 2.0)
        pool = ConnectionPool(asyncio.get_running_loop(), **options)
        made.append(pool)
        return pool

    yield make
    for pool in made:
        pool.close()
    await asyncio.sleep(0)


def raw(answer: bytes) -> Callable[[ServerRequest], Any]:
    """A handler that sends ``answer`` as is to every request."""

    async def handler(request: ServerRequest) -> None:
        await request.connection.send(answer)

    return handler


def free_port() -> int:
    """A port nothing listens on: bound, then closed."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


# --- ParsedURL ---


@pytest.mark.parametrize(("url", "port"), [("http://api.example.com/v1", 80), ("https://api.example.com/v1", 443)])
def test_parsed_url_uses_the_scheme_default_port_and_leaves_it_out_of_host(url: str, port: int) -> None:
    parsed = ParsedURL(url)
    assert parsed.origin == (url.split(":")[0], "api.example.com", port)
    assert parsed.host_header == "api.example.com"
    assert parsed.target == "/v1"


def test_parsed_url_keeps_an_explicit_port_in_the_host_header() -> None:
    parsed = ParsedURL("http://127.0.0.1:8080/v1/chat/completions")
    assert parsed.origin == ("http", "127.0.0.1", 8080)
    assert parsed.host_header == "127.0.0.1:8080"
    assert parsed.target == "/v1/chat/completions"


def test_parsed_url_names_the_default_port_only_when_it_is_not_the_scheme_default() -> None:
    assert ParsedURL("https://h:80/").host_header == "h:80"
    assert ParsedURL("http://h:443/").host_header == "h:443"


def test_parsed_url_accepts_a_bracketed_ipv6_literal() -> None:
    with_port = ParsedURL("http://[::1]:8080/x")
    assert with_port.origin == ("http", "::1", 8080)
    assert with_port.host_header == "[::1]:8080"
    without_port = ParsedURL("https://[2001:db8::1]/x")
    assert without_port.origin == ("https", "2001:db8::1", 443)
    assert without_port.host_header == "[2001:db8::1]"


def test_parsed_url_target_keeps_the_query_drops_the_fragment_and_defaults_to_slash() -> None:
    assert ParsedURL("http://h/v1/models?key=1&a=b#frag").target == "/v1/models?key=1&a=b"
    assert ParsedURL("http://h").target == "/"
    assert ParsedURL("http://h:81").target == "/"


def test_parsed_url_lowercases_scheme_and_host() -> None:
    assert ParsedURL("HTTPS://API.Example.COM/V1").origin == ("https", "api.example.com", 443)
    assert ParsedURL("HTTPS://API.Example.COM/V1").target == "/V1"


def test_parsed_url_ends_the_authority_at_a_query() -> None:
    parsed = ParsedURL("http://h:8080?x=1")
    assert parsed.origin == ("http", "h", 8080)
    assert parsed.target == "/?x=1"


@pytest.mark.parametrize("url", ["ftp://h/x", "ws://h/x", "h/x", "127.0.0.1:8080/v1", "file:///etc/passwd"])
def test_parsed_url_refuses_what_is_not_an_http_url(url: str) -> None:
    with pytest.raises(ConfigurationError, match="only http:// and https://"):
        ParsedURL(url)


def test_parsed_url_refuses_credentials_without_echoing_them() -> None:
    with pytest.raises(ConfigurationError, match="credentials") as caught:
        ParsedURL("https://user:s3cret-pw@api.example.com/v1")
    assert "s3cret" not in str(caught.value)


def test_parsed_url_never_echoes_credentials_even_with_a_bad_scheme() -> None:
    with pytest.raises(ConfigurationError) as caught:
        ParsedURL("ftp://user:s3cret-pw@api.example.com/v1")
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize("port", ["abc", "0", "65536", "-1", "80a", "99999999999999999999"])
def test_parsed_url_refuses_a_bad_port_and_names_it(port: str) -> None:
    with pytest.raises(ConfigurationError, match="is not a port number") as caught:
        ParsedURL(f"http://h:{port}/v1")
    assert repr(port) in str(caught.value)


@pytest.mark.parametrize("url", ["http:///v1", "https://:8080/v1"])
def test_parsed_url_refuses_a_url_without_host(url: str) -> None:
    with pytest.raises(ConfigurationError, match="no host"):
        ParsedURL(url)


# --- build_head ---


def _head_lines(head: bytes) -> list[str]:
    assert head.endswith(b"\r\n\r\n")
    return head[:-4].decode("latin-1").split("\r\n")


def _named(lines: list[str], name: str) -> list[str]:
    return [line.split(":", 1)[1].strip() for line in lines[1:] if line.split(":", 1)[0].lower() == name.lower()]


def test_build_head_writes_the_request_line_and_adds_host_and_content_length() -> None:
    lines = _head_lines(build_head("POST", ParsedURL("http://h:8080/v1/x?y=1"), [("Content-Type", "a/b")], b"12345"))
    assert lines[0] == "POST /v1/x?y=1 HTTP/1.1"
    assert _named(lines, "Host") == ["h:8080"]
    assert _named(lines, "Content-Length") == ["5"]
    assert _named(lines, "Content-Type") == ["a/b"]


def test_build_head_announces_an_empty_post_body_but_not_a_get_without_body() -> None:
    assert _named(_head_lines(build_head("POST", ParsedURL("http://h/"), [], b"")), "Content-Length") == ["0"]
    assert _named(_head_lines(build_head("GET", ParsedURL("http://h/"), [], b"")), "Content-Length") == []


def test_build_head_never_duplicates_the_callers_content_length_user_agent_or_accept_encoding() -> None:
    headers = [("content-length", "3"), ("USER-AGENT", "mine/1"), ("Accept-Encoding", "identity")]
    lines = _head_lines(build_head("POST", ParsedURL("http://h/"), headers, b"abc"))
    assert _named(lines, "Content-Length") == ["3"]
    assert _named(lines, "User-Agent") == ["mine/1"]
    assert _named(lines, "Accept-Encoding") == ["identity"]


def test_build_head_adds_a_user_agent_and_accept_encoding_when_the_caller_has_none() -> None:
    lines = _head_lines(build_head("GET", ParsedURL("http://h/"), [], b""))
    assert len(_named(lines, "User-Agent")) == 1
    assert _named(lines, "Accept-Encoding") == ["gzip, deflate"]


def test_build_head_drops_the_callers_host_for_the_urls() -> None:
    lines = _head_lines(build_head("GET", ParsedURL("https://right.example/"), [("Host", "wrong.example")], b""))
    assert _named(lines, "Host") == ["right.example"]


@pytest.mark.parametrize(("name", "value"), [("X-Note", "a\r\nX-Injected: 1"), ("X-Note", "a\nb"),
                                             ("X-Bad\r\nName", "v"), ("X-Note", "a\0b")])
def test_build_head_refuses_a_header_with_a_line_break_and_names_it(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match="refusing to send header") as caught:
        build_head("GET", ParsedURL("http://h/"), [(name, value)], b"")
    assert repr(name) in str(caught.value)


# --- the request on the wire ---


async def test_request_reaches_the_server_with_its_method_target_headers_and_body(new_pool: PoolFactory) -> None:
    async with ScriptedServer() as server:
        await fetch(new_pool(), server.url("/v1/chat?x=1"), method="POST",
                    headers=[("Content-Type", "application/json")], body=b'{"a": 1}')
    (request,) = server.requests
    assert (request.method, request.target, request.body) == ("POST", "/v1/chat?x=1", b'{"a": 1}')
    assert request.headers_named("Host") == [f"{LOOPBACK}:{server.port}"]
    assert request.header("Content-Type") == "application/json"


async def test_a_body_over_64_kib_reaches_the_server_whole(new_pool: PoolFactory) -> None:
    body = bytes(range(256)) * 1024  # 256 KiB
    async with ScriptedServer() as server:
        await fetch(new_pool(), server.url(), method="POST", body=body)
    assert server.requests[0].body == body


async def test_on_head_is_called_with_the_answer_once_its_head_arrived(new_pool: PoolFactory) -> None:
    async def handler(request: ServerRequest) -> None:
        await request.connection.answer(b"slow down", status=429, headers=(("Retry-After", "3"),))

    seen: list[tuple[int, str | None]] = []
    async with ScriptedServer(handler) as server:
        response, body = await fetch(new_pool(), server.url(),
                                     on_head=lambda r: seen.append((r.status, r.header("retry-after"))))
    assert seen == [(429, "3")]
    assert (response.status, body) == (429, b"slow down")


# --- keep-alive and the cap ---


async def test_sequential_requests_to_one_origin_reuse_one_connection(new_pool: PoolFactory) -> None:
    pool = new_pool()
    async with ScriptedServer() as server:
        for _ in range(3):
            _, body = await fetch(pool, server.url())
            assert body == b"ok"
    assert len(server.connections) == 1
    assert pool.connections_opened == 1
    assert [r.connection.index for r in server.requests] == [0, 0, 0]


async def test_pool_never_opens_more_than_max_connections_and_the_excess_waits_then_completes(
        new_pool: PoolFactory) -> None:
    async def handler(request: ServerRequest) -> None:
        await asyncio.sleep(0.01)  # keep each connection busy so later requests must wait for one
        await request.connection.answer(request.target.encode())

    pool = new_pool(max_connections=3)
    async with ScriptedServer(handler) as server:
        results = await asyncio.gather(*(fetch(pool, server.url(f"/{i}")) for i in range(12)))
    assert [body for _, body in results] == [f"/{i}".encode() for i in range(12)]
    assert server.peak_open == 3
    assert len(server.connections) == 3
    assert pool.connections_opened == 3


async def test_pool_repr_shows_open_idle_and_waiting(new_pool: PoolFactory, spawn: Spawn) -> None:
    gate = asyncio.Event()
    arrived = asyncio.Event()

    async def handler(request: ServerRequest) -> None:
        arrived.set()
        await gate.wait()
        await request.connection.answer()

    pool = new_pool(max_connections=1)
    async with ScriptedServer(handler) as server:
        first = spawn(fetch(pool, server.url()))
        second = spawn(fetch(pool, server.url()))
        # The first request reached the server, so its connection is open, no longer opening.
        await arrived.wait()
        await wait_until(lambda: "waiting=1" in repr(pool))
        assert "open=1, idle=0" in repr(pool)
        assert "max_connections=1" in repr(pool)
        gate.set()
        await asyncio.gather(first, second)
    assert "open=1, idle=1" in repr(pool)
    assert "waiting=0" in repr(pool)


async def test_cap_reached_with_an_idle_connection_of_another_origin_evicts_it(new_pool: PoolFactory) -> None:
    pool = new_pool(max_connections=1)
    async with ScriptedServer() as first, ScriptedServer() as second:
        await fetch(pool, first.url())
        async with asyncio.timeout(2):
            _, body = await fetch(pool, second.url())
        assert body == b"ok"
        await asyncio.wait_for(first.connections[0].closed.wait(), 2)
    assert pool.open_connections == 1


async def test_a_request_waiting_for_another_origin_gets_the_slot_when_the_busy_one_is_released(
        new_pool: PoolFactory, spawn: Spawn) -> None:
    gate = asyncio.Event()

    async def held(request: ServerRequest) -> None:
        await gate.wait()
        await request.connection.answer(b"first")

    pool = new_pool(max_connections=1)
    async with ScriptedServer(held) as first, ScriptedServer() as second:
        busy = spawn(fetch(pool, first.url()))
        waiting = spawn(fetch(pool, second.url()))
        await wait_until(lambda: "waiting=1" in repr(pool))
        gate.set()
        (_, body_first), (_, body_second) = await asyncio.gather(busy, waiting)
    assert (body_first, body_second) == (b"first", b"ok")
    assert pool.connections_opened == 2


async def test_a_cancelled_waiter_passes_its_wake_up_to_the_next_waiter(new_pool: PoolFactory, spawn: Spawn) -> None:
    pool = new_pool(max_connections=1)
    async with ScriptedServer() as server:
        origin = ParsedURL(server.url()).origin
        connection = await pool.acquire(origin)
        cancelled = spawn(pool.acquire(origin))
        patient = spawn(pool.acquire(origin))
        await wait_until(lambda: "waiting=2" in repr(pool))
        pool.release(connection)  # wakes `cancelled`, which is cancelled before it can take the connection
        cancelled.cancel()
        async with asyncio.timeout(0.5):
            assert await patient is connection


# --- body framing and encodings ---


async def test_content_length_body_is_read(new_pool: PoolFactory) -> None:
    async with ScriptedServer(raw(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world")) as server:
        response, body = await fetch(new_pool(), server.url())
    assert (response.status, response.reason, body) == (200, "OK", b"hello world")
    assert response.keep_alive
    assert response.complete


async def test_chunked_body_is_read(new_pool: PoolFactory) -> None:
    answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    pool = new_pool()
    async with ScriptedServer(raw(answer)) as server:
        _, body = await fetch(pool, server.url())
        _, again = await fetch(pool, server.url())
    assert body == again == b"hello world"
    assert pool.connections_opened == 1


PAYLOAD = b'{"choices": [{"message": {"content": "%d"}}]}\n' * 400


async def test_gzip_encoded_body_is_decoded(new_pool: PoolFactory) -> None:
    packed = gzip.compress(PAYLOAD)
    answer = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s" % (len(packed), packed)
    async with ScriptedServer(raw(answer)) as server:
        _, body = await fetch(new_pool(), server.url())
    assert body == PAYLOAD


async def test_gzip_encoded_chunked_body_is_decoded_across_chunks(new_pool: PoolFactory) -> None:
    packed = gzip.compress(PAYLOAD)
    thirds = [packed[: len(packed) // 3], packed[len(packed) // 3: 2 * len(packed) // 3], packed[2 * len(packed) // 3:]]
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in thirds)
    answer = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
    async with ScriptedServer(raw(answer)) as server:
        _, body = await fetch(new_pool(), server.url())
    assert body == PAYLOAD


async def test_deflate_encoded_body_is_decoded(new_pool: PoolFactory) -> None:
    packed = zlib.compress(PAYLOAD)
    answer = b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: %d\r\n\r\n%s" % (len(packed), packed)
    async with ScriptedServer(raw(answer)) as server:
        _, body = await fetch(new_pool(), server.url())
    assert body == PAYLOAD


async def test_an_unknown_content_encoding_raises_connection_failed_naming_it(new_pool: PoolFactory) -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 3\r\n\r\nxyz"
    async with ScriptedServer(raw(answer)) as server:
        with pytest.raises(ConnectionFailedError, match="'br'"):
            await fetch(new_pool(), server.url())


async def test_a_body_that_does_not_decompress_raises_connection_failed(new_pool: PoolFactory) -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 9\r\n\r\nnot gzip!"
    async with ScriptedServer(raw(answer)) as server:
        with pytest.raises(ConnectionFailedError, match="does not decompress"):
            await fetch(new_pool(), server.url())


async def test_a_compressed_body_cut_short_raises_connection_failed(new_pool: PoolFactory) -> None:
    packed = gzip.compress(PAYLOAD)[:-64]
    answer = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s" % (len(packed), packed)
    async with ScriptedServer(raw(answer)) as server:
        with pytest.raises(ConnectionFailedError):
            await fetch(new_pool(), server.url())


async def test_body_delimited_by_connection_close_is_read_and_the_connection_not_reused(
        new_pool: PoolFactory) -> None:
    async def handler(request: ServerRequest) -> None:
        await request.connection.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
        request.connection.close()

    pool = new_pool()
    async with ScriptedServer(handler) as server:
        response, body = await fetch(pool, server.url())
        assert body == b"until the end"
        assert not response.keep_alive
        _, again = await fetch(pool, server.url())
    assert again == b"until the end"
    assert pool.connections_opened == 2


async def test_bytes_beyond_the_announced_length_are_not_added_to_the_answer(new_pool: PoolFactory) -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale"
    async with ScriptedServer(raw(answer)) as server:
        _, body = await fetch(new_pool(), server.url())
    assert body == b"ok"


async def test_a_head_answer_completes_without_a_body(new_pool: PoolFactory) -> None:
    async with ScriptedServer(raw(b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n")) as server:
        async with asyncio.timeout(0.5):
            response, body = await fetch(new_pool(), server.url(), method="HEAD")
    assert (response.status, body) == (200, b"")


# --- connections the server closes ---


async def test_connection_close_in_the_answer_means_the_connection_is_not_reused(new_pool: PoolFactory) -> None:
    async def handler(request: ServerRequest) -> None:
        # Says close but leaves the socket open: the client must not reuse it anyway.
        await request.connection.answer(b"ok", headers=(("Connection", "close"),))

    pool = new_pool()
    async with ScriptedServer(handler) as server:
        first, _ = await fetch(pool, server.url())
        await fetch(pool, server.url())
        await asyncio.wait_for(server.connections[0].closed.wait(), 2)
    assert not first.keep_alive
    assert [r.connection.index for r in server.requests] == [0, 1]
    assert pool.connections_opened == 2


async def test_an_http_1_0_answer_without_keep_alive_is_not_reused(new_pool: PoolFactory) -> None:
    pool = new_pool()
    async with ScriptedServer(raw(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")) as server:
        response, _ = await fetch(pool, server.url())
        await fetch(pool, server.url())
    assert response.http_version == "1.0"
    assert pool.connections_opened == 2


async def test_a_connection_the_server_closed_while_idle_is_replaced_transparently(new_pool: PoolFactory) -> None:
    async def handler(request: ServerRequest) -> None:
        await request.connection.answer(request.target.encode())
        request.connection.close()

    pool = new_pool()
    async with ScriptedServer(handler) as server:
        await fetch(pool, server.url("/a"))
        await asyncio.wait_for(server.connections[0].closed.wait(), 2)
        _, body = await fetch(pool, server.url("/b"))
    assert body == b"/b"
    assert [r.target for r in server.requests] == ["/a", "/b"]
    assert len(server.connections) == 2


async def test_a_reused_connection_closed_before_any_answer_byte_is_retried_once_on_a_new_connection(
        new_pool: PoolFactory) -> None:
    async def handler(request: ServerRequest) -> None:
        # The race a keep-alive client must survive: the server closes an idle connection just as a request goes out.
        if request.connection.index == 0 and request.connection.served == 1:
            request.connection.close()
            return
        await request.connection.answer(request.target.encode())

    pool = new_pool()
    async with ScriptedServer(handler) as server:
        await fetch(pool, server.url("/a"))
        _, body = await fetch(pool, server.url("/b"))
    assert body == b"/b"
    assert [(r.target, r.connection.index) for r in server.requests] == [("/a", 0), ("/b", 0), ("/b", 1)]
    assert pool.connections_opened == 2


async def test_the_transparent_retry_happens_at_most_once(new_pool: PoolFactory) -> None:
    async def handler(request: ServerRequest) -> None:
        if request.target == "/a":
            await request.connection.answer()
        else:
            request.connection.close()

    pool = new_pool()
    async with ScriptedServer(handler) as server:
        await fetch(pool, server.url("/a"))
        with pytest.raises(ConnectionFailedError, match=f"{LOOPBACK}:{server.port}"):
            await fetch(pool, server.url("/b"))
    assert [r.target for r in server.requests] == ["/a", "/b", "/b"]


async def test_the_retry_after_a_stale_connection_goes_to_a_fresh_connection(new_pool: PoolFactory) -> None:
    gate = asyncio.Event()
    stale = False

    async def handler(request: ServerRequest) -> None:
        if stale and request.connection.index < 2:
            request.connection.close()  # both old connections went stale while idle
            return
        if not stale:
            if len(server.requests) < 2:
                await gate.wait()  # hold the first answer until both requests are in: two connections
            gate.set()
        await request.connection.answer(request.target.encode())

    pool = new_pool()
    async with ScriptedServer(handler) as server:
        await asyncio.gather(fetch(pool, server.url("/a")), fetch(pool, server.url("/b")))
        assert pool.open_connections == 2
        stale = True
        _, body = await fetch(pool, server.url("/c"))
    assert body == b"/c"


def _breaks_on_the_second_request(partial: bytes) -> Handler:
    """A handler that answers the first request of a connection, and sends ``partial`` then closes on the next."""

    async def handler(request: ServerRequest) -> None:
        if request.connection.served == 0:
            await request.connection.answer()
        else:
            await request.connection.send(partial)
            request.connection.close()

    return handler


async def test_a_reused_connection_that_breaks_mid_head_raises_naming_the_origin_and_is_not_retried(
        new_pool: PoolFactory) -> None:
    pool = new_pool()
    async with ScriptedServer(_breaks_on_the_second_request(b"HTTP/1.1 200 OK\r\nContent-Len")) as server:
        await fetch(pool, server.url("/a"))
        with pytest.raises(ConnectionFailedError, match=f"{LOOPBACK}:{server.port}") as caught:
            await fetch(pool, server.url("/b"))
    assert [r.target for r in server.requests] == ["/a", "/b"]
    assert len(server.connections) == 1
    assert caught.value.status is None


async def test_a_reused_connection_that_breaks_mid_body_fails_the_read_naming_the_origin(
        new_pool: PoolFactory) -> None:
    pool = new_pool()
    partial = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"
    async with ScriptedServer(_breaks_on_the_second_request(partial)) as server:
        await fetch(pool, server.url("/a"))
        async with exchange(pool, server.url("/b")) as response:
            with pytest.raises(ConnectionFailedError, match=f"{LOOPBACK}:{server.port}"):
                await response.read()
    assert [r.target for r in server.requests] == ["/a", "/b"]
    assert pool.open_connections == 0


async def test_a_first_use_connection_closed_before_answering_raises_without_retry(new_pool: PoolFactory) -> None:
    async def handler(request: ServerRequest) -> None:
        request.connection.close()

    async with ScriptedServer(handler) as server:
        with pytest.raises(ConnectionFailedError, match=f"{LOOPBACK}:{server.port}"):
            await fetch(new_pool(), server.url())
    assert len(server.requests) == 1
    assert len(server.connections) == 1


async def test_unsolicited_bytes_on_an_idle_connection_close_it(new_pool: PoolFactory) -> None:
    pool = new_pool()

    async def handler(request: ServerRequest) -> None:
        await request.connection.answer(request.target.encode())
        if request.target == "/a":
            await wait_until(lambda: "idle=1" in repr(pool))
            await request.connection.send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale")

    async with ScriptedServer(handler) as server:
        await fetch(pool, server.url("/a"))
        await asyncio.wait_for(server.connections[0].closed.wait(), 2)
        _, body = await fetch(pool, server.url("/b"))
    assert body == b"/b"
    assert pool.connections_opened == 2


# --- cancellation ---


async def test_cancelling_mid_answer_closes_the_connection_so_late_bytes_reach_nobody(
        new_pool: PoolFactory, spawn: Spawn) -> None:
    late = asyncio.Event()
    first_chunk = asyncio.Event()

    async def handler(request: ServerRequest) -> None:
        if request.target == "/slow":
            await request.connection.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nfirst")
            await late.wait()
            with contextlib.suppress(ConnectionError):
                await request.connection.send(b"LATE!")
            return
        await request.connection.answer(b"second")

    async def read_slowly() -> None:
        async with exchange(pool, server.url("/slow")) as response:
            async for _ in response:
                first_chunk.set()

    pool = new_pool(max_connections=1)  # the next request gets the same slot
    async with ScriptedServer(handler) as server:
        task = spawn(read_slowly())
        await asyncio.wait_for(first_chunk.wait(), 2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        late.set()
        _, body = await fetch(pool, server.url("/next"))
        await asyncio.wait_for(server.connections[0].closed.wait(), 2)
    assert body == b"second"
    assert server.requests[-1].connection.index == 1
    assert pool.connections_opened == 2


async def test_cancelling_while_waiting_for_the_head_closes_the_connection(new_pool: PoolFactory, spawn: Spawn) -> None:
    late = asyncio.Event()

    async def handler(request: ServerRequest) -> None:
        if request.target == "/slow":
            await late.wait()
            with contextlib.suppress(ConnectionError):
                await request.connection.answer(b"LATE!")
            return
        await request.connection.answer(b"second")

    pool = new_pool(max_connections=1)
    async with ScriptedServer(handler) as server:
        task = spawn(fetch(pool, server.url("/slow")))
        await wait_until(lambda: len(server.requests) == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        late.set()
        _, body = await fetch(pool, server.url("/next"))
    assert body == b"second"
    assert pool.connections_opened == 2


# --- answers and connections that fail ---


@pytest.mark.parametrize("answer", [b"HTTP/1.1 2x0 OK\r\n\r\n", b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
                                    b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n"])
async def test_a_malformed_answer_raises_connection_failed_naming_the_origin(new_pool: PoolFactory,
                                                                             answer: bytes) -> None:
    pool = new_pool()
    async with ScriptedServer(raw(answer)) as server:
        with pytest.raises(ConnectionFailedError, match=f"{LOOPBACK}:{server.port} sent a malformed HTTP answer"):
            await fetch(pool, server.url())
    assert pool.open_connections == 0


async def test_connection_refused_raises_connection_failed_naming_host_and_port(new_pool: PoolFactory) -> None:
    port = free_port()
    pool = new_pool()
    with pytest.raises(ConnectionFailedError, match=f"could not connect to {LOOPBACK}:{port}"):
        await fetch(pool, f"http://{LOOPBACK}:{port}/")
    assert pool.open_connections == 0
    assert "opening=0" in repr(pool)


@pytest.fixture
def unaccepting_port() -> Iterator[int]:
    """A listening port whose accept queue is full, so a new connect hangs in the handshake."""
    listener = socket.socket()
    listener.bind((LOOPBACK, 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    fillers = []
    for _ in range(8):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect((LOOPBACK, port))
        fillers.append(filler)
    yield port
    for filler in fillers:
        filler.close()
    listener.close()


async def test_connect_timeout_raises_connection_failed_naming_the_timeout(new_pool: PoolFactory,
                                                                           unaccepting_port: int) -> None:
    pool = new_pool(connect_timeout=0.1)
    with pytest.raises(ConnectionFailedError, match=rf"{LOOPBACK}:{unaccepting_port} within 0\.1 s"):
        await fetch(pool, f"http://{LOOPBACK}:{unaccepting_port}/")
    assert pool.open_connections == 0
    assert "opening=0" in repr(pool)


async def test_a_failed_connect_does_not_keep_its_slot(new_pool: PoolFactory) -> None:
    pool = new_pool(max_connections=1)
    with pytest.raises(ConnectionFailedError):
        await fetch(pool, f"http://{LOOPBACK}:{free_port()}/")
    async with ScriptedServer() as server:
        async with asyncio.timeout(2):
            _, body = await fetch(pool, server.url())
    assert body == b"ok"


# --- keep-alive expiry (fake clock) ---


async def test_an_idle_connection_older_than_keepalive_timeout_is_not_reused(new_pool: PoolFactory) -> None:
    clock = FakeClock()
    pool = new_pool(keepalive_timeout=15.0, clock=clock)
    async with ScriptedServer() as server:
        await fetch(pool, server.url())
        clock.advance(15.0)
        await fetch(pool, server.url())
        await asyncio.wait_for(server.connections[0].closed.wait(), 2)
    assert [r.connection.index for r in server.requests] == [0, 1]
    assert pool.connections_opened == 2


async def test_an_idle_connection_younger_than_keepalive_timeout_is_reused(new_pool: PoolFactory) -> None:
    clock = FakeClock()
    pool = new_pool(keepalive_timeout=15.0, clock=clock)
    async with ScriptedServer() as server:
        await fetch(pool, server.url())
        clock.advance(14.9)
        await fetch(pool, server.url())
    assert pool.connections_opened == 1


async def test_releasing_a_connection_closes_expired_idle_connections_of_other_origins(
        new_pool: PoolFactory) -> None:
    clock = FakeClock()
    pool = new_pool(keepalive_timeout=15.0, clock=clock)
    async with ScriptedServer() as old, ScriptedServer() as new:
        await fetch(pool, old.url())
        clock.advance(20.0)
        await fetch(pool, new.url())
        await asyncio.wait_for(old.connections[0].closed.wait(), 2)
        assert not new.connections[0].closed.is_set()
    assert pool.open_connections == 1


# --- streaming ---


async def test_async_iteration_yields_chunks_as_the_server_sends_them(new_pool: PoolFactory) -> None:
    first_read = asyncio.Event()

    async def handler(request: ServerRequest) -> None:
        await request.connection.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await first_read.wait()  # the second chunk exists only once the client has read the first
        await request.connection.send(b"6\r\nsecond\r\n0\r\n\r\n")

    chunks: list[bytes] = []
    async with ScriptedServer(handler) as server, exchange(new_pool(), server.url()) as response:
        async with asyncio.timeout(2):
            async for chunk in response:
                chunks.append(chunk)
                first_read.set()
    assert chunks == [b"first", b"second"]


async def test_response_repr_shows_status_and_whether_the_answer_is_complete(new_pool: PoolFactory) -> None:
    rest = asyncio.Event()

    async def handler(request: ServerRequest) -> None:
        await request.connection.send(b"HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\nab")
        await rest.wait()
        await request.connection.send(b"cd")

    async with ScriptedServer(handler) as server, exchange(new_pool(), server.url()) as response:
        assert "status=201" in repr(response)
        assert "complete=False" in repr(response)
        rest.set()
        assert await response.read() == b"abcd"
        assert "complete=True" in repr(response)
        assert f"{LOOPBACK}:{server.port}" in repr(response)


# --- https ---


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return self_signed_tls(tmp_path_factory.mktemp("tls"))


async def test_https_works_with_a_certificate_trusted_through_the_ssl_context_factory_and_sends_sni(
        new_pool: PoolFactory, tls_files: TLSFiles) -> None:
    server_context = tls_files.server_context()
    server_names: list[str | None] = []
    server_context.sni_callback = lambda _sock, name, _context: server_names.append(name)
    pool = new_pool(ssl_context=tls_files.client_context)
    async with ScriptedServer(ssl=server_context) as server:
        response, body = await fetch(pool, server.url("/v1", host="localhost"))
    assert (response.status, body) == (200, b"ok")
    assert server_names == ["localhost"]
    assert server.requests[0].header("Host") == f"localhost:{server.port}"


async def test_the_ssl_context_factory_is_called_once_per_pool(new_pool: PoolFactory, tls_files: TLSFiles) -> None:
    calls: list[ssl.SSLContext] = []

    def factory() -> ssl.SSLContext:
        calls.append(tls_files.client_context())
        return calls[-1]

    async def handler(request: ServerRequest) -> None:
        await request.connection.answer(headers=(("Connection", "close"),))  # a new TLS connection each time

    pool = new_pool(ssl_context=factory)
    async with ScriptedServer(handler, ssl=tls_files.server_context()) as server:
        for _ in range(3):
            await fetch(pool, server.url(host="localhost"))
    assert pool.connections_opened == 3
    assert len(calls) == 1


async def test_https_with_an_untrusted_certificate_is_a_fatal_error_naming_ssl_cert_file(
        new_pool: PoolFactory, tls_files: TLSFiles) -> None:
    pool = new_pool(ssl_context=ssl.create_default_context)
    async with ScriptedServer(ssl=tls_files.server_context()) as server:
        with pytest.raises(ConfigurationError, match=f"certificate of localhost:{server.port}.*SSL_CERT_FILE"):
            await fetch(pool, server.url(host="localhost"))
    assert server.requests == []


# --- closing the pool ---


async def test_closing_the_pool_fails_an_answer_in_flight(new_pool: PoolFactory) -> None:
    async def handler(request: ServerRequest) -> None:
        await request.connection.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await asyncio.Event().wait()  # the rest never comes

    pool = new_pool()
    async with ScriptedServer(handler) as server, exchange(pool, server.url()) as response:
        pool.close()
        with pytest.raises(ConnectionFailedError):
            await response.read()
    assert pool.closed
    assert pool.open_connections == 0


async def test_closing_the_pool_fails_a_request_waiting_for_its_head(new_pool: PoolFactory, spawn: Spawn) -> None:
    async def handler(request: ServerRequest) -> None:
        await asyncio.Event().wait()

    pool = new_pool()
    async with ScriptedServer(handler) as server:
        task = spawn(fetch(pool, server.url()))
        await wait_until(lambda: len(server.requests) == 1)
        pool.close()
        with pytest.raises(ConnectionFailedError):
            await asyncio.wait_for(task, 2)


async def test_closing_the_pool_fails_an_answer_delimited_by_close(new_pool: PoolFactory) -> None:
    async def handler(request: ServerRequest) -> None:
        await request.connection.send(b"HTTP/1.1 200 OK\r\n\r\npart of it")
        await asyncio.Event().wait()

    pool = new_pool()
    async with ScriptedServer(handler) as server, exchange(pool, server.url()) as response:
        pool.close()
        with pytest.raises(ConnectionFailedError):
            await response.read()


async def test_a_closed_pool_refuses_new_requests(new_pool: PoolFactory) -> None:
    pool = new_pool()
    pool.close()
    async with ScriptedServer() as server:
        with pytest.raises(ConnectionFailedError, match="closed"):
            await fetch(pool, server.url())
    assert server.connections == []


async def test_closing_the_pool_fails_requests_waiting_for_a_slot(new_pool: PoolFactory, spawn: Spawn) -> None:
    gate = asyncio.Event()

    async def handler(request: ServerRequest) -> None:
        await gate.wait()

    pool = new_pool(max_connections=1)
    async with ScriptedServer(handler) as server:
        busy = spawn(fetch(pool, server.url()))
        waiting = spawn(fetch(pool, server.url()))
        await wait_until(lambda: "waiting=1" in repr(pool))
        pool.close()
        results = await asyncio.wait_for(asyncio.gather(busy, waiting, return_exceptions=True), 2)
    assert [type(result) for result in results] == [ConnectionFailedError, ConnectionFailedError]
    assert len(server.connections) == 1


class NameLookup:
    """Answers every lookup with 127.0.0.1 at the asked port (names never reach the system resolver); counts calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[tuple[Any, ...]]:
        self.calls.append((host, port))
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (LOOPBACK, port))]


async def test_connections_opened_together_to_one_name_look_it_up_once(new_pool: PoolFactory) -> None:
    lookup = NameLookup()
    pool = new_pool(max_connections=8, resolver=HostResolver(asyncio.get_running_loop(), lookup=lookup))
    release = asyncio.Event()

    async def held(request: ServerRequest) -> None:
        await release.wait()
        await request.connection.answer(b"ok")

    async with ScriptedServer(held) as server:
        calls = [asyncio.ensure_future(fetch(pool, server.url("/v1", host="api.provider.test"))) for _ in range(8)]
        await wait_until(lambda: len(server.requests) == 8)
        release.set()
        answers = await asyncio.gather(*calls)
    assert [body for _response, body in answers] == [b"ok"] * 8
    assert len(server.connections) == 8
    assert lookup.calls == [("api.provider.test", server.port)]
    assert server.requests[0].header("Host") == f"api.provider.test:{server.port}"


async def test_an_address_literal_is_never_looked_up(new_pool: PoolFactory) -> None:
    lookup = NameLookup()
    pool = new_pool(resolver=HostResolver(asyncio.get_running_loop(), lookup=lookup))
    async with ScriptedServer() as server:
        response, _body = await fetch(pool, server.url("/v1"))
    assert response.status == 200
    assert lookup.calls == []


async def test_https_to_a_looked_up_name_checks_the_certificate_and_sends_sni_for_the_name(
        new_pool: PoolFactory, tls_files: TLSFiles) -> None:
    server_context = tls_files.server_context()
    server_names: list[str | None] = []
    server_context.sni_callback = lambda _sock, name, _context: server_names.append(name)
    lookup = NameLookup()
    pool = new_pool(ssl_context=tls_files.client_context,
                    resolver=HostResolver(asyncio.get_running_loop(), lookup=lookup))
    async with ScriptedServer(ssl=server_context) as server:
        response, body = await fetch(pool, server.url("/v1", host="localhost"))
    assert (response.status, body) == (200, b"ok")
    assert server_names == ["localhost"]
    assert lookup.calls == [("localhost", server.port)]


async def test_a_name_whose_addresses_refuse_is_looked_up_again_on_the_next_connection(
        new_pool: PoolFactory) -> None:
    with socket.socket() as probe:  # a port nothing listens on once this socket is closed
        probe.bind((LOOPBACK, 0))
        closed_port = probe.getsockname()[1]
    lookup = NameLookup()
    pool = new_pool(resolver=HostResolver(asyncio.get_running_loop(), lookup=lookup))
    url = f"http://moved.provider.test:{closed_port}/v1"
    refused = re.escape(f"could not connect to moved.provider.test:{closed_port}")
    for _ in range(2):
        with pytest.raises(ConnectionFailedError, match=refused):
            await fetch(pool, url)
    assert lookup.calls == [("moved.provider.test", closed_port)] * 2


async def test_a_new_connection_writes_its_first_request_the_moment_it_is_made(new_pool: PoolFactory) -> None:
    pool = new_pool()
    sent_while_opening: list[bool] = []

    def first_send(connection: Any) -> None:
        sent_while_opening.append(connection not in pool._open)  # the opener has not resumed yet

    async with ScriptedServer() as server:
        connection = await pool.acquire(ParsedURL(server.url("/v1")).origin, first_send=first_send)
    assert sent_while_opening == [True]
    assert connection.served == 0


async def test_an_idle_connection_is_handed_back_without_calling_first_send(new_pool: PoolFactory) -> None:
    pool = new_pool()
    calls: list[Any] = []
    async with ScriptedServer() as server:
        await fetch(pool, server.url("/v1"))  # leaves one idle connection
        connection = await pool.acquire(ParsedURL(server.url("/v1")).origin, first_send=calls.append)
    assert calls == []
    assert connection.served == 1


async def test_requests_on_new_and_reused_connections_each_reach_the_server_once(new_pool: PoolFactory) -> None:
    pool = new_pool(max_connections=3)
    async with ScriptedServer() as server:
        for _ in range(2):
            answers = await asyncio.gather(*(fetch(pool, server.url(f"/v1/{i}")) for i in range(3)))
            assert [body for _response, body in answers] == [b"ok"] * 3
    assert sorted(request.target for request in server.requests) == sorted([f"/v1/{i}" for i in range(3)] * 2)
    assert len(server.connections) == 3


# --- connections opened ahead of need ---


async def test_warmed_connections_are_taken_by_the_next_requests_without_opening_more(new_pool: PoolFactory) -> None:
    pool = new_pool(max_connections=4)
    async with ScriptedServer() as server:
        origin = ParsedURL(server.url("/v1")).origin
        assert pool.warm(origin, 3) == 3
        await wait_until(lambda: "idle=3" in repr(pool))
        answers = await asyncio.gather(*(fetch(pool, server.url(f"/v1/{i}")) for i in range(3)))
    assert [body for _response, body in answers] == [b"ok"] * 3
    assert pool.connections_opened == 3
    assert len(server.connections) == 3


async def test_warming_counts_idle_and_opening_connections_toward_the_count(new_pool: PoolFactory) -> None:
    pool = new_pool(max_connections=8)
    async with ScriptedServer() as server:
        origin = ParsedURL(server.url("/v1")).origin
        assert pool.warm(origin, 3) == 3
        assert pool.warm(origin, 3) == 0  # three are already opening
        await wait_until(lambda: "idle=3" in repr(pool))
        assert pool.warm(origin, 5) == 2
        await wait_until(lambda: "idle=5" in repr(pool))
    assert pool.connections_opened == 5


async def test_warming_never_opens_more_than_max_connections(new_pool: PoolFactory) -> None:
    pool = new_pool(max_connections=2)
    async with ScriptedServer() as server:
        origin = ParsedURL(server.url("/v1")).origin
        assert pool.warm(origin, 5) == 2
        await wait_until(lambda: "idle=2" in repr(pool))
        assert pool.warm(origin, 5) == 0
    assert pool.connections_opened == 2


async def test_a_warmed_connection_closed_as_its_first_request_goes_out_is_replaced_transparently(
        new_pool: PoolFactory) -> None:
    async def handler(request: ServerRequest) -> None:
        # The server dropped the connection while it sat idle, just as the request went out: it never saw it.
        if request.connection.index == 0:
            request.connection.close()
            return
        await request.connection.answer(request.target.encode())

    pool = new_pool()
    async with ScriptedServer(handler) as server:
        assert pool.warm(ParsedURL(server.url("/v1")).origin, 1) == 1
        await wait_until(lambda: "idle=1" in repr(pool))
        _, body = await fetch(pool, server.url("/b"))
    assert body == b"/b"
    assert [(r.target, r.connection.index) for r in server.requests] == [("/b", 0), ("/b", 1)]


async def test_a_warm_that_cannot_connect_raises_nothing_and_is_not_retried_at_once(new_pool: PoolFactory) -> None:
    clock = FakeClock()
    pool = new_pool(clock=clock)
    origin = ("http", LOOPBACK, free_port())
    assert pool.warm(origin, 2) == 2
    await wait_until(lambda: "opening=0, warming=0" in repr(pool))
    assert pool.open_connections == 0
    assert pool.warm(origin, 2) == 0  # the requests themselves say why it fails
    clock.advance(WARM_RETRY_S)
    assert pool.warm(origin, 2) == 2


async def test_closing_the_pool_stops_the_connections_being_opened_ahead_of_need(new_pool: PoolFactory,
                                                                                unaccepting_port: int) -> None:
    pool = new_pool()
    assert pool.warm(("http", LOOPBACK, unaccepting_port), 2) == 2
    await asyncio.sleep(0)
    pool.close()
    await wait_until(lambda: "opening=0, warming=0" in repr(pool))
    assert pool.open_connections == 0
    assert pool.warm(("http", LOOPBACK, unaccepting_port), 2) == 0


async def test_a_request_takes_the_connection_being_opened_for_it_rather_than_opening_another(
        new_pool: PoolFactory) -> None:
    pool = new_pool(max_connections=4)
    async with ScriptedServer() as server:
        assert pool.warm(ParsedURL(server.url("/v1")).origin, 1) == 1
        _, body = await fetch(pool, server.url("/v1/a"))  # the warm connection is still opening: it waits for it
    assert body == b"ok"
    assert pool.connections_opened == 1
    assert len(server.connections) == 1


async def test_a_request_waiting_for_a_warm_connection_that_fails_opens_its_own_and_reports_why(
        new_pool: PoolFactory) -> None:
    pool = new_pool()
    port = free_port()
    assert pool.warm(("http", LOOPBACK, port), 1) == 1
    with pytest.raises(ConnectionFailedError, match=f"could not connect to {LOOPBACK}:{port}"):
        await fetch(pool, f"http://{LOOPBACK}:{port}/")
    assert "opening=0, warming=0" in repr(pool)


async def test_closing_the_pool_fails_a_request_waiting_for_a_warm_connection(new_pool: PoolFactory, spawn: Spawn,
                                                                             unaccepting_port: int) -> None:
    pool = new_pool()
    assert pool.warm(("http", LOOPBACK, unaccepting_port), 1) == 1
    waiting = spawn(fetch(pool, f"http://{LOOPBACK}:{unaccepting_port}/"))
    await wait_until(lambda: "opening=1" in repr(pool))
    for _ in range(5):
        await asyncio.sleep(0)
    assert "opening=1" in repr(pool)  # the request waits for the warm connection; it does not open a second one
    pool.close()
    with pytest.raises(ConnectionFailedError, match="pool is closed"):
        await waiting
