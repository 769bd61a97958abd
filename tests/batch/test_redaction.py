"""Batch mode keeps credentials out of what it raises, logs and journals."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from dspy import lm15

from _http_servers import ScriptedServer, ServerRequest
from sharedlm._batch import BatchOptions, BatchTransport
from sharedlm._batch._apis import OPENAI_BATCHES, BatchRequestRefused, Sought, Target
from sharedlm._errors import ConfigurationError
from sharedlm._transport import PooledTransport
from sharedlm.simulator import Simulator

from ._helpers import KEY, NO_LINGER, Bench, RawRequest, bench
from .test_resume import _killed_while

URL_SECRET = "url-secret-0123456789"


async def refuse_echoing_the_key(request: ServerRequest) -> None:
    """A 401 whose body quotes the credential it was sent, as some providers do."""
    sent = request.header("authorization") or ""
    body = json.dumps({"error": {"message": f"Incorrect API key provided: {sent}"}}).encode()
    await request.connection.answer(body, status=401, headers=(("Content-Type", "application/json"),))


class ListingAt:
    """An online transport that sends the batch listing to ``url`` instead: a deployment that refuses it."""

    def __init__(self, online: Any, url: str) -> None:
        self.online = online
        self.url = url

    def stream(self, request: Any) -> Any:
        if request.method == "GET" and "/batches?" in request.url:
            request = RawRequest("GET", f"{self.url}/batches?limit=100", b"", request.headers)
        return self.online.stream(request)


class UserinfoProxy:
    """An online transport standing in for a proxy that takes a credential in the URL's userinfo: it refuses a URL
    without the right one, and sends the request on without it."""

    def __init__(self, online: PooledTransport) -> None:
        self.online = online
        self.urls: list[str] = []

    def stream(self, request: Any) -> Any:
        parts = urllib.parse.urlsplit(request.url)
        if parts.password != URL_SECRET:
            raise ConfigurationError("the proxy refused the credential in the URL")
        self.urls.append(request.url)
        bare = parts._replace(netloc=f"{parts.hostname}:{parts.port}").geturl()
        return self.online.stream(RawRequest(request.method, bare, request.body or b"", request.headers))


def behind_userinfo_proxy(sim: Simulator, journal: Path) -> tuple[Bench, UserinfoProxy]:
    """A bench whose base URL carries a credential in its userinfo, sent through :class:`UserinfoProxy`."""
    online = PooledTransport(max_connections=16, connect_timeout=5.0)
    proxy = UserinfoProxy(online)
    transport = BatchTransport(proxy, BatchOptions(poll_initial=0.0, poll_max=0.0, linger=NO_LINGER, max_requests=2,
                                                   journal=journal))
    base = sim.base_url.replace("http://", f"http://user:{URL_SECRET}@")
    router = lm15.AsyncLMRouter(lm15.RouterConfig(env={}, transport=transport, api_keys={"openai-chat": KEY},
                                                  base_urls={"openai-chat": base}))
    return Bench(transport, online, router.lm("openai-chat:gpt-4o-mini"), "gpt-4o-mini"), proxy


async def test_a_refused_batch_request_that_echoes_the_key_raises_without_it() -> None:
    async with ScriptedServer(refuse_echoing_the_key) as server:
        online = PooledTransport(max_connections=2, connect_timeout=5.0)

        async def send(method: str, url: str, headers: list[tuple[str, str]], body: bytes) -> tuple[int, bytes]:
            async with online.stream(RawRequest(method, url, body, headers)) as response:
                return int(response.status), bytes(await response.read())

        target = Target(OPENAI_BATCHES, server.url("/v1").rstrip("/"), "gpt-4o-mini")
        try:
            with pytest.raises(BatchRequestRefused, match="Incorrect API key provided") as raised:
                await OPENAI_BATCHES.find(send, target, [("Authorization", f"Bearer {KEY}")], Sought("l", frozenset()))
        finally:
            await online.aclose()
    assert KEY not in str(raised.value)


async def test_a_refused_listing_that_echoes_the_key_is_logged_without_it(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "out.batches.json"
    async with Simulator() as sim, ScriptedServer(refuse_echoing_the_key) as refusing:
        await _killed_while(sim, "openai-chat", path, "/batches")
        second = bench(sim, max_requests=4, journal=path)
        second.transport.online = ListingAt(second.transport.online, refusing.url("/v1").rstrip("/"))
        with caplog.at_level("WARNING", logger="sharedlm"):
            try:
                await asyncio.gather(*(second.ask(f"q{i}") for i in range(4)))
            finally:
                await second.aclose()
    assert refusing.requests  # the key was sent to it, and echoed
    assert "cannot look for batch" in caplog.text
    assert KEY not in caplog.text


async def test_the_journal_masks_a_credential_in_the_base_url(tmp_path: Path) -> None:
    path = tmp_path / "out.batches.json"
    async with Simulator() as sim:
        proxied, _ = behind_userinfo_proxy(sim, path)
        try:
            await asyncio.gather(*(proxied.ask(f"q{i}") for i in range(2)))
        finally:
            await proxied.aclose()
    text = path.read_text()
    assert URL_SECRET not in text
    assert json.loads(text)["batches"][0]["base_url"].startswith("http://user:***@127.0.0.1:")


async def test_a_resumed_batch_is_polled_at_the_base_url_of_the_call_that_claims_it(tmp_path: Path) -> None:
    path = tmp_path / "out.batches.json"
    async with Simulator() as sim:
        first, _ = behind_userinfo_proxy(sim, path)
        try:
            await asyncio.gather(*(first.ask(f"q{i}") for i in range(2)))
        finally:
            await first.aclose()
        second, proxy = behind_userinfo_proxy(sim, path)
        try:
            answers = await asyncio.gather(*(second.ask(f"q{i}") for i in range(2)))
        finally:
            await second.aclose()
        assert sim.batches.stats()["lines_submitted"] == 2  # the second run reattached: nothing submitted again
    assert all(answers)
    assert any("/batches/" in url for url in proxy.urls)
