"""Rules about where LMs are constructed and how they are configured: SLM001, SLM002, SLM005, SLM006, SLM007.

Every ``dspy.LM(...)`` call (under any alias, or a checked subclass of ``dspy.LM``/``BaseLM``) is placed in
exactly one context, first match wins: a cached singleton (clean), the request path (SLM001), a DSPy
module's constructor (SLM002), any other function (SLM005, a new LM per call), or import time (SLM005).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from sharedlm.lint._finding import Finding
from sharedlm.lint._index import ClassKind, ProjectIndex
from sharedlm.lint._names import is_dspy_configure, is_dspy_settings_attribute, last_part
from sharedlm.lint._reach import Reach
from sharedlm.lint._rules import RULES
from sharedlm.lint._source import FunctionNode, ParsedFile, walk_own_scope

# Decorators that make a function return the same object on every call (functools, cachetools).
CACHE_DECORATORS = frozenset({"cache", "lru_cache", "cached", "memoize"})
_UNBOUND_DECORATORS = frozenset({"staticmethod", "classmethod"})
# How far "a factory only ever called from cached code" is followed back through callers.
_MAX_FACTORY_DEPTH = 4


def finding(file: ParsedFile, node: ast.AST, code: str, message: str, fix: str | None = None) -> Finding:
    """A finding of rule ``code`` at ``node``, with the rule's generic fix unless a specific one is given."""
    line, column = file.position(node)
    return Finding(file=file.path, line=line, column=column, code=code, message=message,
                   fix=fix if fix is not None else RULES[code].fix)


def check_lm_rules(file: ParsedFile, index: ProjectIndex, reach: Reach) -> Iterator[Finding]:
    """Every SLM001/002/005/006/007 finding of one file.

    Args:
        file: The file to check.
        index: The class index of all checked files.
        reach: Where each function runs.
    """
    for node in file.nodes:
        if isinstance(node, ast.Call):
            kind, _ = index.kind_of_call(node, file)
            if ClassKind.DSPY_LM in kind:
                # A custom BaseLM subclass may define a max_parallel_requests of its own; dspy.LM does not.
                yield from _knob(file, node, "max_parallel_requests", "SLM006",
                                 f"max_parallel_requests= on {_spelled(node)}(...) limits nothing on DSPy 3.4.1: the "
                                 "native engine refuses the unknown key, so DSPy silently falls back to the slower "
                                 "LiteLLM path")
            if ClassKind.LM in kind:
                placed = _place_construction(file, node, reach)
                if placed is not None:
                    yield finding(file, node, *placed)
            elif is_dspy_configure(file.qualify(node.func)):
                yield from _knob(file, node, "async_max_workers", "SLM007",
                                 f"async_max_workers= in {_spelled(node)}(...) only sizes dspy.asyncify's thread "
                                 "limiter; Predict.acall and LM.acall never pass through it, so it limits no LM "
                                 "traffic")
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if is_dspy_settings_attribute(file.qualify(target), "async_max_workers"):
                    yield finding(file, target, "SLM007",
                                  "setting dspy.settings.async_max_workers only sizes dspy.asyncify's thread "
                                  "limiter; Predict.acall and LM.acall never pass through it")


def _spelled(call: ast.Call) -> str:
    return ast.unparse(call.func)


def _knob(file: ParsedFile, call: ast.Call, name: str, code: str, message: str) -> Iterator[Finding]:
    for keyword in call.keywords:
        if keyword.arg == name:
            yield finding(file, keyword, code, message)
        elif keyword.arg is None and isinstance(keyword.value, ast.Dict):
            # dspy.LM(model, **{"max_parallel_requests": 2000})
            for key in keyword.value.keys:
                if isinstance(key, ast.Constant) and key.value == name:
                    yield finding(file, key, code, message)


def _place_construction(file: ParsedFile, call: ast.Call, reach: Reach) -> tuple[str, str] | None:
    functions = file.enclosing_functions(call)
    if is_cached(file, call):
        return None
    spelled = _spelled(call)
    for function in functions:
        step = reach.request_path.get(function)
        if step is not None:
            return "SLM001", (f"{spelled}(...) builds a new LM on the request path ({step.path}): every call opens "
                              "new connection pools, which stay open while the event loop runs and leak sockets "
                              "until 'Too many open files'")
    for function in functions:
        scope = reach.constructor_scope.get(function)
        if scope is not None:
            module, step = scope
            return "SLM002", (f"{spelled}(...) in the constructor of DSPy module {module.qualname} ({step.path}): "
                              f"every {module.name} instance opens its own connection pools instead of sharing "
                              "one LM")
    if functions:
        return "SLM005", (f"{spelled}(...) in {_describe(file, functions[0])} builds a new LM, with its own "
                          "connection pools, every time it runs; nothing caches it")
    where = "in the __main__ block" if _in_main_block(file, call) else "at import time"
    return "SLM005", (f"{spelled}(...) {where} builds an LM of its own beside the shared one; every module "
                      "doing this adds connection pools that sharedlm's flow control does not see")


def _in_main_block(file: ParsedFile, node: ast.AST) -> bool:
    current = node
    while current in file.parents:
        current = file.parents[current][0]
        if isinstance(current, ast.If) and "__main__" in ast.unparse(current.test):
            return True
    return False


def _describe(file: ParsedFile, function: FunctionNode) -> str:
    if isinstance(function, ast.Lambda):
        return "a lambda"
    owner = file.owner_class(function)
    if owner is None:
        return f"function {function.name}()"
    if function.name == "__init__":
        return f"the constructor of {owner.name}"
    return f"method {owner.name}.{function.name}()"


def is_cached(file: ParsedFile, call: ast.Call, depth: int = 0) -> bool:
    """Whether the object ``call`` builds is kept and reused, so it is built once, not once per call.

    Recognised: a function decorated with ``functools.cache``/``lru_cache`` (or cachetools' ``cached``) that
    is not an instance method; code inside ``if <module-level state> is None:`` (or ``not ...``,
    ``... not in ...``); an assignment to a ``global``/``nonlocal`` name, a module-level container or a ``cls``
    attribute, in a function that tests that name (``if _lm is None:``, an early return); and a factory
    function that is only ever called from such cached places in its file.

    Args:
        file: The file containing ``call``.
        call: The construction.
        depth: How many factory callers deep this check already is.
    """
    functions = file.enclosing_functions(call)
    if not functions:
        return False
    if any(_cache_decorated(file, function) for function in functions):
        return True
    if _under_lazy_init_check(file, call, functions):
        return True
    statement = file.enclosing_statement(call)
    if isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value is not None:
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        for target in targets:
            root = _cache_root(file, target, functions[0])
            if root is not None and (_guarded(root, functions) or _or_default(statement.value, root)):
                return True
    innermost = functions[0]
    if (depth < _MAX_FACTORY_DEPTH and isinstance(innermost, ast.FunctionDef | ast.AsyncFunctionDef)
            and file.module_functions.get(innermost.name) is innermost):
        callers = [node for node in file.calls
                   if isinstance(node.func, ast.Name) and node.func.id == innermost.name
                   and innermost not in file.enclosing_functions(node)]
        return bool(callers) and all(is_cached(file, caller, depth + 1) for caller in callers)
    return False


def _under_lazy_init_check(file: ParsedFile, call: ast.Call, functions: list[FunctionNode]) -> bool:
    """Whether ``call`` runs only inside ``if <module-level state> is None:`` (or ``not ...``/``... not in``)."""
    current: ast.AST = call
    while current in file.parents and current is not functions[0]:
        parent, field_name = file.parents[current]
        if isinstance(parent, ast.If) and field_name == "body" and _is_lazy_init_test(file, parent.test, functions):
            return True
        current = parent
    return False


def _is_lazy_init_test(file: ParsedFile, test: ast.expr, functions: list[FunctionNode]) -> bool:
    if isinstance(test, ast.BoolOp):
        return any(_is_lazy_init_test(file, value, functions) for value in test.values)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _is_process_state(file, test.operand, functions)
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        left, right, op = test.left, test.comparators[0], test.ops[0]
        if isinstance(op, ast.Is | ast.Eq) and (_is_none_constant(right) or _is_none_constant(left)):
            return _is_process_state(file, left, functions) or _is_process_state(file, right, functions)
        if isinstance(op, ast.NotIn):
            return _is_process_state(file, right, functions)
    return False


def _is_none_constant(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _is_process_state(file: ParsedFile, node: ast.expr, functions: list[FunctionNode]) -> bool:
    """A global name, or an attribute/item of a module-level object or of ``cls``: state shared process-wide."""
    return isinstance(node, ast.Name | ast.Attribute | ast.Subscript) and (
        _cache_root(file, node, functions[0]) is not None)


def _cache_decorated(file: ParsedFile, function: FunctionNode) -> bool:
    if isinstance(function, ast.Lambda):
        return False
    names = set()
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        dotted = file.qualify(target)
        if dotted is not None:
            names.add(last_part(dotted))
    if not names & CACHE_DECORATORS:
        return False
    # A cache on an instance method keys on `self`: one LM per instance, not one per process.
    return file.owner_class(function) is None or bool(names & _UNBOUND_DECORATORS)


def _cache_root(file: ParsedFile, target: ast.expr, function: FunctionNode) -> str | None:
    if isinstance(target, ast.Name):
        declared = {
            name
            for node in walk_own_scope(function) if isinstance(node, ast.Global | ast.Nonlocal)
            for name in node.names
        }
        return target.id if target.id in declared else None
    root: ast.expr = target
    while isinstance(root, ast.Attribute | ast.Subscript):
        root = root.value
    if not isinstance(root, ast.Name) or root.id == "self" or root is target:
        return None
    if root.id == "cls":
        return "cls"
    parameters = {arg.arg for arg in (*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs)}
    return root.id if root.id in file.module_names and root.id not in parameters else None


def _mentions(node: ast.AST, name: str) -> bool:
    return any(isinstance(inner, ast.Name) and inner.id == name for inner in ast.walk(node))


def _guarded(name: str, functions: list[FunctionNode]) -> bool:
    for function in functions:
        for node in walk_own_scope(function):
            if isinstance(node, ast.If | ast.While | ast.IfExp | ast.Assert) and _mentions(node.test, name):
                return True
    return False


def _or_default(value: ast.expr, name: str) -> bool:
    # `_lm = _lm or dspy.LM(...)`
    return (isinstance(value, ast.BoolOp) and isinstance(value.op, ast.Or)
            and any(isinstance(operand, ast.Name) and operand.id == name for operand in value.values[:-1]))


__all__ = ["CACHE_DECORATORS", "check_lm_rules", "finding", "is_cached"]
