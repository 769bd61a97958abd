"""When one attempt may be sent: provider pauses, request and token budgets, and the in-flight gate.

The pure policies live in :mod:`sharedlm._flow` (adaptive limit, budgets, ``Retry-After``, backoff); this
module owns their order and the waiting. A call first books its budgets (so budget order is arrival
order), sleeps until they allow it, draws on the budgets shared with other processes when there are
(``SHAREDLM_BUDGET_URL``, :mod:`sharedlm._shared_rate`), waits out any provider pause, and only then takes an
in-flight slot: a slot is never held while sleeping.

The only way to hold a slot is ``async with pacer.attempt(tokens) as slot:``; leaving the block, however it
is left (an answer, an error, a 429, cancellation), releases the slot and settles the token booking.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
import types
import weakref
from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any

from sharedlm._admission import InFlightGate
from sharedlm._blocking_caller import CALLER_BLOCKS_LOOP
from sharedlm._errors import RateLimitedError
from sharedlm._flow import (
    DEFAULT_MIN_STALL_S,
    DEFAULT_SATURATED_FLOOR,
    CapacityLimit,
    Memory,
    ProviderPause,
    ProviderSignals,
    RateBudget,
    Reservation,
    SaturationCeiling,
    backoff_delay,
    book_together,
)
from sharedlm._flow._release import ReleaseSpacing
from sharedlm._flow._saturation import busy_clock
from sharedlm._lease import LeasedGate, make_gate
from sharedlm._settings import DEFAULT_INITIAL_CONCURRENCY, FlowSettings
from sharedlm._shared_rate import SharedRates, shared_rates
from sharedlm._transport import AttemptRecord


@dataclass(frozen=True, kw_only=True)
class Booking:
    """Budget booked for one attempt, refunded in part or whole afterwards.

    Args:
        tokens: The attempt's token estimate.
        request_slot: Its reservation in the request budget, if there is one.
        token_slot: Its reservation in the token budget, if there is one.
        request_grant: The shared request budget's grant it drew on (0: none).
        token_grant: The shared token budget's grant it drew on (0: none).
    """

    tokens: int
    request_slot: Reservation | None = None
    token_slot: Reservation | None = None
    request_grant: int = 0
    token_grant: int = 0


_UNBUDGETED = Booking(tokens=0)


class Attempt:
    """One attempt's hold on the pacer: ``async with pacer.attempt(tokens) as slot:``.

    Entering waits for the budgets, any provider pause and an in-flight slot. Leaving releases the slot and
    settles the booking, whichever way the block is left:

    - normally: the attempt succeeded; the token booking is settled with :attr:`used_tokens`, when the block set
      it from the provider's usage (else the estimate stands);
    - with a :class:`~sharedlm._errors.RateLimitedError`: the limit may shrink before the slot goes back, and the
      tokens are refunded (the provider did no work);
    - with any other exception, cancellation included: the tokens are refunded when no answer had begun
      (:attr:`record` has no status), else they stand.

    A block that opens an attempt for its caller to finish (a stream) hands the slot over with :meth:`hand_over`.

    Attributes:
        record: What the transport saw of this attempt (status and headers of the answer).
        used_tokens: The tokens the provider reported using, set by the block on success.
        sent_at: When the slot was taken, on the pacer's clock.
    """

    __slots__ = ("_booking", "_handed_over", "_pacer", "record", "sent_at", "tokens", "used_tokens")

    def __init__(self, pacer: Pacer, tokens: int) -> None:
        self._pacer = pacer
        self.tokens = tokens
        self._booking = _UNBUDGETED
        self._handed_over = False
        self.record = AttemptRecord(on_written=pacer._note_written)
        self.used_tokens: int | None = None
        self.sent_at = 0.0

    def __repr__(self) -> str:
        return f"Attempt(tokens={self.tokens}, status={self.record.status}, used_tokens={self.used_tokens})"

    def hand_over(self) -> Attempt:
        """Keep the slot held past the end of this block, for the caller's own ``async with slot:``.

        The idiom of ``ExitStack.pop_all()``: a block that opens an attempt returns ``slot.hand_over()``; leaving
        it normally then keeps the slot, and the caller enters ``async with slot:`` with no await in between,
        which releases the slot however that block is left.
        """
        self._handed_over = True
        return self

    async def __aenter__(self) -> Attempt:
        if self._handed_over:  # the caller a held slot was handed to takes it over
            self._handed_over = False
            return self
        pacer = self._pacer
        booking = pacer._admit_now(self.tokens)
        self._booking = booking if booking is not None else await pacer._admit(self.tokens)
        self.sent_at = pacer._last_sent_at = pacer._clock()  # the send's time until the transport says it wrote
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if exc is None:
            if not self._handed_over:
                handed_on = self._pacer._succeeded(self._booking, used_tokens=self.used_tokens,
                                                   headers=self.record.headers, sent_at=self.sent_at)
                if handed_on:
                    await _waiters_first()
            return
        self._handed_over = False
        rate_limited = isinstance(exc, RateLimitedError)
        self._pacer._failed(self._booking, sent_at=self.sent_at, rate_limited=rate_limited,
                            no_work_done=rate_limited or self.record.status is None, headers=self.record.headers)


async def _take_slot(gate: InFlightGate, timeout: float | None, *, over_limit: bool) -> None:  # noqa: ASYNC109
    if gate.try_acquire():
        return
    if over_limit:
        gate.take_over_limit()
        return
    await gate.acquire(timeout)


# How many turns of the event loop a call that handed its slot to a waiter steps aside for (see _waiters_first).
WAITER_FIRST_TURNS = 2


@types.coroutine
def _waiters_first() -> Generator[None, None, None]:
    """Step aside for ``WAITER_FIRST_TURNS`` turns of the loop, so the waiter just handed a slot sends first.

    Answers come back in bunches (their requests went out together), and the loop runs everything that became ready
    in one turn before the next. Without stepping aside, each call of a bunch would go on, after handing its slot on,
    to DSPy's parsing of its answer and the rest of its program, and the waiters it woke would send only once every
    answer of the bunch had been parsed: each slot would stand empty for a bunch's worth of parsing per round trip.
    The first turn runs the woken waiters (each wakes in the turn after its future is set); the second lets every
    waiter of the bunch send before any of the bunch's parsing begins. Against a 64-in-flight cap at 0.2 s this
    raised steady throughput from 309.2 to 312.4 calls/s (320 is the cap's ceiling). A bare ``yield`` is how
    ``asyncio.sleep(0)`` steps aside too.

    The attempt is over by then (its slot released, its booking settled): a cancellation that arrives while it steps
    aside is passed on to the caller's next await instead, so the answer is not lost at the last moment.
    """
    for _ in range(WAITER_FIRST_TURNS):
        try:
            yield
        except asyncio.CancelledError as exc:
            task = asyncio.current_task()
            if task is None:
                raise
            # uncancel() then cancel(): the same count of cancellation requests (asyncio.timeout relies on it).
            task.uncancel()
            task.cancel(exc.args[0] if exc.args else None)
            return


# Budgets are kept over 61 s rather than the provider's 60: a send booked for t may reach the provider a little
# late or early (scheduling, network), and a second of slack keeps every provider-side minute within budget.
BUDGET_WINDOW_S = 61.0
# While calls wait for a slot, how often the pacer looks for a stall (nothing back, CPU to spare): a slow provider.
STALL_TICK_S = 0.05
# A provider that answered faster than a stall lasts is not slow: for this long after such an answer, a gap with
# nothing back is a hiccup (a starved or garbage-collecting provider), not a reason to open the window.
FAST_ANSWER_MEMORY_S = 10.0
# Before the provider has answered anything at all, a stall must last this long from the first wait for a slot:
# a first burst's refusals take longest to come back (new connections, a provider starting up or starved of CPU).
FIRST_STALL_S = 2.0
# The connections the calls held back at the start will take are opened from this long before a stall may open the
# window, twice as many each tick (starting at the window's size): long enough to open hundreds on an idle loop (872
# local ones took 0.14 s here; TLS handshakes run side by side), late and gradual enough that a provider refusing
# the first window is seldom sent many connections for nothing.
WARM_AHEAD_S = DEFAULT_MIN_STALL_S / 2
# No more are started while the loop was busier than this over the last tick: opening connections costs CPU (a TLS
# handshake most of all), and a loop kept busy by it would look CPU-bound to the ceiling and put off the stall.
WARM_BUSY_LIMIT = 0.5


class Pacer:
    """Paces the attempts of one process against one provider.

    Args:
        flow: The flow settings.
        cap: The ceiling of the in-flight limit (``max_parallel_requests`` clamped to the open-file limit).
        clock: Monotonic seconds; injectable for tests.
        rng: Randomness for backoff jitter.
        cpu_clock: Seconds the calling thread was busy (on a CPU or waiting for one); injectable for tests.
        memory: Where what is learned about this deployment is remembered across runs, or None.
    """

    def __init__(self, flow: FlowSettings, *, cap: int, clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None, cpu_clock: Callable[[], float] = busy_clock,
                 memory: Memory | None = None) -> None:
        self.flow = flow
        self.cap = cap
        self._clock = clock
        self._rng = rng or random.Random()
        floor = min(flow.min_concurrency, cap)
        start = flow.initial_concurrency or (DEFAULT_INITIAL_CONCURRENCY if flow.adaptive else cap)
        initial = max(floor, min(cap, start))
        # What the answers' headers report sizes the budgets; what was learned before is read back from memory.
        self.signals = ProviderSignals(rpm=flow.effective_rpm, tpm=flow.effective_tpm, share=flow.budget_share,
                                       clock=clock, window_seconds=BUDGET_WINDOW_S,
                                       max_retry_after=flow.max_retry_after, memory=memory)
        remembered = self.signals.remembered
        if remembered is not None and remembered.accepted and flow.initial_concurrency is None and flow.adaptive:
            # It took this many at once last time without refusing any: start there, not at the first window.
            initial = max(initial, min(cap, remembered.accepted))
        self.adaptive: CapacityLimit | None = (
            CapacityLimit(initial=initial, floor=floor, ceiling=cap, clock=clock,
                          learned_capacity=remembered.capacity if remembered is not None else None)
            if flow.adaptive else None
        )
        if self.adaptive is not None:
            initial = self.adaptive.limit
        # Keeps the window small while this process's own CPU is the bottleneck (a fast provider).
        self.saturation: SaturationCeiling | None = (
            SaturationCeiling(initial=initial, cap=cap, floor=max(floor, DEFAULT_SATURATED_FLOOR), clock=clock,
                              cpu_clock=cpu_clock) if flow.adaptive else None
        )
        self.gate = make_gate(initial, cap=cap)  # leased from a shared budget when one is installed (sharedlm._lease)
        # The process's cap over every model's calls, from every loop (each model's own gate bounds only its own).
        self.process_gate: InFlightGate | None = None
        self._peak_limit = initial
        self.pause = ProviderPause(clock=clock, max_pause=flow.max_retry_after)
        self.requests: RateBudget | None = self.signals.budgets.requests
        self.tokens: RateBudget | None = self.signals.budgets.tokens
        # Spaces the request budget's sends by when they really go out: a loop that wakes late must not send seconds
        # of booked requests as one burst (sharedlm._flow._release).
        self.release = ReleaseSpacing()
        # The request and token budgets every process of this deployment shares, with SHAREDLM_BUDGET_URL.
        deployment = memory.deployment.file_name.removesuffix(".json") if memory is not None else "default"
        self.shared: SharedRates | None = shared_rates(deployment, window_s=BUDGET_WINDOW_S)
        # Answers seen (successes and failures), for the stall ticks; which loops have a tick running.
        self._answers = 0
        # Weak: a loop that is closed and collected with its tick pending must not keep its place (nor its id).
        self._ticking: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
        self._fast_until = -math.inf
        self._first_wait: float | None = None
        # When a request last went out and an answer last came back: a stall is counted from the later of them.
        self._last_sent_at = -math.inf
        self._last_answer_at = -math.inf
        # Where the last request went, as the transport names it (an origin of its pool; None through a proxy), and
        # what opens connections there ahead of need (the engine sets the transport's ``warm``).
        self._last_origin: object | None = None
        self.warm_connections: Callable[[Any, int], int] | None = None
        self.connections_warmed = 0
        self._warm_target = 0
        self._cpu_clock = cpu_clock
        self._warm_mark: tuple[float, float] | None = None  # (wall, busy CPU) at the last tick that considered it
        # Whether the last 429 escalated (kept 429s coming after a decrease): its retry then pauses the provider.
        self._escalated = False

    def __repr__(self) -> str:
        ceiling = self.saturation.ceiling if self.saturation is not None else None
        capacity = self.adaptive.capacity if self.adaptive is not None else None
        return (f"Pacer(limit={self.gate.limit}, cap={self.cap}, cpu_ceiling={ceiling}, capacity={capacity}, "
                f"in_flight={self.gate.in_flight}, queued={self.gate.queued}, "
                f"paused_for={self.pause.remaining():.2f}s)")

    @property
    def counts_tokens(self) -> bool:
        """Whether attempts need a token estimate (only with a token budget)."""
        return self.tokens is not None

    @property
    def peak_limit(self) -> int:
        return self._peak_limit

    def attempt(self, tokens: int = 0) -> Attempt:
        """One attempt's slot, held for the ``async with`` block: ``async with pacer.attempt(tokens) as slot:``.

        Args:
            tokens: The attempt's token estimate (0 without a token budget).
        """
        return Attempt(self, tokens)

    def _admit_now(self, tokens: int) -> Booking | None:
        """The fast path of :meth:`_admit`: a free slot with no budget to book and no pause, or None."""
        if self.requests is not None or (tokens and self.tokens is not None) or self.pause.remaining() > 0:
            return None
        if not self.gate.try_acquire():
            return None
        process = self.process_gate
        if process is not None and not process.try_acquire():
            self.gate.release()
            return None
        if self.saturation is not None:
            self.saturation.on_admit()
        return _UNBUDGETED

    async def _admit(self, tokens: int) -> Booking:
        """Wait until one attempt may be sent, then hold an in-flight slot for it."""
        gate = self.gate
        if gate.in_flight >= gate.limit and self.saturation is not None:
            loop = asyncio.get_running_loop()
            if loop not in self._ticking:
                if self._first_wait is None:
                    self._first_wait = self._clock()
                self._ticking.add(loop)
                loop.call_later(STALL_TICK_S, self._tick, loop, self._answers)
        booking, delay = self._book(tokens)
        try:
            if delay > 0:
                await asyncio.sleep(delay)
            requests = self.requests
            if requests is not None and booking.request_slot is not None:
                late = self.release.delay(self._clock(), rate=requests.rate, burst=requests.capacity)
                if late > 0:
                    await asyncio.sleep(late)
            if self.shared is not None and booking is not _UNBUDGETED:
                booking = await self._take_shared(booking, self.shared)
            blocks_loop = CALLER_BLOCKS_LOOP.get()
            while True:
                paused = self.pause.remaining()
                if paused > 0:
                    await asyncio.sleep(paused)
                await _take_slot(self.gate, self.flow.pool_timeout, over_limit=blocks_loop)
                process = self.process_gate
                if process is not None:
                    try:
                        await _take_slot(process, self.flow.pool_timeout, over_limit=blocks_loop)
                    except BaseException:
                        self.gate.release()
                        raise
                if self.pause.remaining() <= 0:
                    if self.saturation is not None:
                        self.saturation.on_admit()
                    return booking
                # A pause began while this call waited for its slot: give the slot back and wait it out.
                self._release_slot()
        except BaseException:
            self._cancel(booking)
            raise

    def _release_slot(self) -> None:
        self.gate.release()
        if self.process_gate is not None:
            self.process_gate.release()

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

    async def _take_shared(self, booking: Booking, shared: SharedRates) -> Booking:
        """Draw the booking's request and tokens from the budgets shared with other processes."""
        request_grant = token_grant = 0
        try:
            if booking.request_slot is not None and self.requests is not None:
                request_grant = await shared.requests.take(1, per_minute=self.requests.per_minute)
            if booking.token_slot is not None and self.tokens is not None:
                token_grant = await shared.tokens.take(booking.token_slot.amount, per_minute=self.tokens.per_minute)
        except BaseException:
            shared.requests.give_back(request_grant, 1)
            raise
        self._adopt_published(shared)
        return replace(booking, request_grant=request_grant, token_grant=token_grant)

    def _adopt_published(self, shared: SharedRates) -> None:
        """Pace to a limit another process learned from the provider and published."""
        changed = False
        for kind, rate in (("requests", shared.requests), ("tokens", shared.tokens)):
            learned = rate.news()
            if learned is not None:
                changed = self.signals.budgets.adopt(kind, learned) or changed
        if changed:
            self.requests, self.tokens = self.signals.budgets.requests, self.signals.budgets.tokens

    def _learned_changed(self) -> None:
        """The budgets were sized from headers: use them, and publish the limits to the other processes."""
        self.requests, self.tokens = self.signals.budgets.requests, self.signals.budgets.tokens
        if self.shared is not None:
            learned = self.signals.budgets.learned
            for kind, rate in (("requests", self.shared.requests), ("tokens", self.shared.tokens)):
                value = learned[kind]
                if value is not None and value != rate.published:
                    rate.publish(value)

    def _cancel(self, booking: Booking) -> None:
        """Return an attempt's booking that was never sent."""
        if self.requests is not None and booking.request_slot is not None:
            self.requests.refund(booking.request_slot.amount, reservation=booking.request_slot)
        if booking.request_grant and self.shared is not None:
            self.shared.requests.give_back(booking.request_grant, 1)
        self._refund_tokens(booking, booking.tokens)

    def _refund_tokens(self, booking: Booking, amount: float) -> None:
        if self.tokens is not None and booking.token_slot is not None and amount:
            self.tokens.refund(amount, reservation=booking.token_slot)
            if booking.token_grant and self.shared is not None:
                if amount > 0:
                    self.shared.tokens.give_back(booking.token_grant, min(amount, booking.token_slot.amount))
                else:
                    self.shared.tokens.charge(-amount)

    def _succeeded(self, booking: Booking, *, used_tokens: int | None,
                   headers: list[tuple[str, str]] | None = None, sent_at: float | None = None) -> bool:
        """Release the slot of a successful attempt, settle its token booking, and read its rate-limit headers.

        Returns whether the slot went straight to a call that waited for one.
        """
        self._answers += 1
        if sent_at is not None and self.saturation is not None:
            now = self._last_answer_at = self._clock()
            if now - sent_at < DEFAULT_MIN_STALL_S:
                self._fast_until = now + FAST_ANSWER_MEMORY_S
        if headers and self.signals.on_answer(headers):
            self._learned_changed()
        gate = self.gate
        queued = gate.queued
        self._release_slot()
        handed_on = gate.queued < queued
        if used_tokens is not None:
            self._refund_tokens(booking, booking.tokens - used_tokens)
        if self.adaptive is not None:
            self.adaptive.on_success()
            if self.saturation is not None:
                self.saturation.on_completion(limit=gate.limit, in_flight=gate.in_flight, queued=gate.queued)
            self._follow_limit()
        return handed_on

    def _failed(self, booking: Booking, *, sent_at: float, rate_limited: bool, no_work_done: bool,
                headers: list[tuple[str, str]] | None = None) -> None:
        """Release the slot of a failed attempt; a 429 may shrink the limit.

        A 429 whose headers report an exhausted request or token limit is a rate event: the budgets, sized from
        those headers, pace it, and the in-flight limit is left alone. Any other 429 is a congestion event for the
        capacity estimate (:class:`~sharedlm._flow.CapacityLimit`).

        Args:
            booking: The attempt's booking.
            sent_at: When the attempt was sent (clock seconds), to react once per burst of 429s.
            rate_limited: Whether the provider answered 429.
            no_work_done: Whether the provider certainly did no work (its tokens are refunded).
            headers: The answer's headers, when one arrived.
        """
        self._answers += 1
        self._last_answer_at = self._clock()
        self._escalated = False
        if rate_limited:
            report, changed = self.signals.on_rate_limited(headers or [])
            if changed:
                self._learned_changed()
            adaptive = self.adaptive
            if adaptive is not None and report.retry_hint() is None:
                # Shrink the limit before giving the slot back: released first, the slot would go straight to the
                # next waiter, and the provider would be sent as many requests as just drew the 429.
                verdict = adaptive.on_rate_limited(sent_at, in_flight=self.gate.in_flight - 1, limit=self.gate.limit)
                self._escalated = verdict.escalate
                self._follow_limit()
                self.signals.remember(adaptive.capacity)
        self._release_slot()
        if no_work_done:
            self._refund_tokens(booking, booking.tokens)

    def retry_delay(self, attempt: int, headers: list[tuple[str, str]], hint: float | None, *,
                    message: str | None = None) -> tuple[float, bool]:
        """How long before retrying, and whether the provider said so itself.

        The provider's hint (``retry-after-ms``, ``Retry-After``, the words or ``RetryInfo`` of its message, an
        exhausted limit's reset; see :meth:`ProviderSignals.retry_hint`) delays this request, bounded by
        ``max_retry_after``; without one, exponential backoff with jitter. Every new send to the provider is
        paused for it only when 429s kept coming after the limit was lowered for them (or without adaptive
        concurrency, where nothing else reacts to them).

        Args:
            attempt: The number of the attempt that failed (1 for the first).
            headers: The failed attempt's response headers (empty when none arrived).
            hint: A retry hint lm15 read from the error, if any.
            message: The error's message, which may say how long to wait.
        """
        told = self.signals.retry_hint(headers, message=message, hint=hint)
        escalated, self._escalated = self._escalated, False
        if told is not None:
            if told > 0 and (escalated or self.adaptive is None):
                self.pause.pause_for(told)
            return told, True
        delay = backoff_delay(attempt - 1, base=self.flow.backoff_base, cap=self.flow.backoff_max, rng=self._rng)
        if escalated:
            self.pause.pause_for(delay)  # no hint, yet 429s keep coming: hold every send for the backoff
        return delay, False

    def _tick(self, loop: asyncio.AbstractEventLoop, answers: int) -> None:
        """While calls wait for a slot: a stall with CPU to spare opens the window (see ``SaturationCeiling``)."""
        adaptive, saturation = self.adaptive, self.saturation
        if self.gate.queued <= 0 or adaptive is None or saturation is None:
            self._ticking.discard(loop)
            return
        now = self._clock()
        stalled = self._answers == answers and now >= self._fast_until and (
            self._answers > 0 or self._first_wait is None or now - self._first_wait >= FIRST_STALL_S)
        quiet_since = max(self._last_sent_at, self._last_answer_at)
        if self._answers == answers:
            self._warm_ahead(now, quiet_since)
        if saturation.on_tick(limit=adaptive.limit, stalled=stalled, quiet_since=quiet_since):
            adaptive.on_stall()
            self._follow_limit()
        loop.call_later(STALL_TICK_S, self._tick, loop, self._answers)

    def _warm_ahead(self, now: float, quiet_since: float) -> None:
        """At the start, shortly before a stall may open the window: open the connections held-back calls will take.

        Only while the provider has not pushed back (the window opens to the cap on a stall then) and only once
        nothing has come back for half of the stall, so that a provider refusing the first window is seldom sent
        connections it will not be asked to serve; the number grows from the window's size, doubling each tick on
        which the loop had CPU to spare.
        """
        adaptive, warm = self.adaptive, self.warm_connections
        if warm is None or adaptive is None or not adaptive.starting or now < self._fast_until:
            return
        held = min(self.gate.queued, self.cap - self.gate.limit)
        if held <= 0:
            return
        opens_at = quiet_since + DEFAULT_MIN_STALL_S
        if self._answers == 0 and self._first_wait is not None:
            opens_at = max(opens_at, self._first_wait + FIRST_STALL_S)
        if now < opens_at - WARM_AHEAD_S:
            return
        cpu, mark = self._cpu_clock(), self._warm_mark
        self._warm_mark = (now, cpu)
        if mark is not None and now > mark[0] and (cpu - mark[1]) / (now - mark[0]) >= WARM_BUSY_LIMIT:
            return  # the loop is busy (with the connections already opening, or anything else): let it catch up
        self._warm_target = min(held, max(self.gate.limit, 2 * self._warm_target))
        self.connections_warmed += warm(self._last_origin, self._warm_target)

    def _note_written(self, origin: object | None = None) -> None:
        """The transport handed a request to the socket, bound for ``origin`` (called through the attempt's record)."""
        self._last_sent_at = self._clock()
        self._last_origin = origin

    def remember_now(self) -> None:
        """Write what was learned about the deployment now (the engine closes, or the process exits)."""
        if self.adaptive is not None:
            if self.adaptive.capacity is None:  # never refused: what it took at once is worth starting from
                self.signals.note_accepted(self.gate.peak_in_flight)
            self.signals.remember(self.adaptive.capacity)
        self.signals.flush()

    def flush(self) -> None:
        """Write what was learned about the deployment now, and give back what is held of shared budgets.

        The engine calls this when it closes: an in-flight lease and unsent grants of shared budgets go back at
        once instead of when their lease runs out (a call made later leases again).
        """
        self.remember_now()
        if isinstance(self.gate, LeasedGate):
            self.gate.give_back_now()
        if self.shared is not None:
            self.shared.requests.give_back_now()
            self.shared.tokens.give_back_now()

    def _follow_limit(self) -> None:
        assert self.adaptive is not None
        limit = self.adaptive.limit
        if self.saturation is not None:
            limit = min(limit, self.saturation.ceiling)
        if limit != self.gate.limit:
            self.gate.set_limit(limit)
            if limit > self._peak_limit:
                self._peak_limit = limit


__all__ = ["Attempt", "Booking", "Pacer"]
