"""Ctrl-C and SIGTERM during a run: stop taking rows, let rows in flight finish briefly, then cancel.

The first SIGINT or SIGTERM stops the runner from taking new rows and gives the rows in flight
``grace_s`` seconds to finish (their results are written as usual). When the grace period ends, or at a
second signal, the rows still in flight are cancelled: they are not written, so ``--resume`` runs them.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import IO, Protocol

from sharedlm.runner._core import RunCounters
from sharedlm.runner._defaults import DEFAULT_GRACE_S

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StoppableRun(Protocol):
    """A run a signal can stop: the local :class:`~sharedlm.runner._core.RowRunner` or the Ray backend's runner."""

    @property
    def counters(self) -> RunCounters:
        """The run's live counts."""

    def stop(self) -> None:
        """Take no new rows; rows in flight finish."""

    def cancel(self) -> None:
        """Cancel the rows in flight."""


class InterruptHandler:
    """Installs SIGINT/SIGTERM handlers on the running loop for the duration of a run.

    Args:
        runner: The run to stop and, later, cancel.
        grace_s: Seconds rows in flight may take to finish after the first signal.
        stream: Where to tell the user what is happening; stderr by default.
    """

    def __init__(self, runner: StoppableRun, *, grace_s: float = DEFAULT_GRACE_S,
                 stream: IO[str] | None = None) -> None:
        self.runner = runner
        self.grace_s = grace_s
        self.signals_received = 0
        self.signal_name: str | None = None
        self._stream = stream if stream is not None else sys.stderr
        self._loop: asyncio.AbstractEventLoop | None = None
        self._grace_timer: asyncio.TimerHandle | None = None
        self._installed: list[signal.Signals] = []

    def __repr__(self) -> str:
        return (f"InterruptHandler(signals_received={self.signals_received}, signal={self.signal_name}, "
                f"grace_s={self.grace_s}, installed={bool(self._installed)})")

    @property
    def interrupted(self) -> bool:
        """True once a signal arrived."""
        return self.signals_received > 0

    def install(self) -> None:
        """Handle SIGINT and SIGTERM on the running loop (main thread only; elsewhere this does nothing)."""
        self._loop = asyncio.get_running_loop()
        for sig in _SIGNALS:
            try:
                self._loop.add_signal_handler(sig, self._on_signal, sig)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signal support
                continue
            self._installed.append(sig)

    def uninstall(self) -> None:
        """Restore the default handlers and drop a pending grace timer."""
        if self._grace_timer is not None:
            self._grace_timer.cancel()
            self._grace_timer = None
        if self._loop is not None:
            for sig in self._installed:
                self._loop.remove_signal_handler(sig)
        self._installed.clear()

    def _on_signal(self, sig: signal.Signals) -> None:
        self.signals_received += 1
        self.signal_name = sig.name
        if self.signals_received == 1:
            self.runner.stop()
            in_flight = self.runner.counters.in_flight
            self._say(f"{sig.name}: taking no new rows; waiting up to {self.grace_s:g}s for {in_flight} rows in "
                      "flight (interrupt again to cancel them now)")
            assert self._loop is not None
            self._grace_timer = self._loop.call_later(self.grace_s, self._grace_over)
        else:
            self._cancel(f"{sig.name} again: cancelling")

    def _grace_over(self) -> None:
        self._grace_timer = None
        self._cancel("grace period over: cancelling")

    def _cancel(self, reason: str) -> None:
        in_flight = self.runner.counters.in_flight
        if in_flight:
            self._say(f"{reason} {in_flight} rows in flight (not written; --resume runs them)")
        self.runner.cancel()

    def _say(self, message: str) -> None:
        print(f"\nsharedlm: {message}", file=self._stream, flush=True)


__all__ = ["DEFAULT_GRACE_S", "InterruptHandler", "StoppableRun"]
