"""The simulator on a thread of its own, for synchronous code and tests.

The server runs on a :class:`~sharedlm._loop_thread.LoopThread`; the calling thread talks to it only by
running coroutines on that loop, so the counters are still touched from one loop only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sharedlm._loop_thread import LoopThread
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
        self._loop_thread: LoopThread | None = None

    def __repr__(self) -> str:
        if self._simulator is None or not self._simulator.running:
            return f"BackgroundSimulator(stopped, settings={self.settings!r})"
        return f"BackgroundSimulator(running at {self._simulator.root_url})"

    def start(self) -> BackgroundSimulator:
        """Start the thread and wait until the server accepts connections.

        Raises:
            OSError: When the server cannot listen (a port in use).
            RuntimeError: When it is already running, or did not start within ``START_TIMEOUT_S``.
        """
        if self._loop_thread is not None:
            raise RuntimeError("the background simulator is already running")
        loop_thread = LoopThread("sharedlm-simulator").start()
        simulator = Simulator(self.settings)
        try:
            loop_thread.run(simulator.start(), timeout=START_TIMEOUT_S)
        except TimeoutError:
            loop_thread.stop()
            raise RuntimeError(f"the simulator did not start within {START_TIMEOUT_S:g} s") from None
        except BaseException:
            loop_thread.stop()
            raise
        self._simulator, self._loop_thread = simulator, loop_thread
        return self

    def stop(self) -> None:
        """Stop the server and its thread (each step bounded by ``CALL_TIMEOUT_S``)."""
        loop_thread, simulator = self._loop_thread, self._simulator
        self._loop_thread = self._simulator = None
        if loop_thread is None:
            return
        assert simulator is not None
        loop_thread.stop(before_stop=simulator.stop(), timeout=CALL_TIMEOUT_S)

    def __enter__(self) -> BackgroundSimulator:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def _on_loop(self, make: Callable[[], T]) -> T:
        loop_thread = self._loop_thread
        if loop_thread is None or self._simulator is None:
            raise RuntimeError("the background simulator is not running; use `with BackgroundSimulator(...) as sim:`")

        async def call() -> T:
            return make()

        return loop_thread.run(call(), timeout=CALL_TIMEOUT_S)

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

    def batch_stats(self) -> dict[str, int]:
        """The batch APIs' counters (files, batches, lines), taken on the server's loop."""
        simulator = self._running
        return self._on_loop(simulator.batches.stats)

    def reset(self) -> None:
        """Zero the counters."""
        simulator = self._running
        self._on_loop(simulator.reset)


__all__ = ["BackgroundSimulator"]
