"""A provider's limits: a cap on requests in flight and request and token budgets of three styles.

The budgets come in the styles real providers use (see ``sharedlm.simulator._personality``): a sliding window
(the default simulator), a token bucket refilled continuously (OpenAI, Anthropic: "continuously replenished ...
rather than being reset at fixed intervals", https://platform.claude.com/docs/en/api/rate-limits) and a fixed
window that resets at once at the end of each window. A cap on requests in flight either refuses what is above it
(429) or, as vLLM does, queues it (:class:`SlotSchedule`).

Every check answers with an honest wait: how long until the request would be admitted, which the server sends
as ``Retry-After`` / ``retry-after-ms`` so that clients can pace themselves. Nothing here reads a clock; callers
pass ``now`` (seconds on a monotonic clock), which keeps the logic testable with a fake clock.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass
from itertools import count

BUDGET_WINDOW_S = 60.0
# The wait announced when nothing in flight has a known end (every request in flight hangs).
UNKNOWN_WAIT_S = 1.0
# Seconds of refill a request bucket holds: per-minute limits are enforced in slices of about a second.
REQUEST_BURST_S = 1.0
# The smallest wait announced: a 429 that says "retry now" invites a tight loop.
MIN_WAIT_S = 0.001


class SlidingWindowBudget:
    """At most ``limit`` units (requests or tokens) spent in any window of ``window`` seconds.

    Args:
        limit: Units allowed per window.
        window: The window's length in seconds.
    """

    __slots__ = ("_spent", "_total", "limit", "window")

    def __init__(self, limit: int, window: float = BUDGET_WINDOW_S) -> None:
        self.limit = limit
        self.window = window
        self._spent: deque[tuple[float, int]] = deque()
        self._total = 0

    def __repr__(self) -> str:
        return f"SlidingWindowBudget(limit={self.limit}, window={self.window:g}s, in_window={self._total})"

    def _expire(self, now: float) -> None:
        spent = self._spent
        horizon = now - self.window
        while spent and spent[0][0] <= horizon:
            self._total -= spent.popleft()[1]

    def in_window(self, now: float) -> int:
        """Units spent in the window ending at ``now``."""
        self._expire(now)
        return self._total

    def wait(self, units: int, now: float) -> float:
        """Seconds until ``units`` fit in the window: 0 when they fit now, ``inf`` when they never can.

        Args:
            units: What the request would spend.
            now: The current time.
        """
        if units > self.limit:
            return math.inf
        self._expire(now)
        excess = self._total + units - self.limit
        if excess <= 0:
            return 0.0
        freed = 0
        for stamp, spent in self._spent:
            freed += spent
            if freed >= excess:
                return stamp + self.window - now
        return self.window  # unreachable: units <= limit means the whole window frees enough

    def spend(self, units: int, now: float) -> None:
        """Record ``units`` spent at ``now``."""
        self._spent.append((now, units))
        self._total += units


class TokenBucketBudget:
    """A bucket of ``limit`` per window, refilled continuously, holding at most ``burst`` seconds of its refill.

    Providers enforce a per-minute limit in finer slices ("60 RPM may be enforced as 1 request per second"), so
    the bucket holds ``burst`` seconds of refill, not a whole minute; its state is still reported in per-minute
    units, as the headers do (:meth:`remaining`, :meth:`reset_s`).

    Args:
        limit: Units per window.
        window: The window's length in seconds (the refill rate is ``limit / window``).
        burst: Seconds of refill the bucket holds when full.
    """

    __slots__ = ("_at", "_level", "capacity", "limit", "rate", "window")

    def __init__(self, limit: int, window: float = BUDGET_WINDOW_S, burst: float = 1.0) -> None:
        self.limit = limit
        self.window = window
        self.rate = limit / window
        self.capacity = max(1.0, self.rate * burst)
        self._level = self.capacity
        self._at: float | None = None

    def __repr__(self) -> str:
        return f"TokenBucketBudget(limit={self.limit}, capacity={self.capacity:g}, level={self._level:g})"

    def _refill(self, now: float) -> None:
        if self._at is not None and now > self._at:
            self._level = min(self.capacity, self._level + (now - self._at) * self.rate)
        self._at = now if self._at is None else max(self._at, now)

    def in_window(self, now: float) -> int:
        """Units the bucket is short of full, in per-window units."""
        return self.limit - self.remaining(now)

    def wait(self, units: int, now: float) -> float:
        """Seconds until ``units`` are in the bucket; ``inf`` when they can never be (more than it holds)."""
        if units > self.capacity:
            return math.inf
        self._refill(now)
        missing = units - self._level
        return 0.0 if missing <= 0 else missing / self.rate

    def spend(self, units: int, now: float) -> None:
        self._refill(now)
        self._level -= units

    def remaining(self, now: float) -> int:
        """What is left, in per-window units (``limit`` when full)."""
        self._refill(now)
        return max(0, math.floor(self._level / self.capacity * self.limit + 1e-9))

    def reset_s(self, now: float) -> float:
        """Seconds until the bucket is full again."""
        self._refill(now)
        return max(0.0, (self.capacity - self._level) / self.capacity * self.window)


class FixedWindowBudget:
    """At most ``limit`` units in each window ``[k * window, (k + 1) * window)``; the count resets at the boundary.

    Args:
        limit: Units per window.
        window: The window's length in seconds.
    """

    __slots__ = ("_spent", "_start", "limit", "window")

    def __init__(self, limit: int, window: float = BUDGET_WINDOW_S) -> None:
        self.limit = limit
        self.window = window
        self._start = -math.inf
        self._spent = 0

    def __repr__(self) -> str:
        return f"FixedWindowBudget(limit={self.limit}, window={self.window:g}s, spent={self._spent})"

    def _roll(self, now: float) -> None:
        start = math.floor(now / self.window) * self.window
        if start != self._start:
            self._start = start
            self._spent = 0

    def in_window(self, now: float) -> int:
        self._roll(now)
        return self._spent

    def wait(self, units: int, now: float) -> float:
        """Seconds until ``units`` fit: 0 now, the rest of the window when full, ``inf`` above the limit."""
        if units > self.limit:
            return math.inf
        self._roll(now)
        if self._spent + units <= self.limit:
            return 0.0
        return self._start + self.window - now

    def spend(self, units: int, now: float) -> None:
        self._roll(now)
        self._spent += units

    def remaining(self, now: float) -> int:
        self._roll(now)
        return max(0, self.limit - self._spent)

    def reset_s(self, now: float) -> float:
        self._roll(now)
        return self._start + self.window - now


class SlotSchedule:
    """``slots`` servers working a FIFO queue, as vLLM's scheduler does: nothing is refused, everything waits.

    Each request is given to the slot that frees first; it starts then (or now) and holds the slot for its delay.

    Args:
        slots: How many requests are served at once.
    """

    __slots__ = ("_free",)

    def __init__(self, slots: int) -> None:
        self._free = [0.0] * slots

    def __repr__(self) -> str:
        return f"SlotSchedule(slots={len(self._free)})"

    def book(self, now: float, delay: float | None) -> float | None:
        """When a request arriving ``now`` and served for ``delay`` seconds is done (None: it hangs).

        Args:
            now: The arrival time.
            delay: How long serving it takes, or None for a request that never finishes (its slot is lost).
        """
        start = max(now, heapq.heappop(self._free))
        done = None if delay is None else start + delay
        heapq.heappush(self._free, math.inf if done is None else done)
        return done


Budget = SlidingWindowBudget | TokenBucketBudget | FixedWindowBudget
STYLES = ("sliding", "bucket", "fixed")


class Ticket:
    __slots__ = ("done", "due")

    def __init__(self, due: float | None) -> None:
        self.due = due
        self.done = False


class InFlight:
    """Requests in flight and when each is due to finish, for the concurrency cap and its honest wait.

    Args:
        track_due: Keep the due times (a heap); only a concurrency cap needs them.
    """

    __slots__ = ("_due", "_order", "_track_due", "count")

    def __init__(self, *, track_due: bool = True) -> None:
        self.count = 0
        self._track_due = track_due
        self._due: list[tuple[float, int, Ticket]] = []
        self._order = count()

    def __repr__(self) -> str:
        return f"InFlight(count={self.count})"

    def enter(self, due: float | None) -> Ticket:
        """Register one request due to finish at ``due`` (None: never, it hangs)."""
        self.count += 1
        ticket = Ticket(due)
        if due is not None and self._track_due:
            heapq.heappush(self._due, (due, next(self._order), ticket))
        return ticket

    def leave(self, ticket: Ticket) -> None:
        """The request of ``ticket`` is no longer in flight (answered, reset, or abandoned)."""
        if not ticket.done:
            ticket.done = True
            self.count -= 1

    def earliest_due(self) -> float | None:
        """When the first request in flight is due to finish, or None when no request has a known end."""
        due = self._due
        while due and due[0][2].done:
            heapq.heappop(due)
        return due[0][0] if due else None


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a request was not admitted, and how long until it would be."""

    reason: str  # "concurrency", "rpm" or "tpm"
    wait: float  # seconds; inf when the request can never fit
    message: str

    @property
    def retry_after_ms(self) -> int:
        """The wait in whole milliseconds, rounded up, at least 1."""
        return max(1, math.ceil(max(self.wait, MIN_WAIT_S) * 1000 - 1e-6))

    @property
    def retry_after_s(self) -> int:
        """The wait in whole seconds for ``Retry-After``, rounded up, at least 1."""
        return max(1, math.ceil(self.retry_after_ms / 1000))


class Limits:
    """The admission rules of one simulated account.

    Args:
        max_concurrency: Cap on requests in flight, or None.
        rpm: Requests per window, or None.
        tpm: Tokens per window, or None.
        window: The budgets' window in seconds.
        style: How the budgets count: ``"sliding"`` window, token ``"bucket"`` or ``"fixed"`` window.
        queue: Queue requests above ``max_concurrency`` (vLLM) instead of refusing them.
    """

    __slots__ = ("_requests", "_tokens", "in_flight", "max_concurrency", "queue")

    def __init__(self, *, max_concurrency: int | None, rpm: int | None, tpm: int | None,
                 window: float = BUDGET_WINDOW_S, style: str = "sliding", queue: bool = False) -> None:
        if style not in STYLES:
            raise ValueError(f"style must be one of {', '.join(STYLES)}, got {style!r}")
        self.queue = SlotSchedule(max_concurrency) if queue and max_concurrency is not None else None
        self.max_concurrency = None if self.queue is not None else max_concurrency
        self.in_flight = InFlight(track_due=self.max_concurrency is not None)
        self._requests = _budget(style, rpm, window, burst=REQUEST_BURST_S)
        # A bucket of one second of tokens could never hold one large request: token buckets hold the window.
        self._tokens = _budget(style, tpm, window, burst=window)

    @property
    def requests(self) -> Budget | None:
        """The request budget, or None."""
        return self._requests

    @property
    def tokens(self) -> Budget | None:
        """The token budget, or None."""
        return self._tokens

    def __repr__(self) -> str:
        return (f"Limits(max_concurrency={self.max_concurrency}, requests={self._requests!r}, "
                f"tokens={self._tokens!r}, in_flight={self.in_flight.count})")

    def check(self, tokens: int, now: float) -> Rejection | None:
        """The reason a request of ``tokens`` tokens cannot be admitted at ``now``, or None when it can.

        Args:
            tokens: Prompt plus completion tokens the request would spend.
            now: The current time.
        """
        cap = self.max_concurrency
        if cap is not None and self.in_flight.count >= cap:
            due = self.in_flight.earliest_due()
            wait = UNKNOWN_WAIT_S if due is None else max(due - now, MIN_WAIT_S)
            return Rejection("concurrency", wait,
                             f"Too many concurrent requests: {self.in_flight.count} in flight, limit {cap}.")
        budget = self._requests
        if budget is not None:
            wait = budget.wait(1, now)
            if wait > 0:
                return Rejection("rpm", wait, f"Rate limit reached for requests per minute (RPM): "
                                              f"limit {budget.limit}, used {budget.in_window(now)}.")
        budget = self._tokens
        if budget is not None:
            wait = budget.wait(tokens, now)
            if wait > 0:
                used = budget.in_window(now)
                return Rejection("tpm", wait, f"Rate limit reached for tokens per minute (TPM): "
                                              f"limit {budget.limit}, used {used}, requested {tokens}.")
        return None

    def spend(self, tokens: int, now: float) -> None:
        """Spend the budgets of an admitted request."""
        if self._requests is not None:
            self._requests.spend(1, now)
        if self._tokens is not None:
            self._tokens.spend(tokens, now)

    def admit(self, tokens: int, now: float, due: float | None) -> Ticket:
        """Spend the budgets of an admitted request and put it in flight until ``due`` (None: it hangs)."""
        self.spend(tokens, now)
        return self.in_flight.enter(due)

    def too_large(self, tokens: int) -> bool:
        """Whether ``tokens`` exceed the whole token budget, so that waiting can never help."""
        budget = self._tokens
        if budget is None:
            return False
        return tokens > (budget.capacity if isinstance(budget, TokenBucketBudget) else budget.limit)


def _budget(style: str, limit: int | None, window: float, *, burst: float) -> Budget | None:
    if limit is None:
        return None
    if style == "bucket":
        return TokenBucketBudget(limit, window, burst)
    if style == "fixed":
        return FixedWindowBudget(limit, window)
    return SlidingWindowBudget(limit, window)


__all__ = ["BUDGET_WINDOW_S", "STYLES", "Budget", "FixedWindowBudget", "InFlight", "Limits", "Rejection",
           "SlidingWindowBudget", "SlotSchedule", "Ticket", "TokenBucketBudget"]
