"""What the Ray driver does when a worker dies: which rows go out again, which run alone, which are given up.

Pure bookkeeping, no Ray and no event loop, so each rule is tested on its own
(:class:`~sharedlm.runner._ray._runner.RayRowRunner` applies the decisions):

- a worker that dies loses only the rows whose results had not come back. Most deaths are not a row's fault
  (a killed process, a lost node), so after its first death a row goes out again like any other;
- from its :data:`ISOLATE_AFTER_DEATHS`-th death on, a row runs alone on an idle worker, so a row that crashes
  every worker it runs on is found without taking other rows down with it; while such a row waits, the least
  busy worker takes no new rows, so it becomes idle and can take it;
- at its :data:`MAX_WORKER_DEATHS_PER_ROW`-th death a row is given up on: it is written as an error row, so every
  row still ends up in the output exactly once;
- a dead worker is replaced, up to :data:`REPLACEMENTS_PER_WORKER` replacements per worker the run began with.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

MAX_WORKER_DEATHS_PER_ROW = 3
ISOLATE_AFTER_DEATHS = 2
REPLACEMENTS_PER_WORKER = 3


class RowFate(enum.Enum):
    """What happens to a row whose worker died under it."""

    AGAIN = "again"  # sent again, with other rows
    ALONE = "alone"  # sent again, alone, to an idle worker
    GIVE_UP = "give up"  # written as an error row


class WorkerState(Protocol):
    """What dispatch decisions read of one worker."""

    @property
    def ready(self) -> bool:
        """The worker is up and can take rows."""

    @property
    def isolating(self) -> bool:
        """The worker runs a suspect row alone and takes nothing else until it is back."""

    @property
    def outstanding(self) -> int:
        """Rows sent to the worker whose results have not come back."""


W = TypeVar("W", bound=WorkerState)


@dataclass(frozen=True)
class Dispatch(Generic[W]):
    """Where the next rows go.

    Args:
        alone: The idle worker that gets the next suspect row, alone; or None.
        rows: The worker that gets the next chunk of ordinary rows (when ``alone`` is None); or None.
    """

    alone: W | None = None
    rows: W | None = None


class RedeliveryPolicy:
    """Counts each row's worker deaths and the replacements left, and decides what comes next.

    Args:
        workers: Workers the run began with.
        max_deaths: A row is given up on at this many deaths.
        isolate_after: From this many deaths on, a row runs alone.
        replacements_per_worker: Replacements the run may start, per worker it began with.
    """

    def __init__(self, *, workers: int, max_deaths: int = MAX_WORKER_DEATHS_PER_ROW,
                 isolate_after: int = ISOLATE_AFTER_DEATHS,
                 replacements_per_worker: int = REPLACEMENTS_PER_WORKER) -> None:
        if not 1 <= isolate_after <= max_deaths:
            raise ValueError(f"need 1 <= isolate_after <= max_deaths, got {isolate_after} and {max_deaths}")
        self.max_deaths = max_deaths
        self.isolate_after = isolate_after
        self.replacements_left = replacements_per_worker * workers
        self.replaced = 0
        self._deaths: dict[str, int] = {}

    def __repr__(self) -> str:
        return (f"RedeliveryPolicy(rows_with_deaths={len(self._deaths)}, replaced={self.replaced}, "
                f"replacements_left={self.replacements_left})")

    def deaths(self, key: str) -> int:
        """How many workers died while running the row with id key ``key``."""
        return self._deaths.get(key, 0)

    def row_lost(self, key: str) -> RowFate:
        """Count one more death under the row with id key ``key`` and say what happens to it.

        Args:
            key: The row's id key.
        """
        deaths = self._deaths.get(key, 0) + 1
        self._deaths[key] = deaths
        if deaths >= self.max_deaths:
            return RowFate.GIVE_UP
        if deaths >= self.isolate_after:
            return RowFate.ALONE
        return RowFate.AGAIN

    def take_replacement(self) -> bool:
        """Whether a dead worker may be replaced (using up one replacement when it may)."""
        if self.replacements_left <= 0:
            return False
        self.replacements_left -= 1
        self.replaced += 1
        return True

    @staticmethod
    def dispatch(workers: Sequence[W], *, suspects_waiting: bool) -> Dispatch[W]:
        """Which worker the next rows go to.

        Args:
            workers: Every worker of the run.
            suspects_waiting: Some row waits to run alone.
        """
        ready = [worker for worker in workers if worker.ready and not worker.isolating]
        if suspects_waiting and ready:
            idle = next((worker for worker in ready if worker.outstanding == 0), None)
            if idle is not None:
                return Dispatch(alone=idle)
            # The least busy worker takes no new rows until it is idle and can run a suspect alone.
            reserved = min(ready, key=lambda worker: worker.outstanding)
            ready = [worker for worker in ready if worker is not reserved]
        return Dispatch(rows=min(ready, key=lambda worker: worker.outstanding, default=None))


__all__ = [
    "ISOLATE_AFTER_DEATHS",
    "MAX_WORKER_DEATHS_PER_ROW",
    "REPLACEMENTS_PER_WORKER",
    "Dispatch",
    "RedeliveryPolicy",
    "RowFate",
    "WorkerState",
]
