"""What batch mode has done so far, for the progress line, the summary and tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class BatchProgress:
    """Counters of batches and lines; :meth:`wait_until` lets a caller wait for a state without polling."""

    def __init__(self) -> None:
        self.batches_submitted = 0
        self.batches_done = 0
        self.batches_failed = 0
        self.lines_submitted = 0
        self.lines_retried = 0
        self.lines_failed = 0
        self.lines_reattached = 0
        self.lines_sent_online = 0
        self.results_ignored = 0
        self.calls_waiting = 0
        self._waiters: list[asyncio.Event] = []

    def __repr__(self) -> str:
        return (f"BatchProgress(submitted={self.batches_submitted}, in_progress={self.batches_in_progress}, "
                f"done={self.batches_done}, calls_waiting={self.calls_waiting}, lines={self.lines_submitted}, "
                f"retried={self.lines_retried})")

    # The counters a sum over several models' batch transports adds up (see :meth:`total`).
    _COUNTERS = ("batches_submitted", "batches_done", "batches_failed", "lines_submitted", "lines_retried",
                 "lines_failed", "lines_reattached", "lines_sent_online", "results_ignored", "calls_waiting")

    @classmethod
    def total(cls, parts: list[BatchProgress]) -> BatchProgress:
        """The counters of ``parts`` added up (one per model in batch mode), for one progress or summary line."""
        whole = cls()
        for name in cls._COUNTERS:
            setattr(whole, name, sum(getattr(part, name) for part in parts))
        return whole

    @property
    def batches_in_progress(self) -> int:
        """Batches submitted and not yet ended."""
        return self.batches_submitted - self.batches_done

    def describe(self) -> str:
        """One progress line: batches submitted, in progress and done, and calls waiting."""
        return (f"batches: {self.batches_submitted} submitted, {self.batches_in_progress} in progress, "
                f"{self.batches_done} done; {self.calls_waiting} calls waiting")

    def summary(self) -> str:
        """The end-of-run line: batches and what became of their lines."""
        failed = f" ({self.batches_failed:,} failed whole)" if self.batches_failed else ""
        online = f", {self.lines_sent_online:,} sent online" if self.lines_sent_online else ""
        return (f"batches: {self.batches_submitted:,} submitted, {self.batches_done:,} done{failed}; lines: "
                f"{self.lines_submitted:,} submitted, {self.lines_reattached:,} reattached, {self.lines_retried:,} "
                f"retried{online}, {self.lines_failed:,} failed")

    def changed(self) -> None:
        """Wake whoever waits in :meth:`wait_until`."""
        waiters, self._waiters = self._waiters, []
        for event in waiters:
            event.set()

    async def wait_until(self, condition: Callable[[BatchProgress], bool]) -> None:
        """Return once ``condition(self)`` holds (checked after every change)."""
        while not condition(self):
            event = asyncio.Event()
            self._waiters.append(event)
            await event.wait()


__all__ = ["BatchProgress"]
