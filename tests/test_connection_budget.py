"""The process-wide budget of open connections: every event loop's pool of one transport within one cap.

Three loops on three threads, a loop closed by hand without ``shutdown_asyncgens()``, a closed loop's slots
coming back, and the slot of a connection closed for a waiting acquirer going to that acquirer, against a server on
127.0.0.1 that counts the connections open at its side.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import gc
import os
import selectors
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Self

import pytest

from sharedlm._http11 import ConnectionPool
from sharedlm._transport import PooledTransport

pytestmark = pytest.mark.timeout(20)

CAP = 4
WAIT_S = 10.0


@dataclass
class Request:
    """The fields of lm15's ``TransportRequest`` that the transport reads."""

    method: str
    url: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


class CountingServer:
    """A keep-alive HTTP server on 127.0.0.1, in a thread, that records the most connections open at its side.

    A client's close reaches the server before the client's next connect (loopback), so on every accept the
    connections already closed by their client are dropped first (a peek that reads end of file): the count is
    the client's sockets, not the server's lag in reading their ends.
    """

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.setblocking(False)
        self.port = self._listener.getsockname()[1]
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._open: dict[socket.socket, bytes] = {}
        self.peak_open = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __repr__(self) -> str:
        return f"CountingServer(port={self.port}, open={len(self._open)}, peak_open={self.peak_open})"

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=WAIT_S)
        for sock in list(self._open):
            sock.close()
        self._selector.close()
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._selector.select(timeout=0.05):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is self._listener:
                    self._accept()
                elif sock in self._open:  # not dropped, closed, by an accept earlier in this batch
                    self._read(sock)

    def _accept(self) -> None:
        with contextlib.suppress(BlockingIOError):
            sock, _ = self._listener.accept()
            for other in [other for other in self._open if _peer_closed(other)]:
                self._drop(other)
            sock.setblocking(False)
            self._open[sock] = b""
            self._selector.register(sock, selectors.EVENT_READ)
            self.peak_open = max(self.peak_open, len(self._open))

    def _read(self, sock: socket.socket) -> None:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except ConnectionError:
            data = b""
        if not data:
            self._drop(sock)
            return
        buffer = self._open[sock] + data
        while b"\r\n\r\n" in buffer:  # GET requests: no body
            head, buffer = buffer.split(b"\r\n\r\n", 1)
            self._answer(sock, head)
        self._open[sock] = buffer

    def _answer(self, sock: socket.socket, head: bytes) -> None:
        sock.sendall(OK)

    def _drop(self, sock: socket.socket) -> None:
        self._selector.unregister(sock)
        del self._open[sock]
        sock.close()


class HoldingServer(CountingServer):
    """A :class:`CountingServer` that keeps each ``GET /hold`` unanswered until the test lets one answer go."""

    def __init__(self) -> None:
        super().__init__()
        self._held: list[socket.socket] = []
        self._held_lock = threading.Lock()

    @property
    def holding(self) -> int:
        """Requests held unanswered now."""
        with self._held_lock:
            return len(self._held)

    def _answer(self, sock: socket.socket, head: bytes) -> None:
        if head.startswith(b"GET /hold "):
            with self._held_lock:
                self._held.append(sock)
        else:
            sock.sendall(OK)

    def answer_one(self) -> None:
        """Answer the oldest request held."""
        with self._held_lock:
            sock = self._held.pop(0)
        sock.sendall(OK)


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def _peer_closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except ConnectionError:
        return True


def client_sockets_to(port: int) -> int:
    """Sockets of this process connected to ``port`` on 127.0.0.1 (its descriptors matched in /proc/net/tcp)."""
    inodes = set()
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{name}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    count = 0
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            remote_port = int(fields[2].split(":")[1], 16)
            if remote_port == port and fields[9] in inodes:
                count += 1
    return count


async def send(transport: PooledTransport, url: str) -> bytes:
    async with transport.stream(Request("GET", url)) as response:
        return await response.read()


async def burst(transport: PooledTransport, url: str, count: int) -> list[bytes]:
    return await asyncio.gather(*(send(transport, url) for _ in range(count)))


class IdlingLoop:
    """A thread whose own event loop makes a burst of calls, then idles (running) until told to finish."""

    def __init__(self, transport: PooledTransport, url: str, calls: int) -> None:
        self.done = threading.Event()
        self.answers: list[bytes] = []
        self.error: BaseException | None = None
        self._transport, self._url, self._calls = transport, url, calls
        self._loop: asyncio.AbstractEventLoop | None = None
        self._finish: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> IdlingLoop:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.error = exc
            self.done.set()

    async def _main(self) -> None:
        self._loop, self._finish = asyncio.get_running_loop(), asyncio.Event()
        self.answers = await burst(self._transport, self._url, self._calls)
        self.done.set()
        await self._finish.wait()

    def finish(self) -> None:
        if self._loop is not None and self._finish is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._finish.set)
        self._thread.join(timeout=WAIT_S)


def run_on_manual_loop(make: Callable[[], object]) -> asyncio.AbstractEventLoop:
    """Run ``make()`` on a loop driven by hand, then close it without ``shutdown_asyncgens()``."""
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(make())  # type: ignore[arg-type]
    finally:
        loop.close()
    return loop


def test_three_loops_on_three_threads_never_hold_more_open_sockets_than_the_cap() -> None:
    transport = PooledTransport(max_connections=CAP, connect_timeout=2.0)
    with CountingServer() as server:
        loops: list[IdlingLoop] = []
        try:
            for _ in range(3):
                # Each loop opens the whole cap at once and keeps it idle: the next loop must get its slots from
                # the idle loops before it.
                loops.append(IdlingLoop(transport, server.url(), CAP).start())
                assert loops[-1].done.wait(WAIT_S), f"a loop's burst did not finish: {transport!r}"
            assert [loop.error for loop in loops] == [None, None, None]
            assert all(loop.answers == [b"ok"] * CAP for loop in loops)
            assert server.peak_open <= CAP, server
            assert transport.budget.held <= CAP
        finally:
            for loop in loops:
                loop.finish()


def test_a_loop_closed_without_shutdown_asyncgens_leaves_no_socket_open_and_no_resource_warning() -> None:
    transport = PooledTransport(max_connections=CAP, connect_timeout=2.0)
    with CountingServer() as server, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_on_manual_loop(functools.partial(burst, transport, server.url(), 2))
        assert transport.open_connections == 0  # the transport looks at its pools: the closed loop's are closed
        assert client_sockets_to(server.port) == 0
        assert transport.budget.held == 0
        del transport
        gc.collect()
    assert [str(warning.message) for warning in caught if issubclass(warning.category, ResourceWarning)] == []


def test_a_pool_on_a_closed_loop_gives_its_slots_back_so_a_new_loop_opens_up_to_the_cap() -> None:
    transport = PooledTransport(max_connections=CAP, connect_timeout=2.0)
    with CountingServer() as server:
        run_on_manual_loop(lambda: burst(transport, server.url(), CAP))  # CAP idle sockets left behind
        assert asyncio.run(burst(transport, server.url(), CAP)) == [b"ok"] * CAP
        assert transport.connections_opened == 2 * CAP  # the new loop opened the whole cap again
        assert server.peak_open <= CAP, server  # after the closed loop's sockets were closed
        assert client_sockets_to(server.port) == 0


class LoopOnThread:
    """An event loop running forever on its own thread, to submit coroutines to from the test."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def submit(self, coro: Coroutine[Any, Any, bytes]) -> concurrent.futures.Future[bytes]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self) -> None:
        """Stop and close the loop after closing what it holds (its pools close their sockets on it)."""
        asyncio.run_coroutine_threadsafe(self.loop.shutdown_asyncgens(), self.loop).result(WAIT_S)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=WAIT_S)
        self.loop.close()


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Wait until ``condition()`` holds (another thread makes it so); the deadline is only a safety net."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.001)


def test_the_slot_of_a_connection_closed_for_a_waiting_acquirer_goes_to_that_acquirer() -> None:
    # Loop R holds the whole cap busy; an acquirer waits on R, then one on Q (whose pool has no connection at
    # all). The first answer comes back on R: R's own waiter is served by R's releases, so that connection is
    # closed for Q's waiter. Its slot must go to Q's waiter: had it gone to R's waiter (first in line), Q's waiter
    # would wait for ever with its want spent, while R keeps every connection idle.
    transport = PooledTransport(max_connections=2, connect_timeout=2.0)
    with HoldingServer() as server:
        r_loop, q_loop = LoopOnThread(), LoopOnThread()
        try:
            held = [r_loop.submit(send(transport, server.url() + "hold")) for _ in range(2)]
            wait_for(lambda: server.holding == 2, "both held requests reached the server")
            r_waiter = r_loop.submit(send(transport, server.url()))
            wait_for(lambda: len(transport.budget._waiters) == 1, "R's acquirer waits at the cap")
            q_waiter = q_loop.submit(send(transport, server.url()))
            wait_for(lambda: len(transport.budget._waiters) == 2, "Q's acquirer waits at the cap")
            server.answer_one()
            assert held[0].result(WAIT_S) == b"ok"
            assert q_waiter.result(WAIT_S) == b"ok", transport.budget
            server.answer_one()
            assert held[1].result(WAIT_S) == b"ok"
            assert r_waiter.result(WAIT_S) == b"ok"
            assert server.peak_open <= 2, server
        finally:
            r_loop.stop()
            q_loop.stop()
            transport.reap_closed_loops()  # sockets whose close had not run when the loops closed


def test_a_tls_context_that_cannot_be_built_gives_its_connection_slot_back() -> None:
    def no_context() -> ssl.SSLContext:
        raise ssl.SSLError("no CA bundle")

    async def main() -> ConnectionPool:
        pool = ConnectionPool(asyncio.get_running_loop(), max_connections=1, connect_timeout=2.0,
                              ssl_context=no_context)
        for _ in range(2):  # the second attempt would wait for ever for the slot the first one kept
            with pytest.raises(ssl.SSLError):
                await asyncio.wait_for(pool.acquire(("https", "127.0.0.1", 9)), WAIT_S)
        return pool

    pool = asyncio.run(main())
    assert pool.budget.held == 0
