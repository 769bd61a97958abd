"""The one place sharedlm reads environment variables.

| variable | meaning |
| --- | --- |
| ``SHAREDLM_MODEL`` (then the seed's ``MODEL_NAME``) | model string, default ``gemini/gemini-2.5-flash`` |
| ``SHAREDLM_API_BASE`` | provider base URL |
| ``SHAREDLM_API_KEY`` (then the provider's own variable) | credential |
| ``SHAREDLM_MAX_PARALLEL_REQUESTS`` | in-flight and connection cap, default 2000 |
| ``SHAREDLM_TIMEOUT`` | seconds one attempt may take |
| ``SHAREDLM_MAX_RETRIES`` | retries per call |
| ``SHAREDLM_RPM`` / ``SHAREDLM_TPM`` | request / token budget per minute |
| ``SHAREDLM_BUDGET_SHARE`` | this process's fraction of the budgets |
| ``SHAREDLM_POOL_TIMEOUT`` | seconds a call may wait for an in-flight slot |
| ``SHAREDLM_GUARD`` | runtime guard mode: ``warn`` (default), ``error`` or ``off`` |
| ``SHAREDLM_GUARD_MAX_LMS`` | live LM instances the guard tolerates, default 8 |
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from sharedlm._errors import ConfigurationError
from sharedlm._settings import DEFAULT_MODEL, FlowSettings, SharedLMSettings, split_setting_names

# Provider prefix of a DSPy model string -> the variables its key is usually kept in, in order.
PROVIDER_KEY_VARIABLES: Mapping[str, tuple[str, ...]] = {
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "google": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "groq": ("GROQ_API_KEY",),
    "mistral": ("MISTRAL_API_KEY",),
    "deepseek": ("DEEPSEEK_API_KEY",),
    "together_ai": ("TOGETHER_API_KEY", "TOGETHERAI_API_KEY"),
    "fireworks_ai": ("FIREWORKS_API_KEY", "FIREWORKS_AI_API_KEY"),
    "openrouter": ("OPENROUTER_API_KEY",),
    "xai": ("XAI_API_KEY",),
    "cerebras": ("CEREBRAS_API_KEY",),
}

GUARD_MODES = ("warn", "error", "off")

T = TypeVar("T")


def provider_prefix(model: str) -> str:
    """The provider part of a model string (``"openai"`` for ``"openai/gpt-4o"``); bare names are OpenAI's."""
    head, sep, _ = model.partition("/")
    return head if sep else "openai"


def key_variables(model: str) -> tuple[str, ...]:
    """The environment variables searched for the key of ``model``, in order."""
    return ("SHAREDLM_API_KEY", *PROVIDER_KEY_VARIABLES.get(provider_prefix(model), ()))


def find_api_key(model: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The first non-empty key among :func:`key_variables` of ``model``."""
    env = os.environ if environ is None else environ
    for name in key_variables(model):
        value = env.get(name, "").strip()
        if value:
            return value
    return None


def _parse(environ: Mapping[str, str], name: str, convert: Callable[[str], T], what: str) -> T | None:
    raw = environ.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        return convert(raw.strip())
    except ValueError:
        raise ConfigurationError(f"environment variable {name}={raw!r} is not {what}; fix or unset it") from None


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def settings_from_env(environ: Mapping[str, str] | None = None, **overrides: Any) -> SharedLMSettings:
    """Build settings from the environment, then apply explicit ``overrides`` (None values are ignored).

    Args:
        environ: The environment to read; ``os.environ`` when None.
        **overrides: SharedLMSettings or FlowSettings fields given explicitly, which win over the environment.
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {
        "model": env.get("SHAREDLM_MODEL", "").strip() or env.get("MODEL_NAME", "").strip() or DEFAULT_MODEL,
        "api_base": env.get("SHAREDLM_API_BASE", "").strip() or None,
        "max_parallel_requests": _parse(env, "SHAREDLM_MAX_PARALLEL_REQUESTS", int, "a whole number"),
        "timeout": _parse(env, "SHAREDLM_TIMEOUT", _finite_float, "a number of seconds"),
        "max_retries": _parse(env, "SHAREDLM_MAX_RETRIES", int, "a whole number"),
        "rpm": _parse(env, "SHAREDLM_RPM", _finite_float, "a number of requests per minute"),
        "tpm": _parse(env, "SHAREDLM_TPM", _finite_float, "a number of tokens per minute"),
        "budget_share": _parse(env, "SHAREDLM_BUDGET_SHARE", _finite_float, "a fraction in (0, 1]"),
        "pool_timeout": _parse(env, "SHAREDLM_POOL_TIMEOUT", _finite_float, "a number of seconds"),
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    values = {k: v for k, v in values.items() if v is not None}
    if "api_key" not in values:
        key = find_api_key(values["model"], env)
        if key is not None:
            values["api_key"] = key
    flow, own, extra_lm_kwargs = split_setting_names(values)
    lm_kwargs = {**own.pop("lm_kwargs", {}), **extra_lm_kwargs}
    return SharedLMSettings(flow=FlowSettings(**flow), lm_kwargs=lm_kwargs, **own)


def guard_mode(environ: Mapping[str, str] | None = None) -> str:
    """The runtime guard's mode from ``SHAREDLM_GUARD`` (default ``warn``)."""
    env = os.environ if environ is None else environ
    mode = env.get("SHAREDLM_GUARD", "warn").strip().lower() or "warn"
    if mode not in GUARD_MODES:
        choices = ", ".join(GUARD_MODES)
        raise ConfigurationError(f"environment variable SHAREDLM_GUARD={mode!r} must be one of {choices}")
    return mode


DEFAULT_GUARD_MAX_LMS = 8


def guard_max_lms(environ: Mapping[str, str] | None = None) -> int:
    """How many live LM instances the runtime guard tolerates (``SHAREDLM_GUARD_MAX_LMS``, default 8)."""
    env = os.environ if environ is None else environ
    value = _parse(env, "SHAREDLM_GUARD_MAX_LMS", int, "a whole number")
    if value is None:
        return DEFAULT_GUARD_MAX_LMS
    if value < 1:
        raise ConfigurationError(f"environment variable SHAREDLM_GUARD_MAX_LMS={value} must be >= 1")
    return value


__all__ = ["find_api_key", "guard_max_lms", "guard_mode", "key_variables", "provider_prefix", "settings_from_env"]
