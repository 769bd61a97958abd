"""Request and token budgets sized from what the provider reports, with a configured rpm/tpm as the upper bound.

This module owns one decision: given the limits an answer's headers reported (:mod:`sharedlm._flow._limit_headers`)
and what the user configured, how large is each :class:`~sharedlm._flow._budget.RateBudget`? Nothing configured,
a provider that reports its limits gets budgets of exactly those limits (times ``budget_share``, the process's
part of the account) from the first answer on; a configured ``rpm``/``tpm`` is never exceeded; a limit that
changes (a new tier, a reset of the account) resizes the budget when it moves by more than
``RESIZE_TOLERANCE``, so the small jitter of a refill rate computed from rounded resets does not churn it.

When a budget is first created mid-run, what the provider says was already used in its window
(``limit - remaining``) is booked at once: those sends were made before there was a budget to book them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sharedlm._flow._budget import RateBudget
from sharedlm._flow._limit_headers import LimitReading, LimitReport

# A learned limit that moves by less than this fraction leaves the budget as it is.
RESIZE_TOLERANCE = 0.05


class LearnedBudgets:
    """The request and token budgets of one process, configured, learned from headers, or both.

    Args:
        rpm: The configured request budget per minute (this process's share already applied), or None.
        tpm: The configured token budget per minute (share applied), or None.
        share: This process's fraction of the account (``budget_share``), applied to learned limits.
        clock: Monotonic seconds, for the budgets.
        window_seconds: The budgets' guarantee window (see :class:`RateBudget`).
        learned_rpm: An account request limit per minute remembered from an earlier run, or None.
        learned_tpm: An account token limit per minute remembered from an earlier run, or None.
    """

    def __init__(self, *, rpm: float | None, tpm: float | None, share: float, clock: Callable[[], float],
                 window_seconds: float, learned_rpm: float | None = None, learned_tpm: float | None = None) -> None:
        self._configured = {"requests": rpm, "tokens": tpm}
        self._share = share
        self._clock = clock
        self._window = window_seconds
        self._lock = threading.Lock()
        self.learned: dict[str, float | None] = {"requests": learned_rpm, "tokens": learned_tpm}
        self.requests = self._build("requests")
        self.tokens = self._build("tokens")

    def __repr__(self) -> str:
        return (f"LearnedBudgets(configured={self._configured}, learned={self.learned}, "
                f"requests={self.requests!r}, tokens={self.tokens!r})")

    def _target(self, kind: str) -> float | None:
        configured = self._configured[kind]
        learned = self.learned[kind]
        if learned is None:
            return configured
        mine = learned * self._share
        return mine if configured is None else min(configured, mine)

    def _build(self, kind: str) -> RateBudget | None:
        target = self._target(kind)
        if target is None:
            return None
        return RateBudget(per_minute=target, clock=self._clock, name=kind, window_seconds=self._window)

    def observe(self, report: LimitReport) -> bool:
        """Size the budgets from one answer's reported limits; return whether a budget was created or resized.

        Args:
            report: What the answer's headers said (an empty report changes nothing).
        """
        if report.empty:
            return False
        changed = False
        for kind, reading in (("requests", report.requests), ("tokens", report.token_limit)):
            if reading is not None:
                changed = self._observe(kind, reading) or changed
        return changed

    def adopt(self, kind: str, per_minute: float) -> bool:
        """Take the account's limit per minute that another process learned (published through a shared budget).

        The same rules as a limit read from headers apply (the configured budget bounds it, small moves are
        ignored); nothing is booked for the window's earlier sends: the shared budget counts them.

        Args:
            kind: ``requests`` or ``tokens``.
            per_minute: The account's limit per minute.

        Returns:
            Whether a budget was created or resized.
        """
        if kind not in self.learned or not per_minute > 0:
            return False
        return self._learn(kind, float(per_minute), None)

    def _observe(self, kind: str, reading: LimitReading) -> bool:
        return self._learn(kind, reading.per_minute, reading)

    def _learn(self, kind: str, learned: float, reading: LimitReading | None) -> bool:
        with self._lock:
            before = self.learned[kind]
            if before is not None and abs(learned - before) <= RESIZE_TOLERANCE * before:
                return False
            self.learned[kind] = learned
            target = self._target(kind)
            assert target is not None
            budget: RateBudget | None = getattr(self, kind)
            if budget is None:
                budget = RateBudget(per_minute=target, clock=self._clock, name=kind, window_seconds=self._window)
                if reading is not None and reading.remaining is not None:
                    # What the provider already counted in its window, in this budget's per-minute units.
                    used = (reading.limit - reading.remaining) * (learned / reading.limit) * self._share
                    if used > 0:
                        budget.refund(-min(used, target))
                setattr(self, kind, budget)
                return True
            if abs(target - budget.per_minute) <= RESIZE_TOLERANCE * budget.per_minute:
                return False
            budget.resize(target)
            return True


__all__ = ["RESIZE_TOLERANCE", "LearnedBudgets"]
