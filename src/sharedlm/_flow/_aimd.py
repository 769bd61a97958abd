"""The adaptive in-flight limit of one process: additive increase, multiplicative decrease (AIMD).

The limit starts at ``initial`` and moves between ``floor`` and ``ceiling`` (``max_parallel_requests``).

- A 429 halves it (``DEFAULT_DECREASE_FACTOR``), once per burst: every request already in flight when we
  reacted was sent under the old limit, so its 429 says nothing new. A 429 for a request sent at or before
  the most recent decrease therefore does not decrease again.
- A 429 also clamps it to the requests still in flight, when the caller knows that number: the provider
  holds at most those, so a burst far above its capacity settles near the capacity as the burst's 429s
  come back, instead of halving once per round of 429s.
- Until the first 429 it is in *slow start*, as TCP is: every success grows it by
  ``DEFAULT_SLOW_START_GROWTH - 1``, which multiplies it by ``DEFAULT_SLOW_START_GROWTH`` (8) per round trip,
  so a limit that starts well below ``ceiling`` reaches a provider's real capacity in a round trip or two
  without first sending a burst far above it. (TCP doubles; LLM round trips are seconds long, and a
  1,000-call job at 1 s latency cannot afford four of them.)
- After that, successes grow it by one after ``limit`` consecutive successes, which is about one step per
  round trip of the whole window, as in TCP congestion avoidance.
- Growth stops just below the level that last drew a 429, so the limit does not climb straight back into
  the wall it just hit. That cap expires after ``probe_interval`` seconds without any 429: capacity that
  returns (a provider's quota reset, other tenants leaving) is then rediscovered by probing upward.

The engine calls this from several threads (one event loop each); a ``threading.Lock`` guards the counters.
Reading ``limit`` takes no lock: it is one attribute read, which is atomic in Python.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sharedlm._errors import ConfigurationError

DEFAULT_DECREASE_FACTOR = 0.5
DEFAULT_PROBE_INTERVAL_S = 30.0
DEFAULT_SLOW_START_GROWTH = 8


@dataclass(frozen=True, kw_only=True, slots=True)
class AdaptiveLimitSnapshot:
    """The state of an :class:`AdaptiveLimit` at one moment.

    Args:
        limit: The current in-flight limit.
        floor: The lowest the limit may go.
        ceiling: The highest the limit may go.
        peak: The highest limit reached so far.
        decreases: How many 429 bursts shrank the limit.
        increases: How many times successes grew the limit.
        rate_limited: How many 429s were reported, including those of a burst already reacted to.
        last_rate_limited_level: The limit at the most recent 429 burst, or None before any.
        growth_cap: The level growth stays below until it expires, or None when growth is free.
    """

    limit: int
    floor: int
    ceiling: int
    peak: int
    decreases: int
    increases: int
    rate_limited: int
    last_rate_limited_level: int | None
    growth_cap: int | None


class AdaptiveLimit:
    """How many requests this process may have in flight, adapted to the provider's 429s.

    Args:
        initial: Where the limit starts.
        floor: The lowest the limit may go (``min_concurrency``).
        ceiling: The highest the limit may go (``max_parallel_requests``).
        clock: Monotonic seconds, the same clock as the ``sent_at`` times given to :meth:`on_rate_limited`.
        decrease_factor: What a 429 burst multiplies the limit by, in (0, 1).
        probe_interval: Seconds without any 429 after which growth may pass the level that drew the last one.
        slow_start: Grow by ``slow_start_growth - 1`` per success until the first 429.
        slow_start_growth: What slow start multiplies the limit by per round trip.
    """

    def __init__(self, *, initial: int, floor: int, ceiling: int, clock: Callable[[], float],
                 decrease_factor: float = DEFAULT_DECREASE_FACTOR,
                 probe_interval: float = DEFAULT_PROBE_INTERVAL_S, slow_start: bool = True,
                 slow_start_growth: int = DEFAULT_SLOW_START_GROWTH) -> None:
        for name, value in (("floor", floor), ("ceiling", ceiling), ("initial", initial)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"adaptive limit {name} must be a whole number >= 1, got {value!r}")
        if floor > ceiling:
            raise ConfigurationError(
                f"min_concurrency ({floor}) is above max_parallel_requests ({ceiling}): lower min_concurrency "
                "or raise max_parallel_requests")
        if not floor <= initial <= ceiling:
            raise ConfigurationError(
                f"initial_concurrency ({initial}) must lie between min_concurrency ({floor}) and "
                f"max_parallel_requests ({ceiling})")
        if not (isinstance(decrease_factor, int | float) and 0 < decrease_factor < 1):
            raise ConfigurationError(f"decrease_factor must be between 0 and 1 (exclusive), got {decrease_factor!r}")
        if not (isinstance(probe_interval, int | float) and math.isfinite(probe_interval) and probe_interval >= 0):
            raise ConfigurationError(f"probe_interval must be a finite number of seconds >= 0, got {probe_interval!r}")
        self._clock = clock
        self._floor = floor
        self._ceiling = ceiling
        self._factor = float(decrease_factor)
        self._probe_interval = float(probe_interval)
        self._lock = threading.Lock()
        self._limit = initial
        self._peak = initial
        if isinstance(slow_start_growth, bool) or not isinstance(slow_start_growth, int) or slow_start_growth < 2:
            raise ConfigurationError(f"slow_start_growth must be a whole number >= 2, got {slow_start_growth!r}")
        self._slow_start = slow_start and initial < ceiling
        self._slow_start_step = slow_start_growth - 1
        self._successes = 0
        self._decreases = 0
        self._increases = 0
        self._rate_limited = 0
        self._reacted_at: float | None = None
        self._last_429_at: float | None = None
        self._last_level: int | None = None
        self._growth_cap: int | None = None

    @property
    def limit(self) -> int:
        """The current in-flight limit."""
        return self._limit

    @property
    def floor(self) -> int:
        return self._floor

    @property
    def ceiling(self) -> int:
        return self._ceiling

    @property
    def last_rate_limited_level(self) -> int | None:
        """The limit when the most recent 429 burst arrived, or None before any."""
        return self._last_level

    def on_rate_limited(self, sent_at: float, *, in_flight: int | None = None) -> bool:
        """Report a 429; return whether it shrank the limit.

        Args:
            sent_at: When the rate-limited request was sent, on this object's clock. A request sent at or
                before the most recent decrease belongs to a burst already reacted to.
            in_flight: Requests still in flight when the 429 arrived (the refused one excluded), if known.
                A provider that just refused a request holds at most that many, so the limit is also
                clamped to it, on every 429 of a burst: one burst far above the provider's capacity then
                settles near it at once instead of halving round after round of 429s.
        """
        with self._lock:
            now = self._clock()
            self._rate_limited += 1
            self._last_429_at = now
            changed = False
            self._slow_start = False
            if self._reacted_at is None or sent_at > self._reacted_at:
                self._reacted_at = now
                level = self._limit
                self._last_level = level
                self._growth_cap = level
                self._successes = 0
                lowered = max(self._floor, int(level * self._factor))
                if lowered < level:
                    self._limit = lowered
                    self._decreases += 1
                    changed = True
            if in_flight is not None and self._floor <= in_flight < self._limit:
                self._limit = in_flight
                cap = self._growth_cap
                self._growth_cap = in_flight + 1 if cap is None else min(cap, in_flight + 1)
                if not changed:
                    self._decreases += 1
                changed = True
            return changed

    def on_success(self) -> None:
        """Report a successful request; every ``limit`` of them in a row may grow the limit by one."""
        with self._lock:
            if self._slow_start:
                if self._limit < self._ceiling:
                    self._limit = min(self._ceiling, self._limit + self._slow_start_step)
                    self._increases += 1
                    if self._limit > self._peak:
                        self._peak = self._limit
                else:
                    self._slow_start = False
                return
            self._successes += 1
            if self._successes < self._limit:
                return
            self._successes = 0
            target = self._limit + 1
            if target > self._ceiling:
                return
            cap = self._growth_cap
            if cap is not None and target >= cap:
                assert self._last_429_at is not None
                if self._clock() - self._last_429_at < self._probe_interval:
                    return
                self._growth_cap = None
            self._limit = target
            self._increases += 1
            if target > self._peak:
                self._peak = target

    def snapshot(self) -> AdaptiveLimitSnapshot:
        """The limit and its counters, read together."""
        with self._lock:
            return AdaptiveLimitSnapshot(
                limit=self._limit, floor=self._floor, ceiling=self._ceiling, peak=self._peak,
                decreases=self._decreases, increases=self._increases, rate_limited=self._rate_limited,
                last_rate_limited_level=self._last_level, growth_cap=self._growth_cap,
            )

    def __repr__(self) -> str:
        return (f"AdaptiveLimit(limit={self._limit}, floor={self._floor}, ceiling={self._ceiling}, "
                f"peak={self._peak}, decreases={self._decreases}, increases={self._increases}, "
                f"growth_cap={self._growth_cap})")


__all__ = [
    "DEFAULT_DECREASE_FACTOR",
    "DEFAULT_PROBE_INTERVAL_S",
    "DEFAULT_SLOW_START_GROWTH",
    "AdaptiveLimit",
    "AdaptiveLimitSnapshot",
]
