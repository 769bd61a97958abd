"""Rules about DSPy module constructors: SLM003 (predictors never bound to an LM) and SLM004 (an LM argument
never checked against None).

A predictor is "held" by an attribute of ``self`` when the constructor assigns it a predictor, a list, tuple
or dict of predictors, or an instance of a checked module class that holds unbound predictors of its own or
receives an LM that is not passed. It is bound by ``set_lm(...)`` or ``.lm = ...`` on it (directly, through a
local name, or as a loop variable over it), or for all at once by ``self.set_lm(...)``,
``sharedlm.bind_shared_lm(self, ...)`` or ``set_lm`` on every item of ``self.predictors()`` and friends,
anywhere in the class.

Binding is also followed across classes: a sub-module's predictors count as bound when every place the checked
files build the sub-module (or a subclass of it) binds them: a ``SharedLMModule`` parent, a parent that binds
the attribute or everything it holds (or is itself bound wherever it is built), or ``x = Sub()`` followed by
``x.set_lm(...)`` / ``sharedlm.bind_shared_lm(x, ...)`` in the same scope. So is a predictor every call of which
picks its LM (``with dspy.context(lm=...)``, ``lm=...``). The default rule set reports an unbound predictor only
where the code otherwise binds LMs (the class binds another predictor, builds or fetches an LM in its
constructor, or receives one it never uses, or another place binds the same sub-module); ``--strict`` reports
every one the linter cannot see bound. SLM004 is ``--strict`` only.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field

from sharedlm.lint._finding import Reported
from sharedlm.lint._index import ClassInfo, ClassKind, ProjectIndex
from sharedlm.lint._lm_arguments import References, binds_with, checks_none, lm_parameters, passes_lm, references
from sharedlm.lint._lm_rules import finding
from sharedlm.lint._names import is_dspy_configure, is_sharedlm, last_part
from sharedlm.lint._reach import CONSTRUCTOR, reachable
from sharedlm.lint._source import DefNode, ParsedFile, walk_own_scope

# Methods of dspy.Module that iterate over every predictor or sub-module it holds.
_ALL_PREDICTORS_METHODS = frozenset({
    "predictors", "named_predictors", "parameters", "named_parameters", "named_sub_modules", "modules",
})
# Calls that pass their first argument's items through (for `for i, p in enumerate(self.agents)`).
_PASS_THROUGH_CALLS = frozenset({"enumerate", "list", "tuple", "sorted", "reversed", "iter", "set"})
_DICT_VIEWS = frozenset({"values", "items", "keys"})
# Calls on a predictor that run it (`self.p(...)`, `await self.p.acall(...)`); other method calls do not.
_RUN_METHODS = frozenset({"__call__", "forward", "aforward", "acall", "call", "batch", "abatch"})


class _All:
    """Stands for "every predictor of the module" (``self``, ``self.predictors()``)."""


ALL = _All()


@dataclass(eq=False)
class _Holder:
    attribute: str | None
    created_by: ast.Call
    description: str
    bound: bool = False
    module: ClassInfo | None = None  # the checked module class it is an instance of, if any
    bound_per_call: bool = False  # bound only by the LM each call picks (dspy.context(lm=...), lm=...)


@dataclass(frozen=True, eq=False)
class _Site:
    """A place that builds an instance of a checked module class, and whether it binds the instance's predictors.

    Args:
        call: The construction.
        file: The file it is in.
        bound: Whether this place binds every predictor of the instance.
    """

    call: ast.Call
    file: ParsedFile
    bound: bool

    @property
    def where(self) -> str:
        return f"{self.file.path}:{self.call.lineno}"


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
        self._constructions: dict[ClassInfo, list[tuple[ast.Call, ParsedFile]]] | None = None
        self._site_bound: dict[ast.Call, bool] = {}
        self._instance_sites: dict[ClassInfo, list[_Site]] = {}
        self._adopts: dict[ClassInfo, bool] = {}

    def __repr__(self) -> str:
        return f"ModuleRules(classes analysed={len(self._bindings)})"

    def check(self, file: ParsedFile) -> Iterator[Reported]:
        """Every SLM003 and SLM004 finding of the classes defined in ``file``, each marked with its rule set."""
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

    def _unbound_predictors(self, info: ClassInfo) -> Iterator[Reported]:
        bindings = self.bindings(info)
        if bindings.all_bound:
            return
        unbound = [holder for holder in bindings.holders
                   if holder.attribute is not None and not holder.bound and holder.created_by not in self._reported]
        if not unbound:
            return
        sites = self.instance_sites(info)
        if sites and all(site.bound for site in sites):
            return  # every place that builds it binds it
        missed = [site for site in sites if not site.bound]
        adopts = self.adopts(info)
        for holder in unbound:
            # A helper method of a base class can create the same predictor for several subclasses.
            self._reported.add(holder.created_by)
            if missed:
                more = len(missed) - 1
                where = (f"bound to no LM, neither by {info.name} nor where {info.name} is built at "
                         f"{missed[0].where}" + (f" (and {more} more place{'s' if more > 1 else ''})" if more else ""))
                consequence = "there it runs on the global default LM (dspy.settings.lm), or fails when none is set"
            else:
                where = f"{info.name} never binds it, and no checked code builds {info.name}"
                consequence = ("unless whoever builds it binds it, it runs on the global default LM "
                               "(dspy.settings.lm), or fails when none is configured")
            # Default set: only where the code otherwise binds LMs, so the missing binding is an oversight.
            default = adopts or (holder.module is not None and any(
                site.bound for site in self.instance_sites(holder.module)))
            yield Reported(finding(
                info.file, holder.created_by, "SLM003",
                f"self.{holder.attribute} ({holder.description}) is created in {info.qualname}.__init__ and "
                f"{where}: {consequence}",
                f"Call self.{holder.attribute}.set_lm(shared_lm) in the constructor (or self.set_lm(shared_lm) / "
                "sharedlm.bind_shared_lm(self, shared_lm) after creating every predictor), or derive "
                f"{info.name} from sharedlm.SharedLMModule.",
            ), default)

    def adopts(self, info: ClassInfo) -> bool:
        """Whether module class ``info`` means its predictors to run on an LM of its own: it binds one of them,
        builds or fetches an LM in its constructor, or receives an LM that it never uses for anything."""
        if info in self._adopts:
            return self._adopts[info]
        self._adopts[info] = False
        result = self._receives_an_unused_lm(info)
        if not result and CONSTRUCTOR in info.methods:
            # Choosing an LM per call (a bigger judge in dspy.context) is not binding the class to one LM.
            result = any(holder.bound and not holder.bound_per_call for holder in self.bindings(info).holders)
            for step in reachable(self.index, info.methods[CONSTRUCTOR], info, info.file, module_functions=False):
                file = step.owner.file if step.owner is not None else info.file
                for node in file.body_nodes(step.function):
                    if isinstance(node, ast.Call) and (
                            ClassKind.LM in self.index.kind_of_call(node, file)[0]
                            or is_sharedlm(file.qualify(node.func), "get_shared_lm")):
                        result = True
        self._adopts[info] = result
        return result

    def _receives_an_unused_lm(self, info: ClassInfo) -> bool:
        """A constructor LM parameter that nothing in the class uses (beyond storing it and checking it for None):
        the caller passes an LM the predictors never get. An LM used for something else (``sub_lm`` handed to a
        tool, ``dspy.context(lm=self.lm)``) says nothing about the predictors."""
        methods = [(owner, method) for owner in self.index.mro(info) for method in owner.methods.values()]
        for owner in self.index.mro(info):
            constructor = owner.methods.get(CONSTRUCTOR)
            if constructor is None:
                continue
            for parameter in lm_parameters(constructor, owner.file):
                refs = references(constructor, parameter.arg)
                # Outside the constructor, a local name such as `lm` is another variable; only `self.x` copies count.
                copies = References(frozenset(), refs.attributes)
                if not any(_uses(method_owner.file, method, refs, in_constructor=True) if method is constructor
                           else _uses(method_owner.file, method, copies, in_constructor=False)
                           for method_owner, method in methods):
                    return True
        return False

    # --- where module classes are built ---

    def instance_sites(self, info: ClassInfo) -> list[_Site]:
        """Every place the checked files build ``info`` or a subclass of it (an instance holding what
        ``info.__init__`` creates), and whether each binds the instance's predictors."""
        if info in self._instance_sites:
            return self._instance_sites[info]
        self._instance_sites[info] = []  # a class built inside its own constructor must not recurse forever
        sites: list[_Site] = []
        constructions = self._all_constructions()
        for built in self.index.classes:
            if info not in self.index.mro(built):
                continue
            kind = self.index.kind(built)
            binds_all = ClassKind.SHARED_MODULE in kind or (
                built is not info and CONSTRUCTOR in built.methods and self.bindings(built).all_bound)
            for call, file in constructions.get(built, []):
                sites.append(_Site(call, file, binds_all or self._binds_at(call, file)))
        self._instance_sites[info] = sites
        return sites

    def _all_constructions(self) -> dict[ClassInfo, list[tuple[ast.Call, ParsedFile]]]:
        if self._constructions is None:
            self._constructions = {}
            for file in self.index.files:
                for call in file.calls:
                    kind, info = self.index.kind_of_call(call, file)
                    if info is not None and ClassKind.MODULE in kind:
                        self._constructions.setdefault(info, []).append((call, file))
        return self._constructions

    def _binds_at(self, call: ast.Call, file: ParsedFile) -> bool:
        """Whether the place of ``call`` binds every predictor of the module instance it builds."""
        if call in self._site_bound:
            return self._site_bound[call]
        self._site_bound[call] = False
        functions = file.enclosing_functions(call)
        owner_node = file.owner_class(functions[0]) if functions else None
        parent = self.index.info(owner_node) if owner_node is not None else None
        if parent is not None and ClassKind.MODULE in self.index.kind(parent):
            result = self._parent_binds(parent, call)
        else:
            result = _binds_in_scope(file, call, functions[0] if functions else None)
        self._site_bound[call] = result
        return result

    def _parent_binds(self, parent: ClassInfo, call: ast.Call) -> bool:
        if ClassKind.SHARED_MODULE in self.index.kind(parent):
            return True  # SharedLMModule binds every predictor, nested ones too, after __init__ returns
        if CONSTRUCTOR in parent.methods:
            bindings = self.bindings(parent)
            if bindings.all_bound or any(holder.bound for holder in bindings.holders if holder.created_by is call):
                return True
        sites = self.instance_sites(parent)
        return bool(sites) and all(site.bound for site in sites)

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
        self._bind_by_call_lm(info, bindings)
        return bindings

    def _bind_by_call_lm(self, info: ClassInfo, bindings: _Bindings) -> None:
        """Mark holders bound when every call of them picks its LM: inside ``with dspy.context(lm=...)`` or with an
        ``lm=`` argument (``self.judge(..., lm=self.lm)``)."""
        uses: dict[str, list[bool]] = {}
        for owner in self.index.mro(info):
            for method in owner.methods.values():
                for node in owner.file.body_nodes(method):
                    if isinstance(node, ast.Call):
                        attribute = _called_holder(node.func)
                        if attribute is not None:
                            uses.setdefault(attribute, []).append(
                                _passes_an_lm(node) or _inside_lm_context(owner.file, node, method))
        for holder in bindings.holders:
            calls = uses.get(holder.attribute or "")
            if calls and all(calls) and not holder.bound:
                holder.bound = holder.bound_per_call = True

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

    def creation(self, file: ParsedFile, value: ast.expr) -> tuple[ast.Call, str, ClassInfo | None] | None:
        """The first call in ``value`` that creates a predictor needing an LM, a description of it, and the checked
        module class it builds (None for DSPy's own predictors)."""
        for node in _walk_outside_lambdas(value):
            if not isinstance(node, ast.Call):
                continue
            kind, info = self.index.kind_of_call(node, file)
            spelled = ast.unparse(node.func)
            if ClassKind.SHARED_MODULE in kind or ClassKind.MODULE not in kind:
                continue
            if ClassKind.PREDICTOR in kind:
                return node, f"{spelled}(...)", info
            if info is None:
                continue
            found = self.index.find_method(info, CONSTRUCTOR)
            parameters = lm_parameters(found[1], found[0].file) if found is not None else []
            if parameters:
                if not passes_lm(node, found[1] if found is not None else None, parameters):
                    return node, f"{spelled}(...), which receives an LM that is not passed here", info
            elif self.creates_unbound(info):
                return node, f"{spelled}(...), which holds predictors it does not bind", info
        return None

    # --- SLM004 ---

    def _unchecked_lm_arguments(self, info: ClassInfo, is_module: bool) -> Iterator[Reported]:
        constructor = info.methods[CONSTRUCTOR]
        for parameter in lm_parameters(constructor, info.file):
            copies = references(constructor, parameter.arg)
            if not is_module and not binds_with(info.file, constructor, copies):
                continue
            if checks_none(constructor, copies):
                continue
            name = parameter.arg
            # A checklist item, not a hazard: None falls back to the global LM, it opens no pools.
            yield Reported(finding(
                info.file, parameter, "SLM004",
                f"{info.qualname}.__init__ receives the LM `{name}` but never checks it against None: "
                f"{info.name}({name}=None) silently runs its predictors on the global default LM (dspy.settings.lm)",
                f"Reject None before using it: `if {name} is None: raise ValueError(\"{info.name} needs the shared "
                "LM; pass sharedlm.get_shared_lm()\")`, or derive from sharedlm.SharedLMModule, which checks it.",
            ), False)


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
                    holder = _Holder(attribute, created[0], created[1], module=created[2])
                    self.bindings.holders.append(holder)
                    self.bindings.attributes.setdefault(attribute, []).append(holder)
                elif isinstance(refs, list) and refs:
                    self.bindings.attributes.setdefault(attribute, []).extend(refs)
                    for holder in refs:
                        holder.attribute = holder.attribute or attribute
            elif isinstance(target, ast.Name):
                if created is not None:
                    holder = _Holder(None, created[0], created[1], module=created[2])
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


def _uses(file: ParsedFile, method: DefNode, refs: References, *, in_constructor: bool) -> bool:
    """Whether ``method`` reads the LM ``refs`` stands for other than to check it for None (or, in the
    constructor, whose copies ``refs`` already follows, to copy it)."""
    for node in file.body_nodes(method):
        if not (refs.match(node) and isinstance(getattr(node, "ctx", None), ast.Load)):
            continue
        parent = file.parents.get(node, (None, ""))[0]
        if isinstance(parent, ast.Compare | ast.UnaryOp | ast.If | ast.Assert | ast.IfExp | ast.BoolOp):
            continue  # `if lm is None`, `not lm`, `assert lm`, `lm or ...`: a check, not a use
        if in_constructor and isinstance(parent, ast.Assign) and parent.value is node:
            continue  # `self.lm = lm`: a copy, followed through `refs`
        return True
    return False


def _called_holder(func: ast.expr) -> str | None:
    """``X`` when a call runs ``self.X`` (``self.X(...)``, ``self.X[i](...)``, ``self.X.acall(...)``)."""
    if isinstance(func, ast.Attribute) and func.attr in _RUN_METHODS:
        func = func.value
    while isinstance(func, ast.Subscript):
        func = func.value
    return func.attr if isinstance(func, ast.Attribute) and _is_self(func.value) else None


def _passes_an_lm(call: ast.Call) -> bool:
    return any(keyword.arg == "lm" and not _is_none_constant(keyword.value) for keyword in call.keywords)


def _inside_lm_context(file: ParsedFile, node: ast.AST, function: ast.AST) -> bool:
    """Whether ``node`` runs inside ``with dspy.context(lm=...)`` within ``function``."""
    current = node
    while current in file.parents and current is not function:
        current = file.parents[current][0]
        if isinstance(current, ast.With | ast.AsyncWith):
            for item in current.items:
                expression = item.context_expr
                if (isinstance(expression, ast.Call) and is_dspy_configure(file.qualify(expression.func))
                        and last_part(ast.unparse(expression.func)) == "context" and _passes_an_lm(expression)):
                    return True
    return False


def _is_none_constant(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _binds_in_scope(file: ParsedFile, call: ast.Call, function: ast.AST | None) -> bool:
    """``bind_shared_lm(Sub(), lm)``, or ``x = Sub()`` and then ``x.set_lm(...)`` / ``bind_shared_lm(x, ...)``
    in the same function (anywhere in the file for a module-level ``x``)."""
    parent = file.parents.get(call, (None, ""))[0]
    if isinstance(parent, ast.Call) and parent.args and parent.args[0] is call and is_sharedlm(
            file.qualify(parent.func), "bind_shared_lm"):
        return True
    statement = file.enclosing_statement(call)
    if not (isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value is call):
        return False
    targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
    names = {ast.unparse(target) for target in targets if isinstance(target, ast.Name | ast.Attribute)}
    scope = walk_own_scope(function) if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef) else file.nodes
    for node in scope:
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Attribute) and node.func.attr == "set_lm" and ast.unparse(
                node.func.value) in names:
            return True
        if is_sharedlm(file.qualify(node.func), "bind_shared_lm") and node.args and ast.unparse(
                node.args[0]) in names:
            return True
    return False


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
