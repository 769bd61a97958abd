"""When one attempt may be sent: provider pauses, request and token budgets, and the in-flight gate.

The pure policies live in :mod:`sharedlm._flow` (adaptive limit, budgets, ``Retry-After``, backoff); this
module owns their order and the waiting. A call first books its budgets (so budget order is arrival
order), sleeps until they allow it, waits out any provider pause, and only then takes an in-flight slot:
a slot is never held while sleeping.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from sharedlm._admission import InFlightGate
from sharedlm._flow import (
    DEFAULT_SATURATED_FLOOR,
    AdaptiveLimit,
    ProviderPause,
    RateBudget,
    Reservation,
    SaturationCeiling,
    backoff_delay,
    book_together,
    parse_retry_after,
)
from sharedlm._settings import DEFAULT_INITIAL_CONCURRENCY, FlowSettings


@dataclass(frozen=True, kw_only=True)
class Booking:
    """Budget booked for one attempt, refunded in part or whole afterwards.

    Args:
        tokens: The attempt's token estimate.
        request_slot: Its reservation in the request budget, if there is one.
        token_slot: Its reservation in the token budget, if there is one.
    """

    tokens: int
    request_slot: Reservation | None = None
    token_slot: Reservation | None = None


_UNBUDGETED = Booking(tokens=0)

# Budgets are kept over 61 s rather than the provider's 60: a send booked for t may reach the provider a little
# late or early (scheduling, network), and a second of slack keeps every provider-side minute within budget.
BUDGET_WINDOW_S = 61.0


class Pacer:
    """Paces the attempts of one process against one provider.

    Args:
        flow: The flow settings.
        cap: The ceiling of the in-flight limit (``max_parallel_requests`` clamped to the open-file limit).
        clock: Monotonic seconds; injectable for tests.
        rng: Randomness for backoff jitter.
        cpu_clock: CPU seconds the calling thread has used; injectable for tests.
    """

    def __init__(self, flow: FlowSettings, *, cap: int, clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None, cpu_clock: Callable[[], float] = time.thread_time) -> None:
        self.flow = flow
        self.cap = cap
        self._clock = clock
        self._rng = rng or random.Random()
        floor = min(flow.min_concurrency, cap)
        start = flow.initial_concurrency or (DEFAULT_INITIAL_CONCURRENCY if flow.adaptive else cap)
        initial = max(floor, min(cap, start))
        self.adaptive: AdaptiveLimit | None = (
            AdaptiveLimit(initial=initial, floor=floor, ceiling=cap, clock=clock) if flow.adaptive else None
        )
        # Keeps the window small while this process's own CPU is the bottleneck (a fast provider).
        self.saturation: SaturationCeiling | None = (
            SaturationCeiling(initial=initial, cap=cap, floor=max(floor, DEFAULT_SATURATED_FLOOR), clock=clock,
                              cpu_clock=cpu_clock) if flow.adaptive else None
        )
        self.gate = InFlightGate(initial)
        self._peak_limit = initial
        self.pause = ProviderPause(clock=clock, max_pause=flow.max_retry_after)
        rpm, tpm = flow.effective_rpm, flow.effective_tpm
        window = BUDGET_WINDOW_S
        self.requests = RateBudget(per_minute=rpm, clock=clock, name="requests", window_seconds=window) if rpm else None
        self.tokens = RateBudget(per_minute=tpm, clock=clock, name="tokens", window_seconds=window) if tpm else None

    def __repr__(self) -> str:
        ceiling = self.saturation.ceiling if self.saturation is not None else None
        return (f"Pacer(limit={self.gate.limit}, cap={self.cap}, cpu_ceiling={ceiling}, "
                f"in_flight={self.gate.in_flight}, queued={self.gate.queued}, "
                f"paused_for={self.pause.remaining():.2f}s)")

    @property
    def counts_tokens(self) -> bool:
        """Whether attempts need a token estimate (only with a token budget)."""
        return self.tokens is not None

    @property
    def peak_limit(self) -> int:
        return self._peak_limit

    async def admit(self, *, tokens: int) -> Booking:
        """Wait until one attempt may be sent, then hold an in-flight slot for it.

        Args:
            tokens: The attempt's token estimate (0 without a token budget).
        """
        booking, delay = self._book(tokens)
        try:
            if delay > 0:
                await asyncio.sleep(delay)
            while True:
                paused = self.pause.remaining()
                if paused > 0:
                    await asyncio.sleep(paused)
                if not self.gate.try_acquire():
                    await self.gate.acquire(self.flow.pool_timeout)
                if self.pause.remaining() <= 0:
                    if self.saturation is not None:
                        self.saturation.on_admit()
                    return booking
                # A pause began while this call waited for its slot: give the slot back and wait it out.
                self.gate.release()
        except BaseException:
            self.cancel(booking)
            raise

    def _book(self, tokens: int) -> tuple[Booking, float]:
        pairs: list[tuple[RateBudget, float]] = []
        if self.requests is not None:
            pairs.append((self.requests, 1))
        if self.tokens is not None and tokens:
            pairs.append((self.tokens, tokens))
        if not pairs:
            return _UNBUDGETED, 0.0
        # One common send time for the request and its tokens, so neither budget books it too early.
        slots = dict(zip((budget for budget, _ in pairs), book_together(pairs), strict=True))
        request_slot = slots.get(self.requests) if self.requests is not None else None
        token_slot = slots.get(self.tokens) if self.tokens is not None else None
        delay = max(slot.delay for slot in slots.values())
        return Booking(tokens=tokens, request_slot=request_slot, token_slot=token_slot), delay

    def cancel(self, booking: Booking) -> None:
        """Return an attempt's booking that was never sent."""
        if self.requests is not None and booking.request_slot is not None:
            self.requests.refund(booking.request_slot.amount, reservation=booking.request_slot)
        self._refund_tokens(booking, booking.tokens)

    def _refund_tokens(self, booking: Booking, amount: float) -> None:
        if self.tokens is not None and booking.token_slot is not None and amount:
            self.tokens.refund(amount, reservation=booking.token_slot)

    def succeeded(self, booking: Booking, *, used_tokens: int | None) -> None:
        """Release the slot of a successful attempt and settle its token booking with the real usage."""
        gate = self.gate
        gate.release()
        if used_tokens is not None:
            self._refund_tokens(booking, booking.tokens - used_tokens)
        if self.adaptive is not None:
            self.adaptive.on_success()
            if self.saturation is not None:
                self.saturation.on_completion(limit=gate.limit, in_flight=gate.in_flight, queued=gate.queued)
            self._follow_limit()

    def failed(self, booking: Booking, *, sent_at: float, rate_limited: bool, no_work_done: bool) -> None:
        """Release the slot of a failed attempt; a 429 may shrink the limit.

        Args:
            booking: The attempt's booking.
            sent_at: When the attempt was sent (clock seconds), to react once per burst of 429s.
            rate_limited: Whether the provider answered 429.
            no_work_done: Whether the provider certainly did no work (its tokens are refunded).
        """
        if rate_limited and self.adaptive is not None:
            # Shrink the limit before giving the slot back: released first, the slot would go straight to the
            # next waiter, and the provider would be sent as many requests as just drew the 429.
            self.adaptive.on_rate_limited(sent_at, in_flight=self.gate.in_flight - 1)
            self._follow_limit()
        self.gate.release()
        if no_work_done:
            self._refund_tokens(booking, booking.tokens)

    def retry_delay(self, attempt: int, headers: list[tuple[str, str]], hint: float | None) -> tuple[float, bool]:
        """How long before retrying, and whether the provider said so itself.

        A provider's ``Retry-After`` (or ``retry-after-ms``) also pauses every new send to this provider,
        bounded by ``max_retry_after``; without one, exponential backoff with jitter.

        Args:
            attempt: The number of the attempt that failed (1 for the first).
            headers: The failed attempt's response headers (empty when none arrived).
            hint: A retry hint lm15 read from the error body, if any.
        """
        told = parse_retry_after(headers, now_epoch=time.time(), max_delay=self.flow.max_retry_after)
        if told is None and hint is not None and hint >= 0:
            told = min(float(hint), self.flow.max_retry_after)
        if told is not None:
            if told > 0:
                self.pause.pause_for(told)
            return told, True
        return backoff_delay(attempt - 1, base=self.flow.backoff_base, cap=self.flow.backoff_max, rng=self._rng), False

    def _follow_limit(self) -> None:
        assert self.adaptive is not None
        limit = self.adaptive.limit
        if self.saturation is not None:
            limit = min(limit, self.saturation.ceiling)
        if limit != self.gate.limit:
            self.gate.set_limit(limit)
            if limit > self._peak_limit:
                self._peak_limit = limit


__all__ = ["Booking", "Pacer"]
