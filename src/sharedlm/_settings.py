"""Settings of the shared LM: small keyword-only value objects with named defaults.

Nothing here reads the environment; :mod:`sharedlm._env` is the one place that does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from sharedlm._errors import ConfigurationError
from sharedlm._http_rules import (
    DEFAULT_MAX_RESPONSE_BODY_BYTES,
    DEFAULT_MAX_RESPONSE_DECOMPRESSED_BYTES,
    DEFAULT_MAX_RESPONSE_HEADER_BYTES,
    ResponseLimits,
    is_secret_name,
    key_problem,
    shown_url,
    text_problem,
)

DEFAULT_MODEL = "gemini/gemini-2.5-flash"
DEFAULT_MAX_PARALLEL_REQUESTS = 2000
DEFAULT_TIMEOUT_S = 120.0
DEFAULT_CONNECT_TIMEOUT_S = 10.0
DEFAULT_MAX_RETRIES = 6
DEFAULT_MIN_CONCURRENCY = 1
# Where the adaptive limit starts before slow start multiplies it by 8 each round trip up to max_parallel_requests:
# low enough that a first burst against a provider taking far fewer draws few 429s.
DEFAULT_INITIAL_CONCURRENCY = 128
DEFAULT_MAX_RETRY_AFTER_S = 60.0
DEFAULT_BACKOFF_BASE_S = 0.5
DEFAULT_BACKOFF_MAX_S = 30.0
# Descriptors kept free for the rest of the program (files, logs, subprocess pipes) when the
# connection cap is clamped to the open-file limit.
DEFAULT_FD_RESERVE = 128


def _positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name} must be a whole number >= 1, got {value!r}")


def check_api_key(source: str, key: object) -> None:
    """Refuse a key that cannot travel in an HTTP header, naming ``source`` and never the key.

    Args:
        source: Where the key came from: ``"api_key"`` or an environment variable's name.
        key: The key.
    """
    if not isinstance(key, str):
        raise ConfigurationError(f"{source} must be a string (the provider's API key), got a {type(key).__name__}")
    problem = key_problem(key)
    if problem is not None:
        # Raised outside any except block, so no exception holding the key is chained to it.
        raise ConfigurationError(
            f"{source} contains {problem}, so it cannot be sent in an HTTP header; copy the key again from the "
            "provider's console (the key itself is not shown here)")


def _positive_number(name: str, value: object, unit: str, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ConfigurationError(f"{name} must be a positive number of {unit}, got {value!r}")


def _positive_seconds(name: str, value: object, *, allow_none: bool = False) -> None:
    _positive_number(name, value, "seconds", allow_none=allow_none)


# What each budget counts, for its error message.
_BUDGET_UNITS = {"rpm": "requests per minute", "tpm": "tokens per minute"}


@dataclass(frozen=True, kw_only=True)
class FlowSettings:
    """How the shared engine paces calls to the provider.

    Args:
        max_retries: Retries of one call after its first attempt, for 429, 5xx, resets and timeouts.
        adaptive: Set the in-flight limit from an estimate of the provider's capacity (one decrease per congestion
            event, to what the provider accepted; probing growth after 30 s without a 429), starting with a slow
            start that multiplies it by 8 every round trip until the provider first pushes back, and opening at
            once for a slow provider that refuses nothing (see :mod:`sharedlm._flow._capacity`). Off, the limit
            is ``max_parallel_requests``.
        initial_concurrency: Where the limit starts: with ``adaptive``, None means
            ``DEFAULT_INITIAL_CONCURRENCY`` (128); without it, None means ``max_parallel_requests``.
        min_concurrency: The floor of the adaptive limit.
        rpm: Requests per minute this process may send, or None for no request budget.
        tpm: Tokens per minute this process may use, or None for no token budget.
        budget_share: The fraction of ``rpm``/``tpm`` this process owns when several processes share one
            provider account (for example 0.25 for each of four workers).
        max_retry_after: The longest pause a provider's ``Retry-After`` may impose, in seconds.
        backoff_base: First backoff delay without ``Retry-After``, in seconds; doubles per attempt, with jitter.
        backoff_max: The longest backoff delay, in seconds.
        pool_timeout: The longest a call waits for a free in-flight slot, in seconds; None waits as long as needed.
    """

    max_retries: int = DEFAULT_MAX_RETRIES
    adaptive: bool = True
    initial_concurrency: int | None = None
    min_concurrency: int = DEFAULT_MIN_CONCURRENCY
    rpm: float | None = None
    tpm: float | None = None
    budget_share: float = 1.0
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER_S
    backoff_base: float = DEFAULT_BACKOFF_BASE_S
    backoff_max: float = DEFAULT_BACKOFF_MAX_S
    pool_timeout: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise ConfigurationError(f"max_retries must be a whole number >= 0, got {self.max_retries!r}")
        if self.initial_concurrency is not None:
            _positive_int("initial_concurrency", self.initial_concurrency)
        _positive_int("min_concurrency", self.min_concurrency)
        for name, unit in _BUDGET_UNITS.items():
            _positive_number(name, getattr(self, name), unit, allow_none=True)
        if not (isinstance(self.budget_share, int | float) and 0 < self.budget_share <= 1):
            raise ConfigurationError(f"budget_share must be in (0, 1], got {self.budget_share!r}")
        _positive_seconds("max_retry_after", self.max_retry_after)
        _positive_seconds("backoff_base", self.backoff_base)
        _positive_seconds("backoff_max", self.backoff_max)
        _positive_seconds("pool_timeout", self.pool_timeout, allow_none=True)

    @property
    def effective_rpm(self) -> float | None:
        """This process's request budget: ``rpm`` times ``budget_share``."""
        return None if self.rpm is None else self.rpm * self.budget_share

    @property
    def effective_tpm(self) -> float | None:
        """This process's token budget: ``tpm`` times ``budget_share``."""
        return None if self.tpm is None else self.tpm * self.budget_share


@dataclass(frozen=True, kw_only=True)
class SharedLMSettings:
    """Everything the process-wide shared LM is built from.

    Args:
        model: A DSPy model string such as ``"openai/gpt-4o-mini"`` or ``"gemini/gemini-2.5-flash"``.
        api_key: The provider credential; never shown in ``repr``, logs or errors.
        api_base: The provider's base URL, for OpenAI-compatible servers, proxies and the simulator; ``repr``
            shows it with a userinfo password and query values masked.
        max_parallel_requests: The real cap on requests in flight in this process, and on pooled connections.
        timeout: The longest one attempt may take, in seconds.
        connect_timeout: The longest opening one connection may take, in seconds.
        fd_reserve: Descriptors kept free for the rest of the program when the cap is clamped to the
            open-file limit.
        max_response_header_bytes: The largest answer head (status line and headers) accepted, in bytes.
        max_response_body_bytes: The largest answer body accepted as it arrives (compressed or not), in bytes.
        max_response_decompressed_bytes: The largest answer body accepted once gzip/deflate is undone, in bytes.
        flow: Retry, adaptive concurrency and budget settings.
        lm_kwargs: Further keyword arguments for ``dspy.LM`` (temperature, max_tokens, cache, ...).
    """

    model: str = DEFAULT_MODEL
    api_key: str | None = field(default=None, repr=False)
    api_base: str | None = None
    max_parallel_requests: int = DEFAULT_MAX_PARALLEL_REQUESTS
    timeout: float = DEFAULT_TIMEOUT_S
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S
    fd_reserve: int = DEFAULT_FD_RESERVE
    max_response_header_bytes: int = DEFAULT_MAX_RESPONSE_HEADER_BYTES
    max_response_body_bytes: int = DEFAULT_MAX_RESPONSE_BODY_BYTES
    max_response_decompressed_bytes: int = DEFAULT_MAX_RESPONSE_DECOMPRESSED_BYTES
    flow: FlowSettings = field(default_factory=FlowSettings)
    lm_kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise ConfigurationError("model must be a non-empty DSPy model string such as 'openai/gpt-4o-mini'")
        if self.api_key is not None:
            check_api_key("api_key", self.api_key)
        if self.api_base is not None and not str(self.api_base).startswith(("http://", "https://")):
            raise ConfigurationError(
                f"api_base must start with http:// or https://, got {shown_url(str(self.api_base))!r}")
        base_problem = None if self.api_base is None else text_problem(str(self.api_base), allow_tab=False)
        if base_problem is not None:
            raise ConfigurationError(f"api_base contains {base_problem}; a URL cannot be sent with it, so remove or "
                                     "percent-encode it")
        _positive_int("max_parallel_requests", self.max_parallel_requests)
        _positive_seconds("timeout", self.timeout)
        _positive_seconds("connect_timeout", self.connect_timeout)
        for name in ("max_response_header_bytes", "max_response_body_bytes", "max_response_decompressed_bytes"):
            _positive_int(name, getattr(self, name))
        if isinstance(self.fd_reserve, bool) or not isinstance(self.fd_reserve, int) or self.fd_reserve < 0:
            raise ConfigurationError(f"fd_reserve must be a whole number >= 0, got {self.fd_reserve!r}")
        refused = sorted(set(self.lm_kwargs) & _ENGINE_OWNED_KEYS)
        if refused:
            raise ConfigurationError(
                f"{refused} cannot be passed through lm_kwargs: the shared engine owns the connection. "
                "Use sharedlm.configure(api_key=..., api_base=..., timeout=...) instead."
            )
        object.__setattr__(self, "lm_kwargs", dict(self.lm_kwargs))

    def __repr__(self) -> str:
        # api_base may carry a credential (user:password@ or ?api-key=...), and lm_kwargs a cloud one
        # (aws_secret_access_key=...): both are shown masked; api_key is not shown at all.
        shown: list[str] = []
        for f in fields(self):
            if not f.repr:
                continue
            value = getattr(self, f.name)
            if f.name == "api_base" and value is not None:
                value = shown_url(str(value))
            elif f.name == "lm_kwargs":
                value = {name: "***" if is_secret_name(str(name)) else item for name, item in value.items()}
            shown.append(f"{f.name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    @property
    def response_limits(self) -> ResponseLimits:
        """The bounds on one answer's size the transport enforces."""
        return ResponseLimits(header_bytes=self.max_response_header_bytes, body_bytes=self.max_response_body_bytes,
                              decompressed_bytes=self.max_response_decompressed_bytes)

    def with_changes(self, **changes: Any) -> SharedLMSettings:
        """A copy with some fields replaced; flow fields may be given by name, and any other name is a
        ``dspy.LM`` keyword added to ``lm_kwargs``.
        """
        flow_changes, own, lm_kwargs = split_setting_names(changes)
        if lm_kwargs:
            own["lm_kwargs"] = {**own.get("lm_kwargs", self.lm_kwargs), **lm_kwargs}
        settings = replace(self, **own) if own else self
        if flow_changes:
            settings = replace(settings, flow=replace(settings.flow, **flow_changes))
        return settings

    def differences(self, other: SharedLMSettings) -> list[str]:
        """Names of the settings that differ from ``other`` (flow settings by their own name), never values.

        Args:
            other: The settings to compare with.
        """
        names = [f.name for f in fields(SharedLMSettings) if f.name != "flow"
                 and getattr(self, f.name) != getattr(other, f.name)]
        names += [f.name for f in fields(FlowSettings) if getattr(self.flow, f.name) != getattr(other.flow, f.name)]
        return names


def split_setting_names(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Split keyword settings into flow fields, the shared LM's own fields, and ``dspy.LM`` keywords.

    Args:
        values: Settings by name, as ``configure`` takes them.
    """
    flow_names = {f.name for f in fields(FlowSettings)}
    own_names = {f.name for f in fields(SharedLMSettings)} - {"flow"}
    flow = {k: v for k, v in values.items() if k in flow_names}
    own = {k: v for k, v in values.items() if k in own_names}
    lm_kwargs = {k: v for k, v in values.items() if k not in flow_names and k not in own_names}
    return flow, own, lm_kwargs


# Client settings DSPy refuses on an LM with a custom engine; they belong on SharedLMSettings.
_ENGINE_OWNED_KEYS = frozenset({
    "api_key", "api_base", "base_url", "headers", "extra_headers", "timeout", "api_version",
    "engine", "async_engine", "max_parallel_requests", "num_retries",
})

__all__ = ["DEFAULT_MAX_PARALLEL_REQUESTS", "DEFAULT_MODEL", "FlowSettings", "SharedLMSettings", "split_setting_names"]
