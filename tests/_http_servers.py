"""Small HTTP servers on 127.0.0.1 for the transport tests: each answers exactly the bytes a test asks for.

:class:`ScriptedServer` runs on the test's own event loop and hands every request to a handler, which writes
whatever answer (or non-answer) the test needs. :class:`ThreadedServer` runs in a thread, for tests that
drive their own ``asyncio.run()``. :class:`ForwardProxy` is a plain-HTTP forward proxy for absolute-URI requests.
:func:`self_signed_tls` makes a certificate for https tests.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socketserver
import ssl
import threading
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

LOOPBACK = "127.0.0.1"


@dataclass
class ServerRequest:
    """One request as the server read it."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    connection: ServerConnection

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or None."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def headers_named(self, name: str) -> list[str]:
        """Every value of header ``name`` (any case)."""
        return [value for key, value in self.headers if key.lower() == name.lower()]


@dataclass(eq=False)
class ServerConnection:
    """The server's side of one client connection."""

    index: int
    writer: asyncio.StreamWriter
    served: int = 0
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    closing: bool = False

    async def send(self, data: bytes) -> None:
        """Write raw bytes to the client."""
        self.writer.write(data)
        await self.writer.drain()

    async def answer(self, body: bytes = b"ok", *, status: int = 200,
                     headers: tuple[tuple[str, str], ...] = ()) -> None:
        """Send a complete answer framed by ``Content-Length``."""
        lines = [f"HTTP/1.1 {status} X\r\n", f"Content-Length: {len(body)}\r\n"]
        lines += [f"{name}: {value}\r\n" for name, value in headers]
        await self.send("".join(lines).encode("latin-1") + b"\r\n" + body)

    def close(self) -> None:
        """Close the connection once the handler returns (and stop reading from it now)."""
        self.closing = True
        self.writer.close()


Handler = Callable[[ServerRequest], Awaitable[None]]


async def answer_ok(request: ServerRequest) -> None:
    """The default handler: ``200`` with body ``ok`` and keep-alive."""
    await request.connection.answer(b"ok")


class _LoopbackServer:
    """An asyncio server on 127.0.0.1 that cancels its connection tasks when it stops."""

    def __init__(self, *, ssl: Any = None) -> None:
        self.port = 0
        self._ssl = ssl
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, LOOPBACK, 0, ssl=self._ssl)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()


class ScriptedServer(_LoopbackServer):
    """An HTTP/1.1 server on 127.0.0.1, on the running loop, whose answers a handler writes.

    Args:
        handler: Called with each request; it answers through ``request.connection``.
        ssl: A server TLS context, for https.
    """

    def __init__(self, handler: Handler = answer_ok, *, ssl: Any = None) -> None:
        super().__init__(ssl=ssl)
        self.handler = handler
        self.requests: list[ServerRequest] = []
        self.connections: list[ServerConnection] = []
        self.open_now = 0
        self.peak_open = 0

    def __repr__(self) -> str:
        return (f"ScriptedServer(port={self.port}, connections={len(self.connections)}, open={self.open_now}, "
                f"requests={len(self.requests)})")

    def url(self, path: str = "/", *, host: str = LOOPBACK) -> str:
        scheme = "https" if self._ssl is not None else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    async def __aenter__(self) -> ScriptedServer:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        connection = ServerConnection(len(self.connections), writer)
        self.connections.append(connection)
        self.open_now += 1
        self.peak_open = max(self.peak_open, self.open_now)
        try:
            while not connection.closing:
                request = await _read_request(reader, connection)
                if request is None:
                    break
                self.requests.append(request)
                await self.handler(request)
                connection.served += 1
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # the server is shutting down; asyncio.start_server would log a cancelled handler
        finally:
            self.open_now -= 1
            writer.close()
            connection.closed.set()
            self._tasks.discard(task)


async def _read_request(reader: asyncio.StreamReader, connection: ServerConnection) -> ServerRequest | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = [(name, value.strip()) for name, _, value in (line.partition(":") for line in lines[1:] if line)]
    length = next((int(value) for name, value in headers if name.lower() == "content-length"), 0)
    body = await reader.readexactly(length) if length else b""
    return ServerRequest(method, target, headers, body, connection)


class ThreadedServer:
    """A keep-alive server in a thread that answers ``ok`` and notes when a client closes its connection."""

    def __init__(self) -> None:
        self.client_closed = threading.Event()
        self.connections = 0
        closed = self.client_closed
        owner = self

        class _Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                owner.connections += 1
                while True:
                    line = self.rfile.readline()
                    if not line:
                        closed.set()
                        return
                    if line == b"\r\n":
                        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                        self.wfile.flush()

        self._server = socketserver.ThreadingTCPServer((LOOPBACK, 0), _Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def __enter__(self) -> ThreadedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=2)

    def url(self, path: str = "/") -> str:
        return f"http://{LOOPBACK}:{self.port}{path}"


class ForwardProxy(_LoopbackServer):
    """A plain-HTTP forward proxy on 127.0.0.1: takes absolute-URI requests and forwards them in origin form."""

    def __init__(self) -> None:
        super().__init__()
        self.request_lines: list[str] = []

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    async def __aenter__(self) -> ForwardProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                request_line, _, rest = head.partition(b"\r\n")
                method, uri, version = request_line.decode("latin-1").split(" ", 2)
                self.request_lines.append(request_line.decode("latin-1"))
                length = _content_length(rest)
                body = await reader.readexactly(length) if length else b""
                url = urllib.parse.urlsplit(uri)
                assert url.hostname is not None, uri
                assert url.port is not None, uri
                origin_reader, origin_writer = await asyncio.open_connection(url.hostname, url.port)
                target = (url.path or "/") + (f"?{url.query}" if url.query else "")
                origin_writer.write(f"{method} {target} {version}\r\n".encode("latin-1") + rest + body)
                answer_head = await origin_reader.readuntil(b"\r\n\r\n")
                answer_length = _content_length(answer_head)
                answer_body = await origin_reader.readexactly(answer_length)
                origin_writer.close()
                writer.write(answer_head + answer_body)
                await writer.drain()
        except asyncio.CancelledError:
            pass  # the proxy is shutting down
        finally:
            writer.close()
            self._tasks.discard(task)


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


async def wait_until(condition: Callable[[], bool], *, within: float = 10.0) -> None:
    """Yield to the loop until ``condition()`` holds; fail after ``within`` seconds.

    The tests' one bounded wait on a condition, for state that has no event to await (a pool's repr, a
    server's request list). Tests whose code under test offers an event await that instead.
    """
    async with asyncio.timeout(within):
        # Polling is the point here: there is no event to wait on, and the bound is `within`, not the loop.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.001)


class TLSFiles:
    """A self-signed certificate for ``localhost`` and 127.0.0.1, with its key, on disk."""

    def __init__(self, cert_path: str, key_path: str, cert_pem: str) -> None:
        self.cert_path = cert_path
        self.key_path = key_path
        self.cert_pem = cert_pem

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.cert_pem)


def self_signed_tls(directory: Path) -> TLSFiles:
    """A new self-signed certificate for ``localhost`` and 127.0.0.1, written to ``directory``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(LOOPBACK))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    (directory / "cert.pem").write_text(cert_pem)
    (directory / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return TLSFiles(str(directory / "cert.pem"), str(directory / "key.pem"), cert_pem)
