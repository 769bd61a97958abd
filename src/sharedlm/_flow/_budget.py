"""Request and token budgets per minute: when may the next request be sent?

Sharing one provider account
----------------------------
A provider's limits (requests and tokens per minute) belong to the account, not to a process. When
several processes share one account, each builds its budgets from ``budget_share`` of the account's
limits (``FlowSettings.budget_share``, environment ``SHAREDLM_BUDGET_SHARE``): four workers each take
0.25, so each books ``rpm * 0.25`` requests per minute. The shares of all processes on one account must
add up to at most 1; nothing checks that across processes, so whoever starts the workers divides the
account. Each process keeps its own share exactly (below), so the account as a whole stays within its
limits.

The guarantee
-------------
No interval of 60 s (open at its start, closed at its end) holds booked sends totalling more than
``per_minute``, while a steady stream of reservations is sent at ``per_minute / (60 + burst_seconds)``
per second, that is within 2 % of ``per_minute`` per minute with the default one-second burst.

How: a paced token bucket, with a minute log as the safety net
--------------------------------------------------------------
*Pacing* is a token bucket (kept as GCRA's "theoretical arrival time" ``tat``). A plain bucket with rate
``per_minute / 60`` and capacity ``B`` admits ``B + per_minute`` in the first minute, so the rate is
``r = per_minute / (60 + burst_seconds)`` and the capacity ``B = r * burst_seconds``: a full burst plus a
minute of refill is exactly ``per_minute``. This keeps sends smooth, which matters because providers
enforce their minute limits in finer slices (OpenAI documents 60,000 rpm as 1,000 per second).

That bucket alone keeps the minute guarantee only while every reservation fits in ``B`` and nothing is
refunded. Neither holds for a token budget: with ``tpm = 30,000`` the burst is about 490 tokens, below a
single typical request, and every response refunds the difference between its estimate and its real
usage. A reservation of ``n > B`` that is sent as one piece after the bucket refills lets the bucket keep
refilling behind it, so the minute that starts with it admits ``n + 60 r > per_minute``. And a refund
cannot be credited safely without knowing which send it belongs to.

So each budget also keeps a *minute log*: the booked send times and amounts of the last minute (equal
times merged). A reservation is booked for the earliest time that satisfies both the bucket and
"the 60 s ending at this send, this send included, total at most ``per_minute``". Proof of the guarantee:
send times are booked in reservation order and never decrease, so for any interval of 60 s the send booked
last inside it was checked against a 60 s window that contains the whole interval up to that send, and
nothing booked later lies inside the interval. With reservations ``<= B`` and no refunds the bucket alone already keeps
every minute within ``per_minute``, so the log adds nothing there beyond float rounding; it acts for large
reservations and for refunds. It costs
one deque entry per distinct send time in the last minute, and amortised O(1) work per reservation (each
entry is appended once and dropped once).

Rules at the edges
------------------
- Debt is allowed: a reservation always books at once and returns how long to wait, so the order of
  sending is the order of reservation (FIFO), like Go's ``rate.Limiter.Reserve``.
- A reservation larger than ``per_minute`` would otherwise never fit. It is booked as exactly
  ``per_minute``: it waits until the minute before it holds no other send, goes alone, and no other send
  is booked in the minute after it. (The provider may still refuse it; no pacing can make it fit.)
- ``refund(amount, reservation=...)`` credits the bucket and the minute log exactly where that
  reservation was booked; the credit is capped at what the reservation booked. A refund without the
  reservation credits only the pacing bucket: the minute log keeps counting the booked amount until it
  ages out, which is safe but wastes up to a minute of budget. A negative refund (usage above the
  estimate) is an extra debit, booked where the reservation was when given, else at the newest send.
- :func:`book_together` books several budgets (requests and tokens) for one common send time; booking
  them one by one would leave the earlier booking's log entry before the real send.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import NamedTuple

from sharedlm._errors import ConfigurationError

WINDOW_S = 60.0
DEFAULT_BURST_SECONDS = 1.0
# Float sums of token amounts drift by a few ulps; an excess this small is not an excess.
_RELATIVE_SLACK = 1e-12
# The bucket's theoretical arrival time accumulates rounding (0.1 s steps do not add up exactly); a pacing
# wait shorter than this is rounding, not a wait. The minute log, which carries the guarantee, has no slack.
_PACING_SLACK_S = 1e-9

_time_of = itemgetter(0)


class Reservation(NamedTuple):
    """One booking in a :class:`RateBudget` (a named tuple: cheaper to build than a frozen dataclass).

    Args:
        amount: What was booked (the requested amount, or ``per_minute`` if it asked for more).
        send_at: The clock time the send was booked for.
        delay: Seconds from the reservation until ``send_at`` (0.0 = send now).
    """

    amount: float
    send_at: float
    delay: float


class RateBudget:
    """A per-minute budget of requests or tokens, booked by reservation.

    Args:
        per_minute: How much may be sent in any 60 s (this process's share of the account's limit).
        clock: Monotonic seconds.
        name: What is counted ("requests" or "tokens"), for ``repr`` and errors.
        burst_seconds: How many seconds of the pacing rate may be sent at once after an idle spell.
        window_seconds: The window the guarantee is kept over. 60 s is the provider's minute; a little more
            keeps the provider's own 60 s windows within budget when sends arrive late or early by up to the
            difference (network and scheduling jitter).
    """

    def __init__(self, *, per_minute: float, clock: Callable[[], float], name: str = "requests",
                 burst_seconds: float = DEFAULT_BURST_SECONDS, window_seconds: float = WINDOW_S) -> None:
        if isinstance(per_minute, bool) or not isinstance(per_minute, int | float) or not (
                math.isfinite(per_minute) and per_minute > 0):
            raise ConfigurationError(f"the {name} budget per minute must be a positive number, got {per_minute!r}")
        if isinstance(burst_seconds, bool) or not isinstance(burst_seconds, int | float) or not (
                math.isfinite(burst_seconds) and 0 < burst_seconds <= WINDOW_S):
            raise ConfigurationError(f"burst_seconds must be in (0, {WINDOW_S:g}], got {burst_seconds!r}")
        if not (isinstance(window_seconds, int | float) and math.isfinite(window_seconds)
                and window_seconds >= WINDOW_S):
            raise ConfigurationError(f"window_seconds must be at least {WINDOW_S:g}, got {window_seconds!r}")
        self._window = float(window_seconds)
        self.name = name
        self._per_minute = float(per_minute)
        self._burst_s = float(burst_seconds)
        self._rate = self._per_minute / (self._window + self._burst_s)
        self._capacity = self._rate * self._burst_s
        self._slack = self._per_minute * _RELATIVE_SLACK
        self._clock = clock
        self._lock = threading.Lock()
        # The bucket is full whenever tat <= now; it holds capacity - rate * (tat - now) tokens otherwise.
        self._tat = clock()
        self._last_send = -math.inf
        # [send time, amount] of booked sends a future send's minute can still see; times strictly increase.
        self._log: deque[list[float]] = deque()
        self._logged = 0.0
        self._reservations = 0
        self._delayed = 0
        self._booked = 0.0
        self._refunded = 0.0

    @property
    def per_minute(self) -> float:
        return self._per_minute

    @property
    def rate(self) -> float:
        """The pacing rate, per second."""
        return self._rate

    @property
    def capacity(self) -> float:
        """The most the bucket holds after an idle spell (``rate * burst_seconds``)."""
        return self._capacity

    @property
    def available(self) -> float:
        """What a reservation made now could take without waiting; negative while sends are queued (debt)."""
        with self._lock:
            now = self._clock()
            self._forget_before(now - self._window)
            in_bucket = self._capacity - self._rate * max(0.0, self._tat - now)
            return min(in_bucket, self._per_minute - self._logged)

    def resize(self, per_minute: float) -> None:
        """Change the budget per minute from now on (a limit learned or corrected from the provider's headers).

        Sends already booked keep their times; the minute log keeps counting them, so a smaller budget holds
        from the next reservation on, and a larger one lets the next reservations in sooner.

        Args:
            per_minute: The new budget per minute; a positive finite number.
        """
        if isinstance(per_minute, bool) or not isinstance(per_minute, int | float) or not (
                math.isfinite(per_minute) and per_minute > 0):
            raise ConfigurationError(f"the {self.name} budget per minute must be a positive number, got {per_minute!r}")
        with self._lock:
            now = self._clock()
            # Keep the bucket's debt in time units of the new rate: what is queued stays queued, no more.
            owed = max(0.0, self._tat - now) * self._rate
            self._per_minute = float(per_minute)
            self._rate = self._per_minute / (self._window + self._burst_s)
            self._capacity = self._rate * self._burst_s
            self._slack = self._per_minute * _RELATIVE_SLACK
            self._tat = now + owed / self._rate

    def reserve(self, amount: float) -> float:
        """Book ``amount`` and return the seconds to wait before sending (0.0 = now).

        Args:
            amount: Requests (1 per attempt) or estimated tokens; ``>= 0``.
        """
        booked = self._checked(amount)
        with self._lock:
            now = self._clock()
            at = self._earliest(booked, now)
            self._commit(booked, at, now)
        return at - now

    def book(self, amount: float, *, not_before: float | None = None) -> Reservation:
        """Book ``amount`` for the earliest send time the budget allows and return the booking.

        Keep the booking to pass to :meth:`refund`, which can then correct the minute log exactly.

        Args:
            amount: Requests (1 per attempt) or estimated tokens; ``>= 0``.
            not_before: A clock time the send may not precede (default: now).
        """
        booked = self._checked(amount)
        with self._lock:
            now = self._clock()
            at = self._earliest(booked, now if not_before is None else max(now, not_before))
            self._commit(booked, at, now)
        return Reservation(amount=booked, send_at=at, delay=at - now)

    def refund(self, amount: float, *, reservation: Reservation | None = None) -> None:
        """Give back ``amount`` (a cancelled send, or estimate minus real usage); a negative amount debits.

        Args:
            amount: What to give back; negative for usage above the booking.
            reservation: The booking the refund belongs to. With it the minute log is corrected exactly;
                without it only the pacing bucket gets the amount back (see the module notes).
        """
        if isinstance(amount, bool) or not isinstance(amount, int | float) or not math.isfinite(amount):
            raise ValueError(f"refund of {self.name} must be a finite number, got {amount!r}")
        if amount == 0:
            return
        with self._lock:
            now = self._clock()
            if amount > 0:
                credit = float(amount) if reservation is None else min(float(amount), reservation.amount)
                self._refunded += credit
                # Never fuller than full: a credit cannot make tat earlier than now.
                self._tat = max(self._tat - credit / self._rate, min(self._tat, now))
                if reservation is not None:
                    entry = self._entry_at(reservation.send_at)
                    if entry is not None:
                        taken = min(credit, entry[1])
                        entry[1] -= taken
                        self._logged -= taken
            else:
                debit = -float(amount)
                self._refunded -= debit
                self._tat = max(self._tat, now) + debit / self._rate
                entry = self._entry_at(reservation.send_at) if reservation is not None else None
                if entry is None:
                    at = max(now, self._log[-1][0]) if self._log else now
                    entry = self._append(at)
                entry[1] += debit
                self._logged += debit

    def snapshot(self) -> RateBudgetSnapshot:
        """The budget's counters, read together."""
        with self._lock:
            now = self._clock()
            return RateBudgetSnapshot(
                name=self.name, per_minute=self._per_minute, reservations=self._reservations,
                delayed=self._delayed, booked=self._booked, refunded=self._refunded,
                queued_for=max(0.0, self._last_send - now),
            )

    def __repr__(self) -> str:
        now = self._clock()
        return (f"RateBudget(name={self.name!r}, per_minute={self._per_minute:g}, "
                f"reservations={self._reservations}, delayed={self._delayed}, "
                f"queued_for={max(0.0, self._last_send - now):.3f}s)")

    # --- booking, in two steps so that book_together can give several budgets one send time ---

    def _checked(self, amount: float) -> float:
        kind = type(amount)
        if (kind is int or kind is float) and 0 <= amount < math.inf:
            return amount if amount <= self._per_minute else self._per_minute
        if isinstance(amount, int | float) and not isinstance(amount, bool) and 0 <= amount < math.inf:
            return min(float(amount), self._per_minute)  # numpy scalars and other real numbers
        raise ValueError(f"a reservation of {self.name} must be a finite number >= 0, got {amount!r}")

    def _earliest(self, booked: float, lower: float) -> float:
        """The earliest send time >= ``lower`` for ``booked``; drops log entries no later send can see."""
        # Bucket: wait until it holds the amount, or is full when the amount exceeds its capacity.
        at = self._tat - self._burst_s + (booked if booked < self._capacity else self._capacity) / self._rate
        if at < lower + _PACING_SLACK_S:
            at = lower
        if at < self._last_send:
            at = self._last_send
        log = self._log
        horizon = at - self._window
        while log and log[0][0] <= horizon:
            self._logged -= log.popleft()[1]
        excess = self._logged + booked - self._per_minute
        while excess > self._slack and log:
            sent, amount = log.popleft()
            self._logged -= amount
            excess -= amount
            at = max(at, _after_window(sent, self._window))
        if not log:
            self._logged = 0.0  # shed float drift whenever the log empties
        return at

    def _commit(self, booked: float, at: float, now: float) -> None:
        if booked > 0:
            log = self._log
            if log and log[-1][0] == at:
                log[-1][1] += booked
            else:
                log.append([at, booked])
            self._logged += booked
        self._tat = (self._tat if self._tat > at else at) + booked / self._rate
        self._last_send = at
        self._reservations += 1
        self._booked += booked
        if at > now:
            self._delayed += 1

    def _forget_before(self, horizon: float) -> None:
        log = self._log
        while log and log[0][0] <= horizon:
            self._logged -= log.popleft()[1]

    def _append(self, at: float) -> list[float]:
        log = self._log
        if log and log[-1][0] == at:
            return log[-1]
        entry = [at, 0.0]
        log.append(entry)
        return entry

    def _entry_at(self, at: float) -> list[float] | None:
        log = self._log
        index = bisect_left(log, at, key=_time_of)
        if index < len(log) and log[index][0] == at:
            return log[index]
        return None


@dataclass(frozen=True, kw_only=True, slots=True)
class RateBudgetSnapshot:
    """The counters of a :class:`RateBudget` at one moment.

    Args:
        name: What the budget counts.
        per_minute: Its limit per 60 s.
        reservations: How many reservations were booked.
        delayed: How many of them had to wait.
        booked: The total amount booked.
        refunded: The total given back (debits count negative).
        queued_for: Seconds until the newest booked send.
    """

    name: str
    per_minute: float
    reservations: int
    delayed: int
    booked: float
    refunded: float
    queued_for: float


def _after_window(sent: float, window: float) -> float:
    """The earliest time whose window no longer holds ``sent``, exactly as floats compute it."""
    at = sent + window
    while at - window <= sent:  # sent + 60 may round down; the window test must see sent as outside
        at = math.nextafter(at, math.inf)
    return at


def book_together(bookings: Sequence[tuple[RateBudget, float]]) -> tuple[Reservation, ...]:
    """Book several budgets for one common send time (for example one request and its tokens).

    Each budget's earliest time is found, the latest of them is taken, and every budget is booked for
    it; a later time than a budget's own earliest is always allowed. Locks are taken in a fixed order,
    so concurrent callers cannot deadlock.

    Args:
        bookings: ``(budget, amount)`` pairs; each budget at most once.
    """
    if not bookings:
        return ()
    if len(bookings) == 1:
        budget, amount = bookings[0]
        return (budget.book(amount),)
    if len(bookings) == 2:  # requests and tokens: the engine's case, on every attempt's path
        (first, first_amount), (second, second_amount) = bookings
        if first is second:
            raise ValueError("book_together got the same budget twice; add the amounts instead")
        first_booked = first._checked(first_amount)
        second_booked = second._checked(second_amount)
        low, high = (first, second) if id(first) < id(second) else (second, first)
        with low._lock, high._lock:
            now = first._clock()
            at = second._earliest(second_booked, first._earliest(first_booked, now))
            first._commit(first_booked, at, now)
            second._commit(second_booked, at, now)
        return Reservation(first_booked, at, at - now), Reservation(second_booked, at, at - now)
    budgets = []
    amounts = []
    for budget, amount in bookings:
        budgets.append(budget)
        amounts.append(budget._checked(amount))
    ordered = sorted(budgets, key=id)
    for index in range(1, len(ordered)):
        if ordered[index] is ordered[index - 1]:
            raise ValueError("book_together got the same budget twice; add the amounts instead")
    for budget in ordered:
        budget._lock.acquire()
    try:
        now = at = ordered[0]._clock()
        for index, budget in enumerate(budgets):
            at = budget._earliest(amounts[index], at)
        for index, budget in enumerate(budgets):
            budget._commit(amounts[index], at, now)
    finally:
        for budget in ordered:
            budget._lock.release()
    delay = at - now
    return tuple([Reservation(booked, at, delay) for booked in amounts])


__all__ = ["DEFAULT_BURST_SECONDS", "WINDOW_S", "RateBudget", "RateBudgetSnapshot", "Reservation", "book_together"]
