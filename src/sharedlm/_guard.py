"""The runtime guard: notices the seed checklist being broken while a program runs.

It watches every LM call through DSPy's public callback hook (``on_lm_start``) and reports:

- ``lm-in-forward``: an LM object created inside a module's ``forward``/``aforward`` (found in that frame's
  locals at its first use); an LM per call leaks sockets until the process runs out of descriptors;
- ``foreign-lm``: a predictor running on an LM other than the shared ones (one per model, or copies of them)
  while a shared LM exists, typically a predictor that was never bound and fell back to ``dspy.settings.lm``;
- ``too-many-lms``: more live LMs with pools of their own than ``SHAREDLM_GUARD_MAX_LMS`` (default 8), outside
  the shared LMs (one per model, however many); copies of one LM (``lm.copy(...)``) share its pools and count once.

In warn mode it watches the first 64 guarded calls and then one in 64, because DSPy's callback dispatch is
costly on every call it watches; the mistakes it looks for repeat on every call, so a sample finds them.

Mode comes from ``SHAREDLM_GUARD``: ``warn`` (default) warns once per call site with its file and line;
``error`` raises :class:`~sharedlm.GuardError`; ``off`` installs nothing. DSPy swallows exceptions raised in
callbacks, so in ``error`` mode the violation is recorded and raised where sharedlm owns the call:
when a :class:`~sharedlm.SharedLMModule` call or a bulk-runner row ends (:func:`guarded_call`).

The shared LM's own calls cost one identity check; only foreign LMs pay for a stack walk.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import os
import sys
import threading
import warnings
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any

from dspy.utils.callback import BaseCallback

from sharedlm._env import guard_max_lms, guard_mode
from sharedlm._errors import GuardError

_PACKAGE_DIRS = tuple(
    os.path.dirname(os.path.abspath(module.__file__ or ""))
    for module in (sys.modules["dspy"], sys.modules["sharedlm"])
)
_STDLIB_HINTS = (os.sep + "asyncio" + os.sep, os.sep + "concurrent" + os.sep, os.sep + "threading.py",
                 os.sep + "contextlib.py", os.sep + "anyio" + os.sep)


class GuardWarning(UserWarning):
    """The category of the runtime guard's warnings."""


@dataclass(frozen=True, kw_only=True)
class Violation:
    """One broken rule, where it happened.

    Args:
        rule: ``lm-in-forward``, ``foreign-lm`` or ``too-many-lms``.
        message: What happened and what to do instead.
        filename: The user file where it was noticed.
        lineno: The line in that file.
    """

    rule: str
    message: str
    filename: str
    lineno: int

    def __str__(self) -> str:
        return f"{self.filename}:{self.lineno}: [{self.rule}] {self.message}"


# Violations of the current guarded call (error mode); None outside one.
_PENDING: contextvars.ContextVar[list[Violation] | None] = contextvars.ContextVar("sharedlm_guard_pending",
                                                                                default=None)


class RuntimeGuard(BaseCallback):
    """The DSPy callback that checks each LM call against the shared LM.

    Args:
        mode: ``warn`` or ``error``.
        max_lms: How many live LM instances are tolerated before ``too-many-lms``.
    """

    def __init__(self, *, mode: str, max_lms: int) -> None:
        self.mode = mode
        self.max_lms = max_lms
        self._shared: weakref.ReferenceType[Any] | None = None
        # The engines of every shared LM (one per model); an LM running on one of them is shared or a copy.
        self._shared_engines: weakref.WeakSet[Any] = weakref.WeakSet()
        self._seen: weakref.WeakSet[Any] = weakref.WeakSet()
        self._reported: set[tuple[str, str, int]] = set()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RuntimeGuard(mode={self.mode!r}, max_lms={self.max_lms}, live_lms={len(self._seen)})"

    def watch(self, shared_lm: Any) -> None:
        """Treat ``shared_lm`` (and its copies, which share its engine) as an allowed LM, beside the others."""
        self._shared = weakref.ref(shared_lm)
        engine = getattr(shared_lm, "engine", None)
        if engine is not None:
            self._shared_engines.add(engine)

    def on_lm_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        shared = self._shared() if self._shared is not None else None
        if instance is shared:
            return
        engine = getattr(instance, "engine", None)
        if engine is not None and not isinstance(engine, str) and engine in self._shared_engines:
            return  # a shared LM for another model, or a copy (lm.copy(temperature=...)) sharing its pool
        first_use = instance not in self._seen
        if first_use:
            self._seen.add(instance)
        frame = sys._getframe(1)
        forward = _forward_frame(frame)
        if first_use and forward is not None and _holds(forward, instance):
            owner = type(forward.f_locals.get("self")).__name__
            self._report("lm-in-forward", forward,
                         f"a dspy.LM was created inside {owner}.{forward.f_code.co_name}(); an LM per call opens new "
                         "connections every call and leaks them. Create it once and pass it in: "
                         "sharedlm.get_shared_lm()")
        elif shared is not None:
            self._report("foreign-lm", forward or _user_frame(frame),
                         f"a predictor ran on {type(instance).__name__}({getattr(instance, 'model', '?')!r}), not a "
                         "shared LM: bind it with sharedlm.bind_shared_lm(module) (each predictor to the shared LM for "
                         "its model) or derive the module from sharedlm.SharedLMModule")
        pools = len({_pools_of(lm) for lm in list(self._seen)}) if first_use else 0
        if pools > self.max_lms:
            self._report("too-many-lms", _user_frame(frame),
                         f"{pools} LMs with connection pools of their own are alive (threshold {self.max_lms}, "
                         "SHAREDLM_GUARD_MAX_LMS). Use one shared LM per model: sharedlm.get_shared_lm(model)")

    def _report(self, rule: str, site: FrameType | None, message: str) -> None:
        """Record a violation noticed at ``site`` (the user frame it points at, when one was found)."""
        violation = Violation(rule=rule, message=message,
                              filename=site.f_code.co_filename if site else "<unknown>",
                              lineno=site.f_lineno if site else 0)
        if self.mode == "error":
            pending = _PENDING.get()
            if pending is not None:
                pending.append(violation)
        key = (violation.rule, violation.filename, violation.lineno)
        with self._lock:
            if key in self._reported:
                return
            self._reported.add(key)
        warnings.warn_explicit(str(violation), GuardWarning, violation.filename, violation.lineno)


def _pools_of(lm: Any) -> int:
    # dspy.LM keeps its engines (and so its pools) in _engine_store, which lm.copy() shares.
    store = getattr(lm, "_engine_store", None)
    return id(store) if store is not None else id(lm)


def _is_library(filename: str) -> bool:
    return filename.startswith(_PACKAGE_DIRS) or any(hint in filename for hint in _STDLIB_HINTS)


def _forward_frame(frame: FrameType | None) -> FrameType | None:
    """The nearest frame of a ``forward``/``aforward`` method of a user's dspy.Module."""
    import dspy

    while frame is not None:
        code = frame.f_code
        if code.co_name in ("forward", "aforward") and not _is_library(code.co_filename):
            owner = frame.f_locals.get("self")
            if isinstance(owner, dspy.Module):
                return frame
        frame = frame.f_back
    return None


def _user_frame(frame: FrameType | None) -> FrameType | None:
    while frame is not None and _is_library(frame.f_code.co_filename):
        frame = frame.f_back
    return frame


def _holds(frame: FrameType, lm: Any) -> bool:
    return any(value is lm for value in frame.f_locals.values())


_guard: RuntimeGuard | None = None
_guard_lock = threading.Lock()
_calls = itertools.count()  # guarded calls so far, for warn mode's sampling
_ACTIVE: contextvars.ContextVar[bool] = contextvars.ContextVar("sharedlm_guard_active", default=False)


def current_guard() -> RuntimeGuard | None:
    """The process's guard in the mode ``SHAREDLM_GUARD`` asks for, or None when it is ``off``."""
    global _guard
    mode = guard_mode()
    if mode == "off":
        return None
    max_lms = guard_max_lms()
    guard = _guard
    if guard is None or guard.mode != mode or guard.max_lms != max_lms:
        with _guard_lock:
            if _guard is None or _guard.mode != mode or _guard.max_lms != max_lms:
                previous = _guard
                _guard = RuntimeGuard(mode=mode, max_lms=max_lms)
                if previous is not None:
                    _guard._shared = previous._shared
                    for engine in list(previous._shared_engines):
                        _guard._shared_engines.add(engine)
            guard = _guard
    return guard


def forget_guard() -> None:
    """Drop the guard, what it has reported and its call count (``reset_shared_lm``)."""
    global _guard, _calls
    with _guard_lock:
        _guard = None
        _calls = itertools.count()


def watch_shared_lm(shared_lm: Any) -> None:
    """Tell the guard which LM is the shared one (called when the shared LM is built)."""
    guard = current_guard()
    if guard is not None:
        guard.watch(shared_lm)


def install_guard() -> RuntimeGuard | None:
    """Watch every DSPy call of the process, not only those sharedlm runs.

    By default the guard watches calls of :class:`~sharedlm.SharedLMModule` programs and bulk-runner rows.
    Call this once from the thread that configures DSPy (it uses ``dspy.configure``, which only that thread
    may call) to watch everything else too.
    """
    import dspy

    guard = current_guard()
    if guard is not None:
        others = [cb for cb in (dspy.settings.callbacks or []) if not isinstance(cb, RuntimeGuard)]
        dspy.configure(callbacks=[*others, guard])
    return guard


# DSPy's callback dispatch inspects the arguments of every wrapped call once any callback is active, which
# costs far more than the guard's own check. The shapes the guard looks for repeat on every call of the same
# code path, so in warn mode it watches a sample: the first WATCH_FIRST_CALLS guarded calls, then one in
# WATCH_EVERY. Error mode watches every call.
WATCH_FIRST_CALLS = 64
WATCH_EVERY = 64


def _watch_this_call(guard: RuntimeGuard) -> bool:
    if guard.mode == "error":
        return True
    index = next(_calls)
    return index < WATCH_FIRST_CALLS or index % WATCH_EVERY == 0


@contextlib.contextmanager
def guarded_call() -> Iterator[None]:
    """Watch the LM calls made inside the block; in error mode, raise :class:`~sharedlm.GuardError` at its end.

    Nested blocks reuse the outermost one. The guard joins DSPy's callbacks through ``dspy.context``, which is
    scoped to this thread or task and needs no global configuration. In warn mode only a sample of calls is
    watched (see ``WATCH_FIRST_CALLS``), which keeps the guard's cost near zero on the hot path.
    """
    guard = current_guard()
    if guard is None or _ACTIVE.get() or not _watch_this_call(guard):
        yield
        return
    import dspy

    pending: list[Violation] = []
    active = _ACTIVE.set(True)
    token = _PENDING.set(pending)
    try:
        with dspy.context(callbacks=[*(dspy.settings.callbacks or []), guard]):
            yield
    finally:
        _PENDING.reset(token)
        _ACTIVE.reset(active)
    if pending:
        raise GuardError("; ".join(str(v) for v in pending), violations=tuple(pending))


__all__ = [
    "GuardWarning",
    "RuntimeGuard",
    "Violation",
    "current_guard",
    "forget_guard",
    "guarded_call",
    "install_guard",
    "watch_shared_lm",
]
