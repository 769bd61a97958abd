"""The process-wide in-flight limit: a FIFO gate shared by every event loop and thread.

``asyncio.Semaphore`` is bound to one event loop, but one process may call the shared LM from several
loops (successive ``asyncio.run()`` calls, threads running their own loops, the sync engine's loop).
This gate keeps one count for all of them under a ``threading.Lock`` and wakes a waiter on its own loop,
so the cap holds for the whole process and waiting calls are admitted in arrival order.

The limit can move while calls wait (adaptive concurrency): raising it admits waiters at once, lowering
it lets the calls in flight finish and admits no one until the count is under the new limit.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque

from sharedlm._errors import PoolTimeoutError


class _Waiter:
    __slots__ = ("abandoned", "future", "granted", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[None]) -> None:
        self.loop = loop
        self.future = future
        self.granted = False
        self.abandoned = False


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class InFlightGate:
    """Admit at most ``limit`` calls at once across all event loops, first come first served.

    Args:
        limit: How many calls may be in flight at once.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self._lock = threading.Lock()
        self._limit = limit
        self._in_flight = 0
        self._peak = 0
        self._waiting = 0
        self._waiters: deque[_Waiter] = deque()
        self._admitted_after_wait = 0

    def __repr__(self) -> str:
        return f"InFlightGate(limit={self._limit}, in_flight={self._in_flight}, queued={self._waiting})"

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def peak_in_flight(self) -> int:
        return self._peak

    @property
    def queued(self) -> int:
        return self._waiting

    @property
    def waits(self) -> int:
        """How many calls have had to wait for a slot so far."""
        return self._admitted_after_wait

    def set_limit(self, limit: int) -> None:
        """Move the limit; waiters are admitted at once if it rose."""
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        with self._lock:
            self._limit = limit
            self._grant_locked()

    def try_acquire(self) -> bool:
        """Take a slot without waiting, if one is free and nobody is queued ahead."""
        with self._lock:
            if self._in_flight < self._limit and not self._waiting:
                self._take_locked()
                return True
            return False

    # The gate owns its timeout (ASYNC109) rather than leaving it to the caller's asyncio.timeout: on expiry it must
    # withdraw the waiter under its lock and raise PoolTimeoutError naming the wait and the limit.
    async def acquire(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Wait for a slot in FIFO order.

        Args:
            timeout: The longest to wait, in seconds; None waits as long as needed.

        Raises:
            PoolTimeoutError: When ``timeout`` passed first.
        """
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._in_flight < self._limit and not self._waiting:
                self._take_locked()
                return
            waiter = _Waiter(loop, loop.create_future())
            self._waiters.append(waiter)
            self._waiting += 1
        try:
            if timeout is None:
                await waiter.future
            else:
                async with asyncio.timeout(timeout):
                    await waiter.future
        except BaseException as exc:
            with self._lock:
                if waiter.granted:
                    # The slot was handed over as we were cancelled: pass it on instead of leaking it.
                    self._in_flight -= 1
                    self._grant_locked()
                elif not waiter.abandoned:
                    waiter.abandoned = True
                    self._waiting -= 1
            if isinstance(exc, TimeoutError):
                raise PoolTimeoutError(
                    f"waited {timeout:g} s for a free slot under the in-flight limit of {self._limit}; raise "
                    "pool_timeout (sharedlm.configure(pool_timeout=...) or SHAREDLM_POOL_TIMEOUT), raise "
                    "max_parallel_requests, or submit fewer calls at once"
                ) from None
            raise
        with self._lock:
            self._admitted_after_wait += 1

    def take_over_limit(self) -> None:
        """Take a slot at once, over the limit if need be (released with :meth:`release` like any other).

        For a call whose caller blocks an event loop while it waits (a sync call made inside a running loop): the
        slots that loop's own calls hold cannot come back until it returns, so waiting for one could last forever.
        Each such caller blocks its whole loop, so it goes over the limit by one call at most.
        """
        with self._lock:
            self._take_locked()

    def release(self) -> None:
        """Give a slot back and admit the next waiter, if any."""
        with self._lock:
            self._in_flight -= 1
            self._grant_locked()

    def _take_locked(self) -> None:
        self._in_flight += 1
        if self._in_flight > self._peak:
            self._peak = self._in_flight

    def _grant_locked(self) -> None:
        waiters = self._waiters
        while waiters and self._in_flight < self._limit:
            waiter = waiters.popleft()
            if waiter.abandoned:
                continue
            waiter.granted = True
            self._waiting -= 1
            self._take_locked()
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is waiter.loop:
                _wake(waiter.future)
            else:
                try:
                    waiter.loop.call_soon_threadsafe(_wake, waiter.future)
                except RuntimeError:  # its loop is closed: nobody will take this slot
                    self._in_flight -= 1

    def reset_peak(self) -> None:
        """Start peak tracking afresh (benchmarks, tests)."""
        with self._lock:
            self._peak = self._in_flight


__all__ = ["InFlightGate"]
