"""The job-wide budgets of a Ray run, held by one actor and leased to the workers in blocks.

:class:`BudgetCoordinator` is a Ray actor around :class:`~sharedlm._lease.LeaseLedger`; :class:`RayBudgetSource`
is how a worker reaches it (a picklable actor handle). Each worker installs the source before it builds its
shared LM (:func:`sharedlm._lease.install_shared_budget`), so its engine's gate leases its slots from the
coordinator: the whole budget serves the workers that have rows, a worker that goes idle gives back all but one
block, and a worker that dies (or whose node does) stops renewing and loses its lease after ``lease_s``.

The coordinator also keeps the books of the job's request and token budgets per minute, one
:class:`~sharedlm._shared_rate.RateLedger` per deployment and kind (:class:`RayRateSources`): each worker draws
on them in grants of up to a second of the rate, so the whole rpm/tpm serves the workers that have rows.

A worker asks the coordinator only when its lease or grant runs low, never once per call; see
:mod:`sharedlm._lease` and :mod:`sharedlm._shared_rate` for the protocols. Nothing here imports Ray: the
driver wraps the class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sharedlm._lease import DEFAULT_LEASE_S, LeaseLedger
from sharedlm._shared_rate import RateGrant, RateLedger

# Blocks per worker the budget is cut into: small blocks let an idle worker keep little (one block), large ones
# mean fewer calls to the coordinator. With 8, idle workers keep at most 1/8 of their even share.
BLOCKS_PER_WORKER = 8
# How long a worker waits for the coordinator's answer to a request for a rate grant.
RATE_GRANT_TIMEOUT_S = 30.0


def lease_block(total: int, workers: int) -> int:
    """Slots a worker leases at a time for a budget of ``total`` over ``workers`` workers.

    Args:
        total: The job's in-flight budget.
        workers: How many workers share it.
    """
    return max(1, total // (BLOCKS_PER_WORKER * max(1, workers)))


class BudgetCoordinator:
    """A Ray actor holding the job's in-flight budget.

    Args:
        total: The job's in-flight budget (its ``max_parallel_requests``).
        lease_s: A worker that has not renewed for this long loses its lease.
    """

    def __init__(self, total: int, lease_s: float = DEFAULT_LEASE_S) -> None:
        self.ledger = LeaseLedger(total, lease_s=lease_s)
        self.rates: dict[tuple[str, str], RateLedger] = {}

    def __repr__(self) -> str:
        return f"BudgetCoordinator({self.ledger!r})"

    def grant(self, holder: str, want: int) -> int:
        return self.ledger.grant(holder, want)

    def give_back(self, holder: str, slots: int) -> None:
        self.ledger.give_back(holder, slots)

    def renew(self, holder: str) -> int:
        return self.ledger.renew(holder)

    def rate_grant(self, deployment: str, kind: str,
                   request: dict[str, Any]) -> tuple[float, int, float, float | None]:
        """A grant of ``deployment``'s ``kind`` budget per minute (see :meth:`RateLedger.grant`), as a plain tuple."""
        grant = self._rates(deployment, kind).grant(**request)
        return grant.granted, grant.grant_id, grant.wait, grant.published

    def rate_give_back(self, deployment: str, kind: str, now: float, credits: dict[int, float]) -> None:
        self._rates(deployment, kind).give_back(now=now, credits=credits)

    def _rates(self, deployment: str, kind: str) -> RateLedger:
        ledger = self.rates.get((deployment, kind))
        if ledger is None:
            ledger = self.rates[(deployment, kind)] = RateLedger()
        return ledger

    def snapshot(self) -> dict[str, Any]:
        """The budget, what is free, what each worker holds, slots taken back from lost workers, and rates used."""
        self.ledger.expire()
        rates_used = {f"{deployment} {kind}": ledger.used for (deployment, kind), ledger in self.rates.items()}
        return {"total": self.ledger.total, "free": self.ledger.free, "holdings": self.ledger.holdings(),
                "expired": self.ledger.expired, "rates_used": rates_used}


@dataclass(frozen=True)
class RayBudgetSource:
    """A worker's way to the coordinator actor (sent to workers inside their setup).

    Args:
        actor: The coordinator's actor handle.
        owner: Who holds the budget, as ``sharedlm.stats()`` shows it.
    """

    actor: Any
    owner: str

    async def grant(self, holder: str, want: int) -> int:
        return int(await self.actor.grant.remote(holder, want))

    async def give_back(self, holder: str, slots: int) -> None:
        await self.actor.give_back.remote(holder, slots)

    async def renew(self, holder: str) -> int:
        return int(await self.actor.renew.remote(holder))

    def give_back_now(self, holder: str, slots: int) -> None:
        self.actor.give_back.remote(holder, slots)  # a message, not awaited: a worker shutting down moves on


@dataclass(frozen=True)
class RayRateSource:
    """A worker's way to one rate budget's books at the coordinator (a :class:`~sharedlm._shared_rate.RateSource`).

    Called from a worker thread (:class:`~sharedlm._shared_rate.SharedRate` asks off the event loop), so it may
    wait for the actor's answer.

    Args:
        actor: The coordinator's actor handle.
        deployment: The deployment the budget belongs to.
        kind: ``requests`` or ``tokens``.
        owner: Who holds the budget.
    """

    actor: Any
    deployment: str
    kind: str
    owner: str

    def grant_now(self, *, now: float, need: float, want: float, per_minute: float, window_s: float,
                  burst_s: float, credits: dict[int, float], learned: float | None) -> RateGrant:
        request = {"now": now, "need": need, "want": want, "per_minute": per_minute, "window_s": window_s,
                   "burst_s": burst_s, "credits": credits, "learned": learned}
        answer = self.actor.rate_grant.remote(self.deployment, self.kind, request).future()
        granted, grant_id, wait, published = answer.result(timeout=RATE_GRANT_TIMEOUT_S)
        return RateGrant(granted=granted, grant_id=grant_id, wait=wait, published=published)

    def give_back_now(self, *, now: float, credits: dict[int, float]) -> None:
        self.actor.rate_give_back.remote(self.deployment, self.kind, now, credits)  # a message, not awaited


@dataclass(frozen=True)
class RayRateSources:
    """The coordinator's rate books, as workers reach them (sent to workers inside their setup).

    Args:
        actor: The coordinator's actor handle.
        owner: Who holds the budgets.
    """

    actor: Any
    owner: str

    def source(self, deployment: str, kind: str) -> RayRateSource:
        return RayRateSource(self.actor, deployment, kind, self.owner)


__all__ = ["BLOCKS_PER_WORKER", "BudgetCoordinator", "RayBudgetSource", "RayRateSource", "RayRateSources",
           "lease_block"]
