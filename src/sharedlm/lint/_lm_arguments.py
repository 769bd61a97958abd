"""Recognising constructor parameters that receive an LM, and whether a constructor checks one against None.

An LM parameter is one annotated ``dspy.LM``/``BaseLM`` (also inside ``Optional[...]``, ``X | None`` or a string
annotation), or named like one (``lm``, ``llm``, ``shared_lm``, ``judge_lm``), but not a setting about an LM
(``lm_name``, ``lm_kwargs``) or a parameter annotated with a plain type such as ``str``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from sharedlm.lint._names import LM_BASE_CLASSES, is_dspy, is_sharedlm, last_part
from sharedlm.lint._source import DefNode, FunctionNode, ParsedFile, walk_own_scope

# A parameter name ending in one of these names a setting about an LM, not an LM (`lm_name`, `lm_kwargs`).
_NOT_LM_SUFFIXES = frozenset({
    "name", "names", "id", "ids", "key", "kwargs", "args", "config", "cfg", "settings", "str", "string",
    "path", "url", "uri", "type", "cls", "class", "factory", "fn", "func", "provider", "model", "models",
    "params", "options", "opts", "spec", "kind",
})
_LM_TOKENS = frozenset({"lm", "llm", "lms", "llms"})
_LM_WHOLE_NAMES = frozenset({"sharedlm", "languagemodel", "language_model"})
_PLAIN_TYPES = frozenset({"str", "int", "float", "bool", "bytes", "dict", "list", "tuple", "set", "Path"})
# A call whose function name contains one of these is taken to validate its arguments (`require_lm(lm)`).
_VALIDATOR_WORDS = ("valid", "check", "require", "ensure", "expect")


def _is_self(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "self"


def lm_parameters(function: DefNode, file: ParsedFile) -> list[ast.arg]:
    """The parameters of a method that receive an LM, by annotation or by name (``lm``, ``shared_lm``, ``llm``).

    Args:
        function: A method (its first positional parameter, ``self``, is skipped).
        file: The file defining it, for resolving annotations.
    """
    positional = [*function.args.posonlyargs, *function.args.args][1:]
    return [arg for arg in (*positional, *function.args.kwonlyargs) if _is_lm_parameter(arg, file)]


def _is_lm_parameter(arg: ast.arg, file: ParsedFile) -> bool:
    if arg.annotation is not None:
        names = _annotation_names(arg.annotation, file)
        if any(is_dspy(name, LM_BASE_CLASSES) for name in names):
            return True
        if names and all(last_part(name) in _PLAIN_TYPES | {"None", "Optional"} for name in names):
            return False
    name = arg.arg.lstrip("_").lower()
    if name in _LM_WHOLE_NAMES:
        return True
    tokens = name.split("_")
    return tokens[-1] not in _NOT_LM_SUFFIXES and bool(_LM_TOKENS.intersection(tokens))


def _annotation_names(annotation: ast.expr, file: ParsedFile) -> list[str]:
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            annotation = ast.parse(annotation.value, mode="eval").body
        except SyntaxError:
            return []
    names: list[str] = []
    for node in ast.walk(annotation):
        if isinstance(node, ast.Name | ast.Attribute):
            dotted = file.qualify(node)
            if dotted is not None and not (isinstance(node, ast.Name) and _is_attribute_base(node, annotation)):
                names.append(dotted)
        elif isinstance(node, ast.Constant) and node.value is None:
            names.append("None")
    return names


def _is_attribute_base(node: ast.Name, tree: ast.expr) -> bool:
    return any(isinstance(parent, ast.Attribute) and parent.value is node for parent in ast.walk(tree))


def passes_lm(call: ast.Call, constructor: DefNode | None, parameters: list[ast.arg]) -> bool:
    if any(isinstance(arg, ast.Starred) for arg in call.args) or any(kw.arg is None for kw in call.keywords):
        return True  # *args / **kwargs: cannot tell, assume it is passed
    positional = [*constructor.args.posonlyargs, *constructor.args.args][1:] if constructor is not None else []
    for parameter in parameters:
        if parameter in positional:
            index = positional.index(parameter)
            if index < len(call.args) and not _is_none(call.args[index]):
                return True
        for keyword in call.keywords:
            if keyword.arg == parameter.arg and not _is_none(keyword.value):
                return True
    return False


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


@dataclass(frozen=True)
class References:
    """A constructor parameter and the local names and ``self`` attributes it is copied into."""

    names: frozenset[str]
    attributes: frozenset[str]

    def match(self, node: ast.AST) -> bool:
        """Whether ``node`` is one of the names or ``self`` attributes."""
        if isinstance(node, ast.Name):
            return node.id in self.names
        return isinstance(node, ast.Attribute) and _is_self(node.value) and node.attr in self.attributes


def references(function: FunctionNode, name: str) -> References:
    """The parameter ``name`` and the local names and ``self`` attributes it is copied into."""
    names, attributes = {name}, set()
    for node in walk_own_scope(function):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) and node.value.id in names:
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names.add(target.id)
                elif isinstance(target, ast.Attribute) and _is_self(target.value):
                    attributes.add(target.attr)
    return References(frozenset(names), frozenset(attributes))


def checks_none(function: FunctionNode, refs: References) -> bool:
    for node in walk_own_scope(function):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(refs.match(op) for op in operands) and any(_is_none(op) for op in operands):
                return True
        elif isinstance(node, ast.If | ast.While | ast.IfExp | ast.Assert) and _truth_test(node.test, refs):
            return True
        elif isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
            if any(refs.match(value) for value in node.values[:-1]):
                return True  # `lm or sharedlm.get_shared_lm()` replaces None
        elif isinstance(node, ast.Call) and _validates(node, refs):
            return True
    return False


def _truth_test(test: ast.expr, refs: References) -> bool:
    if refs.match(test):
        return True
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _truth_test(test.operand, refs)
    if isinstance(test, ast.BoolOp):
        return any(_truth_test(value, refs) for value in test.values)
    return isinstance(test, ast.Call) and _validates(test, refs)


def _validates(call: ast.Call, refs: References) -> bool:
    name = ast.unparse(call.func).rpartition(".")[2].lower()
    if name == "bind_shared_lm":
        # sharedlm.bind_shared_lm(module, lm) raises ValueError when lm is None.
        return (len(call.args) > 1 and refs.match(call.args[1])) or any(
            kw.arg == "lm" and refs.match(kw.value) for kw in call.keywords)
    if name == "isinstance":
        return bool(call.args) and refs.match(call.args[0])
    if any(word in name for word in _VALIDATOR_WORDS):
        return any(refs.match(arg) for arg in (*call.args, *(kw.value for kw in call.keywords)))
    return False


def binds_with(file: ParsedFile, function: FunctionNode, refs: References) -> bool:
    for node in walk_own_scope(function):
        if not isinstance(node, ast.Call):
            continue
        is_binding = (isinstance(node.func, ast.Attribute) and node.func.attr == "set_lm") or is_sharedlm(
            file.qualify(node.func), "bind_shared_lm")
        if is_binding and any(refs.match(arg) for arg in (*node.args, *(kw.value for kw in node.keywords))):
            return True
    return False


__all__ = ["References", "binds_with", "checks_none", "lm_parameters", "passes_lm", "references"]
