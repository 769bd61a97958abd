"""Seeded draws of what happens to one admitted request: its delay, and whether it fails and how.

One ``random.Random(seed)`` makes every draw, in arrival order, so a run with the same seed and the same
arrival order injects the same faults after the same delays.
"""

from __future__ import annotations

import enum
import random

from sharedlm.simulator._settings import SimulatorSettings


class Outcome(enum.Enum):
    """What the server does with one admitted request once its delay has passed."""

    ANSWER = "answer"
    ERROR_500 = "error_500"
    ERROR_503 = "error_503"
    RESET = "reset"  # close the connection with a TCP reset and no answer
    HANG = "hang"  # never answer; the request ends only when the client or the server closes the connection


class FaultDice:
    """The seeded source of delays and faults.

    Args:
        settings: The latency, jitter, fault rates and seed to draw from.
    """

    __slots__ = ("_error", "_hang", "_high", "_latency", "_low", "_random", "_reset")

    def __init__(self, settings: SimulatorSettings) -> None:
        self._random = random.Random(settings.seed)
        self._latency = float(settings.latency)
        self._low = max(0.0, settings.latency - settings.jitter)
        self._high = settings.latency + settings.jitter
        # Cumulative thresholds on one uniform draw: [0, hang) hangs, [hang, reset) resets, [reset, error) errs.
        self._hang = settings.hang_rate
        self._reset = self._hang + settings.reset_rate
        self._error = self._reset + settings.error_rate

    def __repr__(self) -> str:
        return (f"FaultDice(delay=[{self._low:g}, {self._high:g}]s, hang<{self._hang:g}, "
                f"reset<{self._reset:g}, error<{self._error:g})")

    def delay(self) -> float:
        """Seconds before one request's answer or fault, uniform in ``[latency - jitter, latency + jitter]``."""
        if self._high == self._low:
            return self._low
        # Uniform on the whole interval, then clamped: a jitter larger than the latency makes 0 more likely,
        # exactly as "clamped at 0" says.
        return max(0.0, self._random.uniform(self._latency - (self._high - self._latency), self._high))

    def outcome(self) -> Outcome:
        """Whether one request is answered, fails with a 5xx, is reset, or hangs."""
        if self._error <= 0.0:
            return Outcome.ANSWER
        draw = self._random.random()
        if draw >= self._error:
            return Outcome.ANSWER
        if draw < self._hang:
            return Outcome.HANG
        if draw < self._reset:
            return Outcome.RESET
        return Outcome.ERROR_500 if self._random.random() < 0.5 else Outcome.ERROR_503


__all__ = ["FaultDice", "Outcome"]
