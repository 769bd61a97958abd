"""The process's shared LMs as users reach them: configure, get, inspect and reset.

``get_shared_lm()`` returns a real ``dspy.LM`` whose engines are the default model's
:class:`~sharedlm._engine.SharedEngine` (and its sync bridge), so ``dspy.configure(lm=...)``, ``set_lm``,
``dspy.context``, history, the DSPy cache and callbacks all behave as with any LM. ``get_shared_lm(model)``
returns the shared LM for another model, on the same connections (see :mod:`sharedlm._registry`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import dspy

from sharedlm._engine import SharedEngine
from sharedlm._errors import ConfigurationError
from sharedlm._registry import REGISTRY, EngineHook
from sharedlm._settings import SharedLMSettings
from sharedlm._stats import EngineStats
from sharedlm._sync_bridge import SharedSyncEngine


def configure(
    settings: SharedLMSettings | None = None,
    *,
    model: str | None = None,
    api_key: str | None = None,
    api_base: str | None = None,
    max_parallel_requests: int | None = None,
    timeout: float | None = None,
    models: Mapping[str, Mapping[str, Any]] | None = None,
    **overrides: Any,
) -> SharedLMSettings:
    """Set the shared LM's settings explicitly, before or instead of the environment.

    With ``settings``, that object is used whole (the environment is not read) and keyword arguments change
    fields of it. Without it, arguments left as None come from the environment (see :mod:`sharedlm._env`).
    Flow settings (``max_retries``, ``rpm``, ``tpm``, ``budget_share``, ``pool_timeout``, ``adaptive``, ...) are
    accepted by name; anything else goes to ``dspy.LM`` (``temperature``, ``max_tokens``, ``cache``, ...).

    Args:
        settings: Complete settings to use as they are, e.g. from :func:`get_settings` in another process.
        model: A DSPy model string such as ``"openai/gpt-4o-mini"``.
        api_key: The provider key; never logged or shown.
        api_base: The provider's base URL (OpenAI-compatible servers, proxies, the simulator).
        max_parallel_requests: The cap on requests in flight and pooled connections in this process.
        timeout: The longest one attempt may take, in seconds.
        models: Further models this process uses, declared up front: model string -> the settings
            ``get_shared_lm(model, **settings)`` takes, e.g. ``{"openai/gpt-4o": {"rpm": 500}}``. The environment
            can declare them too (``SHAREDLM_MODELS``, JSON); these win. Each is built on first use.
        **overrides: Flow settings by name, then further ``dspy.LM`` keyword arguments.

    Returns:
        The settings the default shared LM is (or will be) built with.

    Raises:
        ConfigurationError: When shared LMs already exist with different settings (the message names the
            settings that differ, never their values); call ``sharedlm.reset_shared_lm()`` first.
    """
    if settings is not None and not isinstance(settings, SharedLMSettings):
        raise ConfigurationError(
            f"configure(settings=...) takes a sharedlm.SharedLMSettings, got {type(settings).__name__}; pass single "
            "settings as keywords instead, e.g. configure(model='openai/gpt-4o-mini')"
        )
    explicit = {"model": model, "api_key": api_key, "api_base": api_base,
                "max_parallel_requests": max_parallel_requests, "timeout": timeout, **overrides}
    explicit = {k: v for k, v in explicit.items() if v is not None}
    return REGISTRY.configure(settings, explicit, models)


def get_settings(model: str | None = None) -> SharedLMSettings:
    """The settings a shared LM is built with, or would be if it were built now (without building it).

    The object is frozen and can be passed whole to ``configure(settings=...)``, here or in another process.

    Args:
        model: A model string; None for the default model.
    """
    return REGISTRY.settings_for(model)


def get_shared_lm(model: str | None = None, **settings: Any) -> dspy.LM:
    """The process's shared LM for a model, created on first use (thread-safe: racing threads get one object).

    Every shared LM of the process draws on one connection pool per event loop (sized by the default model's
    ``max_parallel_requests``); each model paces itself (adaptive limit, pauses, rpm/tpm budgets) on its own.

    Args:
        model: A DSPy model string such as ``"openai/gpt-4o"``; None for the default model (``configure`` or
            ``SHAREDLM_MODEL``).
        **settings: The settings ``configure`` takes (``api_key``, ``api_base``, ``timeout``, ``max_retries``,
            ``rpm``, ``tpm``, ...) and ``dspy.LM`` keywords (``temperature``, ``max_tokens``, ``cache``, ...). A
            model other than the default starts from the default's settings (the key and base URL only for the
            same provider), then its declaration (``configure(models=...)``, ``SHAREDLM_MODELS``), then these.

    Returns:
        A ``dspy.LM``; the same object for the same model every time.

    Raises:
        ConfigurationError: When the model's shared LM exists with other settings (naming them, never their
            values). Use ``lm.copy(temperature=...)`` for other sampling settings, or reset first.
    """
    return REGISTRY.get(model, settings)


def shared_engines(model: str | None = None) -> tuple[SharedSyncEngine, SharedEngine]:
    """A shared LM's sync and async engines (building the LM if needed).

    Args:
        model: A model string; None for the default model.
    """
    entry = REGISTRY.entry(model)
    return entry.sync_engine, entry.engine


def current_engine() -> SharedEngine | None:
    """The default shared engine if the default shared LM exists, without building it."""
    return REGISTRY.default_engine()


def all_engines() -> list[SharedEngine]:
    """Every shared engine built so far, one per model."""
    return REGISTRY.engines()


def watch_engines(hook: EngineHook) -> Callable[[], None]:
    """Apply ``hook`` to every shared engine, those built later included, until the returned function undoes it.

    A run attaches its spend cap and journal this way, so a second model's calls are booked like the default's,
    whether its shared LM was built before the run or inside it.
    """
    return REGISTRY.watch_engines(hook)


def reset_shared_lm() -> None:
    """Close every shared LM's pools and forget them and any explicit settings (tests, notebooks).

    Calls still running on the old LMs fail with :class:`~sharedlm._errors.SharedLMClosedError`: sync calls at
    once (their threads stop waiting), async calls at their next attempt. It returns within seconds, whatever
    the calls in flight do.
    """
    REGISTRY.close()


def stats() -> EngineStats:
    """A snapshot of the shared LMs: calls, attempts, in flight, queued, limit, connections, tokens, cost.

    The fields are totals over every model; ``models`` holds each model's own snapshot. Returns an all-zero
    snapshot when no shared LM has been built yet.
    """
    return REGISTRY.stats()


__all__ = [
    "all_engines", "configure", "current_engine", "get_settings", "get_shared_lm", "reset_shared_lm",
    "shared_engines", "stats", "watch_engines",
]
