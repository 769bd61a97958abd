"""A lean HTTP/1.1 server connection on asyncio: httptools parses, this module keeps order and writes answers.

One :class:`HttpConnection` per client TCP connection. Requests on a connection are handled one at a time in
arrival order (pipelined requests wait their turn), with keep-alive unless the client or the answer says
otherwise. What to do with a request is the :class:`RequestHandler`'s business; it answers through
:meth:`HttpConnection.respond`, drops the connection with :meth:`HttpConnection.reset`, or never answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections import deque
from typing import Any, Protocol

import httptools

from sharedlm.simulator import _json

MAX_BODY_BYTES = 32 * 1024 * 1024
_REASONS = {200: b"OK", 400: b"Bad Request", 404: b"Not Found", 405: b"Method Not Allowed",
            413: b"Payload Too Large", 429: b"Too Many Requests", 500: b"Internal Server Error",
            503: b"Service Unavailable"}
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
    """

    __slots__ = ("_body", "_body_size", "_busy", "_draining", "_handler", "_keep_alive", "_parser",
                 "_pending", "_url", "closed", "exchange", "generation", "transport")

    def __init__(self, handler: RequestHandler) -> None:
        self._handler = handler
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
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._handler.connection_opened(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._pending.clear()
        self._handler.connection_closed(self)

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse(400, "Protocol upgrades are not supported.")
        except httptools.HttpParserError:
            self._refuse(400, "Malformed HTTP request.")

    # --- httptools callbacks --------------------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._body = []
        self._body_size = 0

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(name) == 6 and name.lower() == b"expect" and value.lower() == b"100-continue" and self.transport:
            # Clients that ask first (curl with a large body) would otherwise wait a second before sending it.
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
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
                close: bool = False) -> None:
        """Answer the request in progress, then go on with the next one.

        Args:
            status: The HTTP status.
            content_type: The ``Content-Type`` value.
            body: The whole body.
            headers: Extra header lines, each ending with CRLF.
            close: Close the connection after this answer.
        """
        transport = self.transport
        if self.closed or transport is None:
            return
        keep_alive = self._keep_alive and not close
        transport.write(b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n%s%s\r\n%s" % (
            status, _REASONS.get(status, b"Unknown"), content_type, len(body), headers,
            b"" if keep_alive else b"connection: close\r\n", body))
        self._busy = False
        if not keep_alive:
            self.closed = True
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
        self.respond(status, b"application/json", _error_body(message), close=True)


__all__ = ["MAX_BODY_BYTES", "HttpConnection", "Request", "RequestHandler"]
