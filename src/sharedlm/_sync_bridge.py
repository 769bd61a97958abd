"""The sync engine: DSPy's synchronous calls, run on one background event loop of the shared engine.

Synchronous DSPy code (``predict(...)``, ``dspy.Parallel``, ``Evaluate(num_threads=...)``) calls
``engine.complete(request)`` from any thread. Each such call is handed to one long-lived event loop on a
daemon thread, where the async engine serves it: the threads share that loop's pool and the process's one
in-flight limit, instead of each opening connections of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

from dspy import lm15

from sharedlm._engine import SharedEngine

T = TypeVar("T")
_DONE = object()


class _LoopThread:
    """An event loop running forever on a daemon thread, started on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._loop is not None

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                self._thread = threading.Thread(target=serve, name="sharedlm-sync-engine", daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = loop
            return self._loop

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        loop = self.loop()
        if _running_loop() is loop:
            coroutine.close()
            raise RuntimeError("a sync LM call was made from the shared engine's own loop; use acall/aforward")
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result()

    def stop(self, before_stop: Coroutine[Any, Any, Any] | None = None) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None:
            if before_stop is not None:
                before_stop.close()
            return
        if before_stop is not None:
            # Closing is best effort: whatever stays open dies with the loop below.
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(before_stop, loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        if not loop.is_running():
            loop.close()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class SharedSyncEngine:
    """The sync engine of the shared LM: every call runs on the shared engine's background loop.

    Args:
        engine: The async engine that does the work.
    """

    def __init__(self, engine: SharedEngine) -> None:
        self.engine = engine
        self._loop_thread = _LoopThread()

    def __repr__(self) -> str:
        return f"SharedSyncEngine(loop_running={self._loop_thread.running}, engine={self.engine!r})"

    @property
    def supports_function_calling(self) -> bool:
        return self.engine.supports_function_calling

    @property
    def supports_reasoning(self) -> bool:
        return self.engine.supports_reasoning

    @property
    def supports_response_schema(self) -> bool:
        return self.engine.supports_response_schema

    @property
    def supported_params(self) -> frozenset[str]:
        return self.engine.supported_params

    def complete(self, request: lm15.Request) -> lm15.Response:
        return self._loop_thread.run(self.engine.complete(request))

    def stream(self, request: lm15.Request) -> Iterator[Any]:
        events: queue.Queue[Any] = queue.Queue(maxsize=256)

        async def pump() -> None:
            try:
                async for event in self.engine.stream(request):
                    await asyncio.to_thread(events.put, event)
            except BaseException as exc:  # handed to the consuming thread, which re-raises it
                await asyncio.to_thread(events.put, exc)
            else:
                await asyncio.to_thread(events.put, _DONE)

        future = asyncio.run_coroutine_threadsafe(pump(), self._loop_thread.loop())
        try:
            while True:
                item = events.get()
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            future.cancel()

    def close(self) -> None:
        """Close the background loop's pool and stop the loop."""
        self._loop_thread.stop(self.engine.transport.aclose_current())

    # Saved programs keep a reference to the shared LM, never its settings or key.
    def dump_state(self) -> dict[str, Any]:
        return self.engine.dump_state()

    @classmethod
    def load_state(cls, state: dict[str, Any]) -> SharedSyncEngine:
        from sharedlm._singleton import shared_engines

        return shared_engines()[0]


__all__ = ["SharedSyncEngine"]
