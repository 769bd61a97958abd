"""A process-wide pause on new sends to one provider, set by its ``Retry-After``.

When a provider says "retry after N seconds", it is speaking about the account, not the one request:
every new send should wait. A later hint may lengthen the pause but never shorten it (two overlapping
hints both hold), and no hint may pause longer than ``max_pause`` (``max_retry_after``).

``remaining()`` is on every send's path, so it reads one attribute without the lock (an atomic read);
``pause_for`` takes the lock to extend and count.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

from sharedlm._errors import ConfigurationError


class ProviderPause:
    """When new sends to the provider may resume.

    Args:
        clock: Monotonic seconds.
        max_pause: The longest one hint may pause new sends, in seconds.
    """

    def __init__(self, *, clock: Callable[[], float], max_pause: float) -> None:
        if isinstance(max_pause, bool) or not isinstance(max_pause, int | float) or not (
                math.isfinite(max_pause) and max_pause >= 0):
            raise ConfigurationError(f"max_pause must be a finite number of seconds >= 0, got {max_pause!r}")
        self._clock = clock
        self._max_pause = float(max_pause)
        self._lock = threading.Lock()
        self._until = -math.inf
        self._pauses = 0
        self._extensions = 0

    @property
    def pauses(self) -> int:
        """How many pauses began (a hint while not paused)."""
        return self._pauses

    @property
    def extensions(self) -> int:
        """How many hints lengthened a pause already running."""
        return self._extensions

    def pause_for(self, seconds: float) -> float:
        """Pause new sends for ``seconds`` (at most ``max_pause``) unless already paused longer.

        Returns the seconds the pause now has left.

        Args:
            seconds: The provider's hint; ``>= 0`` (0 does nothing).
        """
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or math.isnan(seconds) or seconds < 0:
            raise ValueError(f"a pause must be a number of seconds >= 0, got {seconds!r}")
        with self._lock:
            now = self._clock()
            until = now + min(float(seconds), self._max_pause)
            if seconds > 0 and until > self._until:
                if self._until <= now:
                    self._pauses += 1
                else:
                    self._extensions += 1
                self._until = until
            return max(0.0, self._until - now)

    def remaining(self) -> float:
        """Seconds until new sends may resume; 0.0 when not paused."""
        left = self._until - self._clock()
        return left if left > 0 else 0.0

    def __repr__(self) -> str:
        return (f"ProviderPause(remaining={self.remaining():.3f}s, max_pause={self._max_pause:g}s, "
                f"pauses={self._pauses}, extensions={self._extensions})")


__all__ = ["ProviderPause"]
