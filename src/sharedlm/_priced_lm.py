"""The shared LM's class: a ``dspy.LM`` whose history entries carry each call's cost, as plain DSPy's do.

DSPy 3.4.1 prices a call only when it routed the call itself: for an LM with a custom engine (an object passed
as ``engine=``), ``dspy.clients.execution`` passes ``provider=None`` to ``estimate_cost``, which answers
``None`` with ``cost_details={"kind": "unknown", "reason": "custom engine has no pricing provider"}``, and it
overwrites whatever the engine's result held. ``lm15.Response`` is a frozen, slotted dataclass, so the engine
cannot attach a cost to it either. The one place left is the history entry itself: :class:`PricedLM` fills
``entry["cost"]`` and ``entry["cost_details"]`` from the entry's response and the shared engine's price
before DSPy records it, so ``lm.history[-1]["cost"]`` is what plain DSPy would compute for the same usage.

It saves as a plain ``dspy.LM`` for the same model (``dump_state`` names DSPy's class and leaves the engines out),
so a program saved with shared LMs loads with a plain ``program.load(path)``, without ``allow_unsafe_lm_state``;
:class:`~sharedlm.SharedLMModule` (or ``sharedlm.bind_shared_lm(program)``) then binds its predictors to this
process's shared LMs for the saved models. Nothing secret is saved: the key and base URL belong to the engine.
"""

from __future__ import annotations

from typing import Any

import dspy
from dspy import lm15
from dspy.clients.base_lm import LM_CLASS_STATE_KEY

_PLAIN_LM_CLASS = f"{dspy.LM.__module__}.{dspy.LM.__qualname__}"


class PricedLM(dspy.LM):
    """A ``dspy.LM`` that prices each history entry with its async engine's ``costing`` (a SharedEngine)."""

    def update_history(self, entry: dict[str, Any]) -> None:
        if entry.get("cost") is None:
            costing = getattr(self._async_engine_spec, "costing", None)
            response = entry.get("response")
            if costing is not None and isinstance(response, lm15.Response):
                cost, details = costing.cost_details(response, entry.get("request"))
                entry["cost"] = cost
                entry["cost_details"] = details
        super().update_history(entry)

    def dump_state(self) -> dict[str, Any]:
        state = dict(super().dump_state())
        state[LM_CLASS_STATE_KEY] = _PLAIN_LM_CLASS
        # The engines are this process's connections: a loading process binds its own (see the module docstring).
        state.pop("engine", None)
        state.pop("async_engine", None)
        return state


__all__ = ["PricedLM"]
