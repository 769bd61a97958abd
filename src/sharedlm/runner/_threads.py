"""The worker threads a sync program's rows run in: daemon threads, so abandoned rows never hold the process.

A sync program's rows run in threads. Python cannot stop a thread from outside, so when a run is
cancelled (Ctrl-C after the grace period, or a second Ctrl-C) a row stuck in its program, in a slow LM
call or a hung socket, keeps its thread until the program returns. ``concurrent.futures.ThreadPoolExecutor``
joins its threads when the interpreter exits, so such a row used to keep ``sharedlm run`` alive long after
it said it was cancelling. This pool's threads are daemon threads: a cancelled row is abandoned (its task
is cancelled at once, it is not written, and ``--resume`` runs it again) and the process exits promptly.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

T = TypeVar("T")
_WorkItem = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class DaemonThreadPool(Executor):
    """A thread pool of daemon threads, started as work arrives, at most ``max_workers`` of them.

    Args:
        max_workers: The most threads.
        thread_name_prefix: Thread names are this prefix and a number.
    """

    def __init__(self, max_workers: int, *, thread_name_prefix: str = "sharedlm-worker") -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, got {max_workers}")
        self.max_workers = max_workers
        self._prefix = thread_name_prefix
        self._queue: queue.SimpleQueue[_WorkItem | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = threading.Semaphore(0)  # released by a thread each time it finishes an item
        self._lock = threading.Lock()
        self._shut_down = False

    def __repr__(self) -> str:
        state = "shut down" if self._shut_down else "running"
        return (f"DaemonThreadPool(threads={len(self._threads)}/{self.max_workers}, queued={self._queue.qsize()}, "
                f"{state})")

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Run ``fn(*args, **kwargs)`` on a pool thread; its future holds the outcome."""
        future: Future[T] = Future()
        with self._lock:
            if self._shut_down:
                raise RuntimeError("cannot submit to a DaemonThreadPool after shutdown")
            self._queue.put((future, fn, args, kwargs))
            if not self._idle.acquire(blocking=False) and len(self._threads) < self.max_workers:
                thread = threading.Thread(target=self._work, name=f"{self._prefix}-{len(self._threads)}",
                                          daemon=True)
                self._threads.append(thread)
                thread.start()
        return future

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                self._queue.put(None)  # let the other threads see it too
                return
            future, fn, args, kwargs = item
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            del item, future, fn, args, kwargs
            self._idle.release()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Take no more work; with ``cancel_futures``, drop work not started; with ``wait``, join the threads.

        Args:
            wait: Wait for the threads to finish what they are running.
            cancel_futures: Cancel work that has not started yet.
        """
        with self._lock:
            self._shut_down = True
            if cancel_futures:
                while True:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is not None:
                        item[0].cancel()
            self._queue.put(None)
        if wait:
            for thread in list(self._threads):
                thread.join()


__all__ = ["DaemonThreadPool"]
