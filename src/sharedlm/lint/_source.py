"""One parsed file under check: its syntax tree, import aliases, parent links and scope helpers.

Scopes follow Python's rules: a function's decorators, default values and annotations run in the enclosing
scope, only its body runs when it is called. Comprehensions count as part of the function around them.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from sharedlm.lint._names import Aliases, collect_aliases

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
DefNode = ast.FunctionDef | ast.AsyncFunctionDef

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(eq=False)
class ParsedFile:
    """A file that parsed, with what every rule needs to look things up in it.

    Args:
        path: The path to show in findings.
        source: The decoded text.
        tree: The parsed module.
    """

    path: str
    source: str
    tree: ast.Module
    aliases: Aliases = field(init=False)
    nodes: list[ast.AST] = field(init=False, repr=False)
    calls: list[ast.Call] = field(init=False, repr=False)
    parents: dict[ast.AST, tuple[ast.AST, str]] = field(init=False, repr=False)
    module_functions: dict[str, DefNode] = field(init=False, repr=False)
    module_names: frozenset[str] = field(init=False, repr=False)
    _lines: list[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # One traversal feeds every rule: the node list replaces repeated ast.walk calls over the file.
        self.nodes = [self.tree]
        self.parents = {}
        index = 0
        while index < len(self.nodes):
            node = self.nodes[index]
            index += 1
            for name in node._fields:
                value = getattr(node, name, None)
                for child in value if isinstance(value, list) else (value,):
                    if isinstance(child, ast.AST) and not isinstance(child, ast.expr_context):
                        self.parents[child] = (node, name)
                        self.nodes.append(child)
        self.calls = [node for node in self.nodes if isinstance(node, ast.Call)]
        self.aliases = collect_aliases(self.tree, self.nodes)
        self.module_functions = {
            stmt.name: stmt for stmt in self.tree.body if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        self.module_names = frozenset(_bound_names(self.tree.body))
        self._lines = _LINE_BREAK.split(self.source)
        self._body_nodes: dict[ast.AST, list[ast.AST]] = {}

    def body_nodes(self, function: DefNode) -> list[ast.AST]:
        """Every node of a function's body, nested functions and lambdas included (computed once)."""
        if function not in self._body_nodes:
            self._body_nodes[function] = [node for stmt in function.body for node in ast.walk(stmt)]
        return self._body_nodes[function]

    def class_qualname(self, node: ast.ClassDef) -> str:
        """A class's dotted name inside the file (``Outer.Inner``, ``make.<locals>.Local``)."""
        parts = [node.name]
        current: ast.AST = node
        while current in self.parents:
            current = self.parents[current][0]
            if isinstance(current, ast.ClassDef):
                parts.append(current.name)
            elif isinstance(current, ast.FunctionDef | ast.AsyncFunctionDef):
                parts.extend(("<locals>", current.name))
        return ".".join(reversed(parts))

    def qualify(self, node: ast.expr) -> str | None:
        """The dotted name ``node`` stands for in this file (see :meth:`Aliases.qualify`)."""
        return self.aliases.qualify(node)

    def position(self, node: ast.AST) -> tuple[int, int]:
        """The 1-based line and 1-based character column of ``node`` (ast columns count UTF-8 bytes)."""
        line = getattr(node, "lineno", 1)
        offset = getattr(node, "col_offset", 0)
        text = self._lines[line - 1] if 0 < line <= len(self._lines) else ""
        return line, len(text.encode("utf-8")[:offset].decode("utf-8", errors="ignore")) + 1

    def enclosing_functions(self, node: ast.AST) -> list[FunctionNode]:
        """The functions and lambdas whose body contains ``node``, innermost first."""
        found: list[FunctionNode] = []
        current = node
        while current in self.parents:
            parent, field_name = self.parents[current]
            if isinstance(parent, FunctionNode) and field_name == "body":
                found.append(parent)
            current = parent
        return found

    def enclosing_statement(self, node: ast.AST) -> ast.stmt | None:
        """The innermost statement containing ``node`` (``node`` itself when it is one)."""
        current: ast.AST | None = node
        while current is not None and not isinstance(current, ast.stmt):
            current = self.parents.get(current, (None, ""))[0]
        return current if isinstance(current, ast.stmt) else None

    def owner_class(self, function: ast.AST) -> ast.ClassDef | None:
        """The class whose body defines ``function`` directly (so it is a method), if any."""
        parent, field_name = self.parents.get(function, (None, ""))
        return parent if isinstance(parent, ast.ClassDef) and field_name == "body" else None


def walk_own_scope(function: FunctionNode) -> list[ast.AST]:
    """The nodes that run in ``function``'s own frame: nested defs, lambdas and classes are left out."""
    found: list[ast.AST] = []
    stack: list[ast.AST] = (
        [function.body] if isinstance(function, ast.Lambda) else list(reversed(function.body))
    )
    while stack:
        node = stack.pop()
        found.append(node)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            # The decorators and defaults run here; the body does not.
            stack.extend(reversed([*node.decorator_list, *node.args.defaults,
                                   *(d for d in node.args.kw_defaults if d is not None)]))
            continue
        if isinstance(node, ast.Lambda):
            stack.extend(reversed([*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]))
            continue
        if isinstance(node, ast.ClassDef):
            stack.extend(reversed([*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]))
            continue
        stack.extend(reversed(_evaluation_order(node)))
    return found


def _evaluation_order(node: ast.AST) -> list[ast.AST]:
    """A node's children in the order Python runs them where it matters: a comprehension's loops come
    before the element they produce (the tree lists the element first)."""
    if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp):
        return [*node.generators, node.elt]
    if isinstance(node, ast.DictComp):
        return [*node.generators, node.key, node.value]
    return list(ast.iter_child_nodes(node))


def _bound_names(body: list[ast.stmt]) -> set[str]:
    names: set[str] = set()
    for stmt in body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(stmt.name)
        elif isinstance(stmt, ast.Import | ast.ImportFrom):
            names.update((alias.asname or alias.name).partition(".")[0] for alias in stmt.names)
        elif isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(stmt, ast.If | ast.Try | ast.TryStar | ast.With):
            # Module-level state is often set up under `if TYPE_CHECKING:` or `try: import` blocks.
            nested = [*stmt.body, *getattr(stmt, "orelse", []), *getattr(stmt, "finalbody", [])]
            for handler in getattr(stmt, "handlers", []):
                nested.extend(handler.body)
            names.update(_bound_names(nested))
    return names


__all__ = ["DefNode", "FunctionNode", "ParsedFile", "walk_own_scope"]
