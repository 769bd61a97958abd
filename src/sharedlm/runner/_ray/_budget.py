"""One budget for a whole Ray job: each worker gets a fixed 1/N share of the job's limits.

The job's limits are the driver's resolved settings: ``max_parallel_requests`` (requests in flight), and the
requests- and tokens-per-minute budgets (``rpm``/``tpm`` times ``budget_share``). With N workers, each
worker's shared LM is configured with

- ``max_parallel_requests // N`` (rounded down, so the sum never exceeds the job's cap);
- ``budget_share / N`` (each worker paces itself to 1/N of the job's rpm and tpm);
- ``initial_concurrency // N`` and ``min_concurrency`` no higher than its cap, for the adaptive limit.

Why a split rather than one budget actor that every worker asks before each call: the split needs no extra
round trip (a Ray actor call costs about a millisecond of latency and a fraction of a millisecond of CPU on
both ends, per LM call, which is as much as a CPU-bound program spends on a whole call) and no actor that could
become a bottleneck or a single point of failure. Its cost: a share cannot be lent, so a worker that is idle
(at the end of a job, or with cheaper rows) leaves part of the budget unused while another waits on its own,
and each worker's adaptive limit reacts to 429s on its own. The driver streams rows to whichever worker has
room, which keeps workers evenly busy, so the unused part is small except in a job's last seconds.

With ``RayPlan(shared_budget=True)`` nothing is split: the in-flight cap is leased in blocks from one
coordinator actor (:mod:`sharedlm.runner._ray._coordinator`), and every worker's rpm/tpm budgets draw on the
coordinator's books in grants (:mod:`sharedlm._shared_rate`), still with no round trip per call: a worker asks
only when its lease or grant runs low.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from sharedlm._errors import UsageError
from sharedlm._settings import FlowSettings, SharedLMSettings


def worker_settings(settings: SharedLMSettings, workers: int, *, leased_in_flight: bool = False) -> SharedLMSettings:
    """One worker's share of the job's settings.

    Args:
        settings: The job's settings, as the driver resolved them.
        workers: How many workers share them.
        leased_in_flight: The job's budgets are held by one coordinator
            (:mod:`sharedlm.runner._ray._coordinator`), not split: each worker keeps the job's cap, rpm and tpm
            as its own ceilings, and the coordinator bounds them all together.
    """
    if workers < 1:
        raise UsageError(f"workers must be >= 1, got {workers}")
    if workers == 1:
        return settings
    if leased_in_flight:
        return settings
    if settings.max_parallel_requests < workers:
        raise UsageError(
            f"max_parallel_requests {settings.max_parallel_requests} cannot be shared by {workers} workers (each "
            "needs at least one request in flight): raise SHAREDLM_MAX_PARALLEL_REQUESTS or use fewer --workers"
        )
    flow = settings.flow
    cap = settings.max_parallel_requests // workers
    changes: dict[str, Any] = {
        "max_parallel_requests": cap,
        "budget_share": flow.budget_share / workers,
        "min_concurrency": min(flow.min_concurrency, cap),
    }
    if flow.initial_concurrency is not None:
        changes["initial_concurrency"] = max(1, min(flow.initial_concurrency // workers, cap))
    return settings.with_changes(**changes)


def configure_arguments(settings: SharedLMSettings) -> dict[str, Any]:
    """The ``sharedlm.configure`` keyword arguments that rebuild ``settings`` in another process.

    Arguments that are None are left out, as ``configure`` ignores them; the worker checks that the settings it
    ends up with equal ``settings`` (its environment could fill a field the driver left unset).

    Args:
        settings: The settings to rebuild.
    """
    arguments: dict[str, Any] = {
        "model": settings.model,
        "api_key": settings.api_key,
        "api_base": settings.api_base,
        "max_parallel_requests": settings.max_parallel_requests,
        "timeout": settings.timeout,
        "connect_timeout": settings.connect_timeout,
        "fd_reserve": settings.fd_reserve,
        **{field.name: getattr(settings.flow, field.name) for field in fields(FlowSettings)},
        "lm_kwargs": dict(settings.lm_kwargs),
    }
    return {name: value for name, value in arguments.items() if value is not None}


def differing_fields(expected: SharedLMSettings, actual: SharedLMSettings) -> list[str]:
    """Names of the settings (flow settings by their own name) that differ; never their values.

    Args:
        expected: The settings the driver sent.
        actual: The settings the worker ended up with.
    """
    names = [f.name for f in fields(SharedLMSettings) if f.name != "flow"
             and getattr(expected, f.name) != getattr(actual, f.name)]
    names += [f.name for f in fields(FlowSettings) if getattr(expected.flow, f.name) != getattr(actual.flow, f.name)]
    return names


__all__ = ["configure_arguments", "differing_fields", "worker_settings"]
