"""Reading a provider's own account of its limits from response headers.

This module owns one question: what did the answer's headers say about the account's request and token limits?
It reads the two header families LLM providers send, on every answer and not only on a 429:

- OpenAI and Groq: ``x-ratelimit-{limit,remaining,reset}-{requests,tokens}``. ``reset`` is a Go-style duration
  ("time until the rate limit resets to its initial state"): ``1s``, ``6m0s``, ``1m3.5s``, ``20ms``, ``7.66s``,
  ``2h1m``. (OpenAI: https://platform.openai.com/docs/guides/rate-limits; Groq:
  https://console.groq.com/docs/rate-limits, where ``*-requests`` is a per-day limit.)
- Anthropic: ``anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}``.
  ``reset`` is an RFC 3339 time at which the bucket is "fully replenished"
  (https://platform.claude.com/docs/en/api/rate-limits).

A :class:`LimitReading` is one kind of limit (requests, tokens, input tokens, output tokens) as reported by one
answer. Its :attr:`~LimitReading.per_minute` turns the reading into a rate: a limit that is full again within a
minute is per minute; one whose reset lies further away has a longer window (Groq's requests per day), and then
``(limit - remaining) / reset`` is the rate it allows. A fixed window's reset is the window's end, which is why
the refill rate is only read off a reset longer than a minute: inside a minute it would mistake a window's
early usage for the account's rate.

Rules: header names are case-insensitive; the first readable value of a name wins; a value that cannot be read
(garbage, negative, NaN, a remaining above the limit) leaves that field unknown rather than guessed; a kind whose
``limit`` is missing or unreadable is not reported at all.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

REQUESTS = "requests"
TOKENS = "tokens"
INPUT_TOKENS = "input-tokens"
OUTPUT_TOKENS = "output-tokens"
KINDS = (REQUESTS, TOKENS, INPUT_TOKENS, OUTPUT_TOKENS)
_FIELDS = ("limit", "remaining", "reset")
_OPENAI_PREFIX = "x-ratelimit-"
_ANTHROPIC_PREFIX = "anthropic-ratelimit-"
# Readings this far apart in time are not one window: a reset beyond a day is not a minute limit.
_MAX_RESET_S = 7 * 24 * 3600.0
_WINDOW_S = 60.0

# A Go duration: one or more <number><unit> pairs ("1m3.5s", "20ms", "2h0m0s"); a bare number means seconds.
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h|d)")
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")

HeaderPairs = Mapping[str, str] | Iterable[tuple[str, str]]


@dataclass(frozen=True, kw_only=True, slots=True)
class LimitReading:
    """One limit as one answer reported it.

    Args:
        kind: ``"requests"``, ``"tokens"``, ``"input-tokens"`` or ``"output-tokens"``.
        limit: The most the account may use in the limit's window.
        remaining: What is left now, or None when not reported (or unreadable).
        reset_s: Seconds until the limit is back to ``limit``, or None when not reported (or unreadable).
    """

    kind: str
    limit: float
    remaining: float | None = None
    reset_s: float | None = None

    @property
    def per_minute(self) -> float:
        """The limit as a rate per minute.

        A limit that is back to full within a minute is a per-minute limit (OpenAI's RPM and TPM, Anthropic's):
        ``limit``. A reset further away than a minute shows a longer window (Groq's requests per day): then the
        refill rate the reading shows, ``(limit - remaining) / reset``, is what the account allows per minute,
        at most ``limit``. Without the evidence for that (nothing used yet) it is ``limit``, as documented.
        """
        reset, remaining = self.reset_s, self.remaining
        if reset is None or reset <= _WINDOW_S or remaining is None or remaining >= self.limit:
            return self.limit
        return min(self.limit, (self.limit - remaining) / reset * _WINDOW_S)

    @property
    def exhausted(self) -> bool:
        """Whether the provider reported nothing left."""
        return self.remaining is not None and self.remaining <= 0


@dataclass(frozen=True, kw_only=True, slots=True)
class LimitReport:
    """Every limit one answer's headers reported, by kind (missing kinds are None).

    Args:
        requests: The request limit.
        tokens: The token limit (Anthropic: the most restrictive of its token limits).
        input_tokens: Anthropic's input-token limit.
        output_tokens: Anthropic's output-token limit.
    """

    requests: LimitReading | None = None
    tokens: LimitReading | None = None
    input_tokens: LimitReading | None = None
    output_tokens: LimitReading | None = None

    @property
    def empty(self) -> bool:
        return self.requests is None and self.tokens is None and self.input_tokens is None \
            and self.output_tokens is None

    @property
    def token_limit(self) -> LimitReading | None:
        """The token limit to pace to: ``tokens``, else the tighter of the input and output limits."""
        if self.tokens is not None:
            return self.tokens
        candidates = [r for r in (self.input_tokens, self.output_tokens) if r is not None]
        return min(candidates, key=lambda r: r.per_minute) if candidates else None

    def retry_hint(self, tokens: int = 0) -> float | None:
        """Seconds until an exhausted limit has room for one more request, or None when no limit is exhausted.

        Both families report the time until the limit is *fully* replenished; a bucket that refills continuously
        has room for one request after ``reset * need / limit`` of it. The longest wait over the exhausted kinds
        wins (a request needs room in all of them).

        Args:
            tokens: The request's token estimate (the need of a token limit); 0 counts it as one token.
        """
        waits = []
        for reading in (self.requests, self.tokens, self.input_tokens, self.output_tokens):
            if reading is None or not reading.exhausted or reading.reset_s is None:
                continue
            need = 1 if reading.kind == REQUESTS else max(1, tokens)
            waits.append(min(reading.reset_s, reading.reset_s * need / reading.limit))
        return max(waits) if waits else None


_NO_LIMITS = LimitReport()


def parse_duration(text: str) -> float | None:
    """Seconds in a Go-style duration (``1m3.5s``, ``20ms``, ``6m0s``) or a bare number of seconds; None if unreadable.

    Args:
        text: The header value.
    """
    value = text.strip().lower()
    if not value:
        return None
    if _NUMBER.fullmatch(value):
        seconds = float(value)
        return seconds if math.isfinite(seconds) else None
    total = 0.0
    position = 0
    for match in _DURATION_PART.finditer(value):
        if match.start() != position:
            return None
        total += float(match.group(1)) * _UNIT_S[match.group(2)]
        position = match.end()
    if position != len(value) or not math.isfinite(total):
        return None
    return total


def parse_rfc3339(text: str, *, now_epoch: float) -> float | None:
    """Seconds from ``now_epoch`` until an RFC 3339 time (0.0 when past); None when unreadable.

    Args:
        text: The header value, such as ``2026-11-30T06:12:03Z``.
        now_epoch: The current wall-clock time (``time.time()``).
    """
    value = text.strip()
    if not value or len(value) > 64:
        return None
    if value[-1] in "zZ":
        value = value[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.tzinfo is None:
        return None  # RFC 3339 always carries an offset; a bare local time cannot be placed
    try:
        seconds = when.astimezone(UTC).timestamp() - now_epoch
    except (OverflowError, OSError, ValueError):
        return None
    return seconds if seconds > 0 else 0.0


def _count(text: str) -> float | None:
    value = text.strip()
    if not _NUMBER.fullmatch(value):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def parse_limit_headers(headers: HeaderPairs, *, now_epoch: float) -> LimitReport:
    """Every limit the headers report, OpenAI/Groq style or Anthropic style.

    When both families are present (a proxy in front of another proxy), the Anthropic family wins for a kind: its
    reset is an absolute time, which does not depend on when the answer was read.

    Args:
        headers: Response headers as a mapping or as ``(name, value)`` pairs.
        now_epoch: The current wall-clock time, to turn Anthropic's reset times into seconds.
    """
    found: dict[tuple[str, str, str], str] = {}
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for name, value in pairs:
        if not isinstance(name, str) or not isinstance(value, str):
            continue
        key = name.strip().lower()
        if key.startswith(_OPENAI_PREFIX):
            family, rest = "openai", key[len(_OPENAI_PREFIX):]
            field, _, kind = rest.partition("-")
        elif key.startswith(_ANTHROPIC_PREFIX):
            family, rest = "anthropic", key[len(_ANTHROPIC_PREFIX):]
            kind, _, field = rest.rpartition("-")
        else:
            continue
        if field not in _FIELDS or kind not in KINDS:
            continue
        slot = (family, kind, field)
        if slot not in found or _readable(family, field, found[slot], now_epoch) is None:
            found[slot] = value
    if not found:
        return _NO_LIMITS
    readings: dict[str, LimitReading] = {}
    for family in ("openai", "anthropic"):
        for kind in KINDS:
            reading = _reading(found, family, kind, now_epoch)
            if reading is not None:
                readings[kind] = reading
    return LimitReport(requests=readings.get(REQUESTS), tokens=readings.get(TOKENS),
                       input_tokens=readings.get(INPUT_TOKENS), output_tokens=readings.get(OUTPUT_TOKENS))


def _readable(family: str, field: str, value: str, now_epoch: float) -> float | None:
    if field != "reset":
        return _count(value)
    seconds = parse_duration(value) if family == "openai" else parse_rfc3339(value, now_epoch=now_epoch)
    return seconds if seconds is not None and seconds <= _MAX_RESET_S else None


def _reading(found: Mapping[tuple[str, str, str], str], family: str, kind: str,
             now_epoch: float) -> LimitReading | None:
    raw_limit = found.get((family, kind, "limit"))
    limit = _readable(family, "limit", raw_limit, now_epoch) if raw_limit is not None else None
    if limit is None or limit <= 0:
        return None
    raw = found.get((family, kind, "remaining"))
    remaining = _readable(family, "remaining", raw, now_epoch) if raw is not None else None
    if remaining is not None and remaining > limit:
        remaining = None  # contradicts the limit: believe neither more than the limit itself
    raw = found.get((family, kind, "reset"))
    reset = _readable(family, "reset", raw, now_epoch) if raw is not None else None
    return LimitReading(kind=kind, limit=limit, remaining=remaining, reset_s=reset)


__all__ = [
    "INPUT_TOKENS",
    "KINDS",
    "OUTPUT_TOKENS",
    "REQUESTS",
    "TOKENS",
    "LimitReading",
    "LimitReport",
    "parse_duration",
    "parse_limit_headers",
    "parse_rfc3339",
]
