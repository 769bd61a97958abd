"""The sync engine: DSPy's synchronous calls, run on one background event loop of the shared engine.

Synchronous DSPy code (``predict(...)``, ``dspy.Parallel``, ``Evaluate(num_threads=...)``) calls
``engine.complete(request)`` from any thread. Each such call is handed to one long-lived event loop on a
daemon thread, where the async engine serves it: the threads share that loop's pool and the process's one
in-flight limit, instead of each opening connections of its own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import queue
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

from dspy import lm15

from sharedlm._blocking_caller import CALLER_BLOCKS_LOOP
from sharedlm._engine import SharedEngine, closed_error, resolve_engines, restore_sync_engine
from sharedlm._loop_thread import LoopThread, running_loop

T = TypeVar("T")

# Events a sync stream's loop side may read ahead of its consumer; it then waits (on the loop, holding no thread).
STREAM_BUFFER = 256


class _StreamEnd:
    """The last item of a sync stream's queue: its pump's future, done (its result or its error)."""

    __slots__ = ("future",)

    def __init__(self, future: concurrent.futures.Future[None]) -> None:
        self.future = future


async def _blocking_a_loop(call: Coroutine[Any, Any, T]) -> T:
    """Run ``call`` as made by a caller that blocks a running event loop until it returns (see CALLER_BLOCKS_LOOP).

    A sync DSPy call inside an ``async def`` (a web handler calling ``program(...)``) blocks that loop; if the loop's
    own calls held every slot, waiting for one would never end. Plain DSPy has no cap, so the call completes there;
    here it does too, taking its slot at once.
    """
    CALLER_BLOCKS_LOOP.set(True)  # this task's context only
    return await call


class SharedSyncEngine:
    """The sync engine of the shared LM: every call runs on the shared engine's background loop.

    Args:
        engine: The async engine that does the work.
        loop_thread: The process's loop for sync calls, shared by every model so that they share its one pool;
            None starts one for this engine alone.
    """

    def __init__(self, engine: SharedEngine, loop_thread: LoopThread | None = None) -> None:
        self.engine = engine
        self._loop_thread = loop_thread or LoopThread("sharedlm-sync-engine", stopped_error=closed_error)

    def __repr__(self) -> str:
        return f"SharedSyncEngine(loop={self._loop_thread!r}, engine={self.engine!r})"

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
        call = self.engine.complete(request)
        if running_loop() is not None:
            return self._loop_thread.run(_blocking_a_loop(call))
        return self._loop_thread.run(call)

    def stream(self, request: lm15.Request) -> Generator[Any, None, None]:
        """Stream one request on the background loop, handing its events to this thread.

        The loop side reads at most ``STREAM_BUFFER`` events ahead and then waits on the loop, so no thread is
        ever blocked on a full queue; a consumer that stops iterating (or is collected) cancels the stream, which
        releases its slot. A reset of the shared LM fails the stream with :class:`SharedLMClosedError`.
        """
        events: queue.SimpleQueue[Any] = queue.SimpleQueue()
        room = asyncio.Semaphore(STREAM_BUFFER)

        blocks_loop = running_loop() is not None

        async def pump() -> None:
            if blocks_loop:
                CALLER_BLOCKS_LOOP.set(True)  # this task's context only
            async with contextlib.aclosing(self.engine.stream(request)) as stream:
                async for event in stream:
                    await room.acquire()
                    events.put(event)

        loop = self._loop_thread.loop
        future = self._loop_thread.submit(pump())
        # Queued after every event the pump put, whichever way it ends: stopped loops included.
        future.add_done_callback(lambda done: events.put(_StreamEnd(done)))
        try:
            while True:
                item = events.get()
                if isinstance(item, _StreamEnd):
                    item.future.result()
                    return
                with contextlib.suppress(RuntimeError):  # the loop stopped: the end marker follows
                    loop.call_soon_threadsafe(room.release)
                yield item
        finally:
            future.cancel()

    def close(self) -> None:
        """Fail the calls in flight with :class:`SharedLMClosedError`, close the loop's pool and stop the loop."""
        self._loop_thread.stop(before_stop=self.engine.transport.aclose_current())

    # A process resource, like the async engine: copies share it; saved state names only the model.
    def __copy__(self) -> SharedSyncEngine:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> SharedSyncEngine:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (restore_sync_engine, (self.dump_state(),))

    def dump_state(self) -> dict[str, Any]:
        return self.engine.dump_state()

    @classmethod
    def load_state(cls, state: dict[str, Any]) -> SharedSyncEngine:
        """This process's shared sync engine for the saved model (DSPy's custom-engine loader)."""
        engine: SharedSyncEngine = resolve_engines(state)[0]
        return engine


__all__ = ["SharedSyncEngine"]
