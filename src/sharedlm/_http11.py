"""HTTP/1.1 keep-alive connections and the per-event-loop pool the shared transport sends on.

At zero provider latency a DSPy call is CPU-bound, and a general HTTP client's per-request machinery is a large
part of what sharedlm adds to DSPy's own work (``benchmarks/bench_transport.py``: 203.0 µs of CPU per request
with aiohttp, 72.3 µs with this module). LLM APIs need far less than a general client offers: one
``POST`` (or ``GET``) with a small body, a ``Content-Length`` or chunked answer, keep-alive, TLS. This module
is that and no more: one :class:`asyncio.Protocol` per connection, ``httptools`` (llhttp, the parser uvicorn
uses) for the response, and one :class:`ConnectionPool` per event loop that never holds more than
``max_connections`` sockets open. Proxied origins do not come here (see :mod:`sharedlm._transport`).

Network failures are :class:`~sharedlm._errors.ConnectionFailedError` (retryable) naming the host, and the
engine's retry layer decides what happens next; a URL or header that cannot be sent (a control character, a line
break, a character outside Latin-1), and a server certificate that cannot be verified, are a
:class:`~sharedlm._errors.ConfigurationError` (fatal), whose message never shows the header's value. A connection
that was taken idle from the pool (it served a request before, or was opened ahead of need) and breaks before a
single byte of the answer arrived (the server closed it while it sat idle) is replaced and the request sent once
more at once, on a new connection, as browsers and urllib3 do, because the server never saw it.

Connections can be opened ahead of the requests that will need them (:meth:`ConnectionPool.warm`): while the
engine holds a burst back at its first window, the connections the rest of the burst will take are opened in the
otherwise idle wait, so that when the window opens the requests go out at once instead of after a connection
storm (for TLS, a handshake each).

Every answer is bounded (:class:`~sharedlm._http_rules.ResponseLimits`): its head, its body as sent, and its body
once gzip/deflate is undone, so that a misbehaving gateway or a compression bomb cannot run the process out of
memory; going over a limit is a :class:`~sharedlm._errors.ResponseTooLargeError` (fatal) naming the setting that
raises it. Interim ``1xx`` answers (``100 Continue``, ``103 Early Hints``) are skipped: the answer is the final one.

Host names are looked up once per burst, not once per connection (:class:`~sharedlm._resolver.HostResolver`),
and their addresses raced as RFC 8305 says (happy eyeballs, with aiohappyeyeballs, as aiohttp does); an address
literal is connected to directly, with no lookup and no race.

The client runs on any asyncio event loop, uvloop included: sockets are connected with the loop's own
``sock_connect`` and transports are used through the methods every loop's transports have, never checked against
:class:`asyncio.Transport`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ipaddress
import re
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol, cast

import aiohappyeyeballs
import httptools

from sharedlm._blocking_caller import CALLER_BLOCKS_LOOP
from sharedlm._conn_budget import ConnectionBudget, Want
from sharedlm._errors import ConfigurationError, ConnectionFailedError
from sharedlm._http_rules import DEFAULT_LIMITS, ResponseLimits, text_problem, too_large
from sharedlm._resolver import HostResolver

DEFAULT_KEEPALIVE_S = 15.0
# Distinct request URLs remembered with their parsed origin; lm15 sends a handful (one per endpoint and model).
_URL_CACHE_SIZE = 256
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HAPPY_EYEBALLS_S = 0.25
# After opening a connection ahead of need failed, the pool does not try that origin ahead of need again for this
# long: the requests themselves report why it fails, and a refused origin is not hammered every tick.
WARM_RETRY_S = 5.0
# An acquirer at the cap whose want no loop served yet looks again this often: for a stopped loop's idle connection to
# borrow (the loops it asked may have stopped before closing one), and asks the running loops with an idle connection
# again (they may have had none left when they looked, or its own loop was stopped then).
STOPPED_LOOP_RECHECK_S = 0.5

# RFC 9110: a method and a header name are tokens; a header value is visible ASCII, space, tab and obs-text.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_NOT_FIELD_TEXT = re.compile(r"[^\t\x20-\x7e\x80-\xff]")
_NOT_HEAD_TEXT = re.compile(r"[^\t\r\n\x20-\x7e\x80-\xff]")
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
# Header names found to be tokens; lm15 sends a handful.
_GOOD_NAMES: set[str] = set()
# A request target or authority: no whitespace, no control character, nothing beyond Latin-1.
_NOT_URL_TEXT = re.compile(r"[^\x21-\x7e\x80-\xff]")

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
        if _NOT_URL_TEXT.search(url) is not None:
            problem = text_problem(url, allow_tab=False) or "a space"
            raise ConfigurationError(f"cannot send to {shown_url!r}: the URL contains {problem}; a request line "
                                     "may not, so percent-encode it")
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


def _check_name(name: str) -> None:
    if name in _GOOD_NAMES:
        return
    if _TOKEN.fullmatch(name) is None:
        raise ConfigurationError(
            f"refusing to send header {name!r}: a header name is letters, digits and !#$%&'*+-.^_`|~ only")
    if len(_GOOD_NAMES) < _URL_CACHE_SIZE:
        _GOOD_NAMES.add(name)


def _check_header(name: str, value: str) -> None:
    # The message names the header and the kind of character, never the value: it may be a key.
    _check_name(name)
    if _NOT_FIELD_TEXT.search(value) is not None:
        problem = text_problem(value)
        raise ConfigurationError(f"refusing to send header {name!r}: its value contains {problem}; if it is the "
                                 "API key, copy it again from the provider's console")


def build_head(method: str, parsed: ParsedURL, headers: list[tuple[str, str]], body: bytes) -> bytes:
    """The request line and headers of one request, with ``Host`` and ``Content-Length`` added.

    Raises:
        ConfigurationError: When the method, a header name or a header value cannot be sent as it is.
    """
    if method not in _METHODS and _TOKEN.fullmatch(method) is None:
        raise ConfigurationError(f"refusing to send method {method!r}: a method is letters only, such as 'POST'")
    lines = [f"{method} {parsed.target} HTTP/1.1\r\nHost: {parsed.host_header}\r\n"]
    seen_length = seen_encoding = seen_agent = False
    for name, value in headers:
        _check_name(name)
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
    text = "".join(lines)
    # One scan of the whole head instead of one per value: every line above ends in exactly one CRLF (the first
    # holds two), so another CR or LF, or a character outside field text, came from a value; then name which.
    breaks = len(lines) + 1
    if text.count("\n") != breaks or text.count("\r") != breaks or _NOT_HEAD_TEXT.search(text) is not None:
        for name, value in headers:
            _check_header(name, value)
    return text.encode("latin-1")


class HTTP11Response:
    """One answer, as lm15 expects it from an async transport: head first, body read or iterated after.

    Args:
        connection: The connection the answer arrives on.
        where: ``host:port``, for error messages.
    """

    __slots__ = ("_body_bytes", "_chunks", "_connection", "_decoded_bytes", "_decoder", "_done", "_error", "_head",
                 "_limits", "_waiter", "_where", "headers", "http_version", "keep_alive", "reason", "status")

    def __init__(self, connection: _Connection, where: str) -> None:
        self._connection = connection
        self._where = where
        self._limits = connection.pool.limits
        self._body_bytes = 0
        self._decoded_bytes = 0
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
        limits = self._limits
        self._body_bytes += len(data)
        if self._body_bytes > limits.body_bytes:
            self._fail(too_large(self._where, "a body", "max_response_body_bytes", limits.body_bytes))
            return
        if self._decoder is not None:
            room = limits.decompressed_bytes - self._decoded_bytes
            try:
                # At most one byte over the room: a gzip bomb never expands past the limit in memory. Output
                # shorter than that means every input byte was used (zlib stops early only when out of room).
                data = self._decoder.decompress(data, room + 1)
            except zlib.error as exc:
                self._fail(ConnectionFailedError(f"{self._where} sent a body that does not decompress: {exc}"))
                return
            if not self._count_decoded(len(data)):
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
            if not self._count_decoded(len(tail)):
                return
            if tail:
                self._chunks.append(tail)
            if not decoder.eof:
                self._fail(ConnectionFailedError(f"{self._where} sent a compressed body that ends before its end"))
                return
        self.keep_alive = keep_alive
        self._done = True
        self._wake()

    def _count_decoded(self, size: int) -> bool:
        self._decoded_bytes += size
        limit = self._limits.decompressed_bytes
        if self._decoded_bytes > limit:
            self._fail(too_large(self._where, "a body that decompresses to more", "max_response_decompressed_bytes",
                                 limit))
            return False
        return True

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

    def __init__(self, pool: ConnectionPool, origin: Origin,
                 first_send: Callable[[_Connection], object] | None = None) -> None:
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
        # Head bookkeeping of the current request: whether a head is being read, whether it is an interim (1xx)
        # one, the bytes of complete header lines, and the bytes of reads that did not finish a head.
        self._in_head = False
        self._interim = False
        self._head_bytes = 0
        self._head_reads = 0
        # Sends the request the connection was opened for as soon as it is made (see ConnectionPool.acquire).
        self._first_send = first_send
        # The acquirer this connection is closed for (at the cap): its socket's slot goes to that acquirer.
        self.heir: Want | None = None

    def __repr__(self) -> str:
        scheme, host, port = self.origin
        return f"_Connection({scheme}://{host}:{port}, served={self.served}, closed={self.closed})"

    # --- asyncio.Protocol ---

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not an isinstance check: uvloop's transports have every method used here but derive from none of
        # asyncio's transport classes.
        self.transport = cast(asyncio.Transport, transport)
        # The socket exists from here until connection_lost: it holds the slot its opening took (ConnectionPool).
        self.pool._live.add(self)
        first_send, self._first_send = self._first_send, None
        if first_send is not None:
            first_send(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool._forget(self)
        self.pool._socket_closed(self)
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
        if self.closed:
            return
        if self.response is None:
            self.close()  # bytes nobody asked for: the connection's framing can no longer be trusted
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if self.response is not None:
                self.response._fail(ConnectionFailedError(f"{self.where} sent a malformed HTTP answer: {exc}"))
            self.close()
            return
        if self._in_head and not self.closed:
            # The parser keeps a header line it has not finished; count what it holds, so that an endless line is
            # refused too.
            self._head_reads += len(data)
            self._check_head_size(self._head_reads)

    def _check_head_size(self, size: int) -> None:
        limit = self.pool.limits.header_bytes
        if size > limit and self.response is not None:
            self.response._fail(too_large(self.where, "a head", "max_response_header_bytes", limit))

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
        self._in_head = True

    def on_status(self, status: bytes) -> None:
        self._reason += status.decode("latin-1")
        self._head_bytes += len(status) + 15

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.response is None or self.closed:
            return
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > self.pool.limits.header_bytes:
            self._check_head_size(self._head_bytes)
            return
        self._headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self._in_head = False
        response = self.response
        if response is not None and not self.closed:
            parser = self._parser
            status = parser.get_status_code()
            if 100 <= status < 200 and status != 101:
                # An interim answer (100 Continue, 103 Early Hints): the final one follows on the same connection.
                self._interim = True
                return
            response._on_head(status, self._reason, self._headers, parser.get_http_version())
            if self.head_only:
                # The parser cannot know a HEAD answer has no body; end it here and do not reuse the connection.
                response._on_complete(keep_alive=False)

    def on_body(self, body: bytes) -> None:
        if self.response is not None:
            self.response._on_body(body)

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        response = self.response
        if response is not None:
            response._on_complete(self._parser.should_keep_alive())

    # --- used by the pool and the exchange ---

    def send(self, head: bytes, body: bytes, *, head_only: bool = False) -> HTTP11Response:
        assert self.transport is not None
        response = self.response = HTTP11Response(self, self.where)
        self.received_any = False
        self.head_only = head_only
        self._in_head = True
        self._interim = False
        self._head_bytes = self._head_reads = 0
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
                # Not close(): for TLS it waits for the server's close_notify (up to 30 s) with the socket and its
                # slot held; nothing needs flushing on a connection given up.
                self.transport.abort()
            self.pool._forget(self)

    def close_without_loop(self) -> None:
        """Close the socket of a connection whose event loop is closed (its transport cannot close it there).

        ``abort()`` marks the transport closed and fails at scheduling the close on the closed loop; asyncio's
        socket transports then finish their close directly (``_call_connection_lost`` closes the socket and clears
        it, so no ResourceWarning follows), with the TLS layer's socket transport found under it. uvloop's
        ``abort()`` closes the socket itself.
        """
        self.closed = True
        self.response = None
        transport = self.transport
        if transport is None:
            return
        with contextlib.suppress(RuntimeError):
            transport.abort()
        inner: Any = getattr(getattr(transport, "_ssl_protocol", None), "_transport", None) or transport
        finish = getattr(inner, "_call_connection_lost", None)
        if callable(finish) and getattr(inner, "_sock", None) is not None:
            with contextlib.suppress(Exception):  # the TLS layer's connection_lost fails scheduling on the loop
                finish(None)


class ConnectionPool:
    """The keep-alive connections of one event loop, within a budget of open sockets shared with other loops' pools.

    A slot of the budget (:class:`~sharedlm._conn_budget.ConnectionBudget`) is taken before a connection starts
    opening and given back once its socket is closed. At the cap, the pool closes its own oldest idle connection,
    else asks another loop's pool to close one of its idle ones, and waits for the slot to free.

    Args:
        loop: The event loop every connection of this pool belongs to.
        max_connections: The most sockets open at once, idle ones included: the budget's limit when ``budget`` is
            None (a budget of this pool alone), else the shared budget's limit is what counts.
        connect_timeout: The longest opening one connection (TCP and TLS) may take, in seconds.
        keepalive_timeout: How long an idle connection is kept for reuse, in seconds.
        ssl_context: Builds the TLS context for https origins, called once on first use.
        on_open: Called with each socket this pool opens (the transport counts them).
        clock: Monotonic seconds.
        limits: How large one answer may be.
        resolver: Looks host names up and keeps the answers (a new one per pool when None).
        budget: The open sockets this pool shares with other loops' pools (one of its own when None).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, *, max_connections: int, connect_timeout: float,
                 keepalive_timeout: float = DEFAULT_KEEPALIVE_S,
                 ssl_context: Callable[[], ssl.SSLContext] = ssl.create_default_context,
                 on_open: Callable[[Any], None] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 limits: ResponseLimits = DEFAULT_LIMITS, resolver: HostResolver | None = None,
                 budget: ConnectionBudget | None = None) -> None:
        self.loop = loop
        self.limits = limits
        self.resolver = resolver or HostResolver(loop)
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
        # Acquirers waiting on this loop: woken with False by this pool (a connection came back idle), with True by
        # the budget (a slot freed).
        self._waiters: collections.deque[asyncio.Future[bool]] = collections.deque()
        self._closed = False
        self._last_sweep = clock()
        self.connections_opened = 0
        # Connections being opened ahead of need (kept: the loop holds only weak references to tasks), per origin.
        self._warming: set[asyncio.Task[None]] = set()
        self._warming_to: collections.Counter[Origin] = collections.Counter()
        self._warm_failed_at: dict[Origin, float] = {}
        self._warm_unstarted = 0
        self._warm_waiters: dict[Origin, collections.deque[asyncio.Future[None]]] = {}
        # Budget slots this pool holds (connections opening, and sockets not yet closed), the connections whose
        # socket exists (connection_made to connection_lost), and idle connections lent to other loops while this
        # loop was stopped, to close when it runs (read and written under the budget's lock).
        self._budget = budget if budget is not None else ConnectionBudget(max_connections)
        self._held = 0
        self._live: set[_Connection] = set()
        # Connections whose socket closed this turn, their slot given back on the next (_give_back_slot).
        self._closing: set[_Connection] = set()
        self.lent = 0
        self._budget.join(self)

    def __repr__(self) -> str:
        idle = sum(len(conns) for conns in self._idle.values())
        return (f"ConnectionPool(max_connections={self.max_connections}, open={len(self._open)}, idle={idle}, "
                f"opening={self._opening}, warming={len(self._warming)}, waiting={len(self._waiters)}, "
                f"slots={self._held}, lent={self.lent}, closed={self._closed})")

    @property
    def open_connections(self) -> int:
        """Connections open now, idle and busy."""
        return len(self._open)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def budget(self) -> ConnectionBudget:
        """The budget of open sockets this pool draws on."""
        return self._budget

    def idle_count(self) -> int:
        """Idle connections now; read by other loops' threads (``list()`` of a dict's values is atomic)."""
        return sum(map(len, list(self._idle.values())))

    @staticmethod
    def where(origin: Origin) -> str:
        return f"{origin[1]}:{origin[2]}"

    async def acquire(self, origin: Origin, *, fresh: bool = False,
                      first_send: Callable[[_Connection], object] | None = None) -> _Connection:
        """An idle connection to ``origin``, or a new one once the budget allows it.

        At the cap, this pool's oldest idle connection is closed to make room, else another loop's (see
        :mod:`sharedlm._conn_budget`), and the acquirer waits for the slot to free.

        Args:
            origin: Scheme, host and port.
            fresh: Open a new connection even when idle ones exist (a retry after a stale one).
            first_send: Called with a new connection the moment it is made, to write its first request then. The
                opener resumes two turns of the event loop later, and in a loop busy with a burst each turn is
                long: 800 new connections' requests went out 0.2-0.3 s after the idle connections' ones. Not
                called for an idle connection (its response is None: the caller sends).
        """
        # What this acquirer did to make room at the cap: nothing yet (None), or its want of a slot, open (asking
        # other loops) or claimed (a connection is being closed for it, its own pool's or another loop's; that
        # socket's slot is granted to it once closed); and whether the budget woke it for a freed slot, which it
        # takes or passes on.
        room: Want | None = None
        budget_woke = False
        try:
            while True:
                if not fresh:
                    connection = self._take_idle(origin)
                    if connection is not None:
                        return connection
                    if self._warming_to[origin] > len(self._warm_waiters.get(origin, ())) and not self._closed:
                        # One is being opened ahead of need for this origin: take it rather than open another (for
                        # TLS, a second handshake).
                        if budget_woke:
                            budget_woke = False
                            self._budget.pass_on()
                        await self._wait_for_warming(origin)
                        continue
                if self._closed:
                    raise ConnectionFailedError("this connection pool is closed; the shared LM was reset or shut down")
                budget = self._budget
                if room is not None and budget.use_grant(room):
                    room = None
                    return await self._connect_in_slot(origin, first_send)
                if budget.try_take() or (budget.reap_closed_loops() and budget.try_take()):
                    budget_woke = False
                    return await self._connect_in_slot(origin, first_send)
                if budget_woke:
                    # Another acquirer took the slot freed for this one: its own want, if any, still stands.
                    budget_woke = False
                if (room is None or not room.claimed) and self.idle_count():
                    # One of this pool's own (first choice; also when one came back idle while a want was open):
                    # its slot is this acquirer's once its socket is closed.
                    self._drop_room(room)
                    room = Want(self, claimed=True)
                    self._evict_idle(room)
                elif room is None and _caller_blocks_a_loop():
                    # Its loop's own connections come back only after this call returns: waiting could last forever.
                    budget.borrow()
                    return await self._connect_in_slot(origin, first_send)
                elif room is None:
                    room = budget.want(self)
                    if room is None:  # a stopped loop's idle connection was lent: its slot is taken
                        return await self._connect_in_slot(origin, first_send)
                elif not room.claimed:
                    if budget.borrow_from_stopped(self, room):
                        room = None
                        return await self._connect_in_slot(origin, first_send)
                    budget.nudge(room)
                waiter: asyncio.Future[bool] = self.loop.create_future()
                if budget.take_or_wait(self.loop, waiter, room):
                    if room is not None and room.gone:
                        room = None  # its granted slot was taken
                    return await self._connect_in_slot(origin, first_send)
                self._waiters.append(waiter)
                # A want no loop served yet is looked at again after a while (see STOPPED_LOOP_RECHECK_S); a claimed
                # one is granted its slot when the connection closed for it is.
                recheck = (self.loop.call_later(STOPPED_LOOP_RECHECK_S, _wake_local, waiter)
                           if not room.claimed else None)
                try:
                    budget_woke = bool(await waiter)
                except BaseException:
                    if waiter.done() and not waiter.cancelled():
                        # Woken, then cancelled before running: pass the wake-up on.
                        if waiter.result():
                            budget.pass_on()
                        else:
                            self._wake_one()
                    raise
                finally:
                    if recheck is not None:
                        recheck.cancel()
                    budget.withdraw(waiter)
                    if waiter in self._waiters:
                        self._waiters.remove(waiter)
        finally:
            self._drop_room(room)
            if budget_woke:
                self._budget.pass_on()

    def _drop_room(self, room: Want | None) -> None:
        if room is not None:
            self._budget.drop_want(room)

    async def _connect_in_slot(self, origin: Origin,
                               first_send: Callable[[_Connection], object] | None) -> _Connection:
        self._held += 1
        return await self._connect(origin, first_send)

    def warm(self, origin: Origin, count: int) -> int:
        """Open connections to ``origin`` ahead of need until ``count`` are idle or opening; return how many started.

        Bounded by the free slots of the budget: warming never closes an idle connection (of this loop or another)
        and never takes a slot an acquirer waits for. Each one opened goes to the idle connections, where the next
        request to ``origin`` takes it. A connection that cannot be opened is not reported here (the request that
        needs one reports why), and the origin is not warmed again for :data:`WARM_RETRY_S`.

        Args:
            origin: Scheme, host and port.
            count: How many requests to ``origin`` are expected to need a connection soon.
        """
        if self._closed:
            return 0
        failed_at = self._warm_failed_at.get(origin)
        if failed_at is not None and self._clock() - failed_at < WARM_RETRY_S:
            return 0
        ready = len(self._idle.get(origin, ())) + self._warming_to[origin]
        # Free slots only: warming never closes an idle connection, here or on another loop, nor takes the slot
        # a waiting acquirer needs.
        room = self._budget.room_for_warming() - self._warm_unstarted
        started = max(0, min(count - ready, room))
        for _ in range(started):
            self._warming_to[origin] += 1
            self._warm_unstarted += 1
            task = self.loop.create_task(self._warm_one(origin))
            self._warming.add(task)
            task.add_done_callback(self._warming.discard)
        return started

    async def _warm_one(self, origin: Origin) -> None:
        self._warm_unstarted -= 1
        connection: _Connection | None = None
        try:
            if not self._closed and self._budget.try_take(warming=True):
                try:
                    connection = await self._connect_in_slot(origin, None)
                except Exception:
                    self._warm_failed_at[origin] = self._clock()
        finally:
            self._warming_to[origin] -= 1
            if connection is not None:
                connection.idle_since = self._clock()
                self._idle.setdefault(origin, []).append(connection)
                self._wake_one()
            self._wake_warm_waiter(origin)  # opened, failed or given up: the request waiting for it goes on

    async def _wait_for_warming(self, origin: Origin) -> None:
        """Wait until a connection being opened ahead of need for ``origin`` is open (or failed)."""
        waiter = self.loop.create_future()
        waiters = self._warm_waiters.setdefault(origin, collections.deque())
        waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._wake_warm_waiter(origin)  # woken, then cancelled before running: pass the wake-up on
            raise
        finally:
            if waiter in waiters:
                waiters.remove(waiter)

    def _wake_warm_waiter(self, origin: Origin) -> None:
        waiters = self._warm_waiters.get(origin)
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

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

    async def _connect(self, origin: Origin, first_send: Callable[[_Connection], object] | None = None) -> _Connection:
        """Open a connection in the budget slot the caller took (``_held`` counts it): a connection whose socket was
        made keeps the slot until its socket closes; a failed attempt gives it back."""
        scheme, host, port = origin
        context = None
        if scheme == "https":
            if self._ssl is None:
                try:
                    self._ssl = self._ssl_factory()
                except BaseException:
                    self._give_back_slot()  # no socket was made: the slot is free now
                    raise
            context = self._ssl
        made: list[_Connection] = []

        def protocol() -> _Connection:
            made.append(_Connection(self, origin, first_send))
            return made[-1]

        self._opening += 1
        try:
            async with asyncio.timeout(self.connect_timeout):
                transport, connection = await self._open_socket(host, port, context, protocol)
        except BaseException as exc:
            for half_open in made:  # it may have sent its first request: never leave it open and untracked
                half_open.close("the connection did not finish opening")
            self._opening -= 1
            if not any(half_open.transport is not None for half_open in made):
                # No connection took over this attempt's slot: free it once the failed socket is closed (asyncio
                # closes it on the loop's next turn).
                self.loop.call_soon(self._give_back_slot)
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

    async def _open_socket(self, host: str, port: int, context: ssl.SSLContext | None,
                           protocol: Callable[[], _Connection]) -> tuple[Any, _Connection]:
        """Open one connection: an address literal directly, a name at the addresses the resolver keeps.

        For a name, the addresses are raced as RFC 8305 says (happy eyeballs: an address family that hangs must
        not use up the whole timeout), with aiohappyeyeballs, as aiohttp does; TLS is then started on the socket
        with the name for SNI and certificate checks.
        """
        server_hostname = host if context is not None else None
        if not _is_name(host):
            # One address, nothing to race or look up (asyncio's own parse of a literal takes no thread hop).
            return await self.loop.create_connection(protocol, host, port, ssl=context,
                                                     server_hostname=server_hostname)
        infos = await self.resolver.resolve(host, port)
        try:
            sock = await aiohappyeyeballs.start_connection(infos, happy_eyeballs_delay=_HAPPY_EYEBALLS_S,
                                                           interleave=1, loop=self.loop)
        except OSError:
            self.resolver.forget(host, port)  # none of its addresses took a connection: ask again next time
            raise
        try:
            return await self.loop.create_connection(protocol, sock=sock, ssl=context,
                                                     server_hostname=server_hostname)
        except BaseException:
            sock.close()
            raise

    def _evict_idle(self, heir: Want | None = None) -> bool:
        """Close the oldest idle connection, its slot going to ``heir`` once its socket is closed; whether one was."""
        oldest: _Connection | None = None
        for conns in self._idle.values():
            if conns and (oldest is None or conns[0].idle_since < oldest.idle_since):
                oldest = conns[0]
        if oldest is None:
            return False
        oldest.heir = heir
        oldest.close()
        return True

    def release(self, connection: _Connection) -> None:
        """Give a connection whose answer was read completely back for reuse."""
        connection.response = None
        if connection.closed or self._closed:
            connection.close()
            self._wake_one()
            return
        if self._budget.wanted or self.lent:
            claimed = self._budget.claim(self)
            if claimed:
                if isinstance(claimed, Want):
                    connection.heir = claimed  # the slot goes to that acquirer once the socket is closed
                connection.close("another event loop needs the connection slot")  # the budget is spent: no idling
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

    def _socket_closed(self, connection: _Connection) -> None:
        """``connection``'s socket is closed (or closes right after this, in the same turn): free its slot."""
        if connection not in self._live:
            return
        self._live.discard(connection)
        if self.loop.is_closed():
            return  # close_without_loop() gives every slot back
        # Freed on the next turn: asyncio's socket transports close the socket after calling connection_lost.
        self._closing.add(connection)
        self.loop.call_soon(self._give_back_slot, connection)

    def _give_back_slot(self, connection: _Connection | None = None) -> None:
        """Give back the slot of ``connection``'s closed socket (to its heir, if any), or of an attempt that made none.
        """
        if connection is not None:
            if connection not in self._closing:
                return  # given back already by close_without_loop()
            self._closing.discard(connection)
        if self._held <= 0:
            return  # given back already by close_without_loop()
        self._held -= 1
        self._budget.give_back(heir=connection.heir if connection is not None else None)
        if self._closed and self._held == 0:
            self._budget.leave(self)

    def pay_wants(self) -> None:
        """Close idle connections other loops' acquirers are waiting for (called on this pool's loop)."""
        while not self._closed and self.idle_count():
            claimed = self._budget.claim(self)
            if not claimed:
                return
            self._evict_idle(claimed if isinstance(claimed, Want) else None)

    def close_without_loop(self) -> int:
        """Close every socket of this pool after its loop was closed with the pool open; return the slots freed.

        A loop driven by hand and closed without ``loop.shutdown_asyncgens()`` never ran the pool's close; its
        sockets are closed here, from any thread, without the loop (nothing runs on a closed loop any more).
        """
        self._closed = True
        heirs = [connection.heir for connection in (*self._live, *self._closing) if connection.heir is not None]
        for connection in list(self._live):
            connection.close_without_loop()
        self._live.clear()
        self._closing.clear()
        self._open.clear()
        self._idle.clear()
        # Their futures and tasks belong to the closed loop: dropped, not woken or cancelled (that needs the loop).
        self._waiters.clear()
        self._warm_waiters.clear()
        self._warming.clear()
        self._opening = 0
        freed, self._held = self._held, 0
        self.lent = 0
        self._budget.leave(self)
        for heir in heirs[:freed]:  # the acquirers those sockets were closed for get their slots
            self._budget.give_back(heir=heir)
        return max(0, freed - len(heirs))

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(False)
                return

    def close(self) -> None:
        """Close every connection; busy ones fail their answers."""
        self._closed = True
        for task in list(self._warming):
            task.cancel()
        for origin in list(self._warm_waiters):
            while self._warm_waiters[origin]:
                self._wake_warm_waiter(origin)
        for connection in list(self._open):
            connection.close()
        self._idle.clear()
        self.resolver.close()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(False)
        if self._held == 0:
            self._budget.leave(self)  # else when its last socket is closed (_give_back_slot)


def _caller_blocks_a_loop() -> bool:
    """Whether the running call's caller blocks a running event loop until it returns (a sync call inside a loop)."""
    return CALLER_BLOCKS_LOOP.get()


def _wake_local(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


def _is_name(host: str) -> bool:
    """Whether ``host`` is a name to look up, not an address literal.

    A literal has one address: nothing to look up and nothing to race. asyncio runs a race as a task per address
    and waits for it, two turns of the event loop more than a plain connect, and in a loop busy with a burst of a
    thousand calls each turn is long (800 new connections to 127.0.0.1 took 0.26 s each to open with a race, of
    which 0.06 s was the TCP connect itself).
    """
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return True
    return False


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
        on_written: Called with the origin each time the request has been handed to the socket.
    """

    __slots__ = ("_body", "_connection", "_head", "_headers", "_method", "_on_head", "_on_written", "_parsed", "_pool",
                 "_pools", "_response")

    def __init__(self, pools: PoolSource, parsed: ParsedURL, method: str, headers: list[tuple[str, str]],
                 body: bytes, on_head: Callable[[HTTP11Response], None] | None = None,
                 on_written: Callable[[Origin], None] | None = None) -> None:
        self._pools = pools
        self._pool: ConnectionPool | None = None
        self._parsed = parsed
        self._method = method
        self._headers = headers
        self._body = body
        self._on_head = on_head
        self._on_written = on_written
        self._head = b""
        self._connection: _Connection | None = None
        self._response: HTTP11Response | None = None

    def _send(self, connection: _Connection) -> HTTP11Response:
        self._connection = connection
        response = self._response = connection.send(self._head, self._body, head_only=self._method == "HEAD")
        if self._on_written is not None:
            self._on_written(self._parsed.origin)
        return response

    async def __aenter__(self) -> HTTP11Response:
        self._head = build_head(self._method, self._parsed, self._headers, self._body)
        pool = self._pool = await self._pools.direct_pool()
        fresh = False
        while True:
            connection = await pool.acquire(self._parsed.origin, fresh=fresh, first_send=self._send)
            reused = not (self._connection is connection and self._response is not None)
            if reused:
                response = self._send(connection)  # an idle one is written to now
            else:
                assert self._response is not None
                response = self._response  # a new connection wrote the request the moment it was made
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


__all__ = ["DEFAULT_KEEPALIVE_S", "WARM_RETRY_S", "ConnectionPool", "HTTP11Exchange", "HTTP11Response", "Origin",
           "ParsedURL", "PoolSource", "build_head"]
