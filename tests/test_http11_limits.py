"""The HTTP/1.1 client's bounds and checks: answer sizes, interim 1xx answers, and what a request may contain."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from _http_servers import ScriptedServer, ServerRequest
from sharedlm._env import settings_from_env
from sharedlm._errors import ConfigurationError, FatalError, ResponseTooLargeError
from sharedlm._http11 import ConnectionPool, HTTP11Exchange, HTTP11Response, ParsedURL, build_head
from sharedlm._http_rules import DEFAULT_LIMITS, DEFAULT_MAX_RESPONSE_HEADER_BYTES, ResponseLimits
from sharedlm._settings import SharedLMSettings

pytestmark = pytest.mark.timeout(10)

MiB = 1024 * 1024


class OnePool:
    """The :class:`~sharedlm._http11.PoolSource` of a test: always the same pool."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    async def direct_pool(self) -> ConnectionPool:
        return self.pool


async def fetch(pool: ConnectionPool, url: str, headers: list[tuple[str, str]] | None = None,
                ) -> tuple[HTTP11Response, bytes]:
    async with HTTP11Exchange(OnePool(pool), ParsedURL(url), "GET", headers or [], b"") as response:
        return response, await response.read()


@pytest.fixture
async def new_pool() -> AsyncIterator[Callable[..., ConnectionPool]]:
    """Builds pools on the test's loop and closes them after."""
    made: list[ConnectionPool] = []

    def make(**options: Any) -> ConnectionPool:
        pool = ConnectionPool(asyncio.get_running_loop(), max_connections=4, connect_timeout=2.0, **options)
        made.append(pool)
        return pool

    yield make
    for pool in made:
        pool.close()
    await asyncio.sleep(0)


def raw(*parts: bytes) -> Callable[[ServerRequest], Any]:
    """A handler that sends ``parts`` one write after another to every request."""

    async def handler(request: ServerRequest) -> None:
        for part in parts:
            await request.connection.send(part)

    return handler


def gzip_bomb(expanded: int) -> bytes:
    """A gzip stream of ``expanded`` zero bytes (about 1000 times smaller), built without holding them."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(MiB)
    parts = [packer.compress(block) for _ in range(expanded // MiB)]
    return b"".join([*parts, packer.flush()])


def answer(body: bytes, *headers: str) -> bytes:
    head = "".join(f"{line}\r\n" for line in (*headers, f"Content-Length: {len(body)}"))
    return b"HTTP/1.1 200 OK\r\n" + head.encode() + b"\r\n" + body


# --- answer size ---


async def test_a_gzip_bomb_is_refused_with_an_error_naming_max_response_decompressed_bytes(new_pool: Any) -> None:
    bomb = gzip_bomb(64 * MiB)
    pool = new_pool(limits=ResponseLimits(decompressed_bytes=4 * MiB))
    async with ScriptedServer(raw(answer(bomb, "Content-Encoding: gzip"))) as server:
        with pytest.raises(ResponseTooLargeError) as caught:
            await fetch(pool, server.url())
    message = str(caught.value)
    assert "max_response_decompressed_bytes=4194304" in message
    assert "SHAREDLM_MAX_RESPONSE_DECOMPRESSED_BYTES" in message


async def test_a_gzip_body_exactly_at_the_decompressed_limit_is_read(new_pool: Any) -> None:
    pool = new_pool(limits=ResponseLimits(decompressed_bytes=2 * MiB))
    async with ScriptedServer(raw(answer(gzip_bomb(2 * MiB), "Content-Encoding: gzip"))) as server:
        _, body = await fetch(pool, server.url())
    assert body == bytes(2 * MiB)


async def test_a_body_over_max_response_body_bytes_is_refused_naming_the_setting(new_pool: Any) -> None:
    pool = new_pool(limits=ResponseLimits(body_bytes=1024))
    async with ScriptedServer(raw(answer(b"x" * 4096))) as server:
        with pytest.raises(ResponseTooLargeError, match="max_response_body_bytes=1024"):
            await fetch(pool, server.url())


async def test_a_chunked_body_over_max_response_body_bytes_is_refused(new_pool: Any) -> None:
    pool = new_pool(limits=ResponseLimits(body_bytes=1024))
    chunk = b"400\r\n" + b"x" * 1024 + b"\r\n"
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    async with ScriptedServer(raw(head, chunk, chunk)) as server:
        with pytest.raises(ResponseTooLargeError, match="max_response_body_bytes"):
            await fetch(pool, server.url())


async def test_a_10_mib_header_is_refused_with_an_error_naming_max_response_header_bytes(new_pool: Any) -> None:
    huge = b"HTTP/1.1 200 OK\r\nX-Padding: " + b"a" * (10 * MiB) + b"\r\nContent-Length: 2\r\n\r\nok"
    async with ScriptedServer(raw(huge)) as server:
        with pytest.raises(ResponseTooLargeError) as caught:
            await fetch(new_pool(), server.url())
    message = str(caught.value)
    assert f"max_response_header_bytes={DEFAULT_MAX_RESPONSE_HEADER_BYTES}" in message
    assert "SHAREDLM_MAX_RESPONSE_HEADER_BYTES" in message


async def test_many_small_headers_arriving_at_once_are_refused_past_the_header_limit(new_pool: Any) -> None:
    pool = new_pool(limits=ResponseLimits(header_bytes=1024))
    headers = [f"X-Note-{i}: {'v' * 20}" for i in range(100)]
    async with ScriptedServer(raw(answer(b"ok", *headers))) as server:
        with pytest.raises(ResponseTooLargeError, match="max_response_header_bytes=1024"):
            await fetch(pool, server.url())


async def test_an_answer_within_every_limit_is_read_whole(new_pool: Any) -> None:
    pool = new_pool(limits=ResponseLimits(header_bytes=1024, body_bytes=4096, decompressed_bytes=4096))
    async with ScriptedServer(raw(answer(b"x" * 4096, "X-Note: small"))) as server:
        response, body = await fetch(pool, server.url())
    assert (response.status, len(body), response.header("x-note")) == (200, 4096, "small")


def test_a_response_over_its_limit_is_a_fatal_error() -> None:
    assert issubclass(ResponseTooLargeError, FatalError)


# --- interim answers ---


async def test_103_early_hints_then_200_is_read_as_the_200(new_pool: Any) -> None:
    hints = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
    async with ScriptedServer(raw(hints, answer(b"final", "X-Final: yes"))) as server:
        response, body = await fetch(new_pool(), server.url())
    assert (response.status, body, response.header("x-final"), response.header("link")) == (
        200, b"final", "yes", None)


async def test_100_continue_and_103_in_one_write_before_the_answer_are_skipped(new_pool: Any) -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
    async with ScriptedServer(raw(interim + answer(b"final"))) as server:
        response, body = await fetch(new_pool(), server.url())
    assert (response.status, body) == (200, b"final")


async def test_the_connection_is_reused_after_an_answer_that_had_an_interim_one(new_pool: Any) -> None:
    pool = new_pool()
    async with ScriptedServer(raw(b"HTTP/1.1 103 Early Hints\r\n\r\n", answer(b"final"))) as server:
        await fetch(pool, server.url())
        _, again = await fetch(pool, server.url())
    assert (again, pool.connections_opened) == (b"final", 1)


# --- what a request may contain ---


@pytest.mark.parametrize("value", ["sk-ab\u2019cd", "sk-ab\u00a0cd\U0001f600", "sk-\x7fabcd", "sk-ab\x01cd"])
def test_a_header_value_that_cannot_be_sent_is_refused_without_showing_the_value(value: str) -> None:
    with pytest.raises(ConfigurationError, match="refusing to send header 'x-api-key'") as caught:
        build_head("POST", ParsedURL("http://h/"), [("x-api-key", value)], b"")
    for text in (str(caught.value), repr(caught.value), repr(caught.value.args)):
        assert value not in text
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None


@pytest.mark.parametrize("value", ["sk-ab\rcd", "sk-ab\ncd"])
def test_a_header_value_with_cr_or_lf_is_refused_naming_a_line_break(value: str) -> None:
    with pytest.raises(ConfigurationError, match="a line break"):
        build_head("POST", ParsedURL("http://h/"), [("x-api-key", value)], b"")


def test_a_header_value_with_latin1_text_and_a_tab_is_sent() -> None:
    head = build_head("GET", ParsedURL("http://h/"), [("X-Note", "caf\u00e9\tok")], b"")
    assert b"X-Note: caf\xe9\tok\r\n" in head


@pytest.mark.parametrize("method", ["GET /x HTTP/1.1\r\nX:", "PO ST", ""])
def test_a_method_that_is_not_a_token_is_refused(method: str) -> None:
    with pytest.raises(ConfigurationError, match="refusing to send method"):
        build_head(method, ParsedURL("http://h/"), [], b"")


@pytest.mark.parametrize("url", ["http://h/v1\r\nX-Injected: 1", "http://h/a b", "http://h/\x00", "http://h\r\n/",
                                 "http://h/\u2019"])
def test_a_url_that_would_break_the_request_line_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError, match="cannot send to"):
        ParsedURL(url)


def test_a_url_error_does_not_show_the_query() -> None:
    with pytest.raises(ConfigurationError) as caught:
        ParsedURL("http://h/v1?key=secret-value\r\n")
    assert "secret-value" not in str(caught.value)


# --- the settings that set the limits ---


def test_the_settings_defaults_are_the_clients() -> None:
    assert SharedLMSettings().response_limits == DEFAULT_LIMITS


def test_limits_are_read_from_the_environment() -> None:
    settings = settings_from_env({"SHAREDLM_MAX_RESPONSE_HEADER_BYTES": "1000",
                                  "SHAREDLM_MAX_RESPONSE_BODY_BYTES": "2000",
                                  "SHAREDLM_MAX_RESPONSE_DECOMPRESSED_BYTES": "3000"})
    assert settings.response_limits == ResponseLimits(header_bytes=1000, body_bytes=2000, decompressed_bytes=3000)


@pytest.mark.parametrize("name", ["max_response_header_bytes", "max_response_body_bytes",
                                  "max_response_decompressed_bytes"])
@pytest.mark.parametrize("value", [0, -1, 1.5, True])
def test_a_limit_that_is_not_a_positive_whole_number_is_refused_naming_it(name: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=name):
        SharedLMSettings(**{name: value})  # type: ignore[arg-type]


def test_a_limit_in_the_environment_that_is_not_a_number_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="SHAREDLM_MAX_RESPONSE_BODY_BYTES"):
        settings_from_env({"SHAREDLM_MAX_RESPONSE_BODY_BYTES": "64MiB"})


@pytest.mark.parametrize("api_base", ["http://127.0.0.1:8000/v1\r\nX-Injected: 1", "http://127.0.0.1/\x00"])
def test_an_api_base_that_would_break_the_request_line_is_refused_when_settings_are_built(api_base: str) -> None:
    with pytest.raises(ConfigurationError, match="api_base contains"):
        SharedLMSettings(api_base=api_base)
