"""A job-wide in-flight budget leased to processes in blocks: the ledger, the client, and the gate that uses them.

One coordinator holds the job's budget of requests in flight (:class:`LeaseLedger`, pure and clock-driven, so
it is tested on a fake clock; a Ray actor wraps it for Ray runs, see
:mod:`sharedlm.runner._ray._coordinator`). Each process holds a lease of a few slots and admits calls against it
locally (:class:`LeasedGate`), so a call costs no round trip to the coordinator:

- a process asks for another block when its free leased slots fall under half a block, in the background,
  before it needs them, and again (after a short pause) while calls wait and the coordinator had none to give;
- a process gives back what it holds beyond its calls in flight plus one block as its calls finish, so an idle
  process keeps at most one block and the rest of the budget serves the processes that have work;
- a process renews its lease while it holds slots; a process that stops renewing (it died, or its node did)
  loses its slots after ``lease_s``, and they go to the others;
- a process that ends cleanly gives its whole lease back at once: when its shared LM is closed
  (``sharedlm.reset_shared_lm()``, the engine's ``flush``), at interpreter exit (:func:`give_back_all`, run by
  ``atexit``), and when a Ray run ends its workers.

A process's gate admits at most ``min(its own limit, its lease)`` calls: the adaptive limit still reacts to the
provider, and the lease bounds the whole job. A process that is installed with no shared budget keeps the plain
:class:`~sharedlm._admission.InFlightGate` (:func:`make_gate`), so behaviour without one is as before.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import itertools
import logging
import os
import platform
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from sharedlm._admission import InFlightGate
from sharedlm._env import budget_url

if TYPE_CHECKING:
    from sharedlm._shared_rate import RateSource

logger = logging.getLogger("sharedlm")

DEFAULT_LEASE_S = 10.0
# A Redis budget (processes not known in advance) is leased in blocks of 1/16 of it.
REDIS_BLOCKS = 16
# A holder that asked in vain this recently counts as wanting its fair share.
WANT_WINDOW_S = 1.0
# While calls wait and the coordinator had nothing to give, ask again after this long.
RETRY_GRANT_S = 0.01
# While the shared budget cannot be reached, calls wait (up to their pool_timeout) and it is asked again this often.
UNREACHABLE_RETRY_S = 1.0


@dataclass
class _Holding:
    slots: int
    seen: float


class LeaseLedger:
    """The coordinator's books: how many of ``total`` slots each holder has leased, and until when.

    Args:
        total: The job's in-flight budget.
        lease_s: A holder that has not asked, renewed or given back for this long loses its slots.
        clock: Seconds, monotonic; injectable for tests.
    """

    def __init__(self, total: int, *, lease_s: float = DEFAULT_LEASE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if isinstance(total, bool) or not isinstance(total, int) or total < 1:
            raise ValueError(f"total must be a whole number >= 1, got {total!r}")
        if lease_s <= 0:
            raise ValueError(f"lease_s must be > 0, got {lease_s!r}")
        self.total = total
        self.lease_s = lease_s
        self._clock = clock
        self._holders: dict[str, _Holding] = {}
        # Holders that recently got less than they asked for, and when.
        self._wanting: dict[str, float] = {}
        self.want_window_s = min(WANT_WINDOW_S, lease_s)
        self.expired = 0

    def __repr__(self) -> str:
        return f"LeaseLedger(total={self.total}, free={self.free}, holders={self.holdings()})"

    @property
    def free(self) -> int:
        """Slots no live holder has leased."""
        return self.total - sum(holding.slots for holding in self._holders.values())

    def holdings(self) -> dict[str, int]:
        """Slots leased, by holder."""
        return {holder: holding.slots for holder, holding in self._holders.items()}

    def grant(self, holder: str, want: int) -> int:
        """Lease up to ``want`` more slots to ``holder``; returns how many it got, or minus how many it owes.

        While another holder is short of its fair share (the budget over the holders that hold or recently
        asked in vain), a holder gets no more than its own fair share, and one above it is told (by a negative
        answer) to give the excess back as its calls finish.

        Args:
            holder: Who asks (one name per process).
            want: How many slots it would like.
        """
        self.expire()
        now = self._clock()
        holding = self._holders.setdefault(holder, _Holding(0, now))
        holding.seen = now
        fair, others_short = self._fairness(holder, now)
        room = self.free if not others_short else max(0, min(self.free, fair - holding.slots))
        granted = max(0, min(want, room))
        holding.slots += granted
        if granted < want:
            self._wanting[holder] = now
        else:
            self._wanting.pop(holder, None)
        if granted == 0 and others_short and holding.slots > fair:
            return -(holding.slots - fair)
        return granted

    def _fairness(self, holder: str, now: float) -> tuple[int, bool]:
        recent = now - self.want_window_s
        wanting = {h for h, when in self._wanting.items() if when >= recent}
        active = {h for h, holding in self._holders.items() if holding.slots > 0} | wanting | {holder}
        fair = max(1, self.total // len(active))
        others_short = any(h != holder and self._slots_of(h) < fair for h in wanting)
        return fair, others_short

    def _slots_of(self, holder: str) -> int:
        holding = self._holders.get(holder)
        return holding.slots if holding is not None else 0

    def give_back(self, holder: str, slots: int) -> None:
        """Take back ``slots`` of ``holder``'s lease (more than it holds is taken as all of it).

        Args:
            holder: Who gives back.
            slots: How many.
        """
        holding = self._holders.get(holder)
        if holding is None:
            return
        holding.slots = max(0, holding.slots - max(0, slots))
        holding.seen = self._clock()
        self._wanting.pop(holder, None)  # a holder that gives back has more than it needs
        if holding.slots == 0:
            del self._holders[holder]

    def renew(self, holder: str) -> int:
        """Extend ``holder``'s lease; returns the slots it still holds (0: it had expired and must ask again).

        Args:
            holder: Who renews.
        """
        self.expire()
        holding = self._holders.get(holder)
        if holding is None:
            return 0
        holding.seen = self._clock()
        return holding.slots

    def expire(self) -> None:
        """Take back the slots of every holder whose lease ran out."""
        deadline = self._clock() - self.lease_s
        for holder in [h for h, holding in self._holders.items() if holding.seen < deadline]:
            self.expired += self._holders.pop(holder).slots
            self._wanting.pop(holder, None)


class BudgetSource(Protocol):
    """Where a process leases its slots from (a Ray actor, a Redis server, a ledger in the same process)."""

    @property
    def owner(self) -> str:
        """Who holds the budget, as ``sharedlm.stats()`` shows it."""
        ...

    async def grant(self, holder: str, want: int) -> int:
        """Lease up to ``want`` more slots; returns how many were granted."""
        ...

    async def give_back(self, holder: str, slots: int) -> None:
        """Return ``slots`` of the lease."""
        ...

    async def renew(self, holder: str) -> int:
        """Extend the lease; returns the slots still held."""
        ...

    def give_back_now(self, holder: str, slots: int) -> None:
        """Return ``slots`` of the lease from any thread, without an event loop (a clean shutdown)."""
        ...


class LocalBudgetSource:
    """A ledger in this process as a budget source (tests, and one process sharing a budget among its loops).

    Args:
        ledger: The books.
    """

    def __init__(self, ledger: LeaseLedger) -> None:
        self.ledger = ledger
        self.owner = "this process"

    def __repr__(self) -> str:
        return f"LocalBudgetSource({self.ledger!r})"

    async def grant(self, holder: str, want: int) -> int:
        return self.ledger.grant(holder, want)

    async def give_back(self, holder: str, slots: int) -> None:
        self.ledger.give_back(holder, slots)

    async def renew(self, holder: str) -> int:
        return self.ledger.renew(holder)

    def give_back_now(self, holder: str, slots: int) -> None:
        self.ledger.give_back(holder, slots)


class LeasedGate(InFlightGate):
    """An in-flight gate that admits at most ``min(limit, leased)`` calls, leasing slots from a shared budget.

    Args:
        limit: This process's own limit (the adaptive limit moves it).
        source: The shared budget.
        holder: This process's name at the coordinator.
        block: Slots asked for (and kept when idle) at a time.
        lease_s: The coordinator's lease time; the lease is renewed three times per lease time.
    """

    def __init__(self, limit: int, *, source: BudgetSource, holder: str, block: int,
                 lease_s: float = DEFAULT_LEASE_S) -> None:
        super().__init__(limit)
        if block < 1:
            raise ValueError(f"block must be >= 1, got {block}")
        self.source = source
        self.holder = holder
        self.block = block
        self.lease_s = lease_s
        self._wanted = limit
        self.leased = 0
        # Slots the coordinator asked back (another holder is short of its fair share): given back as calls finish.
        self.owed = 0
        self._asking = False
        self._giving = False
        self._home: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._renewing = False
        # Whether this gate is among the process's holders given back at exit (while it holds slots).
        self._holding = False
        self.unreachable_retry_s = UNREACHABLE_RETRY_S
        # The budget could not be reached at the last try (warned once per outage).
        self.unreachable = False
        with self._lock:
            self._apply_locked()

    def __repr__(self) -> str:
        return (f"LeasedGate(limit={self._wanted}, leased={self.leased}, in_flight={self.in_flight}, "
                f"queued={self.queued}, owner={self.source.owner!r})")

    @property
    def wanted_limit(self) -> int:
        """This process's own limit, before the lease bounds it."""
        return self._wanted

    def lease_stats(self) -> dict[str, object]:
        """The lease held, for ``sharedlm.stats()`` and the runner's summary."""
        return {"lease_held": self.leased, "lease_block": self.block, "budget_owner": self.source.owner}

    def set_limit(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        with self._lock:
            self._wanted = limit
            self._apply_locked()

    def try_acquire(self) -> bool:
        admitted = super().try_acquire()
        self._after_change()
        return admitted

    async def acquire(self, timeout: float | None = None) -> None:  # noqa: ASYNC109 - AdmissionGate.acquire's contract
        self._bind_loop()
        self._after_change()  # a call is about to wait: ask for slots now
        await super().acquire(timeout)
        self._after_change()

    def take_over_limit(self) -> None:
        super().take_over_limit()
        self._after_change()

    def release(self) -> None:
        super().release()
        self._after_change()

    def _apply_locked(self) -> None:
        # Bypasses set_limit's floor of 1: with no lease held, no call may go.
        self._limit = max(0, min(self._wanted, self.leased - self.owed))
        if (self.leased > 0) is not self._holding:
            self._holding = self.leased > 0
            note_holding(self, self._holding)
        self._grant_locked()

    def _bind_loop(self) -> None:
        if self._home is None or self._home.is_closed():
            with contextlib.suppress(RuntimeError):
                self._home = asyncio.get_running_loop()

    def _after_change(self) -> None:
        """Ask for a block when the free lease runs low, give back what idles, keep the lease renewed."""
        self._bind_loop()
        with self._lock:
            free = self.leased - self._in_flight
            short = ((free < max(1, self.block // 2) or self._waiting > 0) and self.leased < self._wanted
                     and not self.owed)
            surplus = self.leased - self._in_flight - self.block if not self._waiting else 0
            if self.owed:
                surplus = max(surplus, min(self.owed, self.leased - self._in_flight))
        if short and not self._asking:
            self._asking = True
            self._spawn(self._ask())
        elif surplus > 0 and not self._giving:
            self._giving = True
            self._spawn(self._give())
        if self.leased and not self._renewing:
            self._renewing = True
            self._spawn(self._renew_loop())

    def _spawn(self, work: object) -> None:
        loop = self._home
        if loop is None or loop.is_closed():
            work.close()  # type: ignore[attr-defined]
            self._asking = self._giving = self._renewing = False
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._track(work)
        else:
            loop.call_soon_threadsafe(self._track, work)

    def _track(self, work: object) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _ask(self) -> None:
        try:
            while True:
                with self._lock:
                    want = min(self.block, self._wanted - self.leased)
                if want <= 0:
                    return
                try:
                    answer = await self.source.grant(self.holder, want)
                except Exception as exc:  # the budget's server is down: calls wait for it, never past it
                    self._note_unreachable(exc)
                    with self._lock:
                        waiting = self._waiting > 0
                    if not waiting:
                        return
                    await asyncio.sleep(self.unreachable_retry_s)
                    continue
                self.unreachable = False
                granted = max(0, answer)
                with self._lock:
                    self.leased += granted
                    self.owed = max(self.owed, -answer)
                    self._apply_locked()
                    free = self.leased - self._in_flight
                    # Ask again while calls wait; ahead of need only while the coordinator still has slots to give.
                    more = self.leased < self._wanted and answer >= 0 and (
                        self._waiting > 0 or (granted > 0 and free < max(1, self.block // 2)))
                if answer < 0:
                    self._asking = False
                    self._after_change()  # give back what is owed now, as far as calls have finished
                    return
                if not more:
                    return
                if not granted:
                    await asyncio.sleep(RETRY_GRANT_S)  # the budget is in use elsewhere: ask again shortly
        finally:
            self._asking = False

    async def _give(self) -> None:
        try:
            while True:
                with self._lock:  # what idles now: calls may have finished since this was scheduled
                    slots = self.leased - self._in_flight - self.block if not self._waiting else 0
                    owed = min(self.owed, self.leased - self._in_flight)
                    slots = max(slots, owed)
                    if slots <= 0:
                        return
                    self.owed -= min(self.owed, slots)
                    self.leased -= slots
                    self._apply_locked()
                await self.source.give_back(self.holder, slots)
        finally:
            self._giving = False

    def _note_unreachable(self, exc: Exception) -> None:
        if not self.unreachable:
            self.unreachable = True
            logger.warning("sharedlm: the shared in-flight budget (%s) cannot be reached (%s); calls wait for it "
                           "(up to pool_timeout) and it is asked again every %g s", self.source.owner,
                           type(exc).__name__, self.unreachable_retry_s)

    async def _renew_loop(self) -> None:
        try:
            while self.leased:
                await asyncio.sleep(self.lease_s / 3)
                try:
                    held = await self.source.renew(self.holder)
                except Exception as exc:  # try again next time; the lease lasts three renewal periods
                    self._note_unreachable(exc)
                    continue
                with self._lock:
                    if held < self.leased:  # the coordinator took slots back (we were too slow to renew)
                        self.leased = held
                        self._apply_locked()
        finally:
            self._renewing = False

    def give_back_now(self) -> None:
        """Give the whole lease back at once, from any thread (a clean shutdown); later calls lease again.

        The source is told without waiting for an event loop (Redis: one blocking call; Ray: a message). A source
        that cannot be reached is left to take the slots back when the lease runs out.
        """
        with self._lock:
            held, self.leased, self.owed = self.leased, 0, 0
            self._apply_locked()
        if held:
            try:
                self.source.give_back_now(self.holder, held)
            except Exception as exc:  # shutting down anyway: the lease expires on its own
                logger.debug("sharedlm: could not give back %s slots of %r: %s", held, self,
                             type(exc).__name__)

    async def close(self) -> None:
        """Give the whole lease back and stop renewing."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with self._lock:
            held, self.leased = self.leased, 0
            self._apply_locked()
        if held:
            await self.source.give_back(self.holder, held)


class RateSources(Protocol):
    """Where the request and token budgets per minute of each deployment are shared (a Ray coordinator)."""

    def source(self, deployment: str, kind: str) -> RateSource:
        """The books of ``deployment``'s ``kind`` (``requests`` or ``tokens``) budget."""
        ...


@dataclass(frozen=True)
class SharedBudget:
    """A shared budget this process's engines lease from.

    Args:
        source: Where slots come from.
        holder: This process's name at the coordinator.
        block: Slots leased at a time.
        lease_s: The coordinator's lease time.
        rates: Where the request and token budgets are shared too (see :mod:`sharedlm._shared_rate`), or None:
            each process keeps its own.
    """

    source: BudgetSource
    holder: str
    block: int
    lease_s: float = DEFAULT_LEASE_S
    rates: RateSources | None = None


_installed: SharedBudget | None = None
_install_lock = threading.Lock()


def install_shared_budget(budget: SharedBudget | None) -> None:
    """Make engines built from now on in this process lease their in-flight slots from ``budget`` (None: stop).

    Args:
        budget: The shared budget, or None for a plain, process-local gate.
    """
    global _installed
    with _install_lock:
        _installed = budget


def installed_shared_budget() -> SharedBudget | None:
    """The shared budget engines built now lease from, or None."""
    return _installed


class GivesBack(Protocol):
    """Something holding part of a shared budget that it can hand back at once."""

    def give_back_now(self) -> None: ...


# Every holder of part of a shared budget in this process, given back at interpreter exit. Held strongly while
# it holds something: a gate dropped without being closed still holds its lease, and must give it back.
_holders: set[GivesBack] = set()
_exit_registered = False


def note_holding(holder: GivesBack, holding: bool) -> None:
    """Note whether ``holder`` now holds part of a shared budget, to give it back at exit (:func:`give_back_all`).

    Args:
        holder: A leased gate or a shared rate budget.
        holding: Whether it holds something now.
    """
    global _exit_registered
    with _install_lock:
        if not holding:
            _holders.discard(holder)
            return
        _holders.add(holder)
        if not _exit_registered:
            atexit.register(give_back_all)
            _exit_registered = True


def give_back_all() -> None:
    """Give back every lease and unsent grant this process holds, at once (interpreter exit, a Ray worker's end).

    A shared budget that cannot be reached is left to take its slots back when the lease runs out.
    """
    with _install_lock:
        holders = list(_holders)
    for holder in holders:
        try:
            holder.give_back_now()
        except Exception as exc:  # the budget's server is gone: the lease expires on its own
            logger.debug("sharedlm: could not give back %r at exit: %s", holder, type(exc).__name__)


# Gates leasing from the same source need names of their own: the coordinator counts slots by holder.
_gate_numbers = itertools.count(1)
_redis_sources: dict[tuple[str, int], BudgetSource] = {}


def _budget_from_env(total: int) -> SharedBudget | None:
    url = budget_url()
    if url is None:
        return None
    with _install_lock:
        source = _redis_sources.get((url, total))
        if source is None:
            from sharedlm._redis_budget import RedisBudgetSource

            source = _redis_sources[(url, total)] = RedisBudgetSource(url, total=total)
    return SharedBudget(source=source, holder=f"{platform.node()} pid {os.getpid()}",
                        block=max(1, total // REDIS_BLOCKS))


def make_gate(limit: int, *, cap: int | None = None) -> InFlightGate:
    """The in-flight gate for a new engine: leased from a shared budget when there is one, else a plain local one.

    The shared budget is the one installed in this process (:func:`install_shared_budget`, a Ray worker's),
    else the Redis budget at ``SHAREDLM_BUDGET_URL`` of ``cap`` slots, else none.

    Args:
        limit: The engine's own initial limit.
        cap: The engine's ``max_parallel_requests``: the size of a Redis budget.
    """
    budget = _installed or _budget_from_env(cap or limit)
    if budget is None:
        return InFlightGate(limit)
    holder = f"{budget.holder} gate {next(_gate_numbers)}" if budget.holder else f"gate {next(_gate_numbers)}"
    return LeasedGate(limit, source=budget.source, holder=holder, block=budget.block, lease_s=budget.lease_s)


def lease_fields(gate: InFlightGate) -> dict[str, int | str]:
    """The lease an engine's gate holds, as ``sharedlm.stats()`` fields.

    Args:
        gate: The engine's in-flight gate.
    """
    if isinstance(gate, LeasedGate):
        return {"lease_held": gate.leased, "budget_owner": gate.source.owner}
    return {"lease_held": 0, "budget_owner": "this process"}


__all__ = [
    "DEFAULT_LEASE_S",
    "BudgetSource",
    "LeaseLedger",
    "LeasedGate",
    "LocalBudgetSource",
    "RateSources",
    "SharedBudget",
    "give_back_all",
    "install_shared_budget",
    "installed_shared_budget",
    "lease_fields",
    "make_gate",
    "note_holding",
]
