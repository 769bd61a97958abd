"""Reading a provider's retry hint from response headers.

This module owns one question: given the headers of a failed response, how long did the provider ask us
to wait? It understands ``retry-after-ms`` (and Azure's ``x-ms-retry-after-ms``), and ``Retry-After`` as
delta-seconds or as an HTTP-date (RFC 9110 IMF-fixdate, and the obsolete RFC 850 and asctime forms).
A hint that cannot be read is ignored rather than guessed at: the caller then falls back to backoff.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime

from sharedlm._errors import ConfigurationError

# Millisecond headers are more precise than Retry-After, so they win when present and valid.
MILLISECOND_HEADERS = frozenset({"retry-after-ms", "x-ms-retry-after-ms"})
SECONDS_HEADER = "retry-after"

# RFC 9110 delta-seconds is 1*DIGIT; providers also send decimals ("0.5"). Signs, exponents, "nan" and
# "inf" are refused on purpose: float() would accept them and turn garbage into a wait.
_DELTA = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")

HeaderPairs = Mapping[str, str] | Iterable[tuple[str, str]]


def parse_retry_after(headers: HeaderPairs, *, now_epoch: float, max_delay: float) -> float | None:
    """How many seconds the provider asked us to wait, or None when it gave no usable hint.

    Rules: the first valid millisecond header wins; otherwise the first valid ``Retry-After``. Header
    names are case-insensitive and duplicates are read in order, so an unreadable first value does not
    hide a readable second one. A date in the past means "now" (0.0). A negative, empty, NaN, infinite or
    unreadable value is no hint. Any hint is clamped to ``max_delay``.

    Args:
        headers: Response headers, as a mapping (``dict``, aiohttp's ``CIMultiDict``) or as
            ``(name, value)`` pairs.
        now_epoch: The current wall-clock time in seconds since the epoch (``time.time()``); HTTP-dates
            are measured from it.
        max_delay: The longest wait a hint may impose, in seconds.
    """
    if not (isinstance(max_delay, int | float) and math.isfinite(max_delay) and max_delay >= 0):
        raise ConfigurationError(f"max_delay must be a finite number of seconds >= 0, got {max_delay!r}")
    if not (isinstance(now_epoch, int | float) and math.isfinite(now_epoch)):
        raise ConfigurationError(f"now_epoch must be a finite epoch time in seconds, got {now_epoch!r}")
    in_millis: list[str] = []
    in_seconds: list[str] = []
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for name, value in pairs:
        if not isinstance(name, str) or not isinstance(value, str):
            continue
        key = name.strip().lower()
        if key in MILLISECOND_HEADERS:
            in_millis.append(value)
        elif key == SECONDS_HEADER:
            in_seconds.append(value)
    for value in in_millis:
        millis = _delta(value)
        if millis is not None:
            return min(millis / 1000.0, max_delay)
    for value in in_seconds:
        seconds = _delta(value)
        if seconds is None:
            seconds = _seconds_until(value, now_epoch)
        if seconds is not None:
            return min(seconds, max_delay)
    return None


def _delta(value: str) -> float | None:
    text = value.strip()
    if not _DELTA.fullmatch(text):
        return None
    # A digit string too long for a float becomes inf: a valid but huge hint, which the caller clamps.
    return float(text)


def _seconds_until(value: str, now_epoch: float) -> float | None:
    text = value.strip()
    if not text:
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # the asctime form carries no zone; HTTP-dates are always GMT
        when = when.replace(tzinfo=UTC)
    try:
        seconds = when.timestamp() - now_epoch
    except (OverflowError, OSError, ValueError):
        return None
    return seconds if seconds > 0 else 0.0


__all__ = ["MILLISECOND_HEADERS", "SECONDS_HEADER", "parse_retry_after"]
