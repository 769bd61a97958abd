"""The job-wide in-flight budget of a Ray run, held by one actor and leased to the workers in blocks.

:class:`BudgetCoordinator` is a Ray actor around :class:`~sharedlm._lease.LeaseLedger`; :class:`RayBudgetSource`
is how a worker reaches it (a picklable actor handle). Each worker installs the source before it builds its
shared LM (:func:`sharedlm._lease.install_shared_budget`), so its engine's gate leases its slots from the
coordinator: the whole budget serves the workers that have rows, a worker that goes idle gives back all but one
block, and a worker that dies (or whose node does) stops renewing and loses its lease after ``lease_s``.

A worker asks the coordinator only when its lease runs low, ahead of need, never once per call; see
:mod:`sharedlm._lease` for the protocol. Nothing here imports Ray: the driver wraps the class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sharedlm._lease import DEFAULT_LEASE_S, LeaseLedger

# Blocks per worker the budget is cut into: small blocks let an idle worker keep little (one block), large ones
# mean fewer calls to the coordinator. With 8, idle workers keep at most 1/8 of their even share.
BLOCKS_PER_WORKER = 8


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

    def __repr__(self) -> str:
        return f"BudgetCoordinator({self.ledger!r})"

    def grant(self, holder: str, want: int) -> int:
        return self.ledger.grant(holder, want)

    def give_back(self, holder: str, slots: int) -> None:
        self.ledger.give_back(holder, slots)

    def renew(self, holder: str) -> int:
        return self.ledger.renew(holder)

    def snapshot(self) -> dict[str, Any]:
        """The budget, what is free, what each worker holds, and slots taken back from lost workers."""
        self.ledger.expire()
        return {"total": self.ledger.total, "free": self.ledger.free, "holdings": self.ledger.holdings(),
                "expired": self.ledger.expired}


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


__all__ = ["BLOCKS_PER_WORKER", "BudgetCoordinator", "RayBudgetSource", "lease_block"]
