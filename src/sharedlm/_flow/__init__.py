"""Flow-control policies of the shared engine: pure, synchronous, clock-injected.

Nothing here sleeps or touches asyncio: each policy computes a delay or a limit, and the engine
(:mod:`sharedlm._pacing`) does the waiting. Every policy takes its clock (monotonic seconds) at
construction, so tests drive it with a fake clock. The one module with I/O is :mod:`sharedlm._flow._memory`,
which reads and writes the small file of what was learned about a deployment.
"""

from sharedlm._flow._backoff import backoff_delay
from sharedlm._flow._budget import RateBudget, RateBudgetSnapshot, Reservation, book_together
from sharedlm._flow._capacity import CapacityLimit, CapacitySnapshot, RateLimitVerdict
from sharedlm._flow._estimate import estimate_tokens
from sharedlm._flow._learned_budgets import LearnedBudgets
from sharedlm._flow._limit_headers import LimitReading, LimitReport, parse_duration, parse_limit_headers
from sharedlm._flow._memory import Deployment, Learned, Memory
from sharedlm._flow._pause import ProviderPause
from sharedlm._flow._retry_after import parse_retry_after
from sharedlm._flow._retry_body import parse_body_retry_hint
from sharedlm._flow._saturation import (
    DEFAULT_MIN_STALL_S,
    DEFAULT_SATURATED_FLOOR,
    SaturationCeiling,
    SaturationSnapshot,
)
from sharedlm._flow._signals import ProviderSignals

__all__ = [
    "DEFAULT_MIN_STALL_S",
    "DEFAULT_SATURATED_FLOOR",
    "CapacityLimit",
    "CapacitySnapshot",
    "Deployment",
    "Learned",
    "LearnedBudgets",
    "LimitReading",
    "LimitReport",
    "Memory",
    "ProviderPause",
    "ProviderSignals",
    "RateBudget",
    "RateBudgetSnapshot",
    "RateLimitVerdict",
    "Reservation",
    "SaturationCeiling",
    "SaturationSnapshot",
    "backoff_delay",
    "book_together",
    "estimate_tokens",
    "parse_body_retry_hint",
    "parse_duration",
    "parse_limit_headers",
    "parse_retry_after",
]
