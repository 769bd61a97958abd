"""The process-wide budget of open connections that every event loop's pool of one transport draws on.

A pool (:class:`sharedlm._http11.ConnectionPool`) belongs to one event loop, and a process may run several
long-lived loops at once (a web server's, sharedlm's background loop for sync calls, a user's threads each with
one). Each pool kept its own idle keep-alive connections, so together they could hold far more sockets than the
cap the open-file limit allows. :class:`ConnectionBudget` is the one count they share, thread-safely: a slot is
taken before a connection starts opening and given back once its socket is closed (not when closing is asked
for: the descriptor is in use until then).

A pool that needs a connection when the budget is spent closes one of its own idle connections, else files a
want (:meth:`ConnectionBudget.want`) and waits for a slot to free: the other loops' pools that have an idle
connection are asked through their loop (:meth:`asyncio.AbstractEventLoop.call_soon_threadsafe`) to close one, and
any pool releasing a connection while a want is open closes it instead of keeping it idle. The slot of a connection
closed for a want (or closed by an acquirer to make room in its own pool) goes to that want's acquirer once the
socket is closed, never to another: a waiter handed a slot it did not ask for would leave the asker's want spent
with no slot coming to it, waiting on while other loops keep connections idle. Other freed slots go to the waiting
acquirers in FIFO order, whatever loop they wait on. While an asked loop is busy the asker waits: a
running loop never takes the process over the budget. A loop that is not running (stopped between two
``run_until_complete`` calls) cannot close anything until it runs again, so when only such loops have idle
connections the asker borrows the slot of one of them and opens at once rather than wait on a loop that may never
run again: the process then holds at most one socket over the budget per idle connection of stopped loops (each
lent once), each closed as soon as its loop runs again or is found closed
(:meth:`ConnectionBudget.reap_closed_loops`). A call whose caller blocks a running loop until it returns (a sync
call made inside a loop, which the engine's in-flight gate lets go over its limit by one) cannot wait either: the
connections its loop holds come back only after it returns; it borrows a slot at once, so the process holds at
most one socket over the budget per blocked loop. While the budget is over its limit, a connection released on
any loop is closed instead of kept idle. Because the engine bounds the calls in flight over all loops by the
same number, some connection is idle or closing whenever the budget is spent and a call needs a slot.

Pools whose loop was closed without its pools being closed (a loop driven by hand, closed without
``loop.shutdown_asyncgens()``) cannot close their sockets on their loop; :meth:`ConnectionBudget.reap_closed_loops`
closes them without it and gives their slots back.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
from collections.abc import Callable
from typing import Protocol

from sharedlm._errors import ConfigurationError


class BudgetMember(Protocol):
    """What the budget needs of a pool: its loop, its idle count, and ways to close idle connections."""

    loop: asyncio.AbstractEventLoop
    # Idle connections lent to other loops' acquirers while this pool's loop was stopped, to close when it runs.
    lent: int

    @property
    def closed(self) -> bool: ...

    def idle_count(self) -> int: ...

    def pay_wants(self) -> None: ...

    def close_without_loop(self) -> int: ...


class Want:
    """An acquirer's need of one slot, met by closing one idle connection for it; the closed socket's slot is its.

    Open (in the budget's queue) until a pool claims it and closes a connection for it; the slot of that socket is
    then granted to the acquirer (:meth:`ConnectionBudget.give_back` with ``heir``), who uses it
    (:meth:`ConnectionBudget.use_grant`) or gives it back when it no longer needs it
    (:meth:`ConnectionBudget.drop_want`). Read and written under the budget's lock.

    Args:
        asker: The pool of the acquirer (its own releases serve it directly, not through the want).
        claimed: Whether a connection is being closed for it already (an acquirer closing its own pool's idle one).
    """

    __slots__ = ("asker", "claimed", "gone", "granted", "waiter")

    def __init__(self, asker: BudgetMember, *, claimed: bool = False) -> None:
        self.asker = asker
        self.claimed = claimed
        # The closed socket's slot is held for the acquirer and not used yet.
        self.granted = False
        # The acquirer no longer waits for it: a slot freed for it goes to the other waiters.
        self.gone = False
        # The future the acquirer waits on now, and its loop: woken when the slot is granted.
        self.waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[bool]] | None = None

    def __repr__(self) -> str:
        return f"Want(claimed={self.claimed}, granted={self.granted}, gone={self.gone})"


class ConnectionBudget:
    """How many connections may be open at once over every event loop's pool of one transport.

    Args:
        limit: The most sockets open at once (the connection cap, clamped to the open-file limit).
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ConfigurationError(f"max_connections must be at least 1, not {limit}: pass a positive cap")
        self.limit = limit
        self._held = 0
        self._lock = threading.Lock()
        # Acquirers waiting for a slot, FIFO, with the loop each one waits on.
        self._waiters: collections.deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[bool]]] = (
            collections.deque())
        self._wants: collections.deque[Want] = collections.deque()
        # Connections being closed because the budget was over its limit, not yet given back.
        self._over_closing = 0
        # Open wants plus the sockets over the limit, read without the lock by every release: a pool keeps a
        # connection idle only while it is 0.
        self.wanted = 0
        self._members: set[BudgetMember] = set()

    def __repr__(self) -> str:
        return (f"ConnectionBudget(limit={self.limit}, held={self._held}, waiting={len(self._waiters)}, "
                f"wanted={self.wanted}, pools={len(self._members)})")

    def _recount(self) -> None:
        # Under the lock, whenever wants or held change.
        self.wanted = len(self._wants) + max(0, self._held - self._over_closing - self.limit)

    @property
    def held(self) -> int:
        """Slots taken now: sockets open or opening over all loops (above ``limit`` only while borrowing)."""
        return self._held

    # --- members ---

    def join(self, member: BudgetMember) -> None:
        """Count ``member``'s connections in this budget (a pool joins when it is made)."""
        with self._lock:
            self._members.add(member)

    def leave(self, member: BudgetMember) -> None:
        """Stop asking ``member`` for idle connections (it closed and gave every slot back)."""
        with self._lock:
            self._members.discard(member)

    def reap_closed_loops(self) -> int:
        """Close the sockets of pools whose event loop is closed and give their slots back; return how many."""
        with self._lock:
            dead = [member for member in self._members if member.loop.is_closed()]
            self._members.difference_update(dead)
        freed = sum(member.close_without_loop() for member in dead)
        if freed:
            self.give_back(freed)
        return freed

    # --- slots ---

    def try_take(self, *, warming: bool = False) -> bool:
        """Take a slot if one is free; one opened ahead of need never takes the slot a waiting acquirer needs."""
        with self._lock:
            if self._held < self.limit and not (warming and self._waiters):
                self._held += 1
                self._recount()
                return True
            return False

    def room_for_warming(self) -> int:
        """How many slots connections opened ahead of need may take now (none while an acquirer waits)."""
        with self._lock:
            return 0 if self._waiters else max(0, self.limit - self._held)

    def take_or_wait(self, loop: asyncio.AbstractEventLoop, waiter: asyncio.Future[bool],
                     want: Want | None = None) -> bool:
        """Take the slot granted to ``want`` or a free one, else queue ``waiter`` (on ``loop``) to be woken with True
        when one frees or is granted to ``want``."""
        with self._lock:
            if want is not None and want.granted:
                want.granted, want.gone = False, True
                return True
            if self._held < self.limit:
                self._held += 1
                self._recount()
                return True
            self._waiters.append((loop, waiter))
            if want is not None:
                want.waiter = (loop, waiter)
            return False

    def use_grant(self, want: Want) -> bool:
        """Take the slot granted to ``want`` (its connection closed), if it was; ``want`` is then done."""
        with self._lock:
            if want.granted:
                want.granted, want.gone = False, True
                return True
            return False

    def withdraw(self, waiter: asyncio.Future[bool]) -> None:
        """Take ``waiter`` out of the queue (it stopped waiting)."""
        with self._lock:
            for index, (_, queued) in enumerate(self._waiters):
                if queued is waiter:
                    del self._waiters[index]
                    return

    def borrow(self) -> None:
        """Take a slot at once, over the limit if need be, for a caller that blocks a running loop."""
        with self._lock:
            self._held += 1
            self._recount()

    def give_back(self, count: int = 1, *, heir: Want | None = None) -> None:
        """Give ``count`` slots back (their sockets are closed) and wake as many waiting acquirers.

        Args:
            count: How many sockets closed.
            heir: The want one socket was closed for: its slot goes to that acquirer, if it still waits.
        """
        with self._lock:
            if heir is not None and not heir.gone and not heir.granted:
                # Handed over, not given back: the count of slots taken does not change.
                heir.granted = True
                waiter, count = heir.waiter, count - 1
                heir.waiter = None
            else:
                waiter = None
            if count:
                self._held -= count
                self._over_closing = max(0, self._over_closing - count)
                self._recount()
        if waiter is not None:
            self._wake_on(*waiter, _wake_heir)
        for _ in range(count):
            self.pass_on()

    def _wake_on(self, loop: asyncio.AbstractEventLoop, waiter: asyncio.Future[bool],
                 wake: Callable[[ConnectionBudget, asyncio.Future[bool]], None]) -> bool:
        # Runs ``wake`` on the waiter's loop; False when that loop is closed (nobody waits there any more).
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is running:
            wake(self, waiter)
            return True
        try:
            loop.call_soon_threadsafe(wake, self, waiter)
        except RuntimeError:
            return False
        return True

    def pass_on(self) -> None:
        """Wake the first waiting acquirer if a slot is free (a woken one that did not take its slot calls this)."""
        while True:
            with self._lock:
                if self._held >= self.limit or not self._waiters:
                    return
                loop, waiter = self._waiters.popleft()
            if self._wake_on(loop, waiter, _wake):
                return

    # --- closing idle connections for another loop ---

    def want(self, asker: BudgetMember) -> Want | None:
        """File a want for one idle connection of another loop to be closed; None when a slot was borrowed instead.

        Every other pool with an idle connection on a running loop is asked to close one (the first to do so
        claims the want); a pool releasing a connection while a want is open closes it instead. When only stopped
        loops have idle connections, one of them is lent (a slot over the limit, taken now) and closed when its
        loop runs again.
        """
        want = Want(asker)
        with self._lock:
            running = [member for member in self._members
                       if member is not asker and not member.closed and member.loop.is_running()
                       and member.idle_count() > 0]
            if running:
                self._wants.append(want)
                self._recount()
                nudged = running
            else:
                lender = self._lender(asker)
                if lender is None:
                    self._wants.append(want)
                    self._recount()
                    return want
                lender.lent += 1
                self._held += 1
                self._recount()
                nudged = [lender]
        for member in nudged:
            with contextlib.suppress(RuntimeError):  # closed since: reaped when next at the cap
                member.loop.call_soon_threadsafe(member.pay_wants)
        return want if running else None

    def borrow_from_stopped(self, asker: BudgetMember, want: Want) -> bool:
        """Take a slot over the limit against an idle connection of a stopped loop, for an unclaimed ``want``.

        For an acquirer that waited while the loops it asked stopped running. Returns whether a slot was taken.
        """
        with self._lock:
            if want.claimed or want not in self._wants:
                return False
            lender = self._lender(asker)
            if lender is None:
                return False
            self._wants.remove(want)
            lender.lent += 1
            self._held += 1
            self._recount()
        with contextlib.suppress(RuntimeError):
            lender.loop.call_soon_threadsafe(lender.pay_wants)
        return True

    def _lender(self, asker: BudgetMember) -> BudgetMember | None:
        # Under the lock: a pool on a stopped (not running, not closed) loop with an idle connection not yet lent.
        for member in self._members:
            if (member is not asker and not member.closed and not member.loop.is_running()
                    and not member.loop.is_closed() and member.idle_count() > member.lent):
                return member
        return None

    def nudge(self, want: Want) -> None:
        """Ask again every running loop's pool with an idle connection to close one for ``want``, if still open.

        For an acquirer whose want no pool served: the pools asked may have had no idle connection left by the time
        they looked (their own acquirers took them), or its loop was stopped when they looked.
        """
        with self._lock:
            if want.claimed or want not in self._wants:
                return
            running = [member for member in self._members
                       if member is not want.asker and not member.closed and member.loop.is_running()
                       and member.idle_count() > 0]
        for member in running:
            with contextlib.suppress(RuntimeError):
                member.loop.call_soon_threadsafe(member.pay_wants)

    def drop_want(self, want: Want) -> None:
        """Done with ``want`` (its acquirer got a connection, or gave up): withdraw it if no pool claimed it yet, and
        give back the slot granted to it if one was and is unused."""
        with self._lock:
            want.gone = True
            want.waiter = None
            if not want.claimed and want in self._wants:
                self._wants.remove(want)
                self._recount()
            granted, want.granted = want.granted, False
            if granted:
                self._held -= 1
                self._recount()
        if granted:
            self.pass_on()

    def claim(self, member: BudgetMember) -> Want | bool:
        """Whether ``member`` should close one idle connection now: it owes one it lent, or the budget is over its
        limit (True), or a want is open (that want: the closed socket's slot is its acquirer's), else False.

        A want whose acquirer's loop is not running is left open: a slot granted to it would sit unused until that
        loop runs again, while the running loops need it.
        """
        with self._lock:
            if member.lent > 0:
                member.lent -= 1
                return True
            if self._held - self._over_closing > self.limit:
                self._over_closing += 1
                self._recount()
                return True
            for index, want in enumerate(self._wants):
                if want.asker is not member and want.asker.loop.is_running():
                    del self._wants[index]
                    want.claimed = True
                    self._recount()
                    return want
            return False


def _wake(budget: ConnectionBudget, waiter: asyncio.Future[bool]) -> None:
    # On the waiter's own loop. A waiter that stopped waiting meanwhile passes the freed slot on.
    if waiter.done():
        budget.pass_on()
    else:
        waiter.set_result(True)


def _wake_heir(budget: ConnectionBudget, waiter: asyncio.Future[bool]) -> None:
    # On the waiter's own loop. A waiter that stopped waiting meanwhile finds the slot granted when it looks again,
    # or gives it back (drop_want): nothing to pass on here.
    if not waiter.done():
        waiter.set_result(True)


__all__ = ["BudgetMember", "ConnectionBudget", "Want"]
