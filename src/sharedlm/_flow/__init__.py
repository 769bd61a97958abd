"""Flow-control policies of the shared engine: pure, synchronous, clock-injected.

Nothing here sleeps or touches asyncio: each policy computes a delay or a limit, and the engine
(:mod:`sharedlm._pacing`) does the waiting. Every policy takes its clock (monotonic seconds) at
construction, so tests drive it with a fake clock.
"""

from sharedlm._flow._aimd import AdaptiveLimit, AdaptiveLimitSnapshot
from sharedlm._flow._backoff import backoff_delay
from sharedlm._flow._budget import RateBudget, RateBudgetSnapshot, Reservation, book_together
from sharedlm._flow._estimate import estimate_tokens
from sharedlm._flow._pause import ProviderPause
from sharedlm._flow._retry_after import parse_retry_after
from sharedlm._flow._saturation import DEFAULT_SATURATED_FLOOR, SaturationCeiling, SaturationSnapshot

__all__ = [
    "DEFAULT_SATURATED_FLOOR",
    "AdaptiveLimit",
    "AdaptiveLimitSnapshot",
    "ProviderPause",
    "RateBudget",
    "RateBudgetSnapshot",
    "Reservation",
    "SaturationCeiling",
    "SaturationSnapshot",
    "backoff_delay",
    "book_together",
    "estimate_tokens",
    "parse_retry_after",
]
