"""Demonstration cells that a grading run leaves out.

An instructor tags a read-only code cell ``demo`` in the solution notebook when it only shows
something (a timing, a sweep, a comparison with gensim) and no points depend on it. ``course
autograde`` then does not run it, in the submissions nor in the reference run for the judge,
provided that no later cell that does run reads a name it binds. That is decided on the
notebook being graded, so a student's own cell that uses a demonstration's result still gets
it. A demonstration must not change objects that later cells read (``tests/test_demo_cells.py``
checks the instructor notebooks for what can be seen in their code).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping

from nbformat.notebooknode import NotebookNode

from course_utils.notebooks import grade_id

__all__ = ["DEMO_TAG", "NOT_RUN_NOTE", "demo_cells", "skippable", "binds", "free_names"]

DEMO_TAG = "demo"
NOT_RUN_NOTE = (
    "Not run when grading: a demonstration that earns no points. Run the notebook yourself to "
    "see its output.\n"
)

# methods that change their object in place: a call ``x.append(...)`` counts as binding ``x``
_MUTATORS = {"append", "extend", "insert", "remove", "pop", "clear", "update", "setdefault"}
_MUTATORS |= {"add", "discard", "sort", "reverse", "popitem"}
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def demo_cells(source: NotebookNode) -> dict[str, str]:
    """The instructor's demonstration cells (tagged, read-only, no points): grade id -> source."""
    found = {}
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if (
            cell.cell_type == "code"
            and DEMO_TAG in cell.metadata.get("tags", [])
            and meta.get("locked")
            and not meta.get("grade")
            and not meta.get("solution")
        ):
            found[meta["grade_id"]] = cell.source
    return found


def skippable(nb: NotebookNode, demos: Mapping[str, str]) -> set[int]:
    """Indices of the cells of ``nb`` that are demonstrations (the instructor's source,
    unchanged) whose names no later cell that runs reads."""
    skip: set[int] = set()
    needed: set[str] = set()  # read by a later cell that runs
    for index in reversed(range(len(nb.cells))):
        cell = nb.cells[index]
        if cell.cell_type != "code":
            continue
        gid = grade_id(cell)
        if gid in demos and cell.source == demos[gid]:
            bound = binds(cell.source)
            if bound is not None and not bound & needed:
                skip.add(index)
                continue
        needed |= free_names(cell.source)
    return skip


def binds(source: str) -> set[str] | None:
    """The global names a cell binds or changes; ``None`` when it is not plain Python."""
    try:
        return _bound_in(ast.parse(source))
    except SyntaxError:
        return None


def free_names(source: str) -> set[str]:
    """The names a cell may read that it has not bound itself before (a superset)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython syntax (magics, ``!``): every word may be a name it reads
        return set(_IDENTIFIER.findall(source))
    return _free_in(tree.body, set())


def _free_in(statements: list[ast.stmt], bound: set[str]) -> set[str]:
    """Names ``statements`` read, run in order, before they bind them (``bound``: before)."""
    free, bound = set(), set(bound)
    for statement in statements:
        free |= _loads(statement) - bound
        bound |= _bound_in(ast.Module(body=[statement], type_ignores=[]))
    return free


def _bound_in(tree: ast.Module) -> set[str]:
    found: set[str] = set()
    for node in _walk_scope(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            found.add(node.id)
        elif isinstance(node, ast.Attribute | ast.Subscript) and isinstance(
            node.ctx, ast.Store | ast.Del
        ):
            found |= _base_names(node)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in _MUTATORS or node.func.attr.endswith("_"):
                found |= _base_names(node.func.value)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            found |= {(a.asname or a.name).split(".")[0] for a in node.names}
    for node in ast.walk(tree):  # a function may rebind a global when it is called, and a
        if isinstance(node, ast.Global | ast.Nonlocal):  # comprehension's ``:=`` binds outside it
            found |= set(node.names)
        elif isinstance(node, ast.NamedExpr):
            found |= _names(node.target)
    return found


def _walk_scope(node: ast.AST) -> Iterable[ast.AST]:
    """The nodes of the cell's own scope (not inside functions, classes or comprehensions)."""
    for child in ast.iter_child_nodes(node):
        yield child
        if not isinstance(child, _SCOPES + _COMPREHENSIONS):
            yield from _walk_scope(child)


def _base_names(node: ast.AST) -> set[str]:
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return {node.id} if isinstance(node, ast.Name) else set()


def _loads(node: ast.AST) -> set[str]:
    """Names read anywhere in ``node``, function bodies included, less their own locals."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        inner = set().union(*(_loads(n) for n in _body(node)))
        params = {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
        defaults = node.args.defaults + [d for d in node.args.kw_defaults if d]
        outer = set().union(*(_loads(d) for d in defaults))
        local = {
            n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        }
        local -= {n for g in ast.walk(node) if isinstance(g, ast.Global) for n in g.names}
        return outer | (inner - params - local)
    if isinstance(node, _COMPREHENSIONS):
        targets = set().union(*(_names(g.target) for g in node.generators))
        inner = set().union(*(_loads(n) for n in ast.iter_child_nodes(node)))
        return inner - targets | _loads(node.generators[0].iter)
    if isinstance(node, ast.For | ast.AsyncFor):
        return _loads(node.iter) | _free_in([*node.body, *node.orelse], _names(node.target))
    if isinstance(node, ast.While | ast.If):
        return _loads(node.test) | _free_in(node.body, set()) | _free_in(node.orelse, set())
    if isinstance(node, ast.With | ast.AsyncWith):
        targets = set().union(*(_names(i.optional_vars) for i in node.items if i.optional_vars))
        context = set().union(*(_loads(i.context_expr) for i in node.items))
        return context | _free_in(node.body, targets)
    if isinstance(node, ast.AugAssign):  # ``x += 1`` reads x, though its node says Store
        return _names(node.target) | _loads(node.value)
    if isinstance(node, ast.Name):
        return {node.id} if isinstance(node.ctx, ast.Load) else set()
    return set().union(set(), *(_loads(n) for n in ast.iter_child_nodes(node)))


def _body(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.Lambda):
        return [node.body]
    return [*node.body, *node.decorator_list, *([node.returns] if node.returns else [])]


def _names(target: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
