"""Which functions run per request and which run while a DSPy module is constructed.

A request starts in ``forward``, ``aforward``, ``__call__``, ``acall`` or ``call`` of any class (defined there
or inherited from a checked base). Everything those methods reach through ``self.m``/``cls.m``/
``super().m``/``ClassName.m`` or a plain call to a function of the same file runs per request too, nested
functions and lambdas included. So does a web request handler: a function decorated with a route such as
``@app.post("/predict")`` or ``@router.get(...)``. A class's constructor scope is its ``__init__`` and the
methods and module-level functions it reaches: it runs once per instance.
"""

from __future__ import annotations

import ast
from collections import deque
from dataclasses import dataclass

from sharedlm.lint._index import ClassInfo, ClassKind, ProjectIndex
from sharedlm.lint._source import DefNode, ParsedFile

REQUEST_METHODS = ("forward", "aforward", "__call__", "acall", "call")
CONSTRUCTOR = "__init__"
# `@app.post("/path")`, `@router.get(...)`, `@bp.route(...)`: web frameworks call these once per request.
ROUTE_DECORATORS = frozenset({
    "get", "post", "put", "patch", "delete", "head", "options", "route", "api_route", "websocket", "middleware",
})


@dataclass(frozen=True, eq=False)
class Step:
    """A function reached from a starting method, and how it was reached.

    Args:
        function: The function or method reached.
        owner: The class defining it, or None for a module-level function.
        chain: The call path from the start, such as ``("Pipeline.aforward", "Pipeline._prepare")``.
    """

    function: DefNode
    owner: ClassInfo | None
    chain: tuple[str, ...]
    root: DefNode | None = None

    @property
    def path(self) -> str:
        """The call path as ``A.forward -> A._helper``."""
        return " -> ".join(self.chain)


def _label(function: DefNode, owner: ClassInfo | None) -> str:
    return f"{owner.qualname}.{function.name}" if owner is not None else f"{function.name}()"


def reachable(index: ProjectIndex, start: DefNode, owner: ClassInfo | None, file: ParsedFile, *,
              module_functions: bool) -> list[Step]:
    """Every function ``start`` can call (itself first), breadth first.

    Args:
        index: The class index of all checked files.
        start: The method or function to start from.
        owner: The class ``self`` is an instance of when ``start`` is a method (for ``self.m`` lookups), else
            None. For an inherited method this is the subclass, so overrides are followed.
        file: The file defining ``start``.
        module_functions: Follow plain calls to module-level functions of the same file too.
    """
    start_owner = _defining_class(index, owner, start)
    steps: list[Step] = []
    seen: set[DefNode] = set()
    queue: deque[_Pending] = deque([_Pending(start, start_owner, owner, file, (_label(start, start_owner),))])
    while queue:
        pending = queue.popleft()
        if pending.function in seen:
            continue
        seen.add(pending.function)
        steps.append(Step(function=pending.function, owner=pending.owner, chain=pending.chain, root=start))
        for callee in _callees(index, pending, module_functions):
            if callee.function not in seen:
                queue.append(callee)
    return steps


@dataclass(frozen=True, eq=False)
class _Pending:
    function: DefNode
    owner: ClassInfo | None  # the class defining the function
    self_class: ClassInfo | None  # the class `self` is an instance of while it runs
    file: ParsedFile
    chain: tuple[str, ...]

    def then(self, function: DefNode, owner: ClassInfo | None, self_class: ClassInfo | None,
             file: ParsedFile) -> _Pending:
        return _Pending(function, owner, self_class, file, (*self.chain, _label(function, owner)))


def _defining_class(index: ProjectIndex, self_class: ClassInfo | None, method: DefNode) -> ClassInfo | None:
    if self_class is None:
        return None
    found = index.find_method(self_class, method.name)
    return found[0] if found is not None and found[1] is method else self_class


def _callees(index: ProjectIndex, caller: _Pending, module_functions: bool) -> list[_Pending]:
    found: list[_Pending] = []
    for node in caller.file.body_nodes(caller.function):
        if isinstance(node, ast.Attribute):
            method = _method_reference(index, caller, node)
            if method is not None:
                owner, function, self_class = method
                found.append(caller.then(function, owner, self_class, owner.file))
        elif (module_functions and isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
              and node.id in caller.file.module_functions):
            found.append(caller.then(caller.file.module_functions[node.id], None, None, caller.file))
    return found


def _method_reference(index: ProjectIndex, caller: _Pending,
                      node: ast.Attribute) -> tuple[ClassInfo, DefNode, ClassInfo | None] | None:
    receiver = node.value
    self_class = caller.self_class
    if _is_self_reference(receiver):
        found = index.find_method(self_class, node.attr) if self_class is not None else None
    elif (isinstance(receiver, ast.Call) and isinstance(receiver.func, ast.Name) and receiver.func.id == "super"
          and caller.owner is not None):
        found = index.find_method(caller.owner, node.attr, skip_self=True)
    elif isinstance(receiver, ast.Name):
        # `ClassName.method(...)`: a static or class method, or an explicit unbound call.
        target = index.resolve(caller.file.qualify(receiver), caller.file)
        if target is None or receiver.id != target.name:
            return None
        found = index.find_method(target, node.attr)
        self_class = target
    else:
        return None
    return None if found is None else (found[0], found[1], self_class)


def _is_self_reference(node: ast.expr) -> bool:
    """``self``, ``cls`` or ``type(self)``."""
    if isinstance(node, ast.Name):
        return node.id in ("self", "cls")
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "type"


@dataclass(frozen=True, eq=False)
class Reach:
    """Where each function runs, for the whole set of checked files.

    Args:
        request_path: Function -> how a request reaches it (first path found).
        constructor_scope: Function -> (the DSPy module class being constructed, how its ``__init__`` reaches it).
        instance_scope: Function -> (the class, not a DSPy module, being constructed, how its ``__init__`` reaches
            it).
        route_handlers: The web route handlers among the request path's starting functions.
    """

    # Keyed by any function node so that lambdas can be looked up too (they are never keys).
    request_path: dict[ast.AST, Step]
    constructor_scope: dict[ast.AST, tuple[ClassInfo, Step]]
    instance_scope: dict[ast.AST, tuple[ClassInfo, Step]]
    route_handlers: frozenset[ast.AST] = frozenset()


def compute_reach(index: ProjectIndex) -> Reach:
    """The request path and the module constructor scope across every checked file.

    Args:
        index: The class index of all checked files.
    """
    request_path: dict[ast.AST, Step] = {}
    constructor_scope: dict[ast.AST, tuple[ClassInfo, Step]] = {}
    instance_scope: dict[ast.AST, tuple[ClassInfo, Step]] = {}
    for info in index.classes:
        for name in REQUEST_METHODS:
            found = index.find_method(info, name)
            if found is None:
                continue
            owner, method = found
            for step in reachable(index, method, info, owner.file, module_functions=True):
                request_path.setdefault(step.function, step)
    handlers: set[ast.AST] = set()
    for file in index.files:
        for node in file.nodes:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _is_route_handler(file, node):
                handlers.add(node)
                owner_node = file.owner_class(node)
                handler_class = index.info(owner_node) if owner_node is not None else None
                for step in reachable(index, node, handler_class, file, module_functions=True):
                    request_path.setdefault(step.function, step)
    for info in index.classes:
        if CONSTRUCTOR in info.methods:
            scope = constructor_scope if ClassKind.MODULE in index.kind(info) else instance_scope
            for step in reachable(index, info.methods[CONSTRUCTOR], info, info.file, module_functions=True):
                scope.setdefault(step.function, (info, step))
    return Reach(request_path=request_path, constructor_scope=constructor_scope, instance_scope=instance_scope,
                 route_handlers=frozenset(handlers))


def _is_route_handler(file: ParsedFile, function: DefNode) -> bool:
    for decorator in function.decorator_list:
        if (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)
                and decorator.func.attr in ROUTE_DECORATORS and file.qualify(decorator.func.value) is not None):
            return True
    return False


__all__ = ["CONSTRUCTOR", "REQUEST_METHODS", "ROUTE_DECORATORS", "Reach", "Step", "compute_reach", "reachable"]
