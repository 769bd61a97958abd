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
    model: str | None = None,
    api_key: str | None = None,
    api_base: str | None = None,
    max_parallel_requests: int | None = None,
    timeout: float | None = None,
    **lm_kwargs: Any,
) -> SharedLMSettings:
    """Set the shared LM's settings explicitly, before or instead of the environment.

    Arguments left as None come from the environment (see :mod:`sharedlm._env`). Flow settings
    (``max_retries``, ``rpm``, ``tpm``, ``budget_share``, ``pool_timeout``, ``adaptive``, ...) are accepted by
    name; anything else goes to ``dspy.LM`` (``temperature``, ``max_tokens``, ``cache``, ...).

    Args:
        model: A DSPy model string such as ``"openai/gpt-4o-mini"``.
        api_key: The provider key; never logged or shown.
        api_base: The provider's base URL (OpenAI-compatible servers, proxies, the simulator).
        max_parallel_requests: The cap on requests in flight and pooled connections in this process.
        timeout: The longest one attempt may take, in seconds.
        **lm_kwargs: Flow settings by name, then further ``dspy.LM`` keyword arguments.

    Returns:
        The settings the shared LM is (or will be) built with.

    Raises:
        ConfigurationError: When the shared LM already exists with different settings; call
            ``sharedlm.reset_shared_lm()`` first.
    """
    explicit = {"model": model, "api_key": api_key, "api_base": api_base,
                "max_parallel_requests": max_parallel_requests, "timeout": timeout, **lm_kwargs}
    explicit = {k: v for k, v in explicit.items() if v is not None}
    with _state.lock:
        settings = settings_from_env(**explicit)
        if _state.lm is not None:
            if settings != _state.settings:
                changed = sorted(_differences(_state.settings, settings))
                raise ConfigurationError(
                    f"the shared LM already exists with other settings ({', '.join(changed)} differ); call "
                    "sharedlm.reset_shared_lm() first, then configure again"
                )
            return settings
        _state.explicit = explicit
        _state.settings = settings
        return settings


def _differences(old: SharedLMSettings | None, new: SharedLMSettings) -> set[str]:
    if old is None:
        return {"settings"}
    names = {name for name in SharedLMSettings.__dataclass_fields__ if getattr(old, name) != getattr(new, name)}
    if "flow" in names:
        names.discard("flow")
        names |= {name for name in type(new.flow).__dataclass_fields__
                  if getattr(old.flow, name) != getattr(new.flow, name)}
    return names


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
    lm = dspy.LM(settings.model, engine=sync_engine, async_engine=engine, num_retries=0, **lm_kwargs)
    _state.settings, _state.engine, _state.sync_engine, _state.lm = settings, engine, sync_engine, lm
    watch_shared_lm(lm)


def shared_engines() -> tuple[SharedSyncEngine, SharedEngine]:
    """The shared LM's sync and async engines (building the LM if needed)."""
    get_shared_lm()
    with _state.lock:
        assert _state.sync_engine is not None and _state.engine is not None
        return _state.sync_engine, _state.engine


def current_engine() -> SharedEngine | None:
    """The shared engine if the shared LM exists, without building it."""
    return _state.engine


def reset_shared_lm() -> None:
    """Close the shared LM's pools and forget it and any explicit settings (tests, notebooks)."""
    with _state.lock:
        engine, sync_engine = _state.engine, _state.sync_engine
        _state.clear()
        forget_guard()
    if sync_engine is not None:
        sync_engine.close()
    if engine is not None:
        engine.close_nowait()


def stats() -> EngineStats:
    """A snapshot of the shared engine: calls, attempts, in flight, queued, limit, connections, tokens.

    Returns an all-zero snapshot when the shared LM has not been built yet.
    """
    engine = _state.engine
    return engine.stats() if engine is not None else EngineStats()


__all__ = ["configure", "current_engine", "get_shared_lm", "reset_shared_lm", "shared_engines", "stats"]
