"""Rules about DSPy module constructors: SLM003 (predictors never bound to an LM) and SLM004 (an LM argument
never checked against None).

A predictor is "held" by an attribute of ``self`` when the constructor assigns it a predictor, a list, tuple
or dict of predictors, or an instance of a checked module class that holds unbound predictors of its own or
receives an LM that is not passed. It is bound by ``set_lm(...)`` or ``.lm = ...`` on it (directly, through a
local name, or as a loop variable over it), or for all at once by ``self.set_lm(...)``,
``sharedlm.bind_shared_lm(self, ...)`` or ``set_lm`` on every item of ``self.predictors()`` and friends,
anywhere in the class.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field

from sharedlm.lint._finding import Finding
from sharedlm.lint._index import ClassInfo, ClassKind, ProjectIndex
from sharedlm.lint._lm_arguments import binds_with, checks_none, lm_parameters, passes_lm, references
from sharedlm.lint._lm_rules import finding
from sharedlm.lint._names import is_sharedlm
from sharedlm.lint._reach import CONSTRUCTOR, reachable
from sharedlm.lint._source import DefNode, ParsedFile, walk_own_scope

# Methods of dspy.Module that iterate over every predictor or sub-module it holds.
_ALL_PREDICTORS_METHODS = frozenset({
    "predictors", "named_predictors", "parameters", "named_parameters", "named_sub_modules", "modules",
})
# Calls that pass their first argument's items through (for `for i, p in enumerate(self.agents)`).
_PASS_THROUGH_CALLS = frozenset({"enumerate", "list", "tuple", "sorted", "reversed", "iter", "set"})
_DICT_VIEWS = frozenset({"values", "items", "keys"})


class _All:
    """Stands for "every predictor of the module" (``self``, ``self.predictors()``)."""


ALL = _All()


@dataclass(eq=False)
class _Holder:
    attribute: str | None
    created_by: ast.Call
    description: str
    bound: bool = False


@dataclass(eq=False)
class _Bindings:
    """Predictor holders of one class and what binds them."""

    holders: list[_Holder] = field(default_factory=list)
    attributes: dict[str, list[_Holder]] = field(default_factory=dict)
    all_bound: bool = False


Refs = list[_Holder] | _All


class ModuleRules:
    """SLM003 and SLM004 for the classes of all checked files.

    Args:
        index: The class index of all checked files.
    """

    def __init__(self, index: ProjectIndex) -> None:
        self.index = index
        self._bindings: dict[ClassInfo, _Bindings] = {}
        self._needs_binding: dict[ClassInfo, bool] = {}
        self._reported: set[ast.Call] = set()

    def __repr__(self) -> str:
        return f"ModuleRules(classes analysed={len(self._bindings)})"

    def check(self, file: ParsedFile) -> Iterator[Finding]:
        """Every SLM003 and SLM004 finding of the classes defined in ``file``."""
        for info in self.index.classes:
            if info.file is not file:
                continue
            kind = self.index.kind(info)
            is_module = ClassKind.MODULE in kind and ClassKind.PREDICTOR not in kind
            if ClassKind.SHARED_MODULE in kind or CONSTRUCTOR not in info.methods:
                continue
            if is_module:
                yield from self._unbound_predictors(info)
            yield from self._unchecked_lm_arguments(info, is_module)

    # --- SLM003 ---

    def _unbound_predictors(self, info: ClassInfo) -> Iterator[Finding]:
        bindings = self.bindings(info)
        if bindings.all_bound:
            return
        for holder in bindings.holders:
            if holder.attribute is None or holder.bound or holder.created_by in self._reported:
                continue
            # A helper method of a base class can create the same predictor for several subclasses.
            self._reported.add(holder.created_by)
            yield finding(
                info.file, holder.created_by, "SLM003",
                f"self.{holder.attribute} ({holder.description}) is created in {info.qualname}.__init__ but never "
                "bound to an LM: it silently runs on the global default LM (dspy.settings.lm), or fails when "
                "none is configured",
                f"Call self.{holder.attribute}.set_lm(shared_lm) in the constructor (or self.set_lm(shared_lm) / "
                "sharedlm.bind_shared_lm(self, shared_lm) after creating every predictor), or derive "
                f"{info.name} from sharedlm.SharedLMModule.",
            )

    def bindings(self, info: ClassInfo) -> _Bindings:
        """The predictor holders ``info``'s constructor creates, and which of them the class binds."""
        if info in self._bindings:
            return self._bindings[info]
        bindings = _Bindings()
        self._bindings[info] = bindings  # a class creating itself in its constructor must not recurse forever
        constructor_steps = reachable(self.index, info.methods[CONSTRUCTOR], info, info.file, module_functions=False)
        # A base class's own __init__ (reached through super().__init__()) is checked with that class; here
        # it only counts for the bindings it makes.
        creating = {step.function for step in constructor_steps
                    if step.owner is info or step.function.name != CONSTRUCTOR}
        for step in constructor_steps:
            file = step.owner.file if step.owner is not None else info.file
            _Scan(self, file, bindings, create=step.function in creating).run(step.function)
        for owner in self.index.mro(info):
            for method in owner.methods.values():
                if method not in creating:
                    _Scan(self, owner.file, bindings, create=False).run(method)
        return bindings

    def creates_unbound(self, info: ClassInfo) -> bool:
        """Whether an instance of checked module class ``info``, built without an LM, holds unbound predictors."""
        if info in self._needs_binding:
            return self._needs_binding[info]
        self._needs_binding[info] = False
        kind = self.index.kind(info)
        result = False
        if ClassKind.PREDICTOR in kind and ClassKind.SHARED_MODULE not in kind:
            result = True
        elif ClassKind.SHARED_MODULE not in kind:
            found = self.index.find_method(info, CONSTRUCTOR)
            if found is not None:
                bindings = self.bindings(found[0])
                result = not bindings.all_bound and any(
                    holder.attribute is not None and not holder.bound for holder in bindings.holders
                )
        self._needs_binding[info] = result
        return result

    def creation(self, file: ParsedFile, value: ast.expr) -> tuple[ast.Call, str] | None:
        """The first call in ``value`` that creates a predictor needing an LM, and a description of it."""
        for node in _walk_outside_lambdas(value):
            if not isinstance(node, ast.Call):
                continue
            kind, info = self.index.kind_of_call(node, file)
            spelled = ast.unparse(node.func)
            if ClassKind.SHARED_MODULE in kind or ClassKind.MODULE not in kind:
                continue
            if ClassKind.PREDICTOR in kind:
                return node, f"{spelled}(...)"
            if info is None:
                continue
            found = self.index.find_method(info, CONSTRUCTOR)
            parameters = lm_parameters(found[1], found[0].file) if found is not None else []
            if parameters:
                if not passes_lm(node, found[1] if found is not None else None, parameters):
                    return node, f"{spelled}(...), which receives an LM that is not passed here"
            elif self.creates_unbound(info):
                return node, f"{spelled}(...), which holds predictors it does not bind"
        return None

    # --- SLM004 ---

    def _unchecked_lm_arguments(self, info: ClassInfo, is_module: bool) -> Iterator[Finding]:
        constructor = info.methods[CONSTRUCTOR]
        for parameter in lm_parameters(constructor, info.file):
            copies = references(constructor, parameter.arg)
            if not is_module and not binds_with(info.file, constructor, copies):
                continue
            if checks_none(constructor, copies):
                continue
            name = parameter.arg
            yield finding(
                info.file, parameter, "SLM004",
                f"{info.qualname}.__init__ receives the LM `{name}` but never checks it against None: "
                f"{info.name}({name}=None) silently runs its predictors on the global default LM (dspy.settings.lm)",
                f"Reject None before using it: `if {name} is None: raise ValueError(\"{info.name} needs the shared "
                "LM; pass sharedlm.get_shared_lm()\")`, or derive from sharedlm.SharedLMModule, which checks it.",
            )


class _Scan:
    """One pass over one function of a class, recording holders it creates and the bindings it makes."""

    def __init__(self, rules: ModuleRules, file: ParsedFile, bindings: _Bindings, *, create: bool) -> None:
        self.rules = rules
        self.file = file
        self.bindings = bindings
        self.create = create
        self.locals: dict[str, Refs] = {}

    def run(self, function: DefNode) -> None:
        for node in walk_own_scope(function):
            if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                targets: list[ast.expr] = list(node.targets) if isinstance(node, ast.Assign) else [node.target]
                self._assign(targets, node.value)
            elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
                self._iterate(node.target, node.iter)
            elif isinstance(node, ast.NamedExpr):
                self._assign([node.target], node.value)
            elif isinstance(node, ast.Call):
                self._call(node)

    def _assign(self, targets: list[ast.expr], value: ast.expr) -> None:
        for target in targets:
            # `self.a, self.b = dspy.Predict(...), dspy.Predict(...)`: pair them up.
            if (isinstance(target, ast.Tuple | ast.List) and isinstance(value, ast.Tuple | ast.List)
                    and len(target.elts) == len(value.elts)):
                for inner_target, inner_value in zip(target.elts, value.elts, strict=True):
                    self._assign([inner_target], inner_value)
        created = self.rules.creation(self.file, value) if self.create else None
        refs = self.resolve(value)
        for target in targets:
            if isinstance(target, ast.Attribute) and target.attr == "lm" and not _is_self(target.value):
                self.bind(target.value)  # `self.agent.lm = lm`
                continue
            attribute = _self_attribute(target)
            if attribute is not None:
                if created is not None:
                    holder = _Holder(attribute, created[0], created[1])
                    self.bindings.holders.append(holder)
                    self.bindings.attributes.setdefault(attribute, []).append(holder)
                elif isinstance(refs, list) and refs:
                    self.bindings.attributes.setdefault(attribute, []).extend(refs)
                    for holder in refs:
                        holder.attribute = holder.attribute or attribute
            elif isinstance(target, ast.Name):
                if created is not None:
                    holder = _Holder(None, created[0], created[1])
                    self.bindings.holders.append(holder)
                    self.locals[target.id] = [holder]
                elif isinstance(refs, _All) or refs:
                    self.locals[target.id] = refs

    def _iterate(self, target: ast.expr, iterable: ast.expr) -> None:
        refs = self.resolve(iterable)
        if isinstance(refs, _All) or refs:
            for name in ast.walk(target):
                if isinstance(name, ast.Name):
                    self.locals[name.id] = refs

    def _call(self, call: ast.Call) -> None:
        if isinstance(call.func, ast.Attribute) and call.func.attr == "set_lm":
            self.bind(call.func.value)
        elif is_sharedlm(self.file.qualify(call.func), "bind_shared_lm"):
            if call.args:
                self.bind(call.args[0])
            else:
                self.bindings.all_bound = True

    def bind(self, receiver: ast.expr) -> None:
        refs = self.resolve(receiver)
        if isinstance(refs, _All):
            self.bindings.all_bound = True
        else:
            for holder in refs:
                holder.bound = True

    def resolve(self, node: ast.expr) -> Refs:
        """The holders an expression stands for: a holder, several, every predictor (ALL), or none."""
        if _is_self(node):
            return ALL
        if isinstance(node, ast.Name):
            return self.locals.get(node.id, [])
        attribute = _self_attribute(node)
        if attribute is not None:
            return list(self.bindings.attributes.get(attribute, []))
        if isinstance(node, ast.Attribute | ast.Subscript | ast.Starred):
            return self.resolve(node.value)
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute):
                if func.attr in _ALL_PREDICTORS_METHODS and _is_self(func.value):
                    return ALL
                if func.attr in _DICT_VIEWS:
                    return self.resolve(func.value)
            if isinstance(func, ast.Name) and func.id in _PASS_THROUGH_CALLS and node.args:
                return self.resolve(node.args[0])
            return []
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            return self._union(node.elts)
        if isinstance(node, ast.Dict):
            return self._union(node.values)
        return []

    def _union(self, nodes: list[ast.expr]) -> Refs:
        merged: list[_Holder] = []
        for node in nodes:
            refs = self.resolve(node)
            if isinstance(refs, _All):
                return ALL
            merged.extend(refs)
        return merged


def _is_self(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "self"


def _self_attribute(node: ast.expr) -> str | None:
    """``X`` for ``self.X``, ``self.X[...]``, ``self.X.y`` (the attribute of self an expression starts from)."""
    while isinstance(node, ast.Attribute | ast.Subscript):
        if isinstance(node, ast.Attribute) and _is_self(node.value):
            return node.attr
        node = node.value
    return None


def _walk_outside_lambdas(node: ast.expr) -> Iterator[ast.AST]:
    stack: list[ast.AST] = [node]
    while stack:
        current = stack.pop()
        yield current
        if not isinstance(current, ast.Lambda):
            stack.extend(reversed(list(ast.iter_child_nodes(current))))


__all__ = ["ALL", "ModuleRules"]
