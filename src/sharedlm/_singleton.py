"""The process-wide shared LM: created lazily and once, configured explicitly or from the environment.

``get_shared_lm()`` returns a real ``dspy.LM`` whose engines are the process's one
:class:`~sharedlm._engine.SharedEngine` (and its sync bridge), so ``dspy.configure(lm=...)``,
``set_lm``, ``dspy.context``, history, the DSPy cache and callbacks all behave as with any LM.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import dspy

from sharedlm._engine import SharedEngine
from sharedlm._env import settings_from_env
from sharedlm._errors import ConfigurationError
from sharedlm._fdlimit import plan_connection_cap
from sharedlm._guard import forget_guard, watch_shared_lm
from sharedlm._priced_lm import PricedLM
from sharedlm._settings import SharedLMSettings
from sharedlm._stats import EngineStats
from sharedlm._sync_bridge import SharedSyncEngine

logger = logging.getLogger("sharedlm")


class _SharedState:
    """The singleton's state; all access under ``lock``."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clear()

    def clear(self) -> None:
        self.explicit: dict[str, Any] = {}
        self.settings: SharedLMSettings | None = None
        self.lm: dspy.LM | None = None
        self.engine: SharedEngine | None = None
        self.sync_engine: SharedSyncEngine | None = None


_state = _SharedState()


def configure(
    settings: SharedLMSettings | None = None,
    *,
    model: str | None = None,
    api_key: str | None = None,
    api_base: str | None = None,
    max_parallel_requests: int | None = None,
    timeout: float | None = None,
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
        **overrides: Flow settings by name, then further ``dspy.LM`` keyword arguments.

    Returns:
        The settings the shared LM is (or will be) built with.

    Raises:
        ConfigurationError: When the shared LM already exists with different settings (the message names the
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
    with _state.lock:
        if settings is not None:
            resolved = settings.with_changes(**explicit) if explicit else settings
        else:
            resolved = settings_from_env(**explicit)
        if _state.lm is not None:
            assert _state.settings is not None
            if resolved != _state.settings:
                changed = _state.settings.differences(resolved)
                raise ConfigurationError(
                    f"the shared LM already exists with other settings ({', '.join(changed)} differ); call "
                    "sharedlm.reset_shared_lm() first, then configure again"
                )
            return resolved
        _state.explicit = explicit
        _state.settings = resolved
        return resolved


def get_settings() -> SharedLMSettings:
    """The settings the shared LM is built with, or would be if it were built now (without building it).

    The object is frozen and can be passed whole to ``configure(settings=...)``, here or in another process.
    """
    with _state.lock:
        return _state.settings or settings_from_env(**_state.explicit)


def get_shared_lm() -> dspy.LM:
    """The process-wide shared LM, created on first use (thread-safe: racing threads get one object).

    Returns:
        A ``dspy.LM`` whose connection pool and in-flight limit are sized by ``max_parallel_requests``.
    """
    lm = _state.lm
    if lm is not None:
        return lm
    with _state.lock:
        if _state.lm is None:
            _build_locked()
        assert _state.lm is not None
        return _state.lm


def _build_locked() -> None:
    settings = _state.settings or settings_from_env(**_state.explicit)
    plan = plan_connection_cap(settings.max_parallel_requests, reserve=settings.fd_reserve)
    if plan.clamped or plan.raised_soft_limit:
        logger.warning(plan.describe())
    else:
        logger.info(plan.describe())
    engine = SharedEngine(settings, plan=plan)
    sync_engine = SharedSyncEngine(engine)
    lm_kwargs = dict(settings.lm_kwargs)
    # One retry layer: the engine retries; DSPy must not retry again.
    # PricedLM: a dspy.LM whose history entries carry each call's cost (DSPy leaves it None for custom engines).
    lm = PricedLM(settings.model, engine=sync_engine, async_engine=engine, num_retries=0, **lm_kwargs)
    _state.settings, _state.engine, _state.sync_engine, _state.lm = settings, engine, sync_engine, lm
    watch_shared_lm(lm)


def shared_engines() -> tuple[SharedSyncEngine, SharedEngine]:
    """The shared LM's sync and async engines (building the LM if needed)."""
    get_shared_lm()
    with _state.lock:
        assert _state.sync_engine is not None
        assert _state.engine is not None
        return _state.sync_engine, _state.engine


def current_engine() -> SharedEngine | None:
    """The shared engine if the shared LM exists, without building it."""
    return _state.engine


def reset_shared_lm() -> None:
    """Close the shared LM's pools and forget it and any explicit settings (tests, notebooks).

    Calls still running on the old LM fail with :class:`~sharedlm._errors.SharedLMClosedError`: sync calls at
    once (their threads stop waiting), async calls at their next attempt. It returns within seconds, whatever
    the calls in flight do.
    """
    with _state.lock:
        engine, sync_engine = _state.engine, _state.sync_engine
        _state.clear()
        forget_guard()
    if engine is not None:
        engine.close_nowait()  # first, so no attempt starts while the sync loop stops
    if sync_engine is not None:
        sync_engine.close()


def stats() -> EngineStats:
    """A snapshot of the shared engine: calls, attempts, in flight, queued, limit, connections, tokens.

    Returns an all-zero snapshot when the shared LM has not been built yet.
    """
    engine = _state.engine
    return engine.stats() if engine is not None else EngineStats()


__all__ = [
    "configure", "current_engine", "get_settings", "get_shared_lm", "reset_shared_lm", "shared_engines", "stats",
]
