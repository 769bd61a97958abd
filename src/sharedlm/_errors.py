"""The one error hierarchy of sharedlm.

Every error sharedlm raises derives from :class:`SharedLMError`. Two families matter to callers:

- :class:`RetryableError`: the provider or the network failed in a way that may succeed later
  (429, 5xx, connection reset, timeout). The shared engine retries these itself.
- :class:`FatalError`: retrying cannot help (bad settings, 400/401/403/404, a spent retry budget).

Errors raised inside the engine also derive from the matching ``dspy.lm15`` error class, because
DSPy's engine contract projects engine failures onto its public ``dspy.utils.exceptions.LMError``
classes by lm15 type. A caller of ``dspy.Predict`` therefore sees DSPy's error (for example
``LMRateLimitError``) whose ``__cause__`` is the sharedlm error; :func:`sharedlm_cause` finds it.

Messages never contain credentials: they are built from statuses, counts and setting names only.
"""

from __future__ import annotations

from typing import Any

from dspy import lm15


class SharedLMError(Exception):
    """Base class of every error raised by sharedlm."""


class RetryableError(SharedLMError):
    """A failure that may succeed when tried again later."""


class FatalError(SharedLMError):
    """A failure that retrying cannot fix."""


class ConfigurationError(FatalError, ValueError):
    """Settings are missing, malformed, or conflict with the live shared LM."""


class MissingAPIKeyError(ConfigurationError, lm15.NotConfiguredError):
    """No API key was found for the configured provider.

    Args:
        message: What is missing and which variable or argument supplies it.
        env_keys: The environment variables that were searched, in order.
    """

    def __init__(self, message: str, *, env_keys: tuple[str, ...] = (), provider: str | None = None) -> None:
        lm15.NotConfiguredError.__init__(self, message, provider=provider)
        self.env_keys = tuple(env_keys)


# --- Provider call failures. Each also derives from the lm15 class DSPy maps to its public error. ---


class ProviderCallError(SharedLMError):
    """A call to the provider failed. ``status`` is the HTTP status when there was one."""

    status: int | None
    attempts: int


def _provider_init(self: Any, base: Any, message: str, *, status: int | None, provider: str | None,
                   retry_after: float | None = None, attempts: int = 1) -> None:
    base.__init__(self, message, status=status, provider=provider, retry_after=retry_after)
    self.attempts = attempts


class RateLimitedError(ProviderCallError, RetryableError, lm15.RateLimitError):
    """The provider answered 429 Too Many Requests."""

    def __init__(self, message: str, *, status: int | None = 429, provider: str | None = None,
                 retry_after: float | None = None) -> None:
        _provider_init(self, lm15.ProviderError, message, status=status, provider=provider, retry_after=retry_after)


class ProviderUnavailableError(ProviderCallError, RetryableError, lm15.ServerError):
    """The provider answered with a 5xx status."""

    def __init__(self, message: str, *, status: int | None = None, provider: str | None = None,
                 retry_after: float | None = None) -> None:
        _provider_init(self, lm15.ServerError, message, status=status, provider=provider, retry_after=retry_after)


class ConnectionFailedError(ProviderCallError, RetryableError, lm15.TransportError):
    """The connection could not be opened, or broke before a complete answer arrived."""

    def __init__(self, message: str, *, provider: str | None = None) -> None:
        _provider_init(self, lm15.TransportError, message, status=None, provider=provider)


class CallTimeoutError(ProviderCallError, RetryableError, lm15.TimeoutError):
    """One attempt took longer than the per-call timeout (setting ``timeout``)."""

    def __init__(self, message: str, *, provider: str | None = None, status: int | None = None) -> None:
        _provider_init(self, lm15.TimeoutError, message, status=status, provider=provider)


class ResponseTooLargeError(ProviderCallError, FatalError, lm15.ProviderError):
    """An answer's head, body or decompressed body is larger than its limit allows.

    Fatal: the same server is expected to send the same oversized answer again. The message names the setting
    that raises the limit (``max_response_header_bytes``, ``max_response_body_bytes`` or
    ``max_response_decompressed_bytes``).
    """

    def __init__(self, message: str, *, provider: str | None = None, status: int | None = None) -> None:
        _provider_init(self, lm15.ProviderError, message, status=status, provider=provider)


class RequestRejectedError(ProviderCallError, FatalError, lm15.InvalidRequestError):
    """The provider refused the request itself (400, 404, 422): the same request will fail again."""

    def __init__(self, message: str, *, status: int | None = None, provider: str | None = None) -> None:
        _provider_init(self, lm15.InvalidRequestError, message, status=status, provider=provider)


class ContextTooLongError(RequestRejectedError, lm15.ContextLengthError):
    """The prompt does not fit the model's context window.

    It derives from ``lm15.ContextLengthError`` so DSPy raises its ``ContextWindowExceededError``, which some
    DSPy modules handle by shortening their input.
    """


class AuthenticationError(ProviderCallError, FatalError, lm15.ProviderError):
    """The provider refused the credentials (401, 403)."""

    def __init__(self, message: str, *, status: int | None = None, provider: str | None = None) -> None:
        # lm15.AuthError appends key guidance of its own that names RouterConfig; ours names our settings.
        _provider_init(self, lm15.ProviderError, message, status=status, provider=provider)


class RetriesExhaustedError(ProviderCallError, FatalError, lm15.ProviderError):
    """Every attempt of one call failed with a retryable error.

    It maps to DSPy's non-retryable ``LMProviderError`` on purpose: the engine already spent the retry
    budget, and DSPy must not multiply it.

    Args:
        message: Why the call failed, how often it was tried, and which setting raises the budget.
        last: The error of the final attempt.
        attempts: How many attempts were made.
    """

    def __init__(self, message: str, *, last: ProviderCallError, attempts: int) -> None:
        _provider_init(self, lm15.ProviderError, message, status=getattr(last, "status", None),
                       provider=getattr(last, "provider", None), attempts=attempts)
        self.last = last


class PoolTimeoutError(FatalError, lm15.TimeoutError):
    """A call waited longer than ``pool_timeout`` for a free slot under the in-flight limit."""

    def __init__(self, message: str) -> None:
        lm15.TimeoutError.__init__(self, message)


class SharedLMClosedError(FatalError, lm15.ConfigurationError):
    """The shared LM was reset (``sharedlm.reset_shared_lm()``) or closed while a call waited or was in flight."""

    def __init__(self, message: str) -> None:
        lm15.ConfigurationError.__init__(self, message)


class GuardError(FatalError):
    """The runtime guard, in ``SHAREDLM_GUARD=error`` mode, saw the shared-LM pattern broken.

    Args:
        message: Each violation with its file and line.
        violations: The violations, for programs that want to inspect them.
    """

    def __init__(self, message: str, *, violations: tuple[Any, ...] = ()) -> None:
        super().__init__(message)
        self.violations = violations


class SpendCapReachedError(FatalError, lm15.BillingError):
    """A call's worst-case cost does not fit what is left of the spend cap (``--max-cost`` / ``max_cost=``).

    Fatal: the call was not sent, and trying again cannot make the cap larger. It derives from
    ``lm15.BillingError``, so DSPy raises its non-retryable ``LMBillingError`` from it.

    Args:
        message: The cap, what was spent, what the call needed, and how to raise the cap.
        cap_usd: The cap in USD.
        spent_usd: What was spent when the call was refused.
        needed_usd: The call's worst-case cost.
    """

    def __init__(self, message: str, *, cap_usd: float, spent_usd: float, needed_usd: float) -> None:
        lm15.ProviderError.__init__(self, message)
        self.cap_usd = cap_usd
        self.spent_usd = spent_usd
        self.needed_usd = needed_usd


class InputError(FatalError):
    """One input row or file cannot be used as given (bulk runner)."""


class UsageError(FatalError):
    """A command-line or API argument is invalid; the CLI exits with code 2."""


def sharedlm_cause(exc: BaseException | None) -> SharedLMError | None:
    """The sharedlm error behind ``exc``: ``exc`` itself or the nearest in its ``__cause__`` chain.

    DSPy re-raises engine failures as its own ``LMError`` subclasses ``from`` the original, so code that
    calls a DSPy program sees DSPy's type first.

    Args:
        exc: Any exception, or None.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, SharedLMError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


__all__ = [
    "AuthenticationError",
    "CallTimeoutError",
    "ConfigurationError",
    "ConnectionFailedError",
    "ContextTooLongError",
    "FatalError",
    "GuardError",
    "InputError",
    "MissingAPIKeyError",
    "PoolTimeoutError",
    "ProviderCallError",
    "ProviderUnavailableError",
    "RateLimitedError",
    "RequestRejectedError",
    "ResponseTooLargeError",
    "RetriesExhaustedError",
    "RetryableError",
    "SharedLMClosedError",
    "SharedLMError",
    "SpendCapReachedError",
    "UsageError",
    "sharedlm_cause",
]
