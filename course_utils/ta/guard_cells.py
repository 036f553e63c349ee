"""The guard cells around test cells: inserted before execution, checked and removed after.

``InsertGuards`` puts a guard cell first and one before every test cell, and a last line in
every test cell (see ``course_utils.ta.guard``); ``VerifyGuards`` checks their markers after
execution, flags a test cell whose markers are missing, and removes every trace. No grade
depends on the guard: the judge (``course_utils.ta.judge``) decides each test cell's points.
"""

from __future__ import annotations

import ast
import secrets
from typing import Any

import nbformat
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor

from course_utils.ta import events
from course_utils.ta.guard import MARK, MARK_PATTERN
from course_utils.ta.protocol import GUARD_KEY, GUARD_MODULE, NOT_RUN_KEY

__all__ = ["InsertGuards", "VerifyGuards", "setup_imports"]


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
    cell = nbformat.v4.new_code_cell(f'__import__("{GUARD_MODULE}").ta.guard.{call}')
    cell.metadata[GUARD_KEY] = True
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
                    line = f'\n__import__("{GUARD_MODULE}").ta.guard.done({ending!r})'
                    endings[gid] = line
                    cell.source += line
            cells.append(cell)
        nb.cells = cells
        resources[GUARD_KEY] = {"token": token, "endings": endings}
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
            output.text = MARK_PATTERN.sub("", output.text)
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
        state = resources.get(GUARD_KEY)
        if not state:
            return nb, resources
        token, endings = state["token"], state["endings"]
        kept: list[NotebookNode] = []
        guard_ok = True
        for cell in nb.cells:
            if cell.metadata.get(GUARD_KEY):
                ran = not cell.metadata.get(NOT_RUN_KEY)
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
                ran = not cell.metadata.get(NOT_RUN_KEY)
                ended = f"{token}:end:{gid}" in _stdout(cell)
                if ran and not _has_error(cell):  # flagged only: the judge decides the points
                    if not guard_ok:
                        events.record("tampered", "test cell ran on patched checks", gid)
                    elif gid in endings and not ended:
                        events.record("tampered", "test cell did not run to its end", gid)
                guard_ok = True
            _strip_marks(cell)
            cell.metadata.pop(NOT_RUN_KEY, None)
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
