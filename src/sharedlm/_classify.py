"""Turning whatever one attempt raised into a sharedlm error: retryable or fatal.

lm15 already reads each provider's error bodies into its canonical classes (rate limit, server error,
auth, invalid request, ...); aiohttp and the OS raise their own connection errors. This module maps both
onto :mod:`sharedlm._errors`, the single place the engine's retry decision is made from.
"""

from __future__ import annotations

import errno

import aiohttp
from dspy import lm15

from sharedlm._errors import (
    AuthenticationError,
    CallTimeoutError,
    ConnectionFailedError,
    ContextTooLongError,
    ProviderCallError,
    ProviderUnavailableError,
    RateLimitedError,
    RequestRejectedError,
)

# Statuses a provider may answer that mean "later" rather than "never".
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 521, 522, 524, 529})


def redact(text: str, secret: str | None) -> str:
    """``text`` with ``secret`` replaced by ``***`` (provider error bodies sometimes echo a key)."""
    if secret and len(secret) >= 4 and secret in text:
        return text.replace(secret, "***")
    return text


def _first_line(message: str) -> str:
    # lm15 appends multi-line "To fix" guidance meant for lm15 users; ours is in the retry error.
    return message.split("\n\n", 1)[0].strip()


def classify(exc: BaseException, *, provider: str, status: int | None, secret: str | None) -> ProviderCallError | None:
    """The sharedlm error for ``exc``, or None when ``exc`` is not a provider or network failure.

    Args:
        exc: What the attempt raised.
        provider: The lm15 provider the request went to, for messages.
        status: The HTTP status the transport saw, if a response head arrived.
        secret: The API key, to keep it out of messages.
    """
    if isinstance(exc, ProviderCallError):
        return exc
    if isinstance(exc, lm15.ProviderError):
        code = exc.status if exc.status is not None else status
        text = redact(_first_line(exc.message or str(exc)), secret)
        message = f"{provider} answered HTTP {code}: {text}" if code else f"{provider}: {text}"
        if isinstance(exc, lm15.RateLimitError) or code == 429:
            return RateLimitedError(message, status=code or 429, provider=provider, retry_after=exc.retry_after)
        if isinstance(exc, lm15.ContextLengthError):
            return ContextTooLongError(message, status=code, provider=provider)
        if isinstance(exc, lm15.AuthError) or code in (401, 403):
            return AuthenticationError(
                f"{message}. Check the key in SHAREDLM_API_KEY (or the provider's own variable) or "
                "sharedlm.configure(api_key=...)", status=code, provider=provider)
        if isinstance(exc, lm15.TimeoutError):
            return CallTimeoutError(message, provider=provider, status=code)
        if isinstance(exc, lm15.ServerError) or (code is not None and code in RETRYABLE_STATUSES):
            return ProviderUnavailableError(message, status=code, provider=provider, retry_after=exc.retry_after)
        return RequestRejectedError(message, status=code, provider=provider)
    if isinstance(exc, lm15.TransportError):
        return ConnectionFailedError(f"connection to {provider} failed: {redact(_first_line(str(exc)), secret)}",
                                     provider=provider)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return ConnectionFailedError(f"could not connect to {provider} at {exc.host}:{exc.port}: {exc.os_error}",
                                     provider=provider)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | aiohttp.ClientOSError):
        return ConnectionFailedError(f"connection to {provider} broke before the answer was complete "
                                     f"({type(exc).__name__}: {exc})", provider=provider)
    if isinstance(exc, aiohttp.ClientConnectionError | ConnectionError):
        return ConnectionFailedError(f"connection to {provider} failed ({type(exc).__name__}: {exc})",
                                     provider=provider)
    if isinstance(exc, OSError) and exc.errno == errno.EMFILE:
        return ConnectionFailedError(
            "out of file descriptors (Errno 24) opening a connection; lower max_parallel_requests or raise "
            "`ulimit -n`", provider=provider)
    return None


__all__ = ["RETRYABLE_STATUSES", "classify", "redact"]
