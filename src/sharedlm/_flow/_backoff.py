"""Backoff between retries when the provider gave no ``Retry-After``.

Exponential backoff with full jitter (the AWS "Exponential Backoff and Jitter" scheme): attempt ``k`` waits
a uniform random time up to ``min(cap, base * 2**k)``, so retries of many calls that failed together spread
out instead of returning as one wave.

One deliberate change from pure full jitter: the delay never falls below ``base * BACKOFF_FLOOR_FRACTION``
(a quarter of ``base``, or the ceiling if that is smaller). Pure full jitter sometimes draws a wait of a
few microseconds, which spends an attempt of the retry budget on an overload that cannot have cleared yet;
the floor costs nothing in spread once the ceiling has grown past a few ``base``.
"""

from __future__ import annotations

import math
import random

from sharedlm._errors import ConfigurationError

BACKOFF_FLOOR_FRACTION = 0.25


def backoff_delay(attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait before retry number ``attempt`` (0 for the first retry).

    The delay is drawn uniformly from ``[min(base * BACKOFF_FLOOR_FRACTION, ceiling), ceiling]`` where
    ``ceiling = min(cap, base * 2**attempt)``. It is deterministic for a given ``rng`` state, and any
    attempt number, however large, is safe (the ceiling simply stays at ``cap``).

    Args:
        attempt: How many retries came before this one (0, 1, 2, ...).
        base: The ceiling of the first retry's delay, in seconds.
        cap: The largest ceiling, in seconds.
        rng: The source of jitter; pass a seeded ``random.Random`` for reproducible delays.
    """
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 0:
        raise ValueError(f"attempt must be a whole number >= 0, got {attempt!r}")
    for name, value in (("base", base), ("cap", cap)):
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise ConfigurationError(f"backoff {name} must be a positive number of seconds, got {value!r}")
    try:
        grown = math.ldexp(base, attempt)
    except OverflowError:
        grown = math.inf
    ceiling = min(cap, grown)
    floor = min(base * BACKOFF_FLOOR_FRACTION, ceiling)
    return rng.uniform(floor, ceiling)


__all__ = ["BACKOFF_FLOOR_FRACTION", "backoff_delay"]
