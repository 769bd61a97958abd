"""What the provider's answers say about its limits, and what the engine remembers of them.

This module owns the reading of every answer for flow control: the rate-limit headers of successes and 429s
(:mod:`sharedlm._flow._limit_headers`) size the budgets (:class:`~sharedlm._flow._learned_budgets.LearnedBudgets`);
a 429's wait is read from its headers, then from its message or body (:mod:`sharedlm._flow._retry_body`), then
from an exhausted limit's reset; and what was learned is written to the deployment's memory file
(:class:`~sharedlm._flow._memory.Memory`) whenever it changes.

A 429 that comes with an exhausted limit in its headers is a *rate* event: the budgets, now sized from those
headers, pace it, and the in-flight limit is left alone. Only a 429 without that evidence says the provider is
short of capacity (see :mod:`sharedlm._flow._capacity`).

Reading is on every answer's path, so a success whose headers hold no rate-limit header costs one pass over the
header names and nothing else.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable

from sharedlm._flow._learned_budgets import LearnedBudgets
from sharedlm._flow._limit_headers import LimitReport, parse_limit_headers
from sharedlm._flow._memory import Learned, Memory
from sharedlm._flow._retry_after import parse_retry_after
from sharedlm._flow._retry_body import parse_body_retry_hint

_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-")
# Only names starting like a rate-limit header are lowered and compared: most headers are skipped at two characters.
_HEADS = frozenset({"x-", "X-", "an", "An", "AN"})
# Memory is written at most this often: a burst of 429s refines the capacity many times in a second.
MEMORY_INTERVAL_S = 5.0


def _has_limit_headers(headers: Iterable[tuple[str, str]]) -> bool:
    for name, _ in headers:  # noqa: SIM110 - a plain loop: this runs on every answer, any() costs a generator
        if name[:2] in _HEADS and name.lower().startswith(_PREFIXES):
            return True
    return False


class ProviderSignals:
    """The budgets learned from one provider's answers, its retry hints, and the memory of both.

    Args:
        rpm: The configured request budget per minute, share applied, or None.
        tpm: The configured token budget per minute, share applied, or None.
        share: This process's part of the account (``budget_share``).
        clock: Monotonic seconds.
        window_seconds: The budgets' guarantee window.
        max_retry_after: The longest wait any hint may impose, in seconds.
        memory: The deployment's memory file, or None to remember nothing.
        wall_clock: Seconds since the epoch (RFC 3339 resets and HTTP-dates are measured from it).
    """

    def __init__(self, *, rpm: float | None, tpm: float | None, share: float, clock: Callable[[], float],
                 window_seconds: float, max_retry_after: float, memory: Memory | None = None,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._wall_clock = wall_clock
        self._max_retry_after = max_retry_after
        self.memory = memory
        learned = memory.load() if memory is not None else None
        self.remembered: Learned | None = learned
        self.budgets = LearnedBudgets(rpm=rpm, tpm=tpm, share=share, clock=clock, window_seconds=window_seconds,
                                      learned_rpm=learned.rpm if learned else None,
                                      learned_tpm=learned.tpm if learned else None)
        self._capacity: int | None = learned.capacity if learned else None
        self._accepted: int | None = learned.accepted if learned else None
        self._saved_at = -math.inf
        self._dirty = False

    def __repr__(self) -> str:
        return f"ProviderSignals(budgets={self.budgets!r}, capacity={self._capacity}, memory={self.memory!r})"

    def on_answer(self, headers: Iterable[tuple[str, str]]) -> bool:
        """Read a successful answer's headers; return whether a budget was created or resized."""
        if not headers or not _has_limit_headers(headers):
            return False
        return self._observe(self._report(headers))

    def on_rate_limited(self, headers: Iterable[tuple[str, str]]) -> tuple[LimitReport, bool]:
        """Read a 429's headers: what they report, and whether a budget was created or resized."""
        if not headers or not _has_limit_headers(headers):
            return LimitReport(), False
        report = self._report(headers)
        return report, self._observe(report)

    def _report(self, headers: Iterable[tuple[str, str]]) -> LimitReport:
        return parse_limit_headers(list(headers), now_epoch=self._wall_clock())

    def _observe(self, report: LimitReport) -> bool:
        changed = self.budgets.observe(report)
        if changed:
            self._dirty = True
            self.remember(self._capacity)
        return changed

    def retry_hint(self, headers: list[tuple[str, str]], *, message: str | None = None,
                   hint: float | None = None, tokens: int = 0) -> float | None:
        """How long the provider asked this request to wait, or None when it did not say.

        In order: ``retry-after-ms`` / ``Retry-After`` headers; a hint already read from the error (``hint``);
        the words or ``RetryInfo`` of the error's message or body; the reset of a limit the headers report
        exhausted. Every hint is clamped to ``max_retry_after``.

        Args:
            headers: The failed answer's headers.
            message: The error's message or body, if any.
            hint: A retry hint the provider layer already read, if any.
            tokens: The request's token estimate, for an exhausted token limit.
        """
        told = parse_retry_after(headers, now_epoch=self._wall_clock(), max_delay=self._max_retry_after)
        if told is None and hint is not None and hint >= 0 and math.isfinite(hint):
            told = min(float(hint), self._max_retry_after)
        if told is None and message:
            told = parse_body_retry_hint(message, max_delay=self._max_retry_after)
        if told is None and headers and _has_limit_headers(headers):
            reset = self._report(headers).retry_hint(tokens)
            if reset is not None:
                told = min(reset, self._max_retry_after)
        return told

    def remember(self, capacity: int | None) -> None:
        """Note the capacity estimate; write the memory file when something changed, at most every few seconds.

        Args:
            capacity: The in-flight capacity as last estimated, or None.
        """
        if capacity != self._capacity:
            self._capacity = capacity
            self._dirty = True
        if not self._dirty or self.memory is None:
            return
        now = self._clock()
        if now - self._saved_at < MEMORY_INTERVAL_S:
            return
        self._saved_at = now
        self._dirty = False
        learned = self.budgets.learned
        # Once the provider refused, its capacity estimate is what the next run starts from, not what it once took.
        accepted = self._accepted if self._capacity is None else None
        self.memory.save(Learned(capacity=self._capacity, rpm=learned["requests"], tpm=learned["tokens"],
                                 accepted=accepted))

    def note_accepted(self, in_flight: int) -> None:
        """Note that the provider had ``in_flight`` requests at once without refusing any (saved with the rest).

        Args:
            in_flight: The most requests in flight at once this run, all of them accepted.
        """
        if in_flight > (self._accepted or 0):
            self._accepted = in_flight
            self._dirty = True

    def flush(self) -> None:
        """Write what is pending now, whatever the interval."""
        self._saved_at = -math.inf
        self.remember(self._capacity)


__all__ = ["MEMORY_INTERVAL_S", "ProviderSignals"]
