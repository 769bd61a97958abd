"""The simulator on a thread of its own, for synchronous code and tests.

The server runs its own event loop on a daemon thread; the calling thread talks to it only through
thread-safe loop calls, so the counters are still touched from one loop only.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sharedlm.simulator._server import Simulator
from sharedlm.simulator._settings import SimulatorSettings
from sharedlm.simulator._stats import SimulatorStats

START_TIMEOUT_S = 30.0
CALL_TIMEOUT_S = 10.0
T = TypeVar("T")


class BackgroundSimulator:
    """A :class:`Simulator` served from a background thread: ``with BackgroundSimulator(settings) as sim:``.

    Args:
        settings: How the provider behaves; the defaults answer at once and never fail.
    """

    def __init__(self, settings: SimulatorSettings | None = None) -> None:
        self.settings = settings if settings is not None else SimulatorSettings()
        self._simulator: Simulator | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    def __repr__(self) -> str:
        if self._simulator is None or not self._simulator.running:
            return f"BackgroundSimulator(stopped, settings={self.settings!r})"
        return f"BackgroundSimulator(running at {self._simulator.root_url})"

    def start(self) -> BackgroundSimulator:
        """Start the thread and wait until the server accepts connections."""
        if self._thread is not None:
            raise RuntimeError("the background simulator is already running")
        self._ready.clear()
        self._failure = None
        self._thread = threading.Thread(target=self._run, name="sharedlm-simulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise RuntimeError(f"the simulator did not start within {START_TIMEOUT_S:g} s")
        if self._failure is not None:
            self._thread.join()
            self._thread = None
            raise self._failure
        return self

    def stop(self) -> None:
        """Stop the server and its thread."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        thread.join(CALL_TIMEOUT_S)

    def __enter__(self) -> BackgroundSimulator:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        simulator = Simulator(self.settings)
        try:
            await simulator.start()
        except BaseException as exc:
            self._failure = exc
            self._ready.set()
            return
        self._simulator = simulator
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await simulator.stop()
            self._simulator = None

    def _on_loop(self, make: Callable[[], T]) -> T:
        if self._loop is None or self._simulator is None or self._thread is None:
            raise RuntimeError("the background simulator is not running; use `with BackgroundSimulator(...) as sim:`")

        async def call() -> T:
            return make()

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(CALL_TIMEOUT_S)

    @property
    def _running(self) -> Simulator:
        if self._simulator is None:
            raise RuntimeError("the background simulator is not running; use `with BackgroundSimulator(...) as sim:`")
        return self._simulator

    @property
    def port(self) -> int:
        """The bound TCP port."""
        return self._running.port

    @property
    def root_url(self) -> str:
        """``http://HOST:PORT``."""
        return self._running.root_url

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL, ``http://HOST:PORT/v1``."""
        return self._running.base_url

    @property
    def gemini_base_url(self) -> str:
        """The Gemini-style base URL, ``http://HOST:PORT/v1beta``."""
        return self._running.gemini_base_url

    def stats(self) -> SimulatorStats:
        """A snapshot of the counters, taken on the server's loop."""
        simulator = self._running
        return self._on_loop(simulator.stats)

    def reset(self) -> None:
        """Zero the counters."""
        simulator = self._running
        self._on_loop(simulator.reset)


__all__ = ["BackgroundSimulator"]
