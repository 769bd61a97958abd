"""The spend ledger: a hard cap in USD that no number of calls in flight can overshoot.

A naive check of "spent so far" overshoots by everything in flight. Instead each call books its worst case
before it is sent (:func:`worst_case_cost`: its prompt estimate plus the most it may answer, at the model's
price) and is settled from the usage the provider reports once it returns, refunding the difference. A booking
is taken only while ``spent + booked + worst case <= cap``, under one lock, so the cap holds whatever the
concurrency and however many threads or event loops share the ledger.

A call whose worst case does not fit *now*, but would once the calls in flight settle, waits for them (their
refunds usually make room); a call whose worst case exceeds what is left even with nothing in flight raises
:class:`~sharedlm._errors.SpendCapReachedError` and is not sent. A call that fails is refunded whole (providers
do not bill refused or broken requests); a call that succeeds without reporting usage keeps its whole booking
as spent, so unknown usage never lets the ledger undercount.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
from dataclasses import dataclass

from dspy import lm15

from sharedlm._errors import SpendCapReachedError, UsageError
from sharedlm._flow import estimate_tokens
from sharedlm._flow._estimate import DEFAULT_OUTPUT_TOKENS
from sharedlm._pricing import ModelPrice

# Float sums of many small prices drift by ulps; a booking within this of the cap fits.
_TOLERANCE_USD = 1e-12


def answer_tokens_booked(request: lm15.Request, price: ModelPrice) -> int:
    """The most tokens ``request`` may be answered with: its ``max_tokens``, else the model's largest answer.

    Without ``max_tokens`` a provider may answer up to the model's ``max_output_tokens`` (16,384 for
    ``gpt-4o-mini`` in the metadata), so that is booked; :data:`~sharedlm._flow._estimate.DEFAULT_OUTPUT_TOKENS`
    when the metadata does not say. Setting ``max_tokens`` makes each booking, and so the wait near the cap, smaller.

    Args:
        request: The request about to be sent.
        price: The model's price (its ``max_output_tokens``).
    """
    max_tokens = request.config.max_tokens
    if max_tokens is not None:
        return max_tokens
    return price.max_output_tokens or DEFAULT_OUTPUT_TOKENS


def worst_case_cost(request: lm15.Request, price: ModelPrice) -> float:
    """USD to book for ``request``: its prompt estimate at the prompt price plus its largest answer.

    Args:
        request: The request about to be sent.
        price: The model's price.
    """
    output = request.config.max_tokens
    prompt_tokens = estimate_tokens(request) - (DEFAULT_OUTPUT_TOKENS if output is None else output)
    return price.cost(max(prompt_tokens, 0), answer_tokens_booked(request, price))


@dataclass(eq=False)
class SpendBooking:
    """One call's worst case, held from before it is sent until it settles.

    Args:
        amount: USD booked.
    """

    amount: float
    open: bool = True


class SpendLedger:
    """A hard spend cap shared by every call, thread and event loop that books against it.

    Args:
        cap_usd: The cap in USD (> 0).
        spent_before: USD already spent toward this cap (an earlier run that is being resumed).
    """

    def __init__(self, cap_usd: float, *, spent_before: float = 0.0) -> None:
        if isinstance(cap_usd, bool) or not isinstance(cap_usd, int | float) or not math.isfinite(cap_usd) \
                or cap_usd <= 0:
            raise UsageError(f"max_cost must be a number of USD > 0, got {cap_usd!r}")
        if not math.isfinite(spent_before) or spent_before < 0:
            raise UsageError(f"spent_before must be a number of USD >= 0, got {spent_before!r}")
        self.cap = float(cap_usd)
        self.spent_before = float(spent_before)
        self._lock = threading.Lock()
        self._spent = float(spent_before)
        self._booked = 0.0
        self._open = 0
        self._refused = 0
        self._largest = 0.0
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def __repr__(self) -> str:
        return (f"SpendLedger(cap=${self.cap:.6g}, spent=${self.spent:.6g}, booked=${self.booked:.6g}, "
                f"open_bookings={self._open}, refused={self._refused})")

    @property
    def spent(self) -> float:
        """USD spent (settled calls, plus ``spent_before``)."""
        return self._spent

    @property
    def booked(self) -> float:
        """USD held by calls in flight (their worst cases)."""
        return self._booked

    @property
    def refused(self) -> int:
        """Calls refused because their worst case did not fit."""
        return self._refused

    @property
    def largest_booking(self) -> float:
        """The largest worst case any call has asked to book: the room the last call of a row may need."""
        return self._largest

    @property
    def remaining(self) -> float:
        """USD neither spent nor booked."""
        with self._lock:
            return max(self.cap - self._spent - self._booked, 0.0)

    def fits(self, amount: float) -> bool:
        """Whether a booking of ``amount`` would be taken now without waiting."""
        with self._lock:
            return self._spent + self._booked + amount <= self.cap + _TOLERANCE_USD

    def try_book(self, amount: float) -> SpendBooking | None:
        """Book ``amount`` if it fits now; None if it does not (nothing is booked or counted as refused)."""
        with self._lock:
            self._largest = max(self._largest, amount)
            if self._spent + self._booked + amount > self.cap + _TOLERANCE_USD:
                return None
            return self._take(amount)

    async def book(self, amount: float) -> SpendBooking:
        """Book ``amount``, waiting for calls in flight to settle while it could still fit after them.

        Args:
            amount: The call's worst-case cost in USD.

        Raises:
            SpendCapReachedError: When ``amount`` does not fit what is left even with nothing in flight.
        """
        while True:
            with self._lock:
                self._largest = max(self._largest, amount)
                if self._spent + amount > self.cap + _TOLERANCE_USD:
                    self._refused += 1
                    raise SpendCapReachedError(
                        f"spend cap ${self.cap:.6g} reached: ${self._spent:.6g} spent, and the next call may cost up "
                        f"to ${amount:.6g} (its prompt estimate plus max_tokens at the model's price), more than the "
                        f"${max(self.cap - self._spent, 0.0):.6g} left. Raise the cap (--max-cost / max_cost=), or set "
                        "max_tokens to book less per call",
                        cap_usd=self.cap, spent_usd=self._spent, needed_usd=amount)
                if self._spent + self._booked + amount <= self.cap + _TOLERANCE_USD:
                    return self._take(amount)
                loop = asyncio.get_running_loop()
                waiter: asyncio.Future[None] = loop.create_future()
                self._waiters.append((loop, waiter))
            try:
                await waiter
            finally:
                with self._lock:
                    if (loop, waiter) in self._waiters:
                        self._waiters.remove((loop, waiter))

    def settle(self, booking: SpendBooking, cost: float | None) -> None:
        """Close ``booking`` with what the call really cost; refund the rest of its worst case.

        Args:
            booking: The call's booking.
            cost: USD from the usage the provider reported, or None when it reported none (the whole booking
                then counts as spent: unknown is never counted as free).
        """
        spent = booking.amount if cost is None or not math.isfinite(cost) else max(cost, 0.0)
        self._close(booking, spent)

    def release(self, booking: SpendBooking) -> None:
        """Close ``booking`` of a call that failed: nothing is counted as spent."""
        self._close(booking, 0.0)

    def _take(self, amount: float) -> SpendBooking:
        self._booked += amount
        self._open += 1
        return SpendBooking(amount)

    def _close(self, booking: SpendBooking, spent: float) -> None:
        with self._lock:
            if not booking.open:
                return
            booking.open = False
            self._open -= 1
            self._booked = max(self._booked - booking.amount, 0.0) if self._open else 0.0
            self._spent += spent
            waiters, self._waiters = self._waiters, []
        for loop, waiter in waiters:
            # Every waiter checks again: a refund may make room for several, a spend may refuse them.
            with contextlib.suppress(RuntimeError):  # a waiter's loop that has closed has nobody to wake
                loop.call_soon_threadsafe(_wake, waiter)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


__all__ = ["SpendBooking", "SpendLedger", "answer_tokens_booked", "worst_case_cost"]
