"""The in-flight limit of one process, set from an estimate of the provider's capacity rather than halved per 429.

What the best adaptive limiters do, and what this workload needs instead
------------------------------------------------------------------------
- Netflix concurrency-limits' *Vegas* limit estimates the queue a server builds from how far the current
  round-trip time sits above the minimum (``queue = limit * (1 - rtt_min / rtt)``) and steps the limit by small
  amounts; *Gradient2* multiplies the limit by the ratio of a long-term to a short-term RTT average, with a
  bounded decrease per update (https://github.com/Netflix/concurrency-limits). Both read latency, which here is
  the model's generation time: it varies with the answer's length by 100x, so it says nothing about load.
- Envoy's *adaptive concurrency* filter measures a minimum RTT in periodic windows of pinned, low concurrency,
  then sets ``limit = limit * gradient + sqrt(limit)`` (https://www.envoyproxy.io/docs/envoy/latest/configuration/
  http/http_filters/adaptive_concurrency_filter). Pinning concurrency for a measurement costs a round trip, which
  for an LLM is seconds long.
- TCP *BBR* estimates the bottleneck from what was *delivered* (the delivery rate times the minimum RTT is the
  number in flight the path can hold), and probes above it with a gain of 1.25 only now and then
  (https://datatracker.ietf.org/doc/draft-ietf-ccwg-bbr/).

LLM providers say no explicitly, with a 429, so the estimate does not need latency at all; BBR's idea carries
over directly: the provider's capacity is what it accepted, the requests still in flight (and so accepted) when
its 429s came back. The rules:

- *Start.* Until the provider first pushes back, the limit grows fast: each success adds ``start_growth - 1``
  (x8 per round trip), and :meth:`on_stall` opens it to the ceiling when calls waited a while, nothing came
  back and the process had CPU to spare: the sign of a slow provider that is not refusing anything, which then
  need not be held at the first window for a whole round trip. Only a provider that answered 429 is probed
  carefully afterwards.
- *One decrease per congestion event.* The first 429 of a request sent after the last decrease starts an event:
  the limit drops to the requests still in flight (what the provider accepted). Later 429s of requests sent
  before the event began (:attr:`event_mark`) belong to it: they only refine the estimate down to what is still
  in flight as the burst's refusals come back, and are not counted as decreases. A burst far above capacity
  therefore settles at capacity within one round. A refusal with nothing else in flight measures nothing; it
  multiplies the limit by ``max_event_cut`` (a half), as AIMD would. (The caller keeps 429s that its headers
  explain, an exhausted request or token limit, away from this estimate: the budgets pace those.)
- *Escalation.* A new event that starts before the limit has grown since the last one, within
  ``escalate_window`` seconds, means the decrease did not help (a request-rate limit, or the account is shared):
  :meth:`on_rate_limited` says so, and the caller pauses every send for the provider's hint. A 429 alone never
  pauses the provider; its ``Retry-After`` delays only the request it came with.
- *Growth after an event.* One slot per ``limit`` successes (one per round trip), but not past the estimate
  (``capacity + 1``) until ``probe_interval`` seconds passed without a 429; then, as BBR's probing gain, by one
  slot per ``limit / 4`` successes (x1.25 per round trip), so capacity that came back is found in a few rounds,
  not by crawling one slot per window.

The engine calls this from several threads (one event loop each); a ``threading.Lock`` guards the counters.
Reading ``limit`` takes no lock: it is one attribute read, which is atomic in Python.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sharedlm._errors import ConfigurationError

DEFAULT_START_GROWTH = 8
DEFAULT_MAX_EVENT_CUT = 0.5
DEFAULT_PROBE_INTERVAL_S = 30.0
DEFAULT_ESCALATE_WINDOW_S = 10.0
# BBR's probing gain: above the estimate, grow by a quarter per round trip.
PROBE_GAIN_DIVISOR = 4


@dataclass(frozen=True, kw_only=True, slots=True)
class RateLimitVerdict:
    """What one 429 meant.

    Args:
        new_event: It started a congestion event (the limit was decreased for it).
        escalate: 429s keep coming although the limit was decreased: pause every send for the provider's hint.
    """

    new_event: bool
    escalate: bool


_SAME_EVENT = RateLimitVerdict(new_event=False, escalate=False)


@dataclass(frozen=True, kw_only=True, slots=True)
class CapacitySnapshot:
    """The state of a :class:`CapacityLimit` at one moment.

    Args:
        limit: The current in-flight limit.
        floor: The lowest the limit may go.
        ceiling: The highest the limit may go.
        peak: The highest limit reached so far.
        starting: Whether the provider has not pushed back yet (fast growth).
        capacity: The provider's capacity as last estimated (after a congestion event), or None before any.
        decreases: Congestion events (one decrease each).
        escalations: Events that came while the previous decrease had not been followed by any growth.
        increases: How many times the limit grew.
        rate_limited: 429s reported, including those of an event already reacted to.
    """

    limit: int
    floor: int
    ceiling: int
    peak: int
    starting: bool
    capacity: int | None
    decreases: int
    escalations: int
    increases: int
    rate_limited: int


class CapacityLimit:
    """How many requests this process may have in flight, from an estimate of the provider's capacity.

    Args:
        initial: Where the limit starts.
        floor: The lowest the limit may go (``min_concurrency``).
        ceiling: The highest the limit may go (``max_parallel_requests``).
        clock: Monotonic seconds, the same clock as the ``sent_at`` times given to :meth:`on_rate_limited`.
        learned_capacity: A capacity remembered from an earlier run: the limit starts there, without a start
            phase, as if an event had just settled it.
        start_growth: What the start phase multiplies the limit by per round trip.
        max_event_cut: What a refusal with nothing else in flight multiplies the limit by, in (0, 1].
        probe_interval: Seconds without any 429 after which growth may pass the estimate.
        escalate_window: A new event within this many seconds of the last, with no growth between, escalates.
    """

    def __init__(self, *, initial: int, floor: int, ceiling: int, clock: Callable[[], float],
                 learned_capacity: int | None = None, start_growth: int = DEFAULT_START_GROWTH,
                 max_event_cut: float = DEFAULT_MAX_EVENT_CUT, probe_interval: float = DEFAULT_PROBE_INTERVAL_S,
                 escalate_window: float = DEFAULT_ESCALATE_WINDOW_S) -> None:
        for name, value in (("initial", initial), ("floor", floor), ("ceiling", ceiling),
                            ("start_growth", start_growth)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"capacity limit {name} must be a whole number >= 1, got {value!r}")
        if floor > ceiling:
            raise ConfigurationError(f"capacity limit floor ({floor}) must not exceed its ceiling ({ceiling})")
        if not 0 < max_event_cut <= 1:
            raise ConfigurationError(f"max_event_cut must be in (0, 1], got {max_event_cut!r}")
        for name, seconds in (("probe_interval", probe_interval), ("escalate_window", escalate_window)):
            if not (isinstance(seconds, int | float) and math.isfinite(seconds) and seconds >= 0):
                raise ConfigurationError(f"{name} must be a finite number of seconds >= 0, got {seconds!r}")
        self._floor = floor
        self._ceiling = ceiling
        self._clock = clock
        self._start_step = start_growth - 1
        self._start_growth = start_growth
        self._max_event_cut = float(max_event_cut)
        self._probe_interval = float(probe_interval)
        self._escalate_window = float(escalate_window)
        self._lock = threading.Lock()
        self._capacity: int | None = None
        self._starting = True
        self._last_429_at = -math.inf
        self.event_mark = -math.inf
        self._last_event_at = -math.inf
        self._grown_since_event = True
        self._successes = 0
        if learned_capacity is not None and learned_capacity >= 1:
            self._capacity = max(floor, min(ceiling, int(learned_capacity)))
            self._starting = False
            self._limit = self._capacity
        else:
            self._limit = max(floor, min(ceiling, initial))
        self._peak = self._limit
        self._decreases = 0
        self._escalations = 0
        self._increases = 0
        self._rate_limited = 0

    @property
    def limit(self) -> int:
        """The current in-flight limit."""
        return self._limit

    @property
    def starting(self) -> bool:
        """Whether the provider has not pushed back yet."""
        return self._starting

    @property
    def capacity(self) -> int | None:
        """The provider's capacity as last estimated, or None before any congestion event."""
        return self._capacity

    def on_rate_limited(self, sent_at: float, *, in_flight: int, limit: int | None = None) -> RateLimitVerdict:
        """Report a 429 for a request sent at ``sent_at``; ``in_flight`` counts the other requests still out.

        Args:
            sent_at: When the refused request was sent (clock seconds).
            in_flight: Requests still in flight, the refused one excluded: what the provider holds, or less.
            limit: The in-flight limit really in force (a lower CPU ceiling may hold the gate below this limit),
                or None when it is this limit.
        """
        with self._lock:
            now = self._clock()
            self._rate_limited += 1
            self._last_429_at = now
            self._starting = False
            if sent_at <= self.event_mark:
                # Sent before we reacted: its refusal says only that the provider holds at most what is in flight.
                if self._floor <= in_flight < self._limit:
                    self._limit = in_flight
                    self._capacity = in_flight
                    self._successes = 0
                return _SAME_EVENT
            escalate = not self._grown_since_event and now - self._last_event_at <= self._escalate_window
            if escalate:
                self._escalations += 1
            self._decreases += 1
            self.event_mark = now
            self._last_event_at = now
            self._grown_since_event = False
            effective = self._limit if limit is None else max(self._floor, min(self._limit, limit))
            if in_flight >= self._floor:
                target = min(effective - 1, in_flight)
            else:
                # Nothing else out, so nothing was measured: a lone refusal (a rate limit) cuts by the factor.
                target = math.ceil(effective * self._max_event_cut)
            self._limit = max(self._floor, target)
            self._capacity = self._limit
            self._successes = 0
            return RateLimitVerdict(new_event=True, escalate=escalate)

    def on_success(self) -> None:
        """Report a successful request: fast growth while starting, else about one slot per round trip."""
        with self._lock:
            if self._starting:
                if self._limit < self._ceiling:
                    self._grow_to(min(self._ceiling, self._limit + self._start_step))
                return
            self._successes += 1
            limit = self._limit
            target = limit + 1
            if target > self._ceiling:
                self._successes = 0
                return
            capacity = self._capacity
            if capacity is not None and target > capacity:
                if self._clock() - self._last_429_at < self._probe_interval:
                    return  # held at the estimate until no 429 came for a probe interval
                needed = max(1, limit // PROBE_GAIN_DIVISOR)
            else:
                needed = limit
            if self._successes < needed:
                return
            self._successes = 0
            self._grow_to(target)

    def on_stall(self) -> bool:
        """Report that calls waited and nothing came back for a while; while starting, open to the ceiling.

        Returns whether the limit changed.
        """
        with self._lock:
            if not self._starting or self._limit >= self._ceiling:
                return False
            self._grow_to(self._ceiling)
            return True

    def _grow_to(self, target: int) -> None:
        self._limit = target
        self._increases += 1
        self._grown_since_event = True
        if target > self._peak:
            self._peak = target

    def snapshot(self) -> CapacitySnapshot:
        """The limit and its counters, read together."""
        with self._lock:
            return CapacitySnapshot(
                limit=self._limit, floor=self._floor, ceiling=self._ceiling, peak=self._peak,
                starting=self._starting, capacity=self._capacity, decreases=self._decreases,
                escalations=self._escalations, increases=self._increases, rate_limited=self._rate_limited,
            )

    def __repr__(self) -> str:
        return (f"CapacityLimit(limit={self._limit}, floor={self._floor}, ceiling={self._ceiling}, "
                f"starting={self._starting}, capacity={self._capacity}, decreases={self._decreases}, "
                f"escalations={self._escalations})")


__all__ = [
    "DEFAULT_ESCALATE_WINDOW_S",
    "DEFAULT_MAX_EVENT_CUT",
    "DEFAULT_PROBE_INTERVAL_S",
    "DEFAULT_START_GROWTH",
    "CapacityLimit",
    "CapacitySnapshot",
    "RateLimitVerdict",
]
