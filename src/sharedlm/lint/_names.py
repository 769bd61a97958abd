"""Resolving names in checked code to the DSPy and sharedlm objects they stand for, through import aliases.

``import dspy as d``, ``from dspy import LM, Predict as P``, ``from dspy.clients.lm import LM`` and
``import dspy.predict`` all lead to a dotted name starting with ``dspy.``; what it means is decided by its
last part, so every public path to the same class is recognised without importing DSPy.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field

# DSPy's modules that hold or are predictors; creating one in a constructor needs an LM bound to it.
PREDICTOR_CLASSES = frozenset({
    "Predict", "ChainOfThought", "ReAct", "ReActV2", "ProgramOfThought", "MultiChainComparison", "BestOfN",
    "Refine", "CodeAct", "RLM", "Flex", "Avatar",
})
LM_CLASSES = frozenset({"LM"})
LM_BASE_CLASSES = frozenset({"LM", "BaseLM"})
MODULE_CLASSES = frozenset({"Module"})
CONFIGURE_FUNCTIONS = frozenset({"configure", "context"})

# Names `from dspy import *` brings in that matter here.
_DSPY_STAR_NAMES = PREDICTOR_CLASSES | LM_BASE_CLASSES | MODULE_CLASSES | {"settings", "configure", "context"}


@dataclass
class Aliases:
    """What each imported or aliased name of one file stands for, as a dotted name.

    Args:
        names: Local name -> dotted name (``"d"`` -> ``"dspy"``, ``"P"`` -> ``"dspy.Predict"``).
        dspy_star: Whether the file does ``from dspy import *``.
    """

    names: dict[str, str] = field(default_factory=dict)
    dspy_star: bool = False

    def qualify(self, node: ast.expr) -> str | None:
        """The dotted name an expression such as ``d.clients.LM`` stands for, or None if it is not a name."""
        if isinstance(node, ast.Name):
            if node.id in self.names:
                return self.names[node.id]
            if self.dspy_star and node.id in _DSPY_STAR_NAMES:
                return f"dspy.{node.id}"
            return node.id
        if isinstance(node, ast.Attribute):
            base = self.qualify(node.value)
            return None if base is None else f"{base}.{node.attr}"
        return None


def collect_aliases(tree: ast.Module, nodes: Iterable[ast.AST] | None = None) -> Aliases:
    """The import aliases of a module, from imports anywhere in it and module-level ``X = dspy.Y`` lines.

    Imports inside functions are included too: a name imported locally is rarely rebound to something else.

    Args:
        tree: The parsed module.
        nodes: Every node of ``tree``, when the caller already has them (saves a traversal).
    """
    aliases = Aliases()
    for node in ast.walk(tree) if nodes is None else nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases.names[alias.asname] = alias.name
                else:
                    # `import dspy.predict` binds `dspy`; attribute access then spells out the rest.
                    root = alias.name.partition(".")[0]
                    aliases.names[root] = root
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            for alias in node.names:
                if alias.name == "*":
                    aliases.dspy_star = aliases.dspy_star or module == "dspy"
                    continue
                dotted = f"{module}.{alias.name}" if module and not module.endswith(".") else module + alias.name
                aliases.names[alias.asname or alias.name] = dotted
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            value = aliases.qualify(stmt.value) if isinstance(stmt.value, ast.Name | ast.Attribute) else None
            if value is not None and is_known_package(value):
                aliases.names[stmt.targets[0].id] = value
    return aliases


def is_known_package(dotted: str) -> bool:
    """Whether a dotted name lives in DSPy or sharedlm (whose meaning the linter knows without an index)."""
    return dotted.startswith(("dspy.", "sharedlm.")) or dotted in {"dspy", "sharedlm"}


def last_part(dotted: str) -> str:
    """``"dspy.clients.lm.LM"`` -> ``"LM"``."""
    return dotted.rpartition(".")[2]


def is_dspy(dotted: str | None, names: frozenset[str]) -> bool:
    """Whether ``dotted`` is one of ``names`` reached through the ``dspy`` package."""
    return dotted is not None and dotted.startswith("dspy.") and last_part(dotted) in names


def is_sharedlm(dotted: str | None, name: str) -> bool:
    """Whether ``dotted`` is sharedlm's ``name`` (``sharedlm.SharedLMModule``, ``sharedlm._module.SharedLMModule``)."""
    return dotted is not None and dotted.startswith("sharedlm.") and last_part(dotted) == name


def is_dspy_configure(dotted: str | None) -> bool:
    """Whether ``dotted`` is ``dspy.configure``/``dspy.context`` or ``configure``/``context`` of dspy's settings."""
    if dotted is None or not dotted.startswith("dspy.") or last_part(dotted) not in CONFIGURE_FUNCTIONS:
        return False
    return dotted.count(".") == 1 or ".settings." in dotted


def is_dspy_settings_attribute(dotted: str | None, attribute: str) -> bool:
    """Whether ``dotted`` is ``dspy.settings.<attribute>`` (under any import path of ``settings``)."""
    return dotted is not None and dotted.startswith("dspy.") and dotted.endswith(f".settings.{attribute}")


__all__ = [
    "LM_BASE_CLASSES",
    "LM_CLASSES",
    "MODULE_CLASSES",
    "PREDICTOR_CLASSES",
    "Aliases",
    "collect_aliases",
    "is_dspy",
    "is_dspy_configure",
    "is_dspy_settings_attribute",
    "is_known_package",
    "is_sharedlm",
    "last_part",
]
