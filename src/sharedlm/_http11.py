"""HTTP/1.1 keep-alive connections and the per-event-loop pool the shared transport sends on.

At zero provider latency a DSPy call is CPU-bound, and a general HTTP client's per-request machinery is a large
part of what sharedlm adds to DSPy's own work (``benchmarks/bench_transport.py``: 203.0 µs of CPU per request
with aiohttp, 72.3 µs with this module). LLM APIs need far less than a general client offers: one
``POST`` (or ``GET``) with a small body, a ``Content-Length`` or chunked answer, keep-alive, TLS. This module
is that and no more: one :class:`asyncio.Protocol` per connection, ``httptools`` (llhttp, the parser uvicorn
uses) for the response, and one :class:`ConnectionPool` per event loop that never holds more than
``max_connections`` sockets open. Proxied origins do not come here (see :mod:`sharedlm._transport`).

Network failures are :class:`~sharedlm._errors.ConnectionFailedError` (retryable) naming the host, and the
engine's retry layer decides what happens next; a URL or header that cannot be sent, and a server certificate
that cannot be verified, are a :class:`~sharedlm._errors.ConfigurationError` (fatal). A connection that
served a request before and breaks before a single byte of the answer arrived (the server closed it while it
sat idle) is replaced and the request sent once more at once, on a new connection, as browsers and urllib3
do, because the server never saw it.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

import httptools

from sharedlm._errors import ConfigurationError, ConnectionFailedError

DEFAULT_KEEPALIVE_S = 15.0
# Distinct request URLs remembered with their parsed origin; lm15 sends a handful (one per endpoint and model).
_URL_CACHE_SIZE = 256
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HAPPY_EYEBALLS_S = 0.25

Origin = tuple[str, str, int]


class ParsedURL:
    """What one request URL means on the wire: its origin, request target and ``Host`` header."""

    __slots__ = ("host_header", "origin", "target")

    def __init__(self, url: str) -> None:
        scheme, sep, rest = url.partition("://")
        scheme = scheme.lower()
        end = len(rest)
        for mark in "/?#":
            found = rest.find(mark)
            if found != -1 and found < end:
                end = found
        authority, target = rest[:end], rest[end:]
        if "@" in authority:
            raise ConfigurationError("cannot send to a URL with credentials in it; pass the key as api_key")
        # Messages name the scheme and authority only: a query may carry a key.
        shown_url = f"{scheme}://{authority}" if sep else authority
        if not sep or scheme not in _DEFAULT_PORTS:
            raise ConfigurationError(f"cannot send to {shown_url!r}: only http:// and https:// URLs are supported")
        target = target.split("#", 1)[0]
        if not target.startswith("/"):
            target = "/" + target
        host, port = _split_host_port(authority, scheme, shown_url)
        self.origin: Origin = (scheme, host, port)
        self.target = target
        default = _DEFAULT_PORTS[scheme]
        shown = f"[{host}]" if ":" in host else host
        self.host_header = shown if port == default else f"{shown}:{port}"


def _split_host_port(authority: str, scheme: str, shown_url: str) -> tuple[str, int]:
    if authority.startswith("["):
        host, _, tail = authority[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else ""
    else:
        host, _, port_text = authority.partition(":")
    if not host:
        raise ConfigurationError(f"cannot send to {shown_url!r}: the URL has no host")
    if not port_text:
        return host.lower(), _DEFAULT_PORTS[scheme]
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigurationError(f"cannot send to {shown_url!r}: {port_text!r} is not a port number")
    return host.lower(), int(port_text)


def _check_header(name: str, value: str) -> None:
    for text in (name, value):
        if "\r" in text or "\n" in text or "\0" in text:
            raise ConfigurationError(
                f"refusing to send header {name!r}: a header name or value may not contain line breaks")


def build_head(method: str, parsed: ParsedURL, headers: list[tuple[str, str]], body: bytes) -> bytes:
    """The request line and headers of one request, with ``Host`` and ``Content-Length`` added."""
    lines = [f"{method} {parsed.target} HTTP/1.1\r\nHost: {parsed.host_header}\r\n"]
    seen_length = seen_encoding = seen_agent = False
    for name, value in headers:
        _check_header(name, value)
        lower = name.lower()
        if lower == "host":
            continue
        if lower == "content-length":
            seen_length = True
        elif lower == "accept-encoding":
            seen_encoding = True
        elif lower == "user-agent":
            seen_agent = True
        lines.append(f"{name}: {value}\r\n")
    if not seen_length and (body or method not in ("GET", "HEAD")):
        lines.append(f"Content-Length: {len(body)}\r\n")
    if not seen_encoding:
        lines.append("Accept-Encoding: gzip, deflate\r\n")
    if not seen_agent:
        lines.append("User-Agent: sharedlm\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("latin-1")


class HTTP11Response:
    """One answer, as lm15 expects it from an async transport: head first, body read or iterated after.

    Args:
        connection: The connection the answer arrives on.
        where: ``host:port``, for error messages.
    """

    __slots__ = ("_chunks", "_connection", "_decoder", "_done", "_error", "_head", "_waiter", "_where",
                 "headers", "http_version", "keep_alive", "reason", "status")

    def __init__(self, connection: _Connection, where: str) -> None:
        self._connection = connection
        self._where = where
        self._head: asyncio.Future[None] = connection.loop.create_future()
        self._chunks: list[bytes] = []
        self._waiter: asyncio.Future[None] | None = None
        self._done = False
        self._error: BaseException | None = None
        self._decoder: Any = None
        self.status = 0
        self.reason = ""
        self.headers: list[tuple[str, str]] = []
        self.http_version = "1.1"
        self.keep_alive = False

    def __repr__(self) -> str:
        return (f"HTTP11Response(status={self.status}, where={self._where!r}, complete={self._done}, "
                f"buffered_chunks={len(self._chunks)})")

    @property
    def complete(self) -> bool:
        """Whether the whole answer arrived."""
        return self._done

    # --- lm15's response interface ---

    def header(self, name: str) -> str | None:
        lower = name.lower()
        for key, value in self.headers:
            if key.lower() == lower:
                return value
        return None

    def headers_all(self, name: str) -> list[str]:
        lower = name.lower()
        return [value for key, value in self.headers if key.lower() == lower]

    async def read(self) -> bytes:
        while not self._done:
            await self._wait()
        if self._error is not None:
            raise self._error
        chunks = self._chunks
        self._chunks = []
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        while True:
            if self._chunks:
                chunks = self._chunks
                self._chunks = []
                for chunk in chunks:
                    yield chunk
                continue
            if self._error is not None:
                raise self._error
            if self._done:
                return
            await self._wait()

    async def aclose(self) -> None:
        if not self._done:
            self._connection.close()

    async def _wait(self) -> None:
        if self._error is not None:
            raise self._error
        waiter = self._waiter = self._connection.loop.create_future()
        try:
            await waiter
        finally:
            self._waiter = None
        if self._error is not None and not self._chunks:
            raise self._error

    # --- fed by the connection ---

    def _on_head(self, status: int, reason: str, headers: list[tuple[str, str]], version: str) -> None:
        if self._done or self._error is not None:
            return
        self.status, self.reason, self.headers, self.http_version = status, reason, headers, version
        for key, value in headers:
            if key.lower() == "content-encoding":
                encoding = value.strip().lower()
                if encoding in ("gzip", "x-gzip"):
                    self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
                elif encoding == "deflate":
                    self._decoder = zlib.decompressobj()
                elif encoding not in ("", "identity"):
                    self._fail(ConnectionFailedError(
                        f"{self._where} answered with Content-Encoding {value!r}, which sharedlm does not decode"))
                    return
        if not self._head.done():
            self._head.set_result(None)

    def _on_body(self, data: bytes) -> None:
        if self._done or self._error is not None:
            return
        if self._decoder is not None:
            try:
                data = self._decoder.decompress(data)
            except zlib.error as exc:
                self._fail(ConnectionFailedError(f"{self._where} sent a body that does not decompress: {exc}"))
                return
        if data:
            self._chunks.append(data)
            self._wake()

    def _on_complete(self, keep_alive: bool) -> None:
        if self._done or self._error is not None:
            return
        decoder = self._decoder
        if decoder is not None:
            tail = decoder.flush()
            if tail:
                self._chunks.append(tail)
            if not decoder.eof:
                self._fail(ConnectionFailedError(f"{self._where} sent a compressed body that ends before its end"))
                return
        self.keep_alive = keep_alive
        self._done = True
        self._wake()

    def _fail(self, error: BaseException) -> None:
        if self._done or self._error is not None:
            return
        self._error = error
        if not self._head.done():
            self._head.set_exception(error)
            self._head.exception()  # retrieved: nobody may be waiting any more (a cancelled exchange)
        self._wake()
        self._connection.close()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class _Connection(asyncio.Protocol):
    """One keep-alive connection: writes requests, parses answers into the current :class:`HTTP11Response`."""

    def __init__(self, pool: ConnectionPool, origin: Origin) -> None:
        self.pool = pool
        self.origin = origin
        self.where = pool.where(origin)
        self.loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.served = 0
        self.idle_since = 0.0
        self.received_any = False
        self.head_only = False
        self.response: HTTP11Response | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._headers: list[tuple[str, str]] = []
        self._reason = ""

    def __repr__(self) -> str:
        scheme, host, port = self.origin
        return f"_Connection({scheme}://{host}:{port}, served={self.served}, closed={self.closed})"

    # --- asyncio.Protocol ---

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool._forget(self)
        response = self.response
        if response is None or response.complete:
            return
        if response._head.done() and response.header("content-length") is None and not self._chunked(response):
            # No length and not chunked: the body is whatever came before the server closed.
            response._on_complete(keep_alive=False)
            return
        reason = f": {exc}" if exc else ""
        response._fail(ConnectionFailedError(
            f"{self.where} closed the connection before the answer was complete{reason}"))

    @staticmethod
    def _chunked(response: HTTP11Response) -> bool:
        return any(value.lower().strip() == "chunked" for value in response.headers_all("transfer-encoding"))

    def data_received(self, data: bytes) -> None:
        self.received_any = True
        if self.response is None:
            self.close()  # bytes nobody asked for: the connection's framing can no longer be trusted
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if self.response is not None:
                self.response._fail(ConnectionFailedError(f"{self.where} sent a malformed HTTP answer: {exc}"))
            self.close()

    def eof_received(self) -> bool | None:
        return None  # close our side too

    # --- httptools callbacks ---

    def on_message_begin(self) -> None:
        response = self.response
        if response is not None and response.complete:
            # A second answer to one request: the framing can no longer be trusted.
            self.response = None
            self.close("the server sent more than one answer")
            return
        self._headers = []
        self._reason = ""

    def on_status(self, status: bytes) -> None:
        self._reason += status.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.response is None:
            return
        self._headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        response = self.response
        if response is not None:
            parser = self._parser
            response._on_head(parser.get_status_code(), self._reason, self._headers, parser.get_http_version())
            if self.head_only:
                # The parser cannot know a HEAD answer has no body; end it here and do not reuse the connection.
                response._on_complete(keep_alive=False)

    def on_body(self, body: bytes) -> None:
        if self.response is not None:
            self.response._on_body(body)

    def on_message_complete(self) -> None:
        response = self.response
        if response is not None:
            response._on_complete(self._parser.should_keep_alive())

    # --- used by the pool and the exchange ---

    def send(self, head: bytes, body: bytes, *, head_only: bool = False) -> HTTP11Response:
        assert self.transport is not None
        response = self.response = HTTP11Response(self, self.where)
        self.received_any = False
        self.head_only = head_only
        if body and len(body) < 65536:
            self.transport.write(head + body)
        else:
            self.transport.write(head)
            if body:
                self.transport.write(body)
        return response

    def close(self, reason: str = "the connection was closed on this side") -> None:
        if not self.closed:
            self.closed = True
            response = self.response
            if response is not None and not response.complete:
                # Closed by us, so the end of the connection is not the end of a body delimited by it.
                response._fail(ConnectionFailedError(f"no complete answer from {self.where}: {reason}"))
            if self.transport is not None:
                self.transport.close()
            self.pool._forget(self)


class ConnectionPool:
    """The keep-alive connections of one event loop, at most ``max_connections`` open at once.

    Args:
        loop: The event loop every connection of this pool belongs to.
        max_connections: The most sockets open at once, idle ones included.
        connect_timeout: The longest opening one connection (TCP and TLS) may take, in seconds.
        keepalive_timeout: How long an idle connection is kept for reuse, in seconds.
        ssl_context: Builds the TLS context for https origins, called once on first use.
        on_open: Called with each socket this pool opens (the transport counts them).
        clock: Monotonic seconds.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, *, max_connections: int, connect_timeout: float,
                 keepalive_timeout: float = DEFAULT_KEEPALIVE_S,
                 ssl_context: Callable[[], ssl.SSLContext] = ssl.create_default_context,
                 on_open: Callable[[Any], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.loop = loop
        self.max_connections = max_connections
        self.connect_timeout = connect_timeout
        self.keepalive_timeout = keepalive_timeout
        self._ssl_factory = ssl_context
        self._ssl: ssl.SSLContext | None = None
        self._on_open = on_open
        self._clock = clock
        self._idle: dict[Origin, list[_Connection]] = {}
        self._open: set[_Connection] = set()
        self._opening = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._closed = False
        self._last_sweep = clock()
        self.connections_opened = 0

    def __repr__(self) -> str:
        idle = sum(len(conns) for conns in self._idle.values())
        return (f"ConnectionPool(max_connections={self.max_connections}, open={len(self._open)}, idle={idle}, "
                f"opening={self._opening}, waiting={len(self._waiters)})")

    @property
    def open_connections(self) -> int:
        """Connections open now, idle and busy."""
        return len(self._open)

    @property
    def closed(self) -> bool:
        return self._closed

    @staticmethod
    def where(origin: Origin) -> str:
        return f"{origin[1]}:{origin[2]}"

    async def acquire(self, origin: Origin, *, fresh: bool = False) -> _Connection:
        """An idle connection to ``origin``, or a new one once the cap allows it.

        Args:
            origin: Scheme, host and port.
            fresh: Open a new connection even when idle ones exist (a retry after a stale one).
        """
        while True:
            if not fresh:
                connection = self._take_idle(origin)
                if connection is not None:
                    return connection
            if self._closed:
                raise ConnectionFailedError("this connection pool is closed; the shared LM was reset or shut down")
            if len(self._open) + self._opening < self.max_connections:
                return await self._connect(origin)
            if self._evict_idle():
                continue
            waiter = self.loop.create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._wake_one()  # woken, then cancelled before running: pass the wake-up on
                raise
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    def _take_idle(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        now = self._clock()
        while idle:
            connection = idle.pop()
            if not connection.closed and now - connection.idle_since < self.keepalive_timeout:
                return connection
            connection.close("it sat idle longer than the keep-alive timeout")
        return None

    async def _connect(self, origin: Origin) -> _Connection:
        scheme, host, port = origin
        context = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = self._ssl_factory()
            context = self._ssl
        self._opening += 1
        try:
            async with asyncio.timeout(self.connect_timeout):
                # Happy eyeballs (RFC 8305): an address family that hangs must not use up the whole timeout.
                transport, connection = await self.loop.create_connection(
                    lambda: _Connection(self, origin), host, port, ssl=context,
                    server_hostname=host if context is not None else None, happy_eyeballs_delay=_HAPPY_EYEBALLS_S)
        except BaseException as exc:
            self._opening -= 1
            self._wake_one()  # the slot this attempt held is free again
            if isinstance(exc, TimeoutError):
                raise ConnectionFailedError(
                    f"could not connect to {host}:{port} within {self.connect_timeout:g} s") from None
            if isinstance(exc, ssl.SSLCertVerificationError):
                # Not transient: retrying cannot make an unknown certificate authority known.
                raise ConfigurationError(
                    f"the TLS certificate of {host}:{port} could not be verified ({exc.verify_message}); if the "
                    "server is meant to be trusted, point SSL_CERT_FILE at the CA bundle that signed it") from exc
            if isinstance(exc, OSError):
                raise ConnectionFailedError(f"could not connect to {host}:{port}: {exc}") from exc
            raise
        self._opening -= 1
        self.connections_opened += 1
        if self._closed or connection.closed:
            connection.close()
            raise ConnectionFailedError(f"the connection to {host}:{port} closed as soon as it opened")
        self._open.add(connection)
        if self._on_open is not None:
            self._on_open(transport.get_extra_info("socket"))
        return connection

    def _evict_idle(self) -> bool:
        oldest: _Connection | None = None
        for conns in self._idle.values():
            if conns and (oldest is None or conns[0].idle_since < oldest.idle_since):
                oldest = conns[0]
        if oldest is None:
            return False
        oldest.close()
        return True

    def release(self, connection: _Connection) -> None:
        """Give a connection whose answer was read completely back for reuse."""
        connection.response = None
        if connection.closed or self._closed:
            connection.close()
            self._wake_one()
            return
        now = self._clock()
        connection.served += 1
        connection.idle_since = now
        self._idle.setdefault(connection.origin, []).append(connection)
        if now - self._last_sweep > self.keepalive_timeout:
            self._sweep(now)
        self._wake_one()

    def _sweep(self, now: float) -> None:
        self._last_sweep = now
        for conns in list(self._idle.values()):
            for connection in [c for c in conns if now - c.idle_since >= self.keepalive_timeout]:
                connection.close()

    def _forget(self, connection: _Connection) -> None:
        self._open.discard(connection)
        idle = self._idle.get(connection.origin)
        if idle and connection in idle:
            idle.remove(connection)
        self._wake_one()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def close(self) -> None:
        """Close every connection; busy ones fail their answers."""
        self._closed = True
        for connection in list(self._open):
            connection.close()
        self._idle.clear()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)


class PoolSource(Protocol):
    """Where an exchange finds the running loop's pool (the transport keeps one per loop)."""

    async def direct_pool(self) -> ConnectionPool: ...


class HTTP11Exchange:
    """The async context manager ``transport.stream(request)`` returns for a direct (unproxied) origin.

    Args:
        pools: Gives the running loop's connection pool.
        parsed: The request's URL, parsed.
        method: The HTTP method.
        headers: The request headers lm15 built.
        body: The request body.
        on_head: Called with each answer once its head arrived (the transport records it for the engine).
    """

    __slots__ = ("_body", "_connection", "_headers", "_method", "_on_head", "_parsed", "_pool", "_pools",
                 "_response")

    def __init__(self, pools: PoolSource, parsed: ParsedURL, method: str, headers: list[tuple[str, str]],
                 body: bytes, on_head: Callable[[HTTP11Response], None] | None = None) -> None:
        self._pools = pools
        self._pool: ConnectionPool | None = None
        self._parsed = parsed
        self._method = method
        self._headers = headers
        self._body = body
        self._on_head = on_head
        self._connection: _Connection | None = None
        self._response: HTTP11Response | None = None

    async def __aenter__(self) -> HTTP11Response:
        head = build_head(self._method, self._parsed, self._headers, self._body)
        pool = self._pool = await self._pools.direct_pool()
        fresh = False
        while True:
            connection = await pool.acquire(self._parsed.origin, fresh=fresh)
            self._connection = connection
            reused = connection.served > 0
            response = self._response = connection.send(head, self._body, head_only=self._method == "HEAD")
            try:
                await response._head
            except ConnectionFailedError:
                if reused and not connection.received_any and not fresh:
                    fresh = True  # closed by the server while idle: it never saw this request; once more, new
                    continue
                raise
            except BaseException:
                connection.close("the request was cancelled")  # its late bytes must not reach the next request
                raise
            if self._on_head is not None:
                self._on_head(response)
            return response

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        connection, response, pool = self._connection, self._response, self._pool
        if connection is None or pool is None:
            return
        if exc is None and response is not None and response.complete and response.keep_alive:
            pool.release(connection)
        else:
            connection.close()


__all__ = ["DEFAULT_KEEPALIVE_S", "ConnectionPool", "HTTP11Exchange", "HTTP11Response", "ParsedURL", "PoolSource",
           "build_head"]
