"""Turning whatever one attempt raised into a sharedlm error: retryable or fatal.

lm15 already reads each provider's error bodies into its canonical classes (rate limit, server error,
auth, invalid request, ...); aiohttp and the OS raise their own connection errors. This module maps both
onto :mod:`sharedlm._errors`, the single place the engine's retry decision is made from.

It also keeps the API key out of everything that leaves sharedlm: the errors it builds are made from statuses and
redacted text, and the exception it was given, which the engine chains under its own error, is redacted in place
together with every exception chained to it (:func:`scrub`), because provider error bodies sometimes echo a key.
"""

from __future__ import annotations

import errno
from typing import Any

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


_REDACTED = "***"
_GUTTED = "(this error's text held the API key and was removed)"


def _redact_value(value: Any, secret: str) -> Any:
    if isinstance(value, str):
        return value.replace(secret, _REDACTED) if secret in value else value
    if isinstance(value, bytes | bytearray):
        raw = secret.encode("utf-8")
        return value.replace(raw, _REDACTED.encode()) if raw in value else value
    if isinstance(value, tuple):
        return tuple(_redact_value(item, secret) for item in value)
    if isinstance(value, list):
        return [_redact_value(item, secret) for item in value]
    if isinstance(value, dict):
        return {key: _redact_value(item, secret) for key, item in value.items()}
    return value


def _shows(value: Any, secret: str) -> bool:
    try:
        return secret in str(value) or secret in repr(value)
    except Exception:  # a broken __str__ shows nothing
        return False


def _scrub_one(exc: BaseException, secret: str) -> None:
    exc.args = _redact_value(exc.args, secret)
    if isinstance(exc, UnicodeError) and isinstance(getattr(exc, "object", None), str | bytes):
        exc.object = _redact_value(exc.object, secret)  # type: ignore[attr-defined]
    for name, value in list(vars(exc).items()):
        redacted = _redact_value(value, secret)
        if redacted is not value:
            _set(exc, name, redacted)
    # What redaction cannot reach (an object whose repr shows the key, such as a request's headers) is dropped.
    for name, value in list(vars(exc).items()):
        if _shows(value, secret):
            _set(exc, name, None)
    if _shows(exc, secret):
        exc.args = (_GUTTED,)


def _set(exc: BaseException, name: str, value: Any) -> None:
    try:
        setattr(exc, name, value)
    except (AttributeError, TypeError):  # a read-only attribute: the instance dict holds the value
        vars(exc)[name] = value


def scrub(exc: BaseException, secret: str | None) -> None:
    """Redact ``secret`` in place from ``exc`` and from every exception chained to it (causes, contexts, groups).

    Args:
        exc: The exception an attempt raised, about to be chained under a sharedlm error or re-raised.
        secret: The API key; nothing is done when it is None or shorter than 4 characters.
    """
    if not secret or len(secret) < 4:
        return
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        _scrub_one(current, secret)
        pending.extend(linked for linked in (current.__cause__, current.__context__) if linked is not None)
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)


def _first_line(message: str) -> str:
    # lm15 appends multi-line "To fix" guidance meant for lm15 users; ours is in the retry error.
    return message.split("\n\n", 1)[0].strip()


def classify(exc: BaseException, *, provider: str, status: int | None, secret: str | None) -> ProviderCallError | None:
    """The sharedlm error for ``exc``, or None when ``exc`` is not a provider or network failure.

    Args:
        exc: What the attempt raised.
        provider: The lm15 provider the request went to, for messages.
        status: The HTTP status the transport saw, if a response head arrived.
        secret: The API key, to keep it out of messages and out of ``exc`` and its chain (redacted in place).
    """
    scrub(exc, secret)
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


__all__ = ["RETRYABLE_STATUSES", "classify", "redact", "scrub"]
