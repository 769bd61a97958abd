"""Counters of the shared engine and the snapshot :func:`sharedlm.stats` returns."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, kw_only=True)
class EngineStats:
    """A snapshot of the shared engine.

    Args:
        calls: Calls the engine accepted (one per DSPy LM call that reached the engine).
        calls_succeeded: Calls that returned a response.
        calls_failed: Calls that raised (after retries where they applied).
        requests_sent: HTTP attempts sent to the provider, retries included.
        retries: Attempts beyond the first of each call.
        rate_limited: Attempts the provider answered with 429.
        errors_by_kind: Failed attempts by error class name.
        in_flight: Attempts holding an in-flight slot now.
        peak_in_flight: The most attempts in flight at once so far.
        queued: Calls waiting for an in-flight slot now.
        waits: Calls that had to wait for a slot so far.
        limit: The in-flight limit now (moves under adaptive concurrency).
        peak_limit: The highest in-flight limit so far.
        cap: The ceiling of the limit: ``max_parallel_requests`` clamped to the open-file limit.
        cpu_ceiling: The ceiling the process's own CPU sets on the limit while it is the bottleneck (a fast
            provider), or None with flow control off.
        cpu_steps_down: Times a CPU-bound round lowered ``cpu_ceiling``.
        open_connections: Pooled connections open now, over all event loops.
        connections_opened: Connections opened since the engine was built.
        connections_warmed: Connections started ahead of need while the first window held calls back; they are
            among ``connections_opened`` once open.
        pauses: Times a provider's ``Retry-After`` paused new sends.
        tokens_reserved: Tokens booked against the token budget before sending (estimates).
        tokens_used: Prompt plus completion tokens the provider reported.
        prompt_tokens: Prompt tokens the provider reported.
        completion_tokens: Completion tokens the provider reported.
        cost_usd: USD the successful calls cost at the model's price (DSPy's bundled metadata, or a ``--price``),
            as plain DSPy prices them; None when a call could not be priced (unknown is never shown as 0).
        cost_known: Whether every successful call so far had a price.
        lease_held: In-flight slots this process holds now of a shared budget (a Ray job's coordinator, or Redis
            at ``SHAREDLM_BUDGET_URL``); 0 without one.
        budget_owner: Who holds the in-flight budget: ``this process``, or the shared budget's coordinator.
        models: Each model's own snapshot by model string, when the process has built shared LMs (the default
            model included); empty in a model's own snapshot. The snapshot's other fields are then totals over
            the models; with several models, ``peak_in_flight`` and ``peak_limit`` are the sums of the models'
            peaks (an upper bound: they need not have peaked together), ``cpu_ceiling`` is the default model's,
            and ``cap``, ``open_connections`` and ``connections_opened`` are the process's one pool.
    """

    calls: int = 0
    calls_succeeded: int = 0
    calls_failed: int = 0
    requests_sent: int = 0
    retries: int = 0
    rate_limited: int = 0
    errors_by_kind: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0
    peak_in_flight: int = 0
    queued: int = 0
    waits: int = 0
    limit: int = 0
    peak_limit: int = 0
    cap: int = 0
    cpu_ceiling: int | None = None
    cpu_steps_down: int = 0
    open_connections: int = 0
    connections_opened: int = 0
    connections_warmed: int = 0
    pauses: int = 0
    tokens_reserved: int = 0
    tokens_used: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = 0.0
    cost_known: bool = True
    lease_held: int = 0
    budget_owner: str = "this process"
    models: dict[str, EngineStats] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The snapshot as plain JSON-ready data."""
        return asdict(self)


_SUMMED = ("calls", "calls_succeeded", "calls_failed", "requests_sent", "retries", "rate_limited", "in_flight",
           "peak_in_flight", "queued", "waits", "limit", "peak_limit", "cpu_steps_down", "connections_warmed", "pauses",
           "tokens_reserved", "tokens_used", "prompt_tokens", "completion_tokens", "lease_held")


def combine_stats(per_model: dict[str, EngineStats], *, cap: int, open_connections: int, connections_opened: int,
                  default: str | None) -> EngineStats:
    """The process's snapshot: totals over ``per_model``, which it keeps in ``models``.

    Args:
        per_model: Each model's own snapshot by model string.
        cap: The process's connection cap.
        open_connections: Connections open now in the process's one pool, over all event loops.
        connections_opened: Connections that pool has opened so far.
        default: The default model, whose CPU ceiling and budget owner the totals show.
    """
    snapshots = list(per_model.values())
    totals: dict[str, Any] = {name: sum(getattr(s, name) for s in snapshots) for name in _SUMMED}
    errors: Counter[str] = Counter()
    for snapshot in snapshots:
        errors.update(snapshot.errors_by_kind)
    known = all(s.cost_known and s.cost_usd is not None for s in snapshots)
    lead = per_model.get(default or "") or snapshots[0]
    return EngineStats(
        **totals,
        errors_by_kind=dict(errors),
        cap=cap,
        cpu_ceiling=lead.cpu_ceiling,
        open_connections=open_connections,
        connections_opened=connections_opened,
        cost_usd=sum(s.cost_usd or 0.0 for s in snapshots) if known else None,
        cost_known=known,
        budget_owner=lead.budget_owner,
        models=dict(per_model),
    )


class EngineCounters:
    """Monotonic counters the engine bumps on its hot path; safe across threads."""

    __slots__ = ("_errors", "_lock", "calls", "calls_failed", "calls_succeeded", "completion_tokens",
                 "prompt_tokens", "rate_limited", "requests_sent", "retries", "tokens_reserved")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._errors: Counter[str] = Counter()
        self.calls = 0
        self.calls_succeeded = 0
        self.calls_failed = 0
        self.requests_sent = 0
        self.retries = 0
        self.rate_limited = 0
        self.tokens_reserved = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0

    def call_started(self) -> None:
        with self._lock:
            self.calls += 1

    def attempt_sent(self, reserved_tokens: int) -> None:
        with self._lock:
            self.requests_sent += 1
            self.tokens_reserved += reserved_tokens

    def succeeded(self, prompt_tokens: int, completion_tokens: int) -> None:
        with self._lock:
            self.calls_succeeded += 1
            self.prompt_tokens += prompt_tokens
            self.completion_tokens += completion_tokens

    def attempt_failed(self, kind: str, *, rate_limited: bool, will_retry: bool) -> None:
        with self._lock:
            self._errors[kind] += 1
            if rate_limited:
                self.rate_limited += 1
            if will_retry:
                self.retries += 1

    def call_failed(self) -> None:
        with self._lock:
            self.calls_failed += 1

    def errors_by_kind(self) -> dict[str, int]:
        with self._lock:
            return dict(self._errors)


__all__ = ["EngineCounters", "EngineStats", "combine_stats"]
