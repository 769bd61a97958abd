"""Sizing the connection cap to the process's open-file limit.

Each pooled connection is one file descriptor. A cap above what the open-file limit allows turns a burst
of concurrent workflows into ``OSError(24, 'Too many open files')``; so the cap is clamped, once, when the
shared engine is built: the soft limit is raised toward the hard limit when that helps, a reserve is kept
for the rest of the program, and the decision is logged once.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

logger = logging.getLogger("sharedlm")

try:  # `resource` is POSIX-only; elsewhere the cap is taken as requested.
    import resource
except ImportError:  # pragma: no cover - exercised only on Windows
    resource = None  # type: ignore[assignment]


@dataclass(frozen=True, kw_only=True)
class ConnectionCapPlan:
    """What the open-file limit allows.

    Args:
        requested: The cap that was asked for (``max_parallel_requests``).
        cap: The cap that will be used.
        soft_limit: The soft open-file limit after any raise (None when unknown).
        hard_limit: The hard open-file limit (None when unknown or unlimited).
        open_now: Descriptors already open when the plan was made.
        reserve: Descriptors kept free for the rest of the program.
        raised_soft_limit: Whether the soft limit was raised.
    """

    requested: int
    cap: int
    soft_limit: int | None
    hard_limit: int | None
    open_now: int
    reserve: int
    raised_soft_limit: bool

    @property
    def clamped(self) -> bool:
        """Whether the cap is below what was requested."""
        return self.cap < self.requested

    def describe(self) -> str:
        """One line for the log."""
        limit = "unknown" if self.soft_limit is None else str(self.soft_limit)
        text = f"sharedlm: {self.cap} connections / requests in flight (open-file limit {limit}"
        if self.raised_soft_limit:
            text += ", raised"
        text += f", {self.open_now} open, {self.reserve} reserved)"
        if self.clamped:
            text += (
                f"; max_parallel_requests={self.requested} was clamped. Calls beyond the cap wait their turn; "
                "raise the limit with `ulimit -n` before starting Python to allow more"
            )
        return text


def count_open_descriptors() -> int:
    """Descriptors this process has open now (0 when the platform cannot say)."""
    for path in ("/proc/self/fd", "/dev/fd"):
        try:
            return len(os.listdir(path))
        except OSError:
            continue
    return 0


def plan_connection_cap(requested: int, *, reserve: int, raise_soft_limit: bool = True) -> ConnectionCapPlan:
    """Clamp ``requested`` to what the open-file limit allows, raising the soft limit if that helps.

    Args:
        requested: The wished-for cap on connections and requests in flight.
        reserve: Descriptors to leave for everything else the program opens.
        raise_soft_limit: Whether the soft limit may be raised toward the hard limit.
    """
    open_now = count_open_descriptors()
    if resource is None:
        return ConnectionCapPlan(requested=requested, cap=requested, soft_limit=None, hard_limit=None,
                                 open_now=open_now, reserve=reserve, raised_soft_limit=False)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = requested + open_now + reserve
    raised = False
    if raise_soft_limit and soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        if target > soft:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
                soft, raised = target, True
            except (ValueError, OSError):  # some sandboxes refuse; keep the soft limit we have
                pass
    if soft == resource.RLIM_INFINITY:
        cap = requested
    else:
        # Never below 1: a tiny limit still lets calls through one at a time instead of failing.
        cap = max(1, min(requested, soft - open_now - reserve))
        if cap == 1 and soft - open_now > 2:
            cap = max(1, min(requested, (soft - open_now) // 2))
    return ConnectionCapPlan(
        requested=requested,
        cap=cap,
        soft_limit=None if soft == resource.RLIM_INFINITY else int(soft),
        hard_limit=None if hard == resource.RLIM_INFINITY else int(hard),
        open_now=open_now,
        reserve=reserve,
        raised_soft_limit=raised,
    )


__all__ = ["ConnectionCapPlan", "count_open_descriptors", "plan_connection_cap"]
