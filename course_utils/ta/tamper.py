"""Grading-time defences against changed notebooks: nbgrader preprocessors and a code scan.

Sanitising (before execution):

* ``StripExecutionTags``: tags that make the executor skip a cell (``skip-execution``) or
  accept its error are removed from every cell.
* ``RestoreCells``: nbgrader's ``OverwriteCells`` with three fixes: the nbgrader metadata of
  every known cell (grade, solution, locked, points) is put back; missing test cells (and
  missing read-only code cells) are restored after the nearest surviving cell, which avoids
  nbgrader's ``KeyError`` when that cell is a plain read-only cell; and an unchanged test cell
  whose hidden tests were stripped at release is not reported as changed (nbgrader #1961).
  Every real change is recorded for the audit.

Executing (around it):

* ``InsertGuards`` puts a guard cell first and one before every test cell, and a last line in
  every test cell (see ``course_utils.ta.guard``); ``VerifyGuards`` checks their markers after
  execution, flags a test cell whose markers are missing, and removes every trace. No grade
  depends on the guard: the judge decides each test cell's points outside the kernel.
"""

from __future__ import annotations

import ast
import copy
import re
import secrets
from typing import Any

import nbformat
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.api import MissingEntry
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor, OverwriteCells
from traitlets import Unicode

from course_utils.ta import events
from course_utils.ta.guard import MARK

__all__ = [
    "StripExecutionTags",
    "RestoreCells",
    "InsertGuards",
    "VerifyGuards",
    "released_source",
    "scan_code",
    "setup_imports",
]

EXECUTION_TAGS = {"skip-execution", "skip_execution", "raises-exception", "skip"}
_GUARD = "course_guard"


def released_source(source: str) -> str:
    """A test cell's source as students received it (hidden tests removed)."""
    cell = nbformat.v4.new_code_cell(source)
    ClearHiddenTests()._remove_hidden_test_region(cell)
    return cell.source


class StripExecutionTags(NbGraderPreprocessor):
    """Remove the tags that change how (or whether) a cell is executed."""

    def preprocess_cell(
        self, cell: NotebookNode, resources: dict[str, Any], index: int
    ) -> tuple[NotebookNode, dict[str, Any]]:
        tags = cell.metadata.get("tags", [])
        found = [t for t in tags if t in EXECUTION_TAGS]
        if found:
            cell.metadata["tags"] = [t for t in tags if t not in EXECUTION_TAGS]
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            events.record("tampered", f"removed the tag(s) {', '.join(found)}", gid or f"#{index}")
        return cell, resources


class RestoreCells(OverwriteCells):
    """nbgrader's ``OverwriteCells``, restoring metadata and missing cells, without false alarms."""

    source_notebook = Unicode("", help="the instructor notebook, for the order of cells").tag(
        config=True
    )

    def preprocess(
        self, nb: NotebookNode, resources: dict[str, Any]
    ) -> tuple[NotebookNode, dict[str, Any]]:
        self.add_missing_cells = True
        return super().preprocess(nb, resources)

    def report_change(self, name: str, attr: str, old: Any, new: Any) -> None:
        if attr == "checksum":
            events.record("tampered", "the test or read-only cell was edited: restored", name)
        else:
            events.record("tampered", f"its {attr} was changed from {old} to {new}: restored", name)

    def preprocess_cell(
        self, cell: NotebookNode, resources: dict[str, Any], cell_index: int
    ) -> tuple[NotebookNode, dict[str, Any]]:
        meta = cell.metadata.get("nbgrader")
        if not meta or "grade_id" not in meta:
            return cell, resources
        gid = meta["grade_id"]
        try:
            source = self.gradebook.find_source_cell(gid, self.notebook_id, self.assignment_id)
        except MissingEntry:
            events.record("tampered", "a cell with an unknown nbgrader id: treated as student code")
            del cell.metadata["nbgrader"]
            return cell, resources
        self._restore_flags(cell, gid, source)
        if (
            source.locked
            and cell.cell_type == source.cell_type
            and cell.source != source.source
            and cell.source == released_source(source.source)
        ):
            cell.source = source.source  # hidden tests stripped at release: not a change
        return super().preprocess_cell(cell, resources, cell_index)

    def _restore_flags(self, cell: NotebookNode, gid: str, source: Any) -> None:
        meta = cell.metadata.nbgrader
        try:
            graded = self.gradebook.find_graded_cell(gid, self.notebook_id, self.assignment_id)
        except MissingEntry:
            graded = None
        try:
            self.gradebook.find_solution_cell(gid, self.notebook_id, self.assignment_id)
            solution = True
        except MissingEntry:
            solution = False
        want = {"grade": graded is not None, "solution": solution, "locked": source.locked}
        for key, value in want.items():
            if bool(meta.get(key, False)) != value:
                events.record("tampered", f"its nbgrader '{key}' flag was changed: restored", gid)
                meta[key] = value
        if graded is not None and "points" not in meta:
            meta["points"] = graded.max_score

    def _order(self) -> list[str]:
        """grade_ids in the instructor notebook's order."""
        nb = nbformat.read(self.source_notebook, as_version=4)
        return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]

    def add_missing_grade_cells(
        self, nb: NotebookNode, resources: dict[str, Any]
    ) -> tuple[NotebookNode, dict[str, Any]]:
        source_nb = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        sources = {c.name: c for c in source_nb.source_cells}
        graded = {c.name: c for c in source_nb.grade_cells}
        solutions = {c.name for c in source_nb.solution_cells}
        order = [gid for gid in self._order() if gid in sources]

        def present() -> dict[str, int]:
            return {
                c.metadata["nbgrader"]["grade_id"]: i
                for i, c in enumerate(nb.cells)
                if "grade_id" in c.metadata.get("nbgrader", {})
            }

        for position, gid in enumerate(order):
            source = sources[gid]
            wanted = gid in graded or (source.locked and source.cell_type == "code")
            if gid in present() or not wanted:
                continue
            if gid in graded:
                cell = self.missing_cell_transform(
                    source, graded[gid].max_score, is_solution=gid in solutions
                )
            else:
                cell = self._missing_readonly_cell(source)
            cell.metadata["nbgrader"]["checksum"] = source.checksum
            here = present()
            before = [here[g] for g in order[:position] if g in here]
            nb.cells.insert(before[-1] + 1 if before else 0, cell)
            events.record("tampered", "the cell was deleted: restored from the gradebook", gid)
        return nb, resources

    def _missing_readonly_cell(self, source: Any) -> NotebookNode:
        cell = nbformat.v4.new_code_cell(source.source)
        cell.metadata["nbgrader"] = {
            "grade": False,
            "solution": False,
            "locked": True,
            "grade_id": source.name,
            "schema_version": 3,
            "task": False,
        }
        return cell


def setup_imports(nb: NotebookNode) -> str:
    """The import statements of the read-only code cells before the first answer cell."""
    lines: list[str] = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            break
        if cell.cell_type != "code" or not meta.get("locked") or meta.get("grade"):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        lines += [ast.unparse(n) for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    return "\n".join(lines)


def _is_test_cell(cell: NotebookNode) -> bool:
    return cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell)


def _guard_cell(call: str) -> NotebookNode:
    cell = nbformat.v4.new_code_cell(f'__import__("course_utils.ta.guard").ta.guard.{call}')
    cell.metadata[_GUARD] = True
    return cell


def _ends_with_expression(source: str) -> bool:
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return True
    return bool(body) and isinstance(body[-1], ast.Expr)


class InsertGuards(NbGraderPreprocessor):
    """Add the guard cells and test-cell endings that ``VerifyGuards`` checks."""

    def preprocess(
        self, nb: NotebookNode, resources: dict[str, Any]
    ) -> tuple[NotebookNode, dict[str, Any]]:
        token = secrets.token_hex(12)
        imports = setup_imports(nb)
        cells = [_guard_cell(f"start({token + ':start'!r})")]
        endings: dict[str, str] = {}
        for cell in nb.cells:
            if _is_test_cell(cell):
                gid = cell.metadata.nbgrader.grade_id
                cells.append(_guard_cell(f"rearm(globals(), {token + ':' + gid!r}, {imports!r})"))
                if not _ends_with_expression(cell.source):
                    ending = token + ":end:" + gid
                    line = f'\n__import__("course_utils.ta.guard").ta.guard.done({ending!r})'
                    endings[gid] = line
                    cell.source += line
            cells.append(cell)
        nb.cells = cells
        resources["course_guard"] = {"token": token, "endings": endings}
        return nb, resources


def _stdout(cell: NotebookNode) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("name") == "stdout")


def _has_error(cell: NotebookNode) -> bool:
    return any(o.output_type == "error" for o in cell.get("outputs", []))


def _strip_marks(cell: NotebookNode) -> None:
    if cell.cell_type != "code":
        return
    kept = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            output.text = re.sub(r"\u27e6course-guard:[^\u27e7]*\u27e7\n?", "", output.text)
            if not output.text:
                continue
        kept.append(output)
    cell.outputs = kept


class VerifyGuards(NbGraderPreprocessor):
    """Check the guards' markers, flag test cells that were bypassed, remove the guards.

    The flags are for the audit only: the judge (``course_utils.ta.judge``) decides points."""

    def preprocess(
        self, nb: NotebookNode, resources: dict[str, Any]
    ) -> tuple[NotebookNode, dict[str, Any]]:
        state = resources.get("course_guard")
        if not state:
            return nb, resources
        token, endings = state["token"], state["endings"]
        kept: list[NotebookNode] = []
        guard_ok = True
        for cell in nb.cells:
            if cell.metadata.get(_GUARD):
                ran = not cell.metadata.get("course_not_run")
                guard_ok = (
                    (not ran)
                    or MARK.format(token=f"{token}:") in _stdout(cell)
                    or (f"{token}:" in _stdout(cell))
                )
                if not guard_ok:
                    events.record(
                        "tampered", "a guard cell was bypassed (IPython machinery patched)"
                    )
                continue
            if _is_test_cell(cell):
                gid = cell.metadata.nbgrader.grade_id
                if gid in endings:
                    cell.source = cell.source.removesuffix(endings[gid])
                ran = not cell.metadata.get("course_not_run")
                ended = f"{token}:end:{gid}" in _stdout(cell)
                if ran and not _has_error(cell):  # flagged only: the judge decides the points
                    if not guard_ok:
                        events.record("tampered", "test cell ran on patched checks", gid)
                    elif gid in endings and not ended:
                        events.record("tampered", "test cell did not run to its end", gid)
                guard_ok = True
            _strip_marks(cell)
            cell.metadata.pop("course_not_run", None)
            kept.append(cell)
        nb.cells = kept
        for cell in kept:
            for output in cell.get("outputs", []):
                if output.output_type == "error" and _is_memory_error(output):
                    gid = cell.metadata.get("nbgrader", {}).get("grade_id")
                    events.record("memory_limit", "a cell ran out of memory", gid)
        return nb, resources


def _is_memory_error(output: NotebookNode) -> bool:
    text = f"{output.get('ename', '')} {output.get('evalue', '')}"
    return "MemoryError" in text or "can't allocate memory" in text or "out of memory" in text


# --- static scan of student code -------------------------------------------------------------

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

    def note(reason: str) -> None:
        if reason not in found:
            found.append(reason)

    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or (meta and not meta.get("solution")):
            continue
        source = "\n".join(
            line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))
        )
        for word, reason in _INTROSPECTION.items():
            if word in source:
                note(reason)
        for path in _COURSE_PATHS:
            if re.search(rf"['\"/]{re.escape(path)}", source):
                note(f"refers to the course's {path} files")
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
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
                    note(f"rebinds {name}, which the setup cell provides")
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign | ast.AugAssign | ast.Delete):
                nodes = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
                for target in nodes:
                    name = _dotted(target)
                    if isinstance(target, ast.Attribute) and name.split(".")[0] in (
                        _MODULE_NAMES | protected
                    ):
                        note(f"patches {name}")
            elif isinstance(node, ast.Call):
                name = _dotted(node.func)
                if name in _CONTROL:
                    note(f"calls {name}")
                if name == "setattr" and node.args:
                    note(f"calls setattr on {_dotted(node.args[0]) or 'an object'}")
            elif isinstance(node, ast.Import | ast.ImportFrom):
                module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                if module and module.split(".")[0] in {"builtins", "ctypes", "gc", "sqlite3"}:
                    note(f"imports {module}")
    return found


def protected_names(nb: NotebookNode) -> set[str]:
    """Names bound by the setup imports (the checks, torch, F, ...)."""
    names: set[str] = set()
    tree = ast.parse(setup_imports(nb) or "pass")
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def copy_notebook(nb: NotebookNode) -> NotebookNode:
    return copy.deepcopy(nb)
