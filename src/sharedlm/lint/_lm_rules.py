"""Rules about where LMs are constructed and how they are configured: SLM001, SLM002, SLM005, SLM006, SLM007.

Every ``dspy.LM(...)`` call (under any alias, or a checked subclass of ``dspy.LM``/``BaseLM``) is placed in
exactly one context, first match wins: a cached singleton (clean), the request path (SLM001), a DSPy
module's constructor (SLM002), another class's constructor (SLM005, one LM per instance), a loop (SLM005, one
LM per iteration), a factory function called in a loop (SLM005), any other function (SLM005, ``--strict``
only: the linter cannot tell how often it runs), or import time (SLM005: in the default set only when another
module-level LM for the same model is alive beside it; one module-level LM is a singleton).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from sharedlm.lint._finding import Finding, Reported
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
_LOOP_FIX = "Build the LM once before the loop and reuse it (or use sharedlm.get_shared_lm())."

# (code, message, fix or None for the rule's own, whether the default rule set reports it)
Placement = tuple[str, str, str | None, bool]
Loop = ast.For | ast.AsyncFor | ast.While | ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)


def finding(file: ParsedFile, node: ast.AST, code: str, message: str, fix: str | None = None) -> Finding:
    """A finding of rule ``code`` at ``node``, with the rule's generic fix unless a specific one is given."""
    line, column = file.position(node)
    return Finding(file=file.path, line=line, column=column, code=code, message=message,
                   fix=fix if fix is not None else RULES[code].fix)


def uses_asyncify(files: list[ParsedFile]) -> bool:
    """Whether any of the files calls ``dspy.asyncify``, the one place ``async_max_workers`` limits anything."""
    return any(
        (dotted := file.qualify(call.func)) is not None and dotted.startswith("dspy.")
        and last_part(dotted) == "asyncify"
        for file in files for call in file.calls
    )


def check_lm_rules(file: ParsedFile, index: ProjectIndex, reach: Reach, *,
                   asyncify_used: bool = False) -> Iterator[Reported]:
    """Every SLM001/002/005/006/007 finding of one file, each marked with the rule set that reports it.

    Args:
        file: The file to check.
        index: The class index of all checked files.
        reach: Where each function runs.
        asyncify_used: Whether a checked file calls ``dspy.asyncify`` (then ``async_max_workers`` is not SLM007).
    """
    import_time = _ImportTimeLMs(file)
    for node in file.nodes:
        if isinstance(node, ast.Call):
            kind, _ = index.kind_of_call(node, file)
            if ClassKind.DSPY_LM in kind:
                # A custom BaseLM subclass may define a max_parallel_requests of its own; dspy.LM does not.
                for knob in _knob(file, node, "max_parallel_requests", "SLM006",
                                  f"max_parallel_requests= on {_spelled(node)}(...) limits nothing on DSPy 3.4.1: "
                                  "the native engine refuses the unknown key, so DSPy silently falls back to the "
                                  "slower LiteLLM path"):
                    yield Reported(knob, True)
            if ClassKind.LM in kind:
                placed = _place_construction(file, node, reach, import_time)
                if placed is not None:
                    code, message, fix, default = placed
                    yield Reported(finding(file, node, code, message, fix), default)
            elif is_dspy_configure(file.qualify(node.func)) and not asyncify_used:
                for knob in _knob(file, node, "async_max_workers", "SLM007",
                                  f"async_max_workers= in {_spelled(node)}(...) only sizes dspy.asyncify's thread "
                                  "limiter, and no checked file uses dspy.asyncify; Predict.acall and LM.acall "
                                  "never pass through it, so it limits no LM traffic"):
                    yield Reported(knob, True)
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign) and not asyncify_used:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if is_dspy_settings_attribute(file.qualify(target), "async_max_workers"):
                    yield Reported(finding(file, target, "SLM007",
                                           "setting dspy.settings.async_max_workers only sizes dspy.asyncify's "
                                           "thread limiter, and no checked file uses dspy.asyncify; Predict.acall "
                                           "and LM.acall never pass through it"), True)


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


def _place_construction(file: ParsedFile, call: ast.Call, reach: Reach,
                        import_time: _ImportTimeLMs) -> Placement | None:
    functions = file.enclosing_functions(call)
    if is_cached(file, call):
        return None
    spelled = _spelled(call)
    for function in functions:
        step = reach.request_path.get(function)
        if step is not None:
            handler = step.root in reach.route_handlers
            return "SLM001", (f"{spelled}(...) builds a new LM on the request path "
                              f"({'web route handler ' if handler else ''}{step.path}): every call opens new "
                              "connection pools, which stay open while the event loop runs and leak sockets until "
                              "'Too many open files'"), (
                "Build the LM once, outside the handler (sharedlm.get_shared_lm(), or a functools.cache'd factory), "
                "and use that one in every request." if handler else None), True
    for function in functions:
        scope = reach.constructor_scope.get(function)
        if scope is not None:
            module, step = scope
            return "SLM002", (f"{spelled}(...) in the constructor of DSPy module {module.qualname} ({step.path}): "
                              f"every {module.name} instance opens its own connection pools instead of sharing "
                              "one LM"), None, True
    for function in functions:
        scope = reach.instance_scope.get(function)
        if scope is not None:
            owner, step = scope
            return "SLM005", (f"{spelled}(...) in the constructor of {owner.qualname} ({step.path}) builds a new LM, "
                              f"with its own connection pools, for every {owner.name} instance"), (
                f"Build the LM once (sharedlm.get_shared_lm(), or a functools.cache'd factory) and pass it to "
                f"{owner.name}(...) instead of building it in the constructor."), True
    cached_method = next((function for function in functions if _cached_per_instance(file, function)), None)
    if cached_method is not None:
        method_class = file.owner_class(cached_method)
        owner_name = method_class.name if method_class is not None else "its class"
        return "SLM005", (f"{spelled}(...) in {_describe(file, cached_method)}, whose cache keys on `self`, builds a "
                          f"new LM, with its own connection pools, for every {owner_name} instance"), (
            f"Move the cached factory out of {owner_name} to module level (a @functools.cache function), or use "
            "sharedlm.get_shared_lm()."), True
    loop = _enclosing_loop(file, call, functions[0] if functions else None)
    if loop is not None:
        count = _fixed_iterations(loop)
        if count is not None:
            return "SLM005", (f"{spelled}(...) inside a loop over {count} fixed value{'s' if count != 1 else ''} "
                              f"builds {count} LM{'s' if count != 1 else ''}, each with its own connection pools"), (
                _LOOP_FIX), False
        if _mentions_loop_target(call, loop):
            return "SLM005", (f"{spelled}(...) inside a loop builds one LM, with its own connection pools, per "
                              "value of the loop variable; nothing caches them"), (
                "Build each LM once, before the loop or in a dict keyed by its settings, and reuse it."), False
        return "SLM005", (f"{spelled}(...) inside the loop at line {loop.lineno} builds a new LM, with its own "
                          "connection pools, on every iteration"), _LOOP_FIX, True
    if functions:
        described = _describe(file, functions[0])
        repeated = _called_in_a_loop(file, functions[0], 0)
        if repeated is not None:
            name = functions[0].name if not isinstance(functions[0], ast.Lambda) else "the lambda"
            return "SLM005", (f"{spelled}(...) in {described} builds a new LM, with its own connection pools, every "
                              f"time it runs, and the loop at line {repeated.lineno} calls it on every iteration"), (
                f"Decorate {name}() with @functools.cache so it builds one LM and returns it on every call (or use "
                "sharedlm.get_shared_lm())."), True
        return "SLM005", (f"{spelled}(...) in {described} builds a new LM, with its own connection pools, every "
                          "time it runs; nothing caches it"), None, False
    return import_time.place(call, spelled)


class _ImportTimeLMs:
    """The LMs a file builds at import time, in order, and which names hold them as each one is built.

    One module-level LM is a process-wide singleton (default set: clean). A second one for the same model,
    built while a different name still holds the first, splits that model's traffic over two sets of connection
    pools (default set: SLM005). Rebinding the same name, or ``dspy.configure(lm=...)``/``dspy.context(lm=...)``,
    replaces the LM instead of adding one.
    """

    def __init__(self, file: ParsedFile) -> None:
        self.file = file
        self._duplicates: dict[ast.Call, tuple[str, str, int]] = {}
        held: dict[str, tuple[str, ast.Call]] = {}  # name -> (model, construction) of the LM it holds
        for call in self._module_level_constructions():
            statement = file.enclosing_statement(call)
            target = _single_name_target(statement, call)
            model = _model_key(call)
            if target is None or model is None:
                continue
            for name, (other_model, other) in held.items():
                if name != target and other_model == model and not _exclusive_branches(file, call, other):
                    self._duplicates[call] = (model, name, other.lineno)
                    break
            held[target] = (model, call)

    def _module_level_constructions(self) -> list[ast.Call]:
        found = [call for call in self.file.calls
                 if _looks_like_lm(self.file, call) and not self.file.enclosing_functions(call)
                 and _enclosing_loop(self.file, call, None) is None]
        return sorted(found, key=lambda call: (call.lineno, call.col_offset))

    def place(self, call: ast.Call, spelled: str) -> Placement:
        where = "in the __main__ block" if _in_main_block(self.file, call) else "at import time"
        duplicate = self._duplicates.get(call)
        if duplicate is not None:
            model, name, line = duplicate
            return "SLM005", (f"{spelled}(...) {where} builds a second LM for model {model} while `{name}` (line "
                              f"{line}) still holds one: two sets of connection pools for one model, and a pool "
                              "limit or flow control on one does not see the other's traffic"), (
                f"Reuse `{name}` (or `{name}.copy(...)` for other settings, which shares its connection pools) "
                "instead of building another LM."), True
        native_cap = ", and DSPy's native transport caps it at 100 connections" if _looks_like_lm(
            self.file, call) else ""
        return "SLM005", (f"{spelled}(...) {where} builds an LM whose traffic sharedlm's flow control (its "
                          f"in-flight cap, adaptive concurrency and rate budgets) does not see{native_cap}"), (
            f"Build it lazily with {_shared_lm_for(call)} (one shared LM per model, all on one connection pool), "
            "or keep it with `# noqa: SLM005` in a script that needs no flow control."), False


def _shared_lm_for(call: ast.Call) -> str:
    """The shared-LM call that replaces ``call``: naming its model when the model is a literal."""
    model = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "model"), None)
    if isinstance(model, ast.Constant) and isinstance(model.value, str):
        return f"sharedlm.get_shared_lm({model.value!r})"
    return "sharedlm.get_shared_lm(model)"


def _exclusive_branches(file: ParsedFile, first: ast.AST, second: ast.AST) -> bool:
    """Whether two nodes sit in different branches of one ``if``/``try``/``match``, so only one of them runs."""
    theirs = _branch_path(file, second)
    for ancestor, (field_name, position) in _branch_path(file, first).items():
        if ancestor not in theirs:
            continue
        other_field, other_position = theirs[ancestor]
        if isinstance(ancestor, ast.If | ast.Try | ast.TryStar) and field_name != other_field:
            return True
        # Two `except` handlers, or two `case`s of a match.
        return field_name == other_field and field_name in ("handlers", "cases") and position != other_position
    return False


def _branch_path(file: ParsedFile, node: ast.AST) -> dict[ast.AST, tuple[str, int]]:
    """Each ancestor of ``node`` -> (the field of the ancestor holding the path to ``node``, its index there)."""
    path: dict[ast.AST, tuple[str, int]] = {}
    current = node
    while current in file.parents:
        parent, field_name = file.parents[current]
        value = getattr(parent, field_name)
        path[parent] = (field_name, value.index(current) if isinstance(value, list) else 0)
        current = parent
    return path


def _looks_like_lm(file: ParsedFile, call: ast.Call) -> bool:
    dotted = file.qualify(call.func)
    return dotted is not None and dotted.startswith("dspy.") and last_part(dotted) == "LM"


def _single_name_target(statement: ast.stmt | None, call: ast.Call) -> str | None:
    """``lm`` for ``lm = dspy.LM(...)`` (the call is the whole value), else None."""
    if isinstance(statement, ast.Assign) and statement.value is call and len(statement.targets) == 1:
        target = statement.targets[0]
        return ast.unparse(target) if isinstance(target, ast.Name | ast.Attribute) else None
    if isinstance(statement, ast.AnnAssign) and statement.value is call:
        return ast.unparse(statement.target)
    return None


def _model_key(call: ast.Call) -> str | None:
    """The model an LM construction names, as written (``'openai/gpt-4o-mini'``), or None."""
    if call.args and not isinstance(call.args[0], ast.Starred):
        return ast.unparse(call.args[0])
    for keyword in call.keywords:
        if keyword.arg == "model":
            return ast.unparse(keyword.value)
    return None


def _enclosing_loop(file: ParsedFile, node: ast.AST, function: FunctionNode | None) -> Loop | None:
    """The innermost loop (``for``/``while`` body or a comprehension) around ``node`` inside ``function``."""
    current = node
    while current in file.parents and current is not function:
        parent, field_name = file.parents[current]
        if isinstance(parent, ast.For | ast.AsyncFor | ast.While) and field_name == "body":
            return parent
        if isinstance(parent, _COMPREHENSIONS) and field_name in ("elt", "key", "value"):
            return parent
        if isinstance(parent, ast.comprehension) and field_name == "ifs":
            comprehension = file.parents[parent][0]
            if isinstance(comprehension, _COMPREHENSIONS):
                return comprehension
        current = parent
    return None


def _fixed_iterations(loop: Loop) -> int | None:
    """How many times a loop over a literal list, tuple or set runs (a bounded number of LMs), else None."""
    if isinstance(loop, ast.While):
        return None
    iterables = [loop.iter] if isinstance(loop, ast.For | ast.AsyncFor) else [gen.iter for gen in loop.generators]
    count = 1
    for iterable in iterables:
        if not isinstance(iterable, ast.List | ast.Tuple | ast.Set):
            return None
        count *= len(iterable.elts)
    return count


def _mentions_loop_target(call: ast.Call, loop: Loop) -> bool:
    if isinstance(loop, ast.For | ast.AsyncFor):
        targets = [loop.target]
    elif isinstance(loop, _COMPREHENSIONS):
        targets = [generator.target for generator in loop.generators]
    else:
        return False
    names = {name.id for target in targets for name in ast.walk(target) if isinstance(name, ast.Name)}
    return any(isinstance(node, ast.Name) and node.id in names for node in ast.walk(call))


def _called_in_a_loop(file: ParsedFile, function: FunctionNode, depth: int) -> Loop | None:
    """The loop that calls module-level ``function`` on every iteration (directly or through other module-level
    functions of the file), or None when no such loop can be seen."""
    if (depth >= _MAX_FACTORY_DEPTH or not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
            or file.module_functions.get(function.name) is not function):
        return None
    for node in file.calls:
        if not (isinstance(node.func, ast.Name) and node.func.id == function.name):
            continue
        callers = file.enclosing_functions(node)
        if function in callers:
            continue
        loop = _enclosing_loop(file, node, callers[0] if callers else None)
        if loop is not None and not _mentions_loop_target(node, loop):
            return loop
        if callers:
            outer = _called_in_a_loop(file, callers[0], depth + 1)
            if outer is not None:
                return outer
    return None


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


def _cached_per_instance(file: ParsedFile, function: FunctionNode) -> bool:
    """An instance method decorated with a cache: the cache keys on ``self``, so each instance gets its own."""
    if isinstance(function, ast.Lambda) or file.owner_class(function) is None:
        return False
    names = _decorator_names(file, function)
    return bool(names & CACHE_DECORATORS) and not names & _UNBOUND_DECORATORS


def _decorator_names(file: ParsedFile, function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    names = set()
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        dotted = file.qualify(target)
        if dotted is not None:
            names.add(last_part(dotted))
    return names


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


__all__ = ["CACHE_DECORATORS", "check_lm_rules", "finding", "is_cached", "uses_asyncify"]
