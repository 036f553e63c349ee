"""A static look at the student's own code cells: what a TA should look at by hand.

``scan_code`` reports code that patches builtins, checks or modules, controls the kernel
(``os._exit``, signals), walks the interpreter's internals or refers to course files. It only
flags (``suspicious`` in the audit); points come from the judge.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from nbformat.notebooknode import NotebookNode

from course_utils.ta.guard_cells import setup_imports

__all__ = ["scan_code", "protected_names"]

_MODULE_NAMES = {"torch", "F", "np", "numpy", "builtins", "sys", "course_utils", "grading", "nn"}
_CONTROL = {"os._exit", "os.kill", "os.abort", "sys.exit", "signal.signal", "os.fork"}
_INTROSPECTION = {
    "__builtins__": "uses __builtins__",
    "__code__": "replaces function code",
    "__globals__": "reaches into function globals",
    "__import__": "calls __import__",
    "get_ipython": "changes the notebook machinery (get_ipython)",
    "settrace": "sets a trace function",
    "setprofile": "sets a profile function",
    "get_objects": "walks the garbage collector",
    "ctypes": "uses ctypes",
    "meta_path": "changes the import system",
    "sqlite3": "opens a database",
}
_COURSE_PATHS = ("solutions", "gradebook", "nbgrader_config", "autograded", "submitted", ".git")


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def scan_code(nb: NotebookNode, protected: set[str]) -> list[str]:
    """Reasons to look at a submission by hand, from its student-written code cells.

    ``protected`` are the names the setup cell binds (the checks among them); rebinding one is
    reported, as are patched modules, builtins and kernel control, and course file paths.
    """
    found: list[str] = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or (meta and not meta.get("solution")):
            continue
        source = "\n".join(
            line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))
        )
        reasons = list(_in_text(source))
        try:
            tree = ast.parse(source)
        except SyntaxError:
            tree = None
        if tree is not None:
            reasons += [*_rebinds(tree, protected), *_in_tree(tree, protected)]
        found += [r for r in dict.fromkeys(reasons) if r not in found]
    return found


def _in_text(source: str) -> Iterator[str]:
    """Introspection words and course file paths anywhere in a cell's text."""
    for word, reason in _INTROSPECTION.items():
        if word in source:
            yield reason
    for path in _COURSE_PATHS:
        if re.search(rf"['\"/]{re.escape(path)}", source):
            yield f"refers to the course's {path} files"


def _rebinds(tree: ast.Module, protected: set[str]) -> Iterator[str]:
    """Top-level statements that rebind a name the setup cell provides."""
    for node in tree.body:
        targets: list[str] = []
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            nodes = node.targets if isinstance(node, ast.Assign) else [node.target]
            targets = [t.id for t in nodes if isinstance(t, ast.Name)]
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            targets = [node.name]
        elif isinstance(node, ast.Import | ast.ImportFrom):
            targets = [(a.asname or a.name).split(".")[0] for a in node.names]
        for name in targets:
            if name in protected:
                yield f"rebinds {name}, which the setup cell provides"


def _in_tree(tree: ast.Module, protected: set[str]) -> Iterator[str]:
    """Patched modules and checks, kernel control, ``setattr``, risky imports, anywhere."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.Delete):
            nodes = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
            for target in nodes:
                name = _dotted(target)
                if isinstance(target, ast.Attribute) and name.split(".")[0] in (
                    _MODULE_NAMES | protected
                ):
                    yield f"patches {name}"
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name in _CONTROL:
                yield f"calls {name}"
            if name == "setattr" and node.args:
                yield f"calls setattr on {_dotted(node.args[0]) or 'an object'}"
        elif isinstance(node, ast.Import | ast.ImportFrom):
            module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
            if module and module.split(".")[0] in {"builtins", "ctypes", "gc", "sqlite3"}:
                yield f"imports {module}"


def protected_names(nb: NotebookNode) -> set[str]:
    """Names bound by the setup imports (the checks, torch, F, ...)."""
    names: set[str] = set()
    tree = ast.parse(setup_imports(nb) or "pass")
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names
