"""Modules that refuse a missing shared LM and bind it into every predictor they hold.

The seed pattern asks each module to validate ``shared_lm`` and call ``set_lm`` on every predictor; a
predictor added later without ``set_lm`` silently runs on the global default LM. :class:`SharedLMModule`
makes both automatic: the check happens in its constructor, and the binding happens once the outermost
subclass constructor has finished, so predictors created after ``super().__init__`` are covered too.
Its calls run under the runtime guard (:mod:`sharedlm._guard`).
"""

from __future__ import annotations

import functools
from typing import Any, TypeVar

import dspy

from sharedlm._guard import guarded_call

M = TypeVar("M", bound=dspy.Module)

_DEPTH = "_sharedlm_init_depth"


def _missing_lm_error(owner: str) -> ValueError:
    return ValueError(
        f"{owner} requires a shared LM: pass shared_lm=sharedlm.get_shared_lm() so every predictor uses the "
        "process's one pooled connection pool"
    )


def bind_shared_lm(module: M, lm: Any) -> M:
    """Make every predictor of ``module`` use ``lm``, nested ones included (sub-modules, lists, dicts).

    Args:
        module: A ``dspy.Module`` (a single ``dspy.Predict`` too).
        lm: The shared LM, normally ``sharedlm.get_shared_lm()``.

    Returns:
        ``module``, for chaining.

    Raises:
        ValueError: When ``lm`` is None.
    """
    if lm is None:
        raise _missing_lm_error(f"bind_shared_lm({type(module).__name__})")
    module.set_lm(lm)
    return module


class SharedLMModule(dspy.Module):
    """A ``dspy.Module`` that takes the shared LM and binds it into all its predictors.

    Subclasses call ``super().__init__(shared_lm)`` and create predictors as usual; after the subclass
    constructor returns, every predictor of the module, nested ones included, uses ``shared_lm``.

    Args:
        shared_lm: The shared LM, normally ``sharedlm.get_shared_lm()``.
        callbacks: DSPy callbacks for this module.

    Raises:
        ValueError: When ``shared_lm`` is None.
    """

    def __init__(self, shared_lm: Any, callbacks: list[Any] | None = None) -> None:
        if shared_lm is None:
            raise _missing_lm_error(type(self).__name__)
        super().__init__(callbacks=callbacks)
        self.shared_lm = shared_lm

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with guarded_call():
            return super().__call__(*args, **kwargs)

    async def acall(self, *args: Any, **kwargs: Any) -> Any:
        with guarded_call():
            return await super().acall(*args, **kwargs)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None or getattr(init, "_sharedlm_binds", False):
            return

        @functools.wraps(init)
        def __init__(self: SharedLMModule, *args: Any, **kw: Any) -> None:
            depth = self.__dict__.get(_DEPTH, 0)
            self.__dict__[_DEPTH] = depth + 1
            try:
                init(self, *args, **kw)
            finally:
                self.__dict__[_DEPTH] = depth
            if depth == 0:
                self.__dict__.pop(_DEPTH, None)
                lm = self.__dict__.get("shared_lm")
                if lm is None:
                    raise TypeError(
                        f"{type(self).__name__}.__init__ must call super().__init__(shared_lm) so the shared LM "
                        "is checked and bound"
                    )
                bind_shared_lm(self, lm)

        __init__._sharedlm_binds = True  # type: ignore[attr-defined]
        cls.__init__ = __init__  # type: ignore[method-assign]


__all__ = ["SharedLMModule", "bind_shared_lm"]
