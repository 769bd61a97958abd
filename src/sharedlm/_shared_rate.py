"""Request and token budgets per minute shared by every process, drawn on in grants so no call pays a round trip.

With ``SHAREDLM_BUDGET_URL`` set, each engine's request and token budgets
(:class:`~sharedlm._flow.RateBudget`) still pace its own sends, and every send also draws on one budget per
deployment that all processes share (:class:`~sharedlm._redis_budget.RedisRateSource` keeps its books; in a
Ray job with a shared budget, the coordinator actor keeps them in a :class:`RateLedger`, the same rules in
Python). A process does not ask the shared budget once per call: :class:`SharedRate` is granted a block (up to
one burst of the shared rate) and spends it locally, asking again only when it runs out:

- a block must be spent within ``hold_s`` of its grant, and the shared books count each grant at its grant
  time over a window ``hold_s`` longer than the budget's, so no window of the budget ever holds more than
  ``per_minute`` booked by all processes together (a send is booked when it takes from a block; it may then
  still wait for an in-flight slot, as with the process's own budgets);
- what a block still holds when it runs out of time, the sends that were cancelled, and the tokens a call did
  not use (estimate minus usage) go back to the grant they came from with the next request to the shared
  budget (one round trip carries them all); usage above the estimate is drawn from the next grant;
- the shared books also pace grants as one token bucket (rate ``per_minute / (window + burst)``), so the
  processes together send as smoothly as one process would;
- a limit learned from the provider's headers is published with the next request and every process adopts it
  (:attr:`SharedRate.published`), so all pace to the same learned limit.

The cost: the shared window is ``hold_s`` (1 s) longer than a process's own, so the processes together send up
to 1.6 % less per minute than one process alone would. A process killed holding a block loses nothing for the
others beyond that block: grants simply age out of the window.
"""

from __future__ import annotations

import asyncio
import bisect
import concurrent.futures
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sharedlm._env import budget_url
from sharedlm._flow._budget import DEFAULT_BURST_SECONDS
from sharedlm._lease import installed_shared_budget, note_holding

logger = logging.getLogger("sharedlm")

# A grant must be spent within this many seconds; the shared window is this much longer than the budget's.
HOLD_S = 1.0
# A grant covers at least this many seconds of the shared rate: while demand exceeds the rate, a process waits
# for that much to build up rather than asking for each request's worth (at most ~4 requests to the books a
# second per process and budget, however many calls).
MIN_GRANT_S = 0.25
# An amount this close to what is left still fits (float sums of token amounts drift).
_SLACK = 1e-9


@dataclass(frozen=True, kw_only=True, slots=True)
class RateGrant:
    """The shared budget's answer to one request for more.

    Args:
        granted: How much was granted (0: none now).
        grant_id: The grant's number, to give unused amounts back to (0 without a grant).
        wait: With nothing granted, seconds until the shared budget has room for what was needed.
        published: The account limit per minute some process learned from the provider, or None.
    """

    granted: float
    grant_id: int
    wait: float
    published: float | None = None


class RateSource(Protocol):
    """Where a process's grants of a shared per-minute budget come from (a Redis server)."""

    @property
    def owner(self) -> str:
        """Who holds the budget, as ``sharedlm.stats()`` shows it."""
        ...

    def grant_now(self, *, now: float, need: float, want: float, per_minute: float, window_s: float,
                  burst_s: float, credits: dict[int, float], learned: float | None) -> RateGrant:
        """Grant at least ``need`` and up to ``want`` at ``now``, or nothing and how long to wait (blocking)."""
        ...

    def give_back_now(self, *, now: float, credits: dict[int, float]) -> None:
        """Give unsent amounts back to the grants they came from (blocking)."""
        ...


class RateLedger:
    """The shared books of one per-minute budget, kept in one process (the Ray coordinator's, or a test's).

    The rules are those of the Redis scripts (:mod:`sharedlm._redis_budget`): grants count at their grant time
    over the window, credits go back to their grants, and grants are paced as one token bucket.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._times: list[tuple[float, int]] = []  # (grant time, grant number), oldest first
        self._amounts: dict[int, float] = {}
        self._used = 0.0
        self._tat = 0.0
        self._rate = 0.0
        self._next = 0
        self.learned: float | None = None

    def __repr__(self) -> str:
        return f"RateLedger(used={self._used:g}, grants={len(self._times)}, learned={self.learned})"

    @property
    def used(self) -> float:
        """What the grants in the window add up to (as of the last request)."""
        return self._used

    def _settle(self, now: float, window_s: float, credits: dict[int, float]) -> None:
        horizon = now - window_s
        cut = 0
        while cut < len(self._times) and self._times[cut][0] <= horizon:
            self._used -= self._amounts.pop(self._times[cut][1], 0.0)
            cut += 1
        del self._times[:cut]
        for grant_id, credit in credits.items():
            amount = self._amounts.get(grant_id)
            back = min(credit, amount) if amount is not None else 0.0
            if back > 0 and amount is not None:
                self._amounts[grant_id] = amount - back
                self._used -= back
                if self._rate > 0:
                    self._tat = max(self._tat - back / self._rate, min(self._tat, now))
        if not self._times:
            self._used = 0.0

    def grant(self, *, now: float, need: float, want: float, per_minute: float, window_s: float, burst_s: float,
              credits: dict[int, float], learned: float | None) -> RateGrant:
        """Grant at least ``need`` and up to ``want`` at ``now``, or nothing and the wait (see :class:`RateSource`)."""
        with self._lock:
            self._settle(now, window_s, credits)
            rate = self._rate = per_minute / (window_s + burst_s)
            capacity = rate * burst_s
            tat = max(self._tat, now)
            level = capacity - rate * (tat - now)
            room = per_minute - self._used
            fits = need <= level + _SLACK or (need > capacity and tat <= now)
            granted, grant_id, wait = 0.0, 0, 0.0
            if fits and need <= room + _SLACK:
                granted = max(need, min(want, level, room))
                self._next += 1
                grant_id = self._next
                bisect.insort(self._times, (now, grant_id))
                self._amounts[grant_id] = granted
                self._used += granted
                tat += granted / rate
            else:
                if not fits:
                    wait = tat - now if need > capacity else (need - level) / rate
                if need > room + _SLACK:
                    excess = need - room
                    for at, older in self._times:
                        excess -= self._amounts.get(older, 0.0)
                        if excess <= _SLACK:
                            wait = max(wait, at + window_s - now)
                            break
            self._tat = tat
            if learned is not None:
                self.learned = learned
            return RateGrant(granted=granted, grant_id=grant_id, wait=wait, published=self.learned)

    def give_back(self, *, now: float, credits: dict[int, float]) -> None:
        """Give unsent amounts back to their grants."""
        with self._lock:
            self._settle(now, math.inf, credits)  # an endless window: giving back drops no grant


class LocalRateSource:
    """A :class:`RateLedger` in this process as a rate source.

    Args:
        ledger: The books.
        owner: Who holds them, as ``sharedlm.stats()`` would show it.
    """

    def __init__(self, ledger: RateLedger, owner: str = "this process") -> None:
        self.ledger = ledger
        self.owner = owner

    def __repr__(self) -> str:
        return f"LocalRateSource({self.ledger!r})"

    def grant_now(self, *, now: float, need: float, want: float, per_minute: float, window_s: float,
                  burst_s: float, credits: dict[int, float], learned: float | None) -> RateGrant:
        return self.ledger.grant(now=now, need=need, want=want, per_minute=per_minute, window_s=window_s,
                                 burst_s=burst_s, credits=credits, learned=learned)

    def give_back_now(self, *, now: float, credits: dict[int, float]) -> None:
        self.ledger.give_back(now=now, credits=credits)


class SharedRate:
    """One engine's draw on a per-minute budget (requests or tokens) that every process shares.

    Args:
        source: The shared books.
        name: What is counted (``requests`` or ``tokens``).
        window_s: The budget's guarantee window (the engine's, 61 s); the shared books use ``hold_s`` more.
        hold_s: A grant must be spent within this many seconds.
        burst_s: Seconds of the shared rate granted at most at once after an idle spell.
        clock: Wall-clock seconds (the shared books compare the processes' clocks); injectable for tests.
    """

    def __init__(self, source: RateSource, *, name: str, window_s: float, hold_s: float = HOLD_S,
                 burst_s: float = DEFAULT_BURST_SECONDS, clock: Callable[[], float] = time.time) -> None:
        self.source = source
        self.name = name
        self.window_s = window_s + hold_s
        self.hold_s = hold_s
        self.burst_s = burst_s
        self._clock = clock
        self._lock = threading.Lock()
        self._grant_id = 0
        self._valid_until = -math.inf
        # What the current grant still holds; negative while usage above estimates is owed to the next grant.
        self._left = 0.0
        # Unsent amounts by grant, given back with the next request to the shared books.
        self._credits: dict[int, float] = {}
        self._refill: concurrent.futures.Future[float] | None = None
        self._learned: float | None = None
        self.published: float | None = None
        self._news = False
        self.grants = 0
        self.waits = 0

    def __repr__(self) -> str:
        return (f"SharedRate(name={self.name!r}, left={self._left:g}, grants={self.grants}, waits={self.waits}, "
                f"published={self.published}, owner={self.source.owner!r})")

    def take_nowait(self, amount: float) -> int | None:
        """Take ``amount`` from the current grant without asking anyone; its grant's number, or None: ask.

        Args:
            amount: Requests (1) or estimated tokens.
        """
        with self._lock:
            if self._clock() <= self._valid_until and self._left + _SLACK >= amount:
                self._left -= amount
                return self._grant_id
            return None

    async def take(self, amount: float, *, per_minute: float) -> int:
        """Take ``amount``, asking the shared budget for a grant when the current one is spent; its grant's number.

        Callers on any event loop share one request to the shared books at a time; a caller cancelled while it
        waits leaves that request running for the others.

        Args:
            amount: Requests (1) or estimated tokens (more than ``per_minute`` counts as ``per_minute``).
            per_minute: The budget per minute (the engine's, so a learned limit applies at once).
        """
        amount = min(amount, per_minute)
        while True:
            with self._lock:
                if self._clock() <= self._valid_until and self._left + _SLACK >= amount:
                    self._left -= amount
                    return self._grant_id
                future = self._refill
                starts = future is None
                if future is None:
                    future = self._refill = concurrent.futures.Future()
            if starts:
                asyncio.get_running_loop().run_in_executor(None, self._refill_into, future, amount, per_minute)
            wait = await asyncio.shield(asyncio.wrap_future(future))
            if wait > 0:
                self.waits += 1
                await asyncio.sleep(wait)

    def _refill_into(self, future: concurrent.futures.Future[float], amount: float, per_minute: float) -> None:
        try:
            wait = self.refill(amount, per_minute=per_minute)
        except BaseException as exc:
            with self._lock:
                self._refill = None
            future.set_exception(exc)
            return
        with self._lock:
            self._refill = None
        future.set_result(wait)

    def refill(self, amount: float, *, per_minute: float) -> float:
        """Ask the shared budget for a grant that covers ``amount`` (blocking); seconds to wait, 0.0 if granted.

        Args:
            amount: What the caller needs now.
            per_minute: The budget per minute.
        """
        amount = min(amount, per_minute)
        with self._lock:
            now = self._clock()
            if now <= self._valid_until and self._left + _SLACK >= amount:
                return 0.0  # another caller's grant arrived meanwhile
            credits = self._retire_locked()
            owed = max(0.0, -self._left)
            rate = per_minute / (self.window_s + self.burst_s)
            need = min(per_minute, max(amount + owed, rate * MIN_GRANT_S))
            # Up to one burst of the shared rate, so a process with spare budget asks about once per burst_s.
            want = max(need, rate * self.burst_s)
            learned, self._learned = self._learned, None
        try:
            answer = self.source.grant_now(now=now, need=need, want=want, per_minute=per_minute,
                                           window_s=self.window_s, burst_s=self.burst_s, credits=credits,
                                           learned=learned)
        except BaseException:
            with self._lock:  # nothing reached the books: keep what was to be sent for the next request
                for grant_id, credit in credits.items():
                    self._credits[grant_id] = self._credits.get(grant_id, 0.0) + credit
                self._learned = self._learned if self._learned is not None else learned
            raise
        with self._lock:
            if answer.published is not None and answer.published != self.published:
                self.published = answer.published
                self._news = True
            if answer.granted <= 0:
                return max(answer.wait, 0.001)
            self.grants += 1
            self._grant_id = answer.grant_id
            self._valid_until = now + self.hold_s
            self._left = answer.granted - owed
        note_holding(self, True)  # given back at exit, if it has not been by then
        return 0.0

    def _retire_locked(self) -> dict[int, float]:
        """End the current grant: what it still holds joins the credits, which are handed over and cleared."""
        if self._left > 0 and self._grant_id:
            self._credits[self._grant_id] = self._credits.get(self._grant_id, 0.0) + self._left
            self._left = 0.0
        self._valid_until = -math.inf
        credits, self._credits = self._credits, {}
        return credits

    def give_back(self, grant_id: int, amount: float) -> None:
        """Return ``amount`` taken from grant ``grant_id`` and never sent (a cancelled call, unused tokens).

        Args:
            grant_id: The grant :meth:`take` drew it from.
            amount: How much.
        """
        if amount <= 0 or not grant_id:
            return
        with self._lock:
            if grant_id == self._grant_id and self._clock() <= self._valid_until:
                self._left += amount
            else:
                self._credits[grant_id] = self._credits.get(grant_id, 0.0) + amount

    def charge(self, amount: float) -> None:
        """Draw ``amount`` more than was taken (usage above the estimate), from what is left or the next grant.

        Args:
            amount: How much more was used.
        """
        if amount > 0:
            with self._lock:
                self._left -= amount

    def publish(self, learned: float) -> None:
        """Publish the account's limit per minute learned from the provider with the very next send.

        The current grant ends (what it holds goes back with the same request), so the next send asks the shared
        budget and carries the limit: one round trip more per change of the provider's limit.

        Args:
            learned: The limit the provider's headers reported.
        """
        with self._lock:
            self._learned = learned
            self.published = learned  # ours is the newest: not news to us
            self._valid_until = -math.inf

    def news(self) -> float | None:
        """A limit another process published since the last look, or None."""
        with self._lock:
            if not self._news:
                return None
            self._news = False
            return self.published

    def give_back_now(self) -> None:
        """Give every unsent amount back at once (a clean shutdown); later calls ask again.

        Shared books that cannot be reached keep counting the grants until they leave the window.
        """
        with self._lock:
            credits = self._retire_locked()
            now = self._clock()
        note_holding(self, False)
        if credits:
            try:
                self.source.give_back_now(now=now, credits=credits)
            except Exception as exc:  # shutting down anyway: the grants age out of the window
                logger.debug("sharedlm: could not give back %r: %s", self, type(exc).__name__)


@dataclass(frozen=True)
class SharedRates:
    """An engine's draws on the shared request and token budgets of its deployment.

    Args:
        requests: The request budget.
        tokens: The token budget.
    """

    requests: SharedRate
    tokens: SharedRate

    @property
    def owner(self) -> str:
        return self.requests.source.owner


_sources: dict[tuple[str, str], RateSource] = {}
_sources_lock = threading.Lock()


def shared_rates(deployment: str, *, window_s: float) -> SharedRates | None:
    """The shared request and token budgets of ``deployment``, or None: each process keeps its own.

    They come from the shared budget installed in this process when it shares rates (a Ray worker of a job with
    a shared budget), else from Redis when ``SHAREDLM_BUDGET_URL`` is set.

    Args:
        deployment: Names the deployment (provider, model, base URL and a hash of the key, hashed): processes
            share budgets only with the same deployment, as the provider counts them by account and model.
        window_s: The engine's budget window.
    """
    installed = installed_shared_budget()
    if installed is not None and installed.rates is not None:
        sources = installed.rates
        return SharedRates(requests=SharedRate(sources.source(deployment, "requests"), name="requests",
                                               window_s=window_s),
                           tokens=SharedRate(sources.source(deployment, "tokens"), name="tokens", window_s=window_s))
    url = budget_url()
    if url is None:
        return None
    rates = []
    for kind in ("requests", "tokens"):
        with _sources_lock:
            source = _sources.get((url, f"{deployment}:{kind}"))
            if source is None:
                from sharedlm._redis_budget import RedisRateSource

                source = _sources[(url, f"{deployment}:{kind}")] = RedisRateSource(url, deployment=deployment,
                                                                                   kind=kind)
        rates.append(SharedRate(source, name=kind, window_s=window_s))
    return SharedRates(requests=rates[0], tokens=rates[1])


__all__ = ["HOLD_S", "MIN_GRANT_S", "LocalRateSource", "RateGrant", "RateLedger", "RateSource", "SharedRate",
           "SharedRates", "shared_rates"]
