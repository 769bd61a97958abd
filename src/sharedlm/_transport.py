"""The shared HTTP transport: one aiohttp connection pool per event loop, sized by the connection cap.

lm15 (DSPy's native provider layer) builds every provider's request bytes and parses every answer; it
hands the bytes to a transport through ``transport.stream(TransportRequest)``, an async context manager
yielding a response with ``status``, ``reason``, ``headers``, ``http_version``, ``read()`` and async
iteration over body chunks. This module is that transport, on aiohttp, so the pool is ours: its size is
``max_parallel_requests`` (clamped to the open-file limit), and it is shared by every call of the process.

An aiohttp session belongs to one event loop. Sessions are kept per loop and closed when their loop
shuts down: each pool registers an async generator with its loop, and ``asyncio.run()`` finalizes async
generators (``loop.shutdown_asyncgens()``) before closing the loop, which closes the pool's sockets there.

While a request runs, the transport records the response head (status, headers) on the current attempt
(:data:`CURRENT_ATTEMPT`), so the engine can read ``Retry-After`` without parsing provider errors.
"""

from __future__ import annotations

import asyncio
import contextvars
import socket
import threading
import urllib.request
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import aiohttp

_STREAM_CHUNK = 64 * 1024


@dataclass
class AttemptRecord:
    """What the transport saw of one attempt: the response status and headers."""

    status: int | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)


CURRENT_ATTEMPT: contextvars.ContextVar[AttemptRecord | None] = contextvars.ContextVar(
    "sharedlm_current_attempt", default=None
)


class PooledResponse:
    """One response as lm15 expects it from an async transport."""

    __slots__ = ("_released", "_response", "headers", "http_version", "reason", "status")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self._released = False
        self.status = response.status
        self.reason = response.reason or ""
        self.headers = list(response.headers.items())
        version = response.version
        self.http_version = f"{version.major}.{version.minor}" if version is not None else "1.1"

    def header(self, name: str) -> str | None:
        return self._response.headers.get(name)

    def headers_all(self, name: str) -> list[str]:
        return self._response.headers.getall(name, [])

    async def read(self) -> bytes:
        try:
            return await self._response.read()
        finally:
            self._release()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_chunked(_STREAM_CHUNK):
                if chunk:
                    yield chunk
        finally:
            self._release()

    async def aclose(self) -> None:
        self._release()

    def _release(self) -> None:
        if not self._released:
            self._released = True
            self._response.release()


class _Exchange:
    """The async context manager ``transport.stream(request)`` returns."""

    __slots__ = ("_request", "_response", "_transport")

    def __init__(self, transport: PooledTransport, request: Any) -> None:
        self._transport = transport
        self._request = request
        self._response: aiohttp.ClientResponse | None = None

    async def __aenter__(self) -> PooledResponse:
        request = self._request
        session = await self._transport.session()
        url = request.url
        self._response = response = await session.request(
            request.method, url, headers=request.headers, data=request.body or None,
            proxy=self._transport.proxy_for(url),
        )
        record = CURRENT_ATTEMPT.get()
        if record is not None:
            record.status = response.status
            record.headers = list(response.headers.items())
        return PooledResponse(response)

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._response is not None:
            if exc is not None:
                # A half-read body cannot go back to the pool; drop the connection.
                self._response.close()
            else:
                self._response.release()


class _LoopPool:
    """The aiohttp session of one event loop."""

    def __init__(self, session: aiohttp.ClientSession, loop: asyncio.AbstractEventLoop) -> None:
        self.session = session
        self.loop = loop
        self.lifetime: AsyncIterator[None] | None = None


async def _pool_lifetime(pool: _LoopPool) -> AsyncIterator[None]:
    # Finalized by loop.shutdown_asyncgens() when asyncio.run() ends, on the pool's own loop.
    try:
        yield
    finally:
        await pool.session.close()


class PooledTransport:
    """An lm15 async transport whose connections come from one capped pool per event loop.

    Args:
        max_connections: The most connections one loop's pool may hold open.
        connect_timeout: The longest opening one connection may take, in seconds.
        keepalive_timeout: How long an idle connection is kept for reuse, in seconds.
    """

    def __init__(self, *, max_connections: int, connect_timeout: float, keepalive_timeout: float = 30.0) -> None:
        self.max_connections = max_connections
        self._connect_timeout = connect_timeout
        self._keepalive_timeout = keepalive_timeout
        self._pools: dict[asyncio.AbstractEventLoop, _LoopPool] = {}
        self._lock = threading.Lock()
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._opened = 0
        self._closed = False
        self._proxies: dict[tuple[str, str], str | None] = {}

    def __repr__(self) -> str:
        return (f"PooledTransport(max_connections={self.max_connections}, loops={len(self._pools)}, "
                f"open_connections={self.open_connections})")

    @property
    def open_connections(self) -> int:
        """Sockets this transport opened that are still open, over all loops."""
        return sum(1 for sock in list(self._sockets) if sock.fileno() != -1)

    @property
    def connections_opened(self) -> int:
        """Sockets this transport has opened since it was built."""
        return self._opened

    def stream(self, request: Any) -> _Exchange:
        return _Exchange(self, request)

    async def session(self) -> aiohttp.ClientSession:
        """This loop's session, created on first use."""
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is not None and not pool.session.closed:
            return pool.session
        return await self._new_pool(loop)

    async def _new_pool(self, loop: asyncio.AbstractEventLoop) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("this transport is closed; call sharedlm.get_shared_lm() again for a new one")
        connector = aiohttp.TCPConnector(
            limit=self.max_connections,
            limit_per_host=0,
            keepalive_timeout=self._keepalive_timeout,
            ttl_dns_cache=300,
            socket_factory=self._open_socket,
        )
        session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None, connect=None, sock_connect=self._connect_timeout),
            cookie_jar=aiohttp.DummyCookieJar(),
            raise_for_status=False,
            # trust_env would look up netrc and proxy variables in a thread on every request; proxies are
            # resolved once per origin in proxy_for() instead.
            trust_env=False,
        )
        pool = _LoopPool(session, loop)
        with self._lock:
            for old in [old for old in self._pools if old.is_closed()]:
                del self._pools[old]
            self._pools[loop] = pool
        lifetime = _pool_lifetime(pool)
        pool.lifetime = lifetime
        await lifetime.__anext__()
        return session

    def proxy_for(self, url: str) -> str | None:
        """The proxy ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` name for ``url``, looked up once per origin."""
        scheme, _, rest = url.partition("://")
        host = rest.split("/", 1)[0]
        key = (scheme, host)
        try:
            return self._proxies[key]
        except KeyError:
            pass
        proxies = urllib.request.getproxies_environment()
        hostname = host.rsplit("@", 1)[-1].split(":", 1)[0] if not host.startswith("[") else host
        bypass = urllib.request.proxy_bypass_environment(hostname)  # type: ignore[attr-defined]
        proxy = None if bypass else proxies.get(scheme)
        self._proxies[key] = proxy
        return proxy

    def _open_socket(self, addr_info: Any) -> socket.socket:
        family, type_, proto, _, _ = addr_info
        sock = socket.socket(family=family, type=type_, proto=proto)
        self._sockets.add(sock)
        self._opened += 1
        return sock

    async def aclose_current(self) -> None:
        """Close the running loop's pool and wait until its sockets are closed."""
        loop = asyncio.get_running_loop()
        with self._lock:
            pool = self._pools.pop(loop, None)
        if pool is not None and not pool.session.closed:
            await pool.session.close()

    async def aclose(self) -> None:
        """Close every pool: the running loop's now, the others' on their own loops."""
        self._closed = True
        await self.aclose_current()
        self.close_nowait()

    def close_nowait(self) -> None:
        """Close every pool without waiting: on its loop if that loop is still alive, else drop it."""
        self._closed = True
        with self._lock:
            pools = list(self._pools.values())
            self._pools.clear()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for pool in pools:
            if pool.session.closed or pool.loop.is_closed():
                continue
            if pool.loop is running:
                running.create_task(pool.session.close())
            elif pool.loop.is_running():
                asyncio.run_coroutine_threadsafe(pool.session.close(), pool.loop)
            # A loop driven by hand that is neither running nor closed cannot be awaited on from here; its
            # sockets close when that loop closes or is collected.


__all__ = ["CURRENT_ATTEMPT", "AttemptRecord", "PooledTransport"]
