"""The process's shared LMs: one per model, each built once, all on one set of connections.

A process may use several models (an optimizer's prompt and task models, a judge, a cheap-then-strong pipeline).
:class:`SharedLMRegistry` keeps one shared LM per model string. What they share is :class:`SharedConnections`:
one :class:`~sharedlm._transport.PooledTransport` (one pool per event loop, capped at the process's connection
cap, holding the connections to every origin the models reach) and one loop thread for sync calls, so the
process's connections stay within the open-file clamp however many models exist. What each keeps for itself is
its :class:`~sharedlm._engine.SharedEngine`: the deployment's flow state (adaptive limit, pauses, rpm/tpm budgets),
counters and price, so a 429 storm on one model does not slow another.

Settings of a model other than the default start from the default's settings. The model string changes; the
key and base URL are kept when the provider is the same and otherwise read from the environment for the
model's provider; ``lm_kwargs`` (temperature, max_tokens, ...; but ``cache`` is kept), ``rpm``, ``tpm`` and
``initial_concurrency`` describe one model and are not carried over. Then come the model's declaration
(``configure(models=...)``, or ``SHAREDLM_MODELS``) and the keywords of ``get_shared_lm(model, **settings)``.
The connection settings (``connect_timeout``, ``fd_reserve``, the response size limits) belong to the
process's one pool and must be the default's.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import dspy

from sharedlm._admission import InFlightGate
from sharedlm._engine import ENGINE_RESOLVER, SharedEngine, closed_error
from sharedlm._env import declared_models, find_api_key, key_variables, provider_prefix, settings_from_env
from sharedlm._errors import ConfigurationError
from sharedlm._fdlimit import ConnectionCapPlan, plan_connection_cap
from sharedlm._guard import forget_guard, watch_shared_lm
from sharedlm._loop_thread import LoopThread
from sharedlm._priced_lm import PricedLM
from sharedlm._settings import SharedLMSettings
from sharedlm._stats import EngineStats, combine_stats
from sharedlm._sync_bridge import SharedSyncEngine
from sharedlm._transport import PooledTransport

logger = logging.getLogger("sharedlm")

# Settings of the process's one pool: every model is served by it, so they are the default model's.
PROCESS_SETTINGS = ("connect_timeout", "fd_reserve", "max_response_header_bytes", "max_response_body_bytes",
                    "max_response_decompressed_bytes")
# Client settings of a plain dspy.LM that name a deployment; the shared engine owns them.
_CLIENT_KEYS = frozenset({"api_key", "api_base", "base_url"})
_ENGINE_OWNED_KWARGS = frozenset({"api_key", "api_base", "base_url", "headers", "extra_headers", "timeout",
                                  "api_version", "num_retries"})


@dataclass(frozen=True)
class SharedConnections:
    """What every shared LM of the process shares: the connection cap, the pools and the sync loop.

    Args:
        plan: The connection cap the open-file limit allows.
        transport: One capped pool per event loop, holding connections to every origin.
        loop_thread: The loop sync DSPy calls of every model run on.
        in_flight: The process's in-flight cap over every model's calls, from every loop (one per model is not
            enough: each loop has a pool of its own).
    """

    plan: ConnectionCapPlan
    transport: PooledTransport
    loop_thread: LoopThread
    in_flight: InFlightGate


@dataclass(frozen=True)
class SharedEntry:
    """One model's shared LM and what it is built from."""

    settings: SharedLMSettings
    engine: SharedEngine
    sync_engine: SharedSyncEngine
    lm: dspy.LM


def _changed(before: SharedLMSettings, after: SharedLMSettings) -> str:
    return ", ".join(before.differences(after)) or "settings"


# Applied to a shared engine; returns what undoes it.
EngineHook = Callable[[SharedEngine], Callable[[], None]]


class _EngineWatch:
    """One :meth:`SharedLMRegistry.watch_engines`: its hook and the undo of each engine it was applied to."""

    def __init__(self, hook: EngineHook) -> None:
        self.hook = hook
        self.undo: list[Callable[[], None]] = []

    def __repr__(self) -> str:
        return f"_EngineWatch(hook={self.hook!r}, engines={len(self.undo)})"

    def apply(self, engine: SharedEngine) -> None:
        self.undo.append(self.hook(engine))


def _own_provider_key(model: str) -> str | None:
    """The key of ``model`` from its provider's own variables (``ANTHROPIC_API_KEY``), never ``SHAREDLM_API_KEY``."""
    own = key_variables(model)[1:]
    return find_api_key(model, {name: os.environ.get(name, "") for name in own})


class SharedLMRegistry:
    """The process's shared LMs by model string; every method is thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        # Not cleared with the LMs: a run's spend cap must also cover the engines built after a reset.
        self.watches: list[_EngineWatch] = []
        self.clear()

    def clear(self) -> None:
        """Forget everything (the caller closes what was built)."""
        self.explicit: dict[str, Any] = {}
        # The default model's settings, fixed by configure() or when the connections are built.
        self.settings: SharedLMSettings | None = None
        self.declared: dict[str, dict[str, Any]] = {}
        self.entries: dict[str, SharedEntry] = {}
        self.default_model: str | None = None
        self.connections: SharedConnections | None = None

    def __repr__(self) -> str:
        pool = self.connections.plan.cap if self.connections is not None else None
        return (f"SharedLMRegistry(models={sorted(self.entries)}, default={self.default_model!r}, pool_size={pool}, "
                f"watches={len(self.watches)})")

    # --- settings ---

    def default_settings(self) -> SharedLMSettings:
        """The default model's settings: configured, else from the environment (and explicit keywords)."""
        with self.lock:
            return self.settings or settings_from_env(**self.explicit)

    def declared_for(self, model: str) -> dict[str, Any]:
        """What ``SHAREDLM_MODELS`` and ``configure(models=...)`` declare for ``model`` (code wins)."""
        with self.lock:
            return {**declared_models().get(model, {}), **self.declared.get(model, {})}

    def settings_for(self, model: str | None, overrides: Mapping[str, Any] | None = None) -> SharedLMSettings:
        """The settings ``model``'s shared LM is (or would be) built with.

        Args:
            model: A model string; None for the default model.
            overrides: Settings given with the call, by name, as ``configure`` takes them.

        Raises:
            ConfigurationError: When a setting is invalid, or a connection setting differs from the default's.
        """
        with self.lock:
            default = self.default_settings()
            model = model or default.model
            entry = self.entries.get(model)
            if entry is not None:
                settings = entry.settings
            elif model == default.model:
                settings = default
            else:
                settings = self._derived(default, model)
            declared = self.declared_for(model) if entry is None else {}
            changes = {**declared, **(overrides or {})}
            if changes:
                settings = settings.with_changes(**changes)
            differing = [name for name in PROCESS_SETTINGS if getattr(settings, name) != getattr(default, name)]
            if differing:
                raise ConfigurationError(
                    f"{', '.join(differing)} of {model!r} cannot differ from the default model's: every model of "
                    "the process shares one connection pool. Set them with sharedlm.configure(...)")
            return settings

    @staticmethod
    def _derived(default: SharedLMSettings, model: str) -> SharedLMSettings:
        same_provider = provider_prefix(model) == provider_prefix(default.model)
        if same_provider:
            api_key, api_base = default.api_key, default.api_base
        else:
            # SHAREDLM_API_KEY and SHAREDLM_API_BASE are the default model's: another provider's key comes from its
            # own variable only, and it keeps its own base URL, never one meant for another provider.
            api_key, api_base = _own_provider_key(model), None
        flow = replace(default.flow, rpm=None, tpm=None, initial_concurrency=None)
        # Whether DSPy's cache answers is the process's choice; sampling settings describe one model.
        kept = {k: v for k, v in default.lm_kwargs.items() if k == "cache"}
        return replace(default, model=model, api_key=api_key, api_base=api_base, lm_kwargs=kept, flow=flow)

    def configure(self, settings: SharedLMSettings | None, explicit: dict[str, Any],
                  models: Mapping[str, Mapping[str, Any]] | None) -> SharedLMSettings:
        """Fix the default model's settings and declare others (see :func:`sharedlm.configure`)."""
        with self.lock:
            resolved = (settings.with_changes(**explicit) if explicit else settings) if settings is not None \
                else settings_from_env(**explicit)
            if self.connections is not None:
                assert self.settings is not None
                if resolved != self.settings:
                    raise ConfigurationError(
                        f"shared LMs already exist with other settings ({_changed(self.settings, resolved)} "
                        "differ); call sharedlm.reset_shared_lm() first, then configure again")
            else:
                self.explicit = explicit
                self.settings = resolved
            if models:
                self._declare(models)
            return resolved

    def _declare(self, models: Mapping[str, Mapping[str, Any]]) -> None:
        if not isinstance(models, Mapping):
            raise ConfigurationError("configure(models=...) takes a mapping from model string to its settings, e.g. "
                                     "models={'openai/gpt-4o': {'rpm': 500}}")
        for model, declared in models.items():
            if not isinstance(model, str) or not model.strip() or not isinstance(declared, Mapping):
                raise ConfigurationError(
                    f"configure(models=...): {model!r} must be a model string mapped to a dict of its settings")
        previous = dict(self.declared)
        self.declared.update({model.strip(): dict(declared) for model, declared in models.items()})
        try:
            for model in models:
                wanted = self.settings_for(model.strip(), self.declared[model.strip()])
                entry = self.entries.get(model.strip())
                if entry is not None and wanted != entry.settings:
                    raise ConfigurationError(
                        f"the shared LM for {model.strip()!r} already exists with other settings "
                        f"({_changed(entry.settings, wanted)} differ); call sharedlm.reset_shared_lm() first")
        except ConfigurationError:
            self.declared = previous
            raise

    # --- the shared LMs ---

    def get(self, model: str | None = None, overrides: Mapping[str, Any] | None = None) -> dspy.LM:
        """The shared LM for ``model`` (None: the default model), built on first use.

        Raises:
            ConfigurationError: When it exists with settings other than ``overrides`` ask for.
        """
        if not overrides:
            entry = self.entries.get(model or self.default_model or "")
            if entry is not None:
                return entry.lm
        return self.entry(model, overrides).lm

    def entry(self, model: str | None = None, overrides: Mapping[str, Any] | None = None) -> SharedEntry:
        """The shared LM, engines and settings for ``model``, built on first use."""
        with self.lock:
            default = self.default_settings()
            key = model or default.model
            entry = self.entries.get(key)
            if entry is not None:
                if overrides:
                    wanted = entry.settings.with_changes(**overrides)
                    if wanted != entry.settings:
                        raise ConfigurationError(
                            f"the shared LM for {key!r} already exists with other settings "
                            f"({_changed(entry.settings, wanted)} differ). For other sampling settings use "
                            "lm.copy(temperature=...), which shares its connections; otherwise call "
                            "sharedlm.reset_shared_lm() first")
                return entry
            settings = self.settings_for(key, overrides)
            connections = self._connections(default)
            engine = SharedEngine(settings, plan=connections.plan, transport=connections.transport,
                                  process_gate=connections.in_flight)
            sync_engine = SharedSyncEngine(engine, connections.loop_thread)
            # One retry layer: the engine retries; DSPy must not retry again. PricedLM prices each history entry.
            lm = PricedLM(settings.model, engine=sync_engine, async_engine=engine, num_retries=0,
                          **dict(settings.lm_kwargs))
            entry = SharedEntry(settings=settings, engine=engine, sync_engine=sync_engine, lm=lm)
            self.entries[key] = entry
            if key == default.model:
                self.default_model = key
            watch_shared_lm(lm)
            for watch in self.watches:  # before the LM is handed out, so none of its calls escapes a run's cap
                watch.apply(engine)
            return entry

    def watch_engines(self, hook: EngineHook) -> Callable[[], None]:
        """Apply ``hook`` to every shared engine now and to each one built later, until the returned function is
        called; that function undoes what the hook did to each engine (latest first).

        Args:
            hook: Changes one engine (quickly, without raising: it runs under the registry's lock) and returns
                the function that undoes the change.
        """
        watch = _EngineWatch(hook)
        with self.lock:
            for entry in list(self.entries.values()):
                watch.apply(entry.engine)
            self.watches.append(watch)

        def stop() -> None:
            with self.lock:
                if watch not in self.watches:
                    return
                self.watches.remove(watch)
                undo, watch.undo = watch.undo[::-1], []
            for step in undo:
                step()

        return stop

    def _connections(self, default: SharedLMSettings) -> SharedConnections:
        if self.connections is None:
            plan = plan_connection_cap(default.max_parallel_requests, reserve=default.fd_reserve)
            if plan.clamped or plan.raised_soft_limit:
                logger.warning(plan.describe())
            else:
                logger.info(plan.describe())
            transport = PooledTransport(max_connections=plan.cap, connect_timeout=default.connect_timeout,
                                        limits=default.response_limits)
            loop_thread = LoopThread("sharedlm-sync-engine", stopped_error=closed_error)
            self.connections = SharedConnections(plan=plan, transport=transport, loop_thread=loop_thread,
                                                 in_flight=InFlightGate(plan.cap))
            self.settings = default
        return self.connections

    def model_names(self) -> list[str]:
        """Every model built or declared so far (in code or ``SHAREDLM_MODELS``), in order."""
        with self.lock:
            return sorted({*self.entries, *self.declared, *declared_models()})

    def engines(self) -> list[SharedEngine]:
        """Every shared engine built so far."""
        with self.lock:
            return [entry.engine for entry in self.entries.values()]

    def default_engine(self) -> SharedEngine | None:
        """The default model's engine if its shared LM exists, without building it."""
        entry = self.entries.get(self.default_model or "")
        return entry.engine if entry is not None else None

    def is_shared(self, lm: Any) -> bool:
        """Whether ``lm`` is one of the shared LMs or a copy of one (copies share its engine)."""
        engine = getattr(lm, "_async_engine_spec", None)
        return isinstance(engine, SharedEngine) and any(entry.engine is engine for entry in self.entries.values())

    def shared_like(self, lm: Any) -> Any:
        """The shared LM standing in for ``lm``: the one for its model, copied with its sampling settings.

        A plain ``dspy.LM("openai/x", temperature=0)`` becomes ``get_shared_lm("openai/x")`` (its copy with
        ``temperature=0`` when that differs). A shared LM or a copy of one is returned as it is. A plain LM's
        own key and base URL are used when the model's shared LM does not exist yet.
        """
        if self.is_shared(lm):
            return lm
        model = getattr(lm, "model", None)
        if not isinstance(model, str) or not model:
            raise ConfigurationError(f"cannot bind {type(lm).__name__} to a shared LM: it names no model")
        kwargs = dict(getattr(lm, "kwargs", {}) or {})
        client = {("api_base" if k == "base_url" else k): v for k, v in kwargs.items()
                  if k in _CLIENT_KEYS and v is not None}
        with self.lock:
            exists = model in self.entries
            shared = self.get(model, None if exists else client)
        sampling = {k: v for k, v in kwargs.items()
                    if k not in _ENGINE_OWNED_KWARGS and shared.kwargs.get(k) != v}
        if getattr(lm, "cache", shared.cache) != shared.cache:
            sampling["cache"] = lm.cache
        return shared.copy(**sampling) if sampling else shared

    def stats(self) -> EngineStats:
        """Totals over every model, with each model's own snapshot in ``models``."""
        with self.lock:
            entries = dict(self.entries)
            connections = self.connections
        if not entries or connections is None:
            return EngineStats()
        per_model = {model: entry.engine.stats() for model, entry in entries.items()}
        return combine_stats(per_model, cap=connections.plan.cap,
                             open_connections=connections.transport.open_connections,
                             connections_opened=connections.transport.connections_opened,
                             default=self.default_model)

    def close(self) -> None:
        """Close every shared LM and the connections, and forget them (``reset_shared_lm``)."""
        with self.lock:
            entries = list(self.entries.values())
            connections = self.connections
            self.clear()
            forget_guard()
        for entry in entries:
            entry.engine.close_nowait()  # first, so no attempt starts while the sync loop stops
        if connections is not None:
            connections.loop_thread.stop(before_stop=connections.transport.aclose_current())


REGISTRY = SharedLMRegistry()


def _remember_at_exit() -> None:
    """Write what every shared engine learned of its provider, for a process that exits without closing them.

    Most programs never call ``reset_shared_lm()``: without this, what a run learned only reached the state file
    when a 429 or a limit header changed it, and what a provider that never refused took at once not at all.
    Only the local file is written here; shared budgets give their leases back in their own exit hook.
    """
    for engine in REGISTRY.engines():
        with contextlib.suppress(Exception):  # memory is an optimisation: never fail an exit for it
            engine.pacer.remember_now()


atexit.register(_remember_at_exit)


def _resolve_engines(state: dict[str, Any]) -> tuple[SharedSyncEngine, SharedEngine]:
    entry = REGISTRY.entry(state["model"])
    return entry.sync_engine, entry.engine


# Saved and pickled engines come back as this process's engines for the same model (see sharedlm._engine).
ENGINE_RESOLVER[:] = [_resolve_engines]

__all__ = ["REGISTRY", "EngineHook", "SharedConnections", "SharedEntry", "SharedLMRegistry"]
