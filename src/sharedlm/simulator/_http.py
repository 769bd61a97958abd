"""A lean HTTP/1.1 server connection on asyncio: httptools parses, this module keeps order and writes answers.

One :class:`HttpConnection` per client TCP connection. Requests on a connection are handled one at a time in
arrival order (pipelined requests wait their turn), with keep-alive unless the client or the answer says
otherwise. What to do with a request is the :class:`RequestHandler`'s business; it answers through
:meth:`HttpConnection.respond`, drops the connection with :meth:`HttpConnection.reset`, or never answers.

Like a real server it bounds what a client may send (:class:`HeadBounds`): a request URL over ``max_url_bytes`` is
answered ``414`` and a request head over ``max_head_bytes`` ``431``, and the connection is closed; a connection
idle longer than ``idle_timeout`` is closed by the server's sweep (:meth:`HttpConnection.idle_for`).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast

import httptools

import sharedlm.simulator._json as _json

MAX_BODY_BYTES = 32 * 1024 * 1024
# Request bounds: real servers refuse heads of 8-64 KiB (nginx 4 x 8 KiB, Node 16 KiB) and URLs of 8 KiB; an LLM
# API request's head is a few hundred bytes. Keep-alive: nginx closes idle connections after 75 s; sharedlm's client
# drops its own after 15 s, so the default never closes a connection a benchmark would reuse.
DEFAULT_MAX_HEAD_BYTES = 64 * 1024
DEFAULT_MAX_URL_BYTES = 16 * 1024
DEFAULT_IDLE_TIMEOUT_S = 75.0
_REASONS = {200: b"OK", 400: b"Bad Request", 404: b"Not Found", 405: b"Method Not Allowed",
            413: b"Payload Too Large", 414: b"URI Too Long", 429: b"Too Many Requests",
            431: b"Request Header Fields Too Large", 500: b"Internal Server Error", 503: b"Service Unavailable"}


@dataclass(frozen=True, slots=True)
class HeadBounds:
    """What one request's head may hold.

    Args:
        max_head_bytes: The request line and headers together; more is answered 431 and the connection closed.
        max_url_bytes: The request target; more is answered 414 and the connection closed.
    """

    max_head_bytes: int = DEFAULT_MAX_HEAD_BYTES
    max_url_bytes: int = DEFAULT_MAX_URL_BYTES


DEFAULT_HEAD_BOUNDS = HeadBounds()
# After refusing a request the server half-closes and reads on (and discards) what the client still sends, for at
# most this long, so that the client reads the refusal instead of a reset (RFC 9112 section 9.6, nginx's
# lingering close).
_LINGER_S = 2.0
# SO_LINGER on with a zero timeout: close() sends a TCP RST instead of a FIN, as a crashed proxy would.
_LINGER_RESET = struct.pack("ii", 1, 0)


class Request:
    """One complete HTTP request. Headers are not kept: no answer depends on them (credentials are not checked)."""

    __slots__ = ("body", "keep_alive", "method", "path", "query")

    def __init__(self, method: bytes, path: bytes, query: bytes, body: bytes, keep_alive: bool) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.body = body
        self.keep_alive = keep_alive

    def __repr__(self) -> str:
        return f"Request({self.method.decode()} {self.path.decode(errors='replace')}, body={len(self.body)} bytes)"


class RequestHandler(Protocol):
    """What a connection hands its requests and its life events to."""

    def handle(self, connection: HttpConnection, request: Request) -> None:
        """Deal with ``request``: answer it now or later, reset the connection, or never answer."""

    def connection_opened(self, connection: HttpConnection) -> None:
        """A client connected."""

    def connection_closed(self, connection: HttpConnection) -> None:
        """The connection is gone (closed by either side, or reset)."""


def _error_body(message: str) -> bytes:
    return _json.dumps({"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}})


class HttpConnection(asyncio.Protocol):
    """The server side of one client TCP connection.

    Args:
        handler: Receives each complete request and the connection's life events.
        bounds: What one request's head may hold.
        clock: Monotonic seconds, for how long the connection has been idle.
    """

    __slots__ = ("_body", "_body_size", "_bounds", "_busy", "_clock", "_draining", "_handler", "_head_fresh",
                 "_head_reads", "_head_size", "_in_head", "_keep_alive", "_parser", "_pending", "_url", "closed",
                 "exchange", "generation", "last_active", "transport")

    def __init__(self, handler: RequestHandler, bounds: HeadBounds = DEFAULT_HEAD_BOUNDS,
                 clock: Callable[[], float] | None = None) -> None:
        self._handler = handler
        self._bounds = bounds
        self._clock = clock
        # When a byte last arrived or the last answer was written; the server's sweep closes idle connections.
        self.last_active = clock() if clock is not None else 0.0
        # Head bookkeeping: whether a head is being read, its complete lines' bytes, and reads that ended inside it.
        self._in_head = False
        self._head_fresh = False
        self._head_size = 0
        self._head_reads = 0
        self._parser = httptools.HttpRequestParser(self)
        self._pending: deque[Request] = deque()
        self._busy = False
        self._draining = False
        self._keep_alive = True
        self._url = b""
        self._body: list[bytes] = []
        self._body_size = 0
        self.transport: asyncio.Transport | None = None
        self.closed = False
        # The handler's state for the request being handled (its timer, its slot), or None.
        self.exchange: Any = None
        # The handler's counter generation when this connection was last counted.
        self.generation = -1

    def __repr__(self) -> str:
        state = "closed" if self.closed else "busy" if self._busy else "idle"
        return f"HttpConnection({state}, pending={len(self._pending)})"

    # --- asyncio.Protocol -----------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not an isinstance check: uvloop's transports have every method used here but derive from none of
        # asyncio's transport classes.
        self.transport = cast(asyncio.Transport, transport)
        self._handler.connection_opened(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._pending.clear()
        self._handler.connection_closed(self)

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        if self._clock is not None:
            self.last_active = self._clock()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse(400, "Protocol upgrades are not supported.")
            return
        except httptools.HttpParserError:
            self._refuse(400, "Malformed HTTP request.")
            return
        if self._in_head and not self.closed:
            # The parser holds the line it has not finished; an endless one must be refused too. The read the head
            # began in is not counted: it may hold the end of the previous request's body.
            if self._head_fresh:
                self._head_fresh = False
            else:
                self._head_reads += len(data)
                if self._head_reads > self._bounds.max_head_bytes:
                    self._head_too_large()

    def idle_for(self, now: float) -> float:
        """How long the connection has been idle at ``now``: 0 while a request is pending or being handled.

        Args:
            now: The clock's time.
        """
        if self._busy or self._pending or self._in_head or self.closed:
            return 0.0
        return now - self.last_active

    def _head_too_large(self) -> None:
        self._refuse(431, f"Request header fields larger than {self._bounds.max_head_bytes} bytes.")

    # --- httptools callbacks --------------------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._body = []
        self._body_size = 0
        self._in_head = True
        self._head_fresh = True
        self._head_size = 0
        self._head_reads = 0

    def on_url(self, url: bytes) -> None:
        if self.closed:
            return
        self._url += url
        if len(self._url) > self._bounds.max_url_bytes:
            self._refuse(414, f"Request URL longer than {self._bounds.max_url_bytes} bytes.")

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.closed:
            return
        self._head_size += len(name) + len(value) + 4
        if self._head_size + len(self._url) > self._bounds.max_head_bytes:
            self._head_too_large()
            return
        if len(name) == 6 and name.lower() == b"expect" and value.lower() == b"100-continue" and self.transport:
            # Clients that ask first (curl with a large body) would otherwise wait a second before sending it.
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_headers_complete(self) -> None:
        self._in_head = False

    def on_body(self, body: bytes) -> None:
        if self.closed:
            return
        self._body_size += len(body)
        if self._body_size > MAX_BODY_BYTES:
            self._refuse(413, f"Request body larger than {MAX_BODY_BYTES} bytes.")
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self.closed:
            return
        path, _, query = self._url.partition(b"?")
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        self._pending.append(Request(self._parser.get_method(), path, query, body, self._parser.should_keep_alive()))
        if not self._busy:
            self._drain()

    # --- answering ------------------------------------------------------------------------------------------------

    def _drain(self) -> None:
        if self._draining:
            return
        self._draining = True
        try:
            while self._pending and not self._busy and not self.closed:
                request = self._pending.popleft()
                self._busy = True
                self._keep_alive = request.keep_alive
                self._handler.handle(self, request)
        finally:
            self._draining = False

    def respond(self, status: int, content_type: bytes, body: bytes, headers: bytes = b"",
                close: bool = False, linger: bool = False) -> None:
        """Answer the request in progress, then go on with the next one.

        Args:
            status: The HTTP status.
            content_type: The ``Content-Type`` value.
            body: The whole body.
            headers: Extra header lines, each ending with CRLF.
            close: Close the connection after this answer.
            linger: With ``close``, half-close and discard what the client still sends for a while, so that a
                client still writing a refused request reads this answer rather than a reset.
        """
        transport = self.transport
        if self.closed or transport is None:
            return
        keep_alive = self._keep_alive and not close
        transport.write(b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n%s%s\r\n%s" % (
            status, _REASONS.get(status, b"Unknown"), content_type, len(body), headers,
            b"" if keep_alive else b"connection: close\r\n", body))
        self._busy = False
        if self._clock is not None:
            self.last_active = self._clock()
        if not keep_alive:
            self.closed = True
            if linger and transport.can_write_eof():
                transport.write_eof()
                asyncio.get_running_loop().call_later(_LINGER_S, transport.close)
            else:
                transport.close()
        elif not self._draining and self._pending:
            self._drain()

    def reset(self) -> None:
        """Drop the connection with a TCP reset and no answer."""
        transport = self.transport
        if self.closed or transport is None:
            return
        self.closed = True
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):  # the socket may already be gone
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        transport.abort()

    def close(self) -> None:
        """Close the connection after flushing what was written (server shutdown)."""
        if self.transport is not None and not self.transport.is_closing():
            self.closed = True
            self.transport.close()

    def _refuse(self, status: int, message: str) -> None:
        if self._busy or self.transport is None:
            # A request is being handled: an answer now would be out of order, so just hang up.
            self.close()
            return
        self._busy = True
        self.respond(status, b"application/json", _error_body(message), close=True, linger=True)


__all__ = ["DEFAULT_IDLE_TIMEOUT_S", "DEFAULT_MAX_HEAD_BYTES", "DEFAULT_MAX_URL_BYTES", "MAX_BODY_BYTES", "HeadBounds",
           "HttpConnection", "Request", "RequestHandler"]
