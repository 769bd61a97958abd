"""The first pass over all checked files: every class definition, what it derives from, and its methods.

A class counts as a DSPy module when it derives from ``dspy.Module`` (or a predictor, or
``sharedlm.SharedLMModule``) directly or through classes defined in any checked file, so a subclass of a
subclass defined in another checked file is recognised. Bases the index cannot see (a package that was not
checked) make a class unknown, never wrongly flagged.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from enum import Flag, auto

from sharedlm.lint._names import (
    LM_BASE_CLASSES,
    LM_CLASSES,
    MODULE_CLASSES,
    PREDICTOR_CLASSES,
    is_dspy,
    is_known_package,
    is_sharedlm,
    last_part,
)
from sharedlm.lint._source import DefNode, ParsedFile


class ClassKind(Flag):
    """What a class is, as far as the shared-LM rules care."""

    NONE = 0
    MODULE = auto()
    PREDICTOR = auto()
    LM = auto()
    DSPY_LM = auto()  # dspy.LM itself or a subclass of it (not a custom BaseLM)
    SHARED_MODULE = auto()


@dataclass(eq=False)
class ClassInfo:
    """One class definition (top-level or nested) in a checked file.

    Args:
        node: The class statement.
        file: The file defining it.
        qualname: Its dotted name inside the file (``Outer.Inner``).
    """

    node: ast.ClassDef
    file: ParsedFile
    qualname: str
    methods: dict[str, DefNode] = field(init=False)
    bases: list[str | None] = field(init=False)

    def __post_init__(self) -> None:
        self.methods = {
            stmt.name: stmt for stmt in self.node.body if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        self.bases = [self.file.qualify(base) for base in self.node.bases]

    @property
    def name(self) -> str:
        """The class's own name."""
        return self.node.name

    def __repr__(self) -> str:
        return f"ClassInfo({self.file.path}:{self.node.lineno} {self.qualname})"


def _external_kind(dotted: str) -> ClassKind:
    if is_dspy(dotted, PREDICTOR_CLASSES):
        return ClassKind.MODULE | ClassKind.PREDICTOR
    if is_dspy(dotted, MODULE_CLASSES):
        return ClassKind.MODULE
    if is_dspy(dotted, LM_CLASSES):
        return ClassKind.LM | ClassKind.DSPY_LM
    if is_dspy(dotted, LM_BASE_CLASSES):
        return ClassKind.LM
    if is_sharedlm(dotted, "SharedLMModule"):
        return ClassKind.MODULE | ClassKind.SHARED_MODULE
    return ClassKind.NONE


class ProjectIndex:
    """Every class of every checked file, looked up by name, with inheritance resolved across files.

    Args:
        files: The files that parsed.
    """

    def __init__(self, files: list[ParsedFile]) -> None:
        self.files = files
        self.classes: list[ClassInfo] = []
        self._by_name: dict[str, list[ClassInfo]] = {}
        self._by_node: dict[ast.ClassDef, ClassInfo] = {}
        self._kinds: dict[ClassInfo, ClassKind] = {}
        self._mros: dict[ClassInfo, list[ClassInfo]] = {}
        for parsed in files:
            for node in parsed.nodes:
                if not isinstance(node, ast.ClassDef):
                    continue
                info = ClassInfo(node=node, file=parsed, qualname=parsed.class_qualname(node))
                self.classes.append(info)
                self._by_name.setdefault(node.name, []).append(info)
                self._by_node[node] = info

    def __repr__(self) -> str:
        return f"ProjectIndex(files={len(self.files)}, classes={len(self.classes)})"

    def info(self, node: ast.ClassDef) -> ClassInfo:
        """The index entry of a class statement of a checked file."""
        return self._by_node[node]

    def resolve(self, dotted: str | None, file: ParsedFile) -> ClassInfo | None:
        """The checked class a dotted name used in ``file`` refers to, preferring one defined in that file.

        Args:
            dotted: A name as qualified by the file's aliases (``"Base"``, ``".base.Base"``, ``"pkg.Base"``).
            file: Where the name is used.
        """
        if dotted is None or is_known_package(dotted):
            return None
        candidates = self._by_name.get(last_part(dotted), [])
        local = [info for info in candidates if info.file is file]
        if "." not in dotted:
            # A bare name that is not imported is defined in this file (or nowhere we can see).
            return local[0] if local else (candidates[0] if candidates else None)
        matches = local or candidates
        return matches[0] if matches else None

    def kind(self, info: ClassInfo) -> ClassKind:
        """What ``info`` derives from, through every base the index can see."""
        if info not in self._kinds:
            self._kinds[info] = ClassKind.NONE  # guards inheritance cycles while computing
            kind = ClassKind.NONE
            for dotted in info.bases:
                if dotted is None:
                    continue
                external = _external_kind(dotted)
                if external:
                    kind |= external
                    continue
                base = self.resolve(dotted, info.file)
                if base is not None and base is not info:
                    kind |= self.kind(base)
            self._kinds[info] = kind
        return self._kinds[info]

    def kind_of_call(self, call: ast.Call, file: ParsedFile) -> tuple[ClassKind, ClassInfo | None]:
        """What a call constructs: a DSPy or sharedlm class named directly, or a checked class.

        Args:
            call: The call expression.
            file: The file it is in.
        """
        dotted = file.qualify(call.func)
        if dotted is None:
            return ClassKind.NONE, None
        if is_dspy(dotted, PREDICTOR_CLASSES):
            return ClassKind.MODULE | ClassKind.PREDICTOR, None
        if is_dspy(dotted, LM_CLASSES):
            return ClassKind.LM | ClassKind.DSPY_LM, None
        info = self.resolve(dotted, file)
        if info is None:
            return ClassKind.NONE, None
        return self.kind(info), info

    def mro(self, info: ClassInfo) -> list[ClassInfo]:
        """``info`` then its checked bases, depth first, each once."""
        if info in self._mros:
            return self._mros[info]
        order: list[ClassInfo] = []
        stack = [info]
        while stack:
            current = stack.pop()
            if current in order:
                continue
            order.append(current)
            bases = [self.resolve(dotted, current.file) for dotted in current.bases]
            stack.extend(reversed([base for base in bases if base is not None]))
        self._mros[info] = order
        return order

    def find_method(self, info: ClassInfo, name: str, *, skip_self: bool = False) -> tuple[ClassInfo, DefNode] | None:
        """The class (``info`` or a checked base) defining method ``name``, and the method.

        Args:
            info: Where the lookup starts.
            name: The method name.
            skip_self: Start at the bases, as ``super().name`` does.
        """
        for owner in self.mro(info)[1 if skip_self else 0:]:
            if name in owner.methods:
                return owner, owner.methods[name]
        return None


__all__ = ["ClassInfo", "ClassKind", "ProjectIndex"]
