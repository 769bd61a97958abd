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
| ``SHAREDLM_MAX_RESPONSE_HEADER_BYTES`` | largest answer head accepted, default 65536 (64 KiB) |
| ``SHAREDLM_MAX_RESPONSE_BODY_BYTES`` | largest answer body accepted as sent, default 67108864 (64 MiB) |
| ``SHAREDLM_MAX_RESPONSE_DECOMPRESSED_BYTES`` | largest answer body once decompressed, default 64 MiB |
| ``SHAREDLM_GUARD`` | runtime guard mode: ``warn`` (default), ``error`` or ``off`` |
| ``SHAREDLM_GUARD_MAX_LMS`` | live LM instances the guard tolerates, default 8 |
| ``SHAREDLM_MODELS`` | more shared models: a JSON object, model string -> its settings (``{}`` for none) |
| ``SHAREDLM_STATE_DIR`` | where learned limits are remembered, default ``sharedlm`` in the user's cache directory |
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from sharedlm._errors import ConfigurationError
from sharedlm._settings import DEFAULT_MODEL, FlowSettings, SharedLMSettings, check_api_key, split_setting_names

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
    "fireworks_ai": ("FIREWORKS_API_KEY", "FIREWORKS_AI_API_KEY", "FIREWORKSAI_API_KEY"),
    "openrouter": ("OPENROUTER_API_KEY",),
    "xai": ("XAI_API_KEY",),
    "cerebras": ("CEREBRAS_API_KEY",),
    # Providers reached through LiteLLM: the variables LiteLLM itself reads, so the key is known (and redacted).
    "cohere": ("COHERE_API_KEY", "CO_API_KEY"),
    "perplexity": ("PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY"),
    "databricks": ("DATABRICKS_API_KEY",),
    "huggingface": ("HUGGINGFACE_API_KEY", "HF_TOKEN"),
}

GUARD_MODES = ("warn", "error", "off")

T = TypeVar("T")


def provider_prefix(model: str) -> str:
    """The provider part of a model string (``"openai"`` for ``"openai/gpt-4o"``); bare names are OpenAI's."""
    head, sep, _ = model.partition("/")
    return head if sep else "openai"


def key_variables(model: str) -> tuple[str, ...]:
    """The environment variables searched for the key of ``model``, in order.

    A provider declared with ``dspy.lm15.register_provider`` is searched in the variables it declared.
    """
    from sharedlm._providers import registered_definition

    prefix = provider_prefix(model)
    declared = registered_definition(prefix)
    own = tuple(declared.access.env_keys) if declared is not None else PROVIDER_KEY_VARIABLES.get(prefix, ())
    return ("SHAREDLM_API_KEY", *own)


def find_api_key(model: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The first non-empty key among :func:`key_variables` of ``model``.

    Raises:
        ConfigurationError: When that key holds a character an HTTP header cannot carry; it names the variable,
            never the key.
    """
    env = os.environ if environ is None else environ
    for name in key_variables(model):
        value = env.get(name, "").strip()
        if value:
            check_api_key(f"environment variable {name}", value)
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


# Settings read from a numeric variable: a value out of range is reported with the variable's name.
_NUMERIC_VARIABLES = {
    "max_parallel_requests": "SHAREDLM_MAX_PARALLEL_REQUESTS", "timeout": "SHAREDLM_TIMEOUT",
    "max_retries": "SHAREDLM_MAX_RETRIES", "rpm": "SHAREDLM_RPM", "tpm": "SHAREDLM_TPM",
    "budget_share": "SHAREDLM_BUDGET_SHARE", "pool_timeout": "SHAREDLM_POOL_TIMEOUT",
    "max_response_header_bytes": "SHAREDLM_MAX_RESPONSE_HEADER_BYTES",
    "max_response_body_bytes": "SHAREDLM_MAX_RESPONSE_BODY_BYTES",
    "max_response_decompressed_bytes": "SHAREDLM_MAX_RESPONSE_DECOMPRESSED_BYTES",
}


def _check_range(name: str, value: Any, variable: str) -> None:
    """Refuse a value read from ``variable`` that setting ``name`` does not take, naming the variable.

    The settings' own rules decide (one setting checked alone, so the message is about this value only); their
    message names the setting and the unit, and is prefixed with the variable it came from.
    """
    try:
        SharedLMSettings().with_changes(**{name: value})
    except ConfigurationError as exc:
        raise ConfigurationError(f"environment variable {variable}: {exc}; fix or unset it") from None


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
        "max_response_header_bytes": _parse(env, "SHAREDLM_MAX_RESPONSE_HEADER_BYTES", int, "a whole number of bytes"),
        "max_response_body_bytes": _parse(env, "SHAREDLM_MAX_RESPONSE_BODY_BYTES", int, "a whole number of bytes"),
        "max_response_decompressed_bytes": _parse(env, "SHAREDLM_MAX_RESPONSE_DECOMPRESSED_BYTES", int,
                                                  "a whole number of bytes"),
    }
    from_env = {name: variable for name, variable in _NUMERIC_VARIABLES.items()
                if values.get(name) is not None and overrides.get(name) is None}
    values.update({k: v for k, v in overrides.items() if v is not None})
    values = {k: v for k, v in values.items() if v is not None}
    for name, variable in from_env.items():
        _check_range(name, values[name], variable)
    if "api_key" not in values:
        key = find_api_key(values["model"], env)
        if key is not None:
            values["api_key"] = key
    flow, own, extra_lm_kwargs = split_setting_names(values)
    lm_kwargs = {**own.pop("lm_kwargs", {}), **extra_lm_kwargs}
    return SharedLMSettings(flow=FlowSettings(**flow), lm_kwargs=lm_kwargs, **own)


def declared_models(environ: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """Models declared in ``SHAREDLM_MODELS``: a JSON object from model string to that model's settings.

    For example ``{"openai/gpt-4o": {"rpm": 500}, "anthropic/claude-sonnet-4-5": {"temperature": 0}}``. The
    settings are the keywords ``sharedlm.get_shared_lm(model, **settings)`` takes.

    Raises:
        ConfigurationError: When the variable is not such an object; the message names the variable and the
            part that is wrong, never a value (a declaration may hold a key).
    """
    env = os.environ if environ is None else environ
    raw = env.get("SHAREDLM_MODELS", "").strip()
    if not raw:
        return {}
    example = 'e.g. SHAREDLM_MODELS=\'{"openai/gpt-4o": {"rpm": 500}, "openai/gpt-4o-mini": {}}\''
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise ConfigurationError(f"environment variable SHAREDLM_MODELS is not valid JSON; {example}") from None
    if not isinstance(parsed, dict):
        raise ConfigurationError(f"environment variable SHAREDLM_MODELS must be a JSON object; {example}")
    models: dict[str, dict[str, Any]] = {}
    for model, settings in parsed.items():
        if not model.strip():
            raise ConfigurationError(f"environment variable SHAREDLM_MODELS has an empty model name; {example}")
        if not isinstance(settings, dict):
            raise ConfigurationError(
                f"environment variable SHAREDLM_MODELS: the settings of {model!r} must be a JSON object ({{}} for "
                f"none); {example}")
        try:
            # The settings' own rules, checked now so the message can name the variable and the model; their
            # messages never show a key.
            SharedLMSettings(model=model.strip()).with_changes(**settings)
        except ConfigurationError as exc:
            raise ConfigurationError(
                f"environment variable SHAREDLM_MODELS: the settings of {model!r}: {exc}; fix or unset it") from None
        models[model.strip()] = settings
    return models


# Cloud credentials LiteLLM reads from the environment itself (the AWS chain): sharedlm never sends them, but knows
# them so it can redact them from what a failed call leaves (see :mod:`sharedlm._litellm_route`).
CLOUD_SECRET_VARIABLES = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                          "AWS_BEARER_TOKEN_BEDROCK")


def cloud_secrets(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The values of :data:`CLOUD_SECRET_VARIABLES` that are set, to be redacted (never to be sent or shown)."""
    env = os.environ if environ is None else environ
    return tuple(value for value in (env.get(name, "").strip() for name in CLOUD_SECRET_VARIABLES) if value)


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


BUDGET_URL_SCHEMES = ("redis://", "rediss://", "unix://")


def budget_url(environ: Mapping[str, str] | None = None) -> str | None:
    """Where every process shares one in-flight budget (``SHAREDLM_BUDGET_URL``, a Redis URL), or None: unset.

    The URL may hold a password, so errors never show it.
    """
    env = os.environ if environ is None else environ
    url = env.get("SHAREDLM_BUDGET_URL", "").strip()
    if not url:
        return None
    if not url.startswith(BUDGET_URL_SCHEMES):
        raise ConfigurationError(
            "environment variable SHAREDLM_BUDGET_URL must be a Redis URL (redis://host:port/db, rediss:// or "
            "unix://); fix or unset it"
        )
    return url


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where learned limits are remembered: ``SHAREDLM_STATE_DIR``, else ``sharedlm`` in the user's cache directory.

    The cache directory is ``XDG_CACHE_HOME`` (else ``~/.cache``) on Linux, ``~/Library/Caches`` on macOS and
    ``LOCALAPPDATA`` on Windows.
    """
    env = os.environ if environ is None else environ
    chosen = env.get("SHAREDLM_STATE_DIR", "").strip()
    if chosen:
        return Path(chosen).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "sharedlm"
    if sys.platform == "win32":
        local = env.get("LOCALAPPDATA", "").strip()
        return (Path(local) if local else Path.home() / "AppData" / "Local") / "sharedlm" / "Cache"
    cache = env.get("XDG_CACHE_HOME", "").strip()
    return (Path(cache) if cache else Path.home() / ".cache") / "sharedlm"


__all__ = ["CLOUD_SECRET_VARIABLES", "budget_url", "cloud_secrets", "declared_models", "find_api_key",
           "guard_max_lms", "guard_mode", "key_variables", "provider_prefix", "settings_from_env", "state_dir"]
