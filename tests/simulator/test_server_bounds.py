"""The simulator bounds what a client may send and how long it may sit idle, as a real server does.

Requests are written as raw bytes on a socket, so that the heads can be as large as a test needs.
"""

from __future__ import annotations

import argparse
import asyncio
import json

import pytest

from _http_servers import wait_until
from sharedlm._errors import ConfigurationError
from sharedlm.simulator import Simulator, SimulatorSettings, _http
from sharedlm.simulator import _settings as settings_module
from sharedlm.simulator._command import register, settings_from_args

pytestmark = pytest.mark.timeout(20)


class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def exchange(sim: Simulator, request: bytes) -> tuple[int, bytes]:
    """Send ``request`` on a new connection; the answer's status and everything after it until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    try:
        writer.write(request)
        await writer.drain()
    except ConnectionError:
        pass  # the server may close before the whole request is written; its answer is still readable
    try:
        answer = await reader.read()  # until the server closes the connection
    finally:
        writer.close()
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0
    return status, answer


def chat_request(path: bytes = b"/v1/chat/completions", extra_headers: bytes = b"") -> bytes:
    body = json.dumps({"model": "sim-model", "messages": [{"role": "user", "content": "hi"}]}).encode()
    return (b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n%s"
            b"Content-Length: %d\r\n\r\n%s" % (path, extra_headers, len(body), body))


def test_the_settings_defaults_are_the_servers() -> None:
    assert (settings_module.DEFAULT_MAX_HEAD_BYTES, settings_module.DEFAULT_MAX_URL_BYTES,
            settings_module.DEFAULT_IDLE_TIMEOUT_S) == (
        _http.DEFAULT_MAX_HEAD_BYTES, _http.DEFAULT_MAX_URL_BYTES, _http.DEFAULT_IDLE_TIMEOUT_S)


async def test_a_request_head_over_max_head_bytes_is_answered_431_and_the_connection_closed() -> None:
    async with Simulator(SimulatorSettings(max_head_bytes=4096)) as sim:
        status, answer = await exchange(sim, chat_request(extra_headers=b"X-Padding: %s\r\n" % (b"a" * 8192)))
    assert status == 431
    assert b"connection: close" in answer.lower()


async def test_a_10_mib_header_is_refused_with_431_at_the_default_bound() -> None:
    async with Simulator() as sim:
        status, _ = await exchange(sim, chat_request(extra_headers=b"X-Padding: %s\r\n" % (b"a" * (10 << 20))))
    assert status == 431


async def test_many_headers_over_max_head_bytes_are_answered_431() -> None:
    headers = b"".join(b"X-Note-%d: %s\r\n" % (i, b"v" * 40) for i in range(200))
    async with Simulator(SimulatorSettings(max_head_bytes=4096)) as sim:
        status, _ = await exchange(sim, chat_request(extra_headers=headers))
    assert status == 431


async def test_a_url_over_max_url_bytes_is_answered_414() -> None:
    async with Simulator(SimulatorSettings(max_url_bytes=1024)) as sim:
        status, _ = await exchange(sim, chat_request(path=b"/v1/chat/completions?pad=" + b"a" * 2048))
    assert status == 414


async def test_a_request_within_the_bounds_is_answered() -> None:
    async with Simulator(SimulatorSettings(max_head_bytes=4096, max_url_bytes=1024)) as sim:
        status, _ = await exchange(sim, chat_request(extra_headers=b"X-Padding: %s\r\n" % (b"a" * 1024)))
    assert status == 200


async def test_a_large_body_followed_by_a_pipelined_request_is_not_taken_for_a_large_head() -> None:
    big = json.dumps({"model": "sim-model", "messages": [{"role": "user", "content": "x" * 300_000}]}).encode()
    first = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(big), big)
    async with Simulator(SimulatorSettings(max_head_bytes=1024)) as sim:
        status, answer = await exchange(sim, first + chat_request())
    assert status == 200
    assert answer.count(b"HTTP/1.1 200 OK") == 2


async def test_a_connection_idle_past_idle_timeout_is_closed_by_the_sweep() -> None:
    clock = FakeClock()
    async with Simulator(SimulatorSettings(idle_timeout=30.0), clock=clock) as sim:
        reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
        try:
            writer.write(chat_request().replace(b"Connection: close\r\n", b""))
            await reader.readuntil(b"Simulated answer")  # answered, and kept alive
            clock.now += 29.0
            assert sim.close_idle_connections() == 0
            clock.now += 1.0
            assert sim.close_idle_connections() == 1
            async with asyncio.timeout(5):
                await reader.read()  # the rest of the answer, then the end: the server closed the connection
            assert reader.at_eof()
        finally:
            writer.close()


async def test_a_connection_with_a_request_in_flight_is_never_closed_as_idle() -> None:
    clock = FakeClock()
    async with Simulator(SimulatorSettings(idle_timeout=30.0, hang_rate=1.0), clock=clock) as sim:
        _, writer = await asyncio.open_connection("127.0.0.1", sim.port)
        try:
            writer.write(chat_request())
            await wait_until(lambda: sim.stats().in_flight == 1, within=5.0)
            clock.now += 3600.0
            assert sim.close_idle_connections() == 0
        finally:
            writer.close()


async def test_the_server_sweeps_idle_connections_on_its_own() -> None:
    async with Simulator(SimulatorSettings(idle_timeout=0.05)) as sim:
        reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
        try:
            async with asyncio.timeout(5):
                assert await reader.read() == b""  # closed by the server, with nothing sent
        finally:
            writer.close()


@pytest.mark.parametrize(("field", "value"), [("max_head_bytes", 0), ("max_url_bytes", None), ("idle_timeout", 0),
                                              ("idle_timeout", -1.0)])
def test_invalid_bounds_are_a_configuration_error_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=field):
        SimulatorSettings(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("changes", [{"max_head_bytes": 4096, "max_url_bytes": 512, "idle_timeout": 5.0},
                                     {"idle_timeout": None}])
def test_command_args_reproduce_the_bounds(changes: dict[str, object]) -> None:
    original = SimulatorSettings(**changes)  # type: ignore[arg-type]
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    assert settings_from_args(parser.parse_args(["simulate", *original.command_args()])) == original


def test_default_bounds_add_no_command_args() -> None:
    assert not {"--max-head-bytes", "--max-url-bytes", "--idle-timeout"} & set(SimulatorSettings().command_args())
