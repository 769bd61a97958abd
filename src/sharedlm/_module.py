"""Modules that refuse a missing shared LM and bind it into every predictor they hold.

The seed pattern asks each module to validate ``shared_lm`` and call ``set_lm`` on every predictor; a
predictor added later without ``set_lm`` silently runs on the global default LM. :class:`SharedLMModule`
makes both automatic: the check happens in its constructor, and the binding happens once the outermost
subclass constructor has finished, so predictors created after ``super().__init__`` are covered too.
Its calls run under the runtime guard (:mod:`sharedlm._guard`).

Programs use several models (a judge, an optimizer's prompt model): ``bind_shared_lm(module)`` binds each
predictor to the shared LM for the model it already names, and a :class:`SharedLMModule` does so again after
``load``, so a program saved while bound to shared LMs comes back bound to this process's shared LMs.
"""

from __future__ import annotations

import functools
from typing import Any, TypeVar

import dspy

from sharedlm._guard import guarded_call
from sharedlm._registry import REGISTRY

M = TypeVar("M", bound=dspy.Module)

_DEPTH = "_sharedlm_init_depth"


def _missing_lm_error(owner: str) -> ValueError:
    return ValueError(
        f"{owner} requires a shared LM: pass shared_lm=sharedlm.get_shared_lm() so every predictor uses the "
        "process's one pooled connection pool"
    )


def bind_shared_lm(module: M, lm: Any = None) -> M:
    """Make every predictor of ``module`` use a shared LM, nested ones included (sub-modules, lists, dicts).

    Args:
        module: A ``dspy.Module`` (a single ``dspy.Predict`` too).
        lm: The LM every predictor uses, normally ``sharedlm.get_shared_lm()``. None binds each predictor to the
            shared LM for the model of the LM it holds (``dspy.LM("openai/x", temperature=0)`` becomes
            ``sharedlm.get_shared_lm("openai/x")``, copied with ``temperature=0``), and a predictor that holds
            none to the default shared LM.

    Returns:
        ``module``, for chaining.
    """
    if lm is not None:
        module.set_lm(lm)
        return module
    return bind_to_shared_lms(module, default=None)


def bind_to_shared_lms(module: M, *, default: Any) -> M:
    """Bind each predictor of ``module`` to the shared LM for its own LM's model (``default`` when it has none).

    Args:
        module: A ``dspy.Module``.
        default: The LM for predictors that hold none; None means the default shared LM.
    """
    for _, predictor in module.named_predictors():
        current = getattr(predictor, "lm", None)
        if current is None:
            predictor.lm = default if default is not None else REGISTRY.get()
        else:
            predictor.lm = REGISTRY.shared_like(current)
    return module


class SharedLMModule(dspy.Module):
    """A ``dspy.Module`` that takes the shared LM and binds it into all its predictors.

    Subclasses call ``super().__init__(shared_lm)`` and create predictors as usual; after the subclass
    constructor returns, every predictor of the module, nested ones included, uses ``shared_lm``, except those
    given an LM of their own in the constructor: a shared LM for another model (``get_shared_lm("openai/judge")``)
    is kept, and a plain ``dspy.LM`` is replaced by the shared LM for its model.

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

    def load_state(self, state: Any, *, allow_unsafe_lm_state: bool = False) -> SharedLMModule:
        """Load a saved state, then bind every predictor to this process's shared LM for its saved model.

        A program saved while bound to shared LMs saves each as a plain ``dspy.LM`` for its model (never a key or
        base URL), so ``program.load(path)`` needs no ``allow_unsafe_lm_state``.
        """
        super().load_state(state, allow_unsafe_lm_state=allow_unsafe_lm_state)
        return bind_to_shared_lms(self, default=self.shared_lm)

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
                bind_to_shared_lms(self, default=lm)

        __init__._sharedlm_binds = True  # type: ignore[attr-defined]
        cls.__init__ = __init__  # type: ignore[method-assign]


__all__ = ["SharedLMModule", "bind_shared_lm", "bind_to_shared_lms"]
