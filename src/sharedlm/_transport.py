"""The shared HTTP transport: one capped connection pool per event loop, shared by every call of the process.

lm15 (DSPy's native provider layer) builds every provider's request bytes and parses every answer; it
hands the bytes to a transport through ``transport.stream(TransportRequest)``, an async context manager
yielding a response with ``status``, ``reason``, ``headers``, ``http_version``, ``read()`` and async
iteration over body chunks. This module is that transport, so the pool is ours: its size is
``max_parallel_requests`` (clamped to the open-file limit), and it is shared by every call of the process.

Direct origins go through :mod:`sharedlm._http11`, a keep-alive HTTP/1.1 client cut to what LLM APIs need,
because per-request CPU is what bounds a zero-latency workload (it costs 36% of aiohttp's CPU per request in
``benchmarks/bench_transport.py``). Origins that ``HTTPS_PROXY``/``HTTP_PROXY`` route through a proxy go
through aiohttp, which tunnels and authenticates to proxies. Each of the two pools of a loop is capped at
``max_connections``; a provider is reached one way or the other, and the engine's in-flight gate bounds the
requests of both together. Both ways follow no redirect (a redirect is the answer, as lm15 expects), so the key
headers (``Authorization``, ``x-api-key``, ``x-goog-api-key``) only ever go to the origin they were built for, and
both bound an answer's size by the same :class:`~sharedlm._http_rules.ResponseLimits`.

The direct pools of every loop draw on one :class:`~sharedlm._conn_budget.ConnectionBudget` of ``max_connections``
open sockets, idle keep-alive connections included: several long-lived loops (a web server's, the background loop
of sync calls, a user's threads) together never hold more than the cap (see :mod:`sharedlm._conn_budget` for the
one exception, idle connections of a loop that is stopped, and its bound).

Pools belong to one event loop and are closed when their loop shuts down: each loop's pools register an
async generator with it, and ``asyncio.run()`` finalizes async generators (``loop.shutdown_asyncgens()``)
before closing the loop, which closes the pool's sockets there. A loop driven by hand and closed without
``shutdown_asyncgens()`` never runs that close: the sockets of its direct pool are closed without the loop, and
their slots given back, the next time the transport looks at its pools (a pool made for another loop, a pool at
the cap, :attr:`PooledTransport.open_connections`, closing the transport, the interpreter's exit).

While a request runs, the transport records the response head (status, headers) on the current attempt
(:data:`CURRENT_ATTEMPT`), so the engine can read ``Retry-After`` without parsing provider errors.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import socket
import threading
import urllib.parse
import urllib.request
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import aiohttp

from sharedlm._conn_budget import ConnectionBudget
from sharedlm._errors import ConnectionFailedError
from sharedlm._http11 import DEFAULT_KEEPALIVE_S, ConnectionPool, HTTP11Exchange, HTTP11Response, Origin, ParsedURL
from sharedlm._http_rules import DEFAULT_LIMITS, ResponseLimits, too_large

_STREAM_CHUNK = 64 * 1024
_ROUTE_CACHE_SIZE = 256


@dataclass
class AttemptRecord:
    """What the transport saw of one attempt: the response status and headers.

    ``on_written`` is called when the request has been handed to the socket (the pacer's clock of the last send), with
    the connection pool's origin the request went to, or None when a proxy carried it (connections to it cannot be
    opened ahead of need, :meth:`PooledTransport.warm`).
    """

    status: int | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    on_written: Callable[[Origin | None], None] | None = field(default=None, repr=False)


CURRENT_ATTEMPT: contextvars.ContextVar[AttemptRecord | None] = contextvars.ContextVar(
    "sharedlm_current_attempt", default=None
)


class PooledResponse:
    """One response as lm15 expects it from an async transport, from aiohttp (an origin behind a proxy).

    Args:
        response: aiohttp's response, head read.
        limits: How large its body may be: aiohttp undoes gzip/deflate, so a compressed body is bounded by
            ``decompressed_bytes`` and any other by ``body_bytes``.
    """

    __slots__ = ("_limit", "_released", "_response", "_setting", "_where", "headers", "http_version", "reason",
                 "status")

    def __init__(self, response: aiohttp.ClientResponse, limits: ResponseLimits = DEFAULT_LIMITS) -> None:
        self._response = response
        self._released = False
        compressed = response.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity")
        if compressed:
            self._limit, self._setting = limits.decompressed_bytes, "max_response_decompressed_bytes"
        else:
            self._limit, self._setting = limits.body_bytes, "max_response_body_bytes"
        self._where = f"{response.url.host}:{response.url.port}"
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
        return b"".join([chunk async for chunk in self._chunks()])

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        received = 0
        try:
            async for chunk in self._response.content.iter_chunked(_STREAM_CHUNK):
                received += len(chunk)
                if received > self._limit:
                    self._response.close()  # the rest is not read: the connection cannot be reused
                    raise too_large(self._where, "a body", self._setting, self._limit)
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


def _record_head(status: int, headers: list[tuple[str, str]]) -> None:
    record = CURRENT_ATTEMPT.get()
    if record is not None:
        record.status = status
        record.headers = headers


def _record_written(origin: Origin | None = None) -> None:
    record = CURRENT_ATTEMPT.get()
    if record is not None and record.on_written is not None:
        record.on_written(origin)


def _record_direct_head(response: HTTP11Response) -> None:
    _record_head(response.status, response.headers)


class _ProxiedExchange:
    """The async context manager ``transport.stream(request)`` returns for an origin reached through a proxy."""

    __slots__ = ("_request", "_response", "_transport")

    def __init__(self, transport: PooledTransport, request: Any) -> None:
        self._transport = transport
        self._request = request
        self._response: aiohttp.ClientResponse | None = None

    async def __aenter__(self) -> PooledResponse:
        request = self._request
        session = await self._transport.session()
        url = request.url
        limits = self._transport.limits
        unreadable: aiohttp.ClientResponseError | None = None
        _record_written()  # aiohttp tells nothing between sending and the answer's head: about now
        try:
            self._response = response = await session.request(
                request.method, url, headers=request.headers, data=request.body or None,
                proxy=self._transport.proxy_for(url),
                # A redirect is the answer: following it would send the key headers to wherever it points (aiohttp
                # drops only Authorization on a cross-origin redirect, not x-api-key or x-goog-api-key).
                allow_redirects=False,
                max_line_size=limits.header_bytes, max_field_size=limits.header_bytes,
            )
        except aiohttp.ClientResponseError as exc:
            unreadable = exc
        if unreadable is not None:
            # Raised outside the except block so that aiohttp's error, whose repr holds the request headers and so
            # the key, is not chained to ours.
            raise _unreadable_answer(url, unreadable.status, unreadable.message, limits)
        pooled = PooledResponse(response, limits)
        _record_head(pooled.status, pooled.headers)
        return pooled

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._response is not None:
            if exc is not None:
                # A half-read body cannot go back to the pool; drop the connection.
                self._response.close()
            else:
                self._response.release()


def _unreadable_answer(url: str, status: int, message: str, limits: ResponseLimits) -> Exception:
    where = urllib.parse.urlsplit(url).netloc.rpartition("@")[2]
    if "Got more than" in message:  # aiohttp's words for a status line or header over max_line/field_size
        return too_large(where, "a head", "max_response_header_bytes", limits.header_bytes)
    return ConnectionFailedError(f"{where} sent an answer that cannot be read ({status}: {message})")


class _LoopPools:
    """The pools of one event loop: direct connections, and an aiohttp session once a proxy is used."""

    def __init__(self, direct: ConnectionPool, loop: asyncio.AbstractEventLoop) -> None:
        self.direct = direct
        self.loop = loop
        self.session: aiohttp.ClientSession | None = None
        self.lifetime: AsyncIterator[None] | None = None

    @property
    def closed(self) -> bool:
        return self.direct.closed

    async def aclose(self) -> None:
        self.direct.close()
        if self.session is not None and not self.session.closed:
            await self.session.close()
        await asyncio.sleep(0)  # let the closed sockets' transports finish on this loop


async def _pools_lifetime(pools: _LoopPools) -> AsyncIterator[None]:
    # Finalized by loop.shutdown_asyncgens() when asyncio.run() ends, on the pools' own loop.
    try:
        yield
    finally:
        await pools.aclose()


# Pool closings started by close_nowait() on the running loop, referenced until they finish.
_CLOSING: set[asyncio.Task[None]] = set()
# Every transport alive, so that the sockets left by loops closed by hand are closed at the interpreter's exit too.
_TRANSPORTS: weakref.WeakSet[PooledTransport] = weakref.WeakSet()


@atexit.register
def _reap_at_exit() -> None:
    for transport in list(_TRANSPORTS):
        transport.reap_closed_loops()


class PooledTransport:
    """An lm15 async transport whose connections come from one capped pool per event loop.

    Args:
        max_connections: The most direct connections open at once over every loop's pool, idle ones included.
        connect_timeout: The longest opening one connection may take, in seconds.
        keepalive_timeout: How long an idle connection is kept for reuse, in seconds.
        limits: How large one answer may be, on either way to the provider.
    """

    def __init__(self, *, max_connections: int, connect_timeout: float,
                 keepalive_timeout: float = DEFAULT_KEEPALIVE_S,
                 limits: ResponseLimits = DEFAULT_LIMITS) -> None:
        self.max_connections = max_connections
        self.budget = ConnectionBudget(max_connections)
        self.limits = limits
        self._connect_timeout = connect_timeout
        self._keepalive_timeout = keepalive_timeout
        self._pools: dict[asyncio.AbstractEventLoop, _LoopPools] = {}
        self._lock = threading.Lock()
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._opened = 0
        self._closed = False
        self._proxies: dict[tuple[str, str], str | None] = {}
        # url -> its parsed form, or None when a proxy serves its origin; lm15 sends a handful of distinct URLs.
        self._routes: dict[str, ParsedURL | None] = {}
        _TRANSPORTS.add(self)

    def __repr__(self) -> str:
        return (f"PooledTransport(max_connections={self.max_connections}, loops={len(self._pools)}, "
                f"open_connections={self.open_connections}, budget_held={self.budget.held})")

    @property
    def open_connections(self) -> int:
        """Connections this transport opened that are still open, over all loops (closed loops' closed first)."""
        self.reap_closed_loops()
        direct = sum(pools.direct.open_connections for pools in list(self._pools.values()))
        return direct + sum(1 for sock in list(self._sockets) if sock.fileno() != -1)

    @property
    def connections_opened(self) -> int:
        """Connections this transport has opened since it was built, over all loops, finished ones included."""
        return self._opened

    def stream(self, request: Any) -> HTTP11Exchange | _ProxiedExchange:
        url = request.url
        try:
            parsed = self._routes[url]
        except KeyError:
            parsed = self._route(url)
        if parsed is None:
            return _ProxiedExchange(self, request)
        return HTTP11Exchange(self, parsed, request.method, request.headers, request.body or b"",
                              on_head=_record_direct_head, on_written=_record_written)

    def _route(self, url: str) -> ParsedURL | None:
        parsed = None if self.proxy_for(url) else ParsedURL(url)
        if len(self._routes) >= _ROUTE_CACHE_SIZE:
            self._routes.clear()
        self._routes[url] = parsed
        return parsed

    async def loop_pools(self) -> _LoopPools:
        """This loop's pools, created on first use."""
        loop = asyncio.get_running_loop()
        pools = self._pools.get(loop)
        if pools is not None and not pools.closed:
            return pools
        if self._closed:
            raise RuntimeError("this transport is closed; call sharedlm.get_shared_lm() again for a new one")
        self.reap_closed_loops()
        direct = ConnectionPool(loop, max_connections=self.max_connections, connect_timeout=self._connect_timeout,
                                keepalive_timeout=self._keepalive_timeout, on_open=self._count_opened,
                                limits=self.limits, budget=self.budget)
        pools = _LoopPools(direct, loop)
        with self._lock:
            self._pools[loop] = pools
        lifetime = _pools_lifetime(pools)
        pools.lifetime = lifetime
        await lifetime.__anext__()
        return pools

    def reap_closed_loops(self) -> int:
        """Close the direct sockets of pools whose loop was closed with them open; return how many slots came back.

        Their loop cannot close them any more (it was driven by hand and closed without
        ``loop.shutdown_asyncgens()``); they are closed here without it, and those pools forgotten.
        """
        freed = self.budget.reap_closed_loops()
        with self._lock:
            for old in [old for old in self._pools if old.is_closed()]:
                del self._pools[old]
        return freed

    async def direct_pool(self) -> ConnectionPool:
        """This loop's pool of direct connections."""
        pools = self._pools.get(asyncio.get_running_loop())
        if pools is not None and not pools.closed:
            return pools.direct
        return (await self.loop_pools()).direct

    def warm(self, origin: Origin | None, count: int) -> int:
        """Open connections to ``origin`` on the running loop's pool ahead of ``count`` requests that will need them.

        Returns how many started opening: none for a proxied origin (None), on a loop whose pool does not exist yet,
        or outside a running loop. See :meth:`ConnectionPool.warm`.
        """
        if origin is None or count <= 0:
            return 0
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return 0
        pools = self._pools.get(loop)
        if pools is None or pools.closed:
            return 0
        return pools.direct.warm(origin, count)

    async def session(self) -> aiohttp.ClientSession:
        """This loop's aiohttp session for proxied origins, created on first use."""
        pools = await self.loop_pools()
        if pools.session is not None and not pools.session.closed:
            return pools.session
        connector = aiohttp.TCPConnector(
            limit=self.max_connections,
            limit_per_host=0,
            keepalive_timeout=self._keepalive_timeout,
            ttl_dns_cache=300,
            socket_factory=self._open_socket,
        )
        pools.session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None, connect=None, sock_connect=self._connect_timeout),
            cookie_jar=aiohttp.DummyCookieJar(),
            raise_for_status=False,
            # trust_env would look up netrc and proxy variables in a thread on every request; proxies are
            # resolved once per origin in proxy_for() instead.
            trust_env=False,
        )
        return pools.session

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
        self._count_opened(sock)
        return sock

    def _count_opened(self, sock: Any) -> None:
        self._opened += 1

    async def aclose_current(self) -> None:
        """Close the running loop's pools and wait until their sockets are closed."""
        loop = asyncio.get_running_loop()
        with self._lock:
            pools = self._pools.pop(loop, None)
        if pools is not None:
            await pools.aclose()

    async def aclose(self) -> None:
        """Close every pool: the running loop's now, the others' on their own loops."""
        self._closed = True
        await self.aclose_current()
        self.close_nowait()

    def close_nowait(self) -> None:
        """Close every pool without waiting: on its loop if that loop is still alive, else drop it."""
        self._closed = True
        with self._lock:
            all_pools = list(self._pools.values())
            self._pools.clear()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for pools in all_pools:
            if pools.loop.is_closed():
                pools.direct.close_without_loop()  # slots need not come back: this transport is closed
                continue
            if pools.loop is running:
                # Kept until done: the loop holds only a weak reference to its tasks.
                task = running.create_task(pools.aclose())
                _CLOSING.add(task)
                task.add_done_callback(_CLOSING.discard)
            elif pools.loop.is_running():
                asyncio.run_coroutine_threadsafe(pools.aclose(), pools.loop)
            # A loop driven by hand that is neither running nor closed cannot be awaited on from here; its
            # sockets close when that loop closes or is collected.


__all__ = ["CURRENT_ATTEMPT", "AttemptRecord", "PooledTransport"]
