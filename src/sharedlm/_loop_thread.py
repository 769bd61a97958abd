"""An event loop on a daemon thread that other threads hand coroutines to: the one loop-in-a-thread bridge.

The sync engine, ``run_many`` inside a running loop, and the background simulator each need an event loop
that synchronous threads can submit work to and wait on. :class:`LoopThread` owns that loop's whole life:
it starts the loop on a daemon thread, runs submitted coroutines as tasks, and stops with a bounded wait.
Stopping never leaves a waiting thread behind: every future still pending is failed at once with the error the
owner names (the shared LM's reset says so clearly), then the loop's tasks are cancelled and given a bounded
time to finish.

It keeps a reference to every task of its loop until the task ends, the tasks libraries start on it included.
LiteLLM starts its logging worker on the loop of its first call and drops it when a call comes from another
loop; a pending task nothing refers to is garbage collected mid-wait ("Task was destroyed but it is pending!",
then "Event loop is closed" from its cleanup). Kept, it is cancelled and finished with the others at the stop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

STOP_TIMEOUT_S = 5.0


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running on this thread, or None."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _cancel_if_cancelled(future: concurrent.futures.Future[Any], task: asyncio.Task[Any]) -> None:
    if future.cancelled():
        with contextlib.suppress(RuntimeError):  # the loop is closed: the task is gone with it
            task.get_loop().call_soon_threadsafe(task.cancel)


class LoopThread:
    """An event loop running on a daemon thread until :meth:`stop`.

    Args:
        name: The thread's name (shown in tracebacks and thread dumps).
        stopped_error: Makes the error pending futures fail with when the loop stops before they finish.
    """

    def __init__(self, name: str, *, stopped_error: Callable[[], BaseException] | None = None) -> None:
        self.name = name
        self._stopped_error = stopped_error or (lambda: RuntimeError(f"the event loop thread {name!r} was stopped"))
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._pending: set[concurrent.futures.Future[Any]] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else "running" if self._loop is not None else "not started"
        return f"LoopThread(name={self.name!r}, {state}, pending={len(self._pending)}, tasks={len(self._tasks)})"

    @property
    def running(self) -> bool:
        """Whether the loop has been started and not stopped."""
        return self._loop is not None and not self._stopped

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop, started on first use.

        Raises:
            Exception: The ``stopped_error`` once :meth:`stop` was called.
        """
        loop = self._loop
        if loop is not None and not self._stopped:
            return loop
        with self._lock:
            return self._start_locked()

    def start(self) -> LoopThread:
        """Start the loop's thread now (it otherwise starts on first use); returns ``self``."""
        with self._lock:
            self._start_locked()
        return self

    def _start_locked(self) -> asyncio.AbstractEventLoop:
        if self._stopped:
            raise self._stopped_error()
        if self._loop is None:
            loop = asyncio.new_event_loop()
            loop.set_task_factory(self._kept_task)
            ready = threading.Event()

            def serve() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            thread = threading.Thread(target=serve, name=self.name, daemon=True)
            thread.start()
            ready.wait()
            self._loop, self._thread = loop, thread
        return self._loop

    def _kept_task(self, loop: asyncio.AbstractEventLoop, coroutine: Any, **options: Any) -> asyncio.Task[Any]:
        """The loop's task factory: every task of the loop, whoever starts it, is kept until it ends."""
        task: asyncio.Task[Any] = asyncio.Task(coroutine, loop=loop, **options)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run ``coroutine`` on the loop as a task; cancelling the returned future cancels the task.

        Raises:
            Exception: The ``stopped_error`` when the loop was stopped.
        """
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._lock:
            try:
                loop = self._start_locked()
            except BaseException:
                coroutine.close()
                raise
            self._pending.add(future)
            # Scheduling under the lock: stop() cannot close the loop between the check and this call.
            loop.call_soon_threadsafe(self._start_task, coroutine, future)
        future.add_done_callback(self._forget)
        return future

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coroutine`` on the loop and wait for its result from this (another) thread.

        Args:
            coroutine: The work.
            timeout: The longest to wait, in seconds; None waits until the coroutine ends or the loop stops.

        Raises:
            RuntimeError: When called from the loop's own thread (it would wait on itself forever).
            TimeoutError: When ``timeout`` passed first (the task is cancelled, as on Ctrl-C while waiting).
        """
        if self._loop is not None and running_loop() is self._loop:
            coroutine.close()
            raise RuntimeError(f"a blocking call was made from the {self.name!r} loop itself, which would wait on "
                               "itself forever; await it instead (for a DSPy program: acall/aforward)")
        future = self.submit(coroutine)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"the work given to {self.name!r} did not finish within {timeout:g} s") from None
        except KeyboardInterrupt:
            future.cancel()  # nobody waits for it any more
            raise

    def _forget(self, future: concurrent.futures.Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)

    def _start_task(self, coroutine: Coroutine[Any, Any, Any], future: concurrent.futures.Future[Any]) -> None:
        if future.done():  # cancelled by its caller, or failed by stop(), before it could start
            coroutine.close()
            return
        task = asyncio.ensure_future(coroutine)
        task.add_done_callback(lambda done: self._settle(done, future))
        future.add_done_callback(lambda done: _cancel_if_cancelled(done, task))

    def _settle(self, task: asyncio.Task[Any], future: concurrent.futures.Future[Any]) -> None:
        self._tasks.discard(task)
        if future.done():
            return
        # The future may be failed by stop() on another thread between the check and the set: that one wins.
        with contextlib.suppress(concurrent.futures.InvalidStateError):
            if task.cancelled():
                future.cancel()
            elif (error := task.exception()) is not None:
                future.set_exception(error)
            else:
                future.set_result(task.result())

    def stop(self, *, before_stop: Coroutine[Any, Any, Any] | None = None, timeout: float = STOP_TIMEOUT_S) -> None:
        """Fail pending futures, cancel the loop's tasks, run ``before_stop``, stop the loop and join its thread.

        Every wait is bounded by ``timeout``: a task that ignores cancellation, or a ``before_stop`` that hangs,
        is left behind on the daemon thread rather than blocking the caller. Stopping twice does nothing.

        Args:
            before_stop: Last work on the loop once its tasks are done (closing connection pools).
            timeout: The longest each step may take, in seconds.
        """
        with self._lock:
            already = self._stopped
            self._stopped = True
            loop, thread = self._loop, self._thread
            pending = list(self._pending)
            self._pending.clear()
        if already or loop is None:
            if before_stop is not None:
                before_stop.close()
            return
        for future in pending:
            with contextlib.suppress(concurrent.futures.InvalidStateError):
                future.set_exception(self._stopped_error())
        on_own_thread = thread is threading.current_thread()
        if on_own_thread:
            # Called from a task of this loop: it cannot wait for itself; cancel and stop without waiting.
            for task in list(self._tasks):
                task.cancel()
            if before_stop is not None:
                before_stop.close()
            loop.stop()
            return
        with contextlib.suppress(RuntimeError):  # the loop was already closed
            shutdown = asyncio.run_coroutine_threadsafe(self._shutdown(before_stop, timeout), loop)
            with contextlib.suppress(Exception):
                shutdown.result(timeout * 3)
            loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout)
        if not loop.is_running() and not loop.is_closed():
            loop.close()

    async def _shutdown(self, before_stop: Coroutine[Any, Any, Any] | None, grace: float) -> None:
        current = asyncio.current_task()
        tasks = [task for task in self._tasks if not task.done() and task is not current]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=grace)
        if before_stop is not None:
            # Closing is best effort: whatever stays open dies with the loop.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(grace):
                    await before_stop
        with contextlib.suppress(Exception):
            async with asyncio.timeout(grace):
                await asyncio.get_running_loop().shutdown_asyncgens()


__all__ = ["STOP_TIMEOUT_S", "LoopThread", "running_loop"]
