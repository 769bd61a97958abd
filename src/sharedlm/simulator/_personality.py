"""Provider personalities: how a simulated provider limits, what it says when it refuses, and its headers.

``sharedlm simulate --personality NAME`` picks one. Each reproduces what its provider documents (or was observed
to send; see ``/work/shared/reference/providers.md`` for the sources), so that flow control is tested against the
habits of real providers and not only against the default simulator's exact ``Retry-After``:

- ``default``: sliding 60 s windows; no headers on answers; a 429 carries an exact ``retry-after`` and
  ``retry-after-ms``.
- ``openai`` (and Groq): token buckets whose request refill is enforced per second;
  ``x-ratelimit-{limit,remaining,reset}-{requests,tokens}`` on every answer, resets as Go durations; a 429
  carries no ``Retry-After``, and rpm/tpm refusals say "Please try again in 1.898s." in their message.
- ``anthropic``: token buckets; ``anthropic-ratelimit-{requests,tokens,input-tokens}-*`` on every answer, resets
  as RFC 3339 times; a 429 carries ``retry-after`` in whole seconds, rounded up (``1`` for any sub-second wait).
- ``gemini``: fixed 60 s windows; no headers; a 429 is ``RESOURCE_EXHAUSTED`` with "Please retry in 38.86s." in
  its message and a ``google.rpc.RetryInfo`` ``retryDelay`` in its details.
- ``vllm``: no rate limits and never a 429: ``--max-concurrency`` is the batch, and what is above it queues.

The buckets hold one second of the request refill (providers enforce a minute's limit in finer slices) and a
whole window of tokens; their headers report them in per-minute units, as OpenAI's and Anthropic's do.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime

import sharedlm.simulator._json as _json
from sharedlm.simulator._limits import Budget, FixedWindowBudget, Limits, Rejection, TokenBucketBudget
from sharedlm.simulator._wire import Dialect

DEFAULT = "default"
OPENAI = "openai"
ANTHROPIC = "anthropic"
GEMINI = "gemini"
VLLM = "vllm"
PERSONALITIES = (DEFAULT, OPENAI, ANTHROPIC, GEMINI, VLLM)


def go_duration(seconds: float) -> str:
    """A duration as Go prints it and OpenAI sends it: ``20ms``, ``1.898s``, ``1m3.5s``.

    Args:
        seconds: A non-negative number of seconds.
    """
    if seconds < 1:
        return f"{max(0, math.ceil(seconds * 1000 - 1e-9))}ms"
    minutes, rest = divmod(seconds, 60.0)
    text = f"{rest:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{int(minutes)}m{text}" if minutes else text


def rfc3339(epoch: float) -> str:
    """An RFC 3339 UTC time with whole seconds, as Anthropic sends its resets (rounded up: never early)."""
    return datetime.fromtimestamp(math.ceil(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Personality:
    """The default: sliding windows, no headers on answers, an exact ``retry-after`` / ``retry-after-ms`` on 429.

    Args:
        wall_clock: Seconds since the epoch, for headers that carry a time of day.
    """

    name = DEFAULT
    style = "sliding"
    queue = False
    reports = False  # whether answers carry rate-limit headers

    def __init__(self, wall_clock: Callable[[], float] = time.time) -> None:
        self._wall_clock = wall_clock

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, style={self.style!r}, queue={self.queue})"

    def answer_headers(self, limits: Limits, now: float) -> bytes:
        """Header lines (each ending in CRLF) sent with every answer and every 429."""
        return b""

    def rejection(self, dialect: Dialect, rejection: Rejection, limits: Limits, now: float) -> tuple[bytes, bytes]:
        """The body and header lines of a 429 for ``rejection``."""
        body = dialect.error(429, rejection.message, reason="tokens" if rejection.reason == "tpm" else "requests")
        return body, b"retry-after: %d\r\nretry-after-ms: %d\r\n" % (rejection.retry_after_s,
                                                                      rejection.retry_after_ms)


def _remaining(budget: Budget, now: float) -> int:
    if isinstance(budget, TokenBucketBudget | FixedWindowBudget):
        return budget.remaining(now)
    return max(0, budget.limit - budget.in_window(now))


def _reset_s(budget: Budget, now: float) -> float:
    if isinstance(budget, TokenBucketBudget | FixedWindowBudget):
        return budget.reset_s(now)
    return budget.window if budget.in_window(now) else 0.0


class OpenAIPersonality(Personality):
    """OpenAI (and Groq): buckets, ``x-ratelimit-*`` on every answer, no ``Retry-After``, hints in words."""

    name = OPENAI
    style = "bucket"
    reports = True

    def answer_headers(self, limits: Limits, now: float, exhausted: str | None = None) -> bytes:
        lines = []
        for kind, reason, budget in (("requests", "rpm", limits.requests), ("tokens", "tpm", limits.tokens)):
            if budget is not None:
                # The limit that refused a request reports nothing left, whatever its per-minute view says.
                remaining = 0 if reason == exhausted else _remaining(budget, now)
                lines.append(b"x-ratelimit-limit-%s: %d\r\nx-ratelimit-remaining-%s: %d\r\n"
                             b"x-ratelimit-reset-%s: %s\r\n" % (
                                 kind.encode(), budget.limit, kind.encode(), remaining, kind.encode(),
                                 go_duration(_reset_s(budget, now)).encode()))
        return b"".join(lines)

    def rejection(self, dialect: Dialect, rejection: Rejection, limits: Limits, now: float) -> tuple[bytes, bytes]:
        message = rejection.message
        if rejection.reason in ("rpm", "tpm"):
            message = f"{message} Please try again in {go_duration(rejection.wait)}."
        body = dialect.error(429, message, reason="tokens" if rejection.reason == "tpm" else "requests")
        return body, self.answer_headers(limits, now, exhausted=rejection.reason)


class AnthropicPersonality(Personality):
    """Anthropic: buckets, ``anthropic-ratelimit-*`` with RFC 3339 resets, ``retry-after`` in whole seconds."""

    name = ANTHROPIC
    style = "bucket"
    reports = True

    def answer_headers(self, limits: Limits, now: float, exhausted: str | None = None) -> bytes:
        epoch = self._wall_clock()
        lines = []
        kinds = (("requests", "rpm", limits.requests), ("tokens", "tpm", limits.tokens),
                 ("input-tokens", "tpm", limits.tokens))
        for kind, reason, budget in kinds:
            if budget is not None:
                name = kind.encode()
                remaining = 0 if reason == exhausted else _remaining(budget, now)
                lines.append(b"anthropic-ratelimit-%s-limit: %d\r\nanthropic-ratelimit-%s-remaining: %d\r\n"
                             b"anthropic-ratelimit-%s-reset: %s\r\n" % (
                                 name, budget.limit, name, remaining, name,
                                 rfc3339(epoch + _reset_s(budget, now)).encode()))
        return b"".join(lines)

    def rejection(self, dialect: Dialect, rejection: Rejection, limits: Limits, now: float) -> tuple[bytes, bytes]:
        body = dialect.error(429, rejection.message, reason="tokens" if rejection.reason == "tpm" else "requests")
        return body, b"retry-after: %d\r\n%s" % (rejection.retry_after_s,
                                                    self.answer_headers(limits, now, exhausted=rejection.reason))


class GeminiPersonality(Personality):
    """Gemini: fixed windows, no headers, ``RESOURCE_EXHAUSTED`` with the delay in words and in ``RetryInfo``."""

    name = GEMINI
    style = "fixed"

    def rejection(self, dialect: Dialect, rejection: Rejection, limits: Limits, now: float) -> tuple[bytes, bytes]:
        quota = {"rpm": "GenerateRequestsPerMinutePerProjectPerModel",
                 "tpm": "GenerateContentInputTokensPerModelPerMinute"}.get(rejection.reason, "ConcurrentRequests")
        wait = max(rejection.wait, 0.001)
        body = _json.dumps({"error": {
            "code": 429, "status": "RESOURCE_EXHAUSTED",
            "message": f"You exceeded your current quota, please check your plan and billing details. "
                       f"{rejection.message} Please retry in {wait:.2f}s.",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
                 "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_requests",
                                 "quotaId": quota}]},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{math.ceil(wait)}s"},
            ]}})
        return body, b""


class VLLMPersonality(Personality):
    """vLLM: no rate limits and no 429; requests above the batch queue (``--max-concurrency`` is the batch)."""

    name = VLLM
    queue = True


_BY_NAME: dict[str, type[Personality]] = {
    DEFAULT: Personality, OPENAI: OpenAIPersonality, ANTHROPIC: AnthropicPersonality, GEMINI: GeminiPersonality,
    VLLM: VLLMPersonality,
}


def personality_named(name: str, wall_clock: Callable[[], float] = time.time) -> Personality:
    """The personality called ``name``.

    Args:
        name: One of :data:`PERSONALITIES`.
        wall_clock: Seconds since the epoch, for headers that carry a time of day.

    Raises:
        ValueError: For an unknown name.
    """
    try:
        return _BY_NAME[name](wall_clock)
    except KeyError:
        raise ValueError(f"unknown personality {name!r}; choose from {', '.join(PERSONALITIES)}") from None


__all__ = ["ANTHROPIC", "DEFAULT", "GEMINI", "OPENAI", "PERSONALITIES", "VLLM", "Personality", "go_duration",
           "personality_named", "rfc3339"]
