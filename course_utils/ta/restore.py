"""Sanitising a submission before it runs: nbgrader preprocessors for tags and cells.

* ``StripExecutionTags``: tags that make the executor skip a cell (``skip-execution``) or
  accept its error are removed from every cell.
* ``RestoreCells``: nbgrader's ``OverwriteCells`` with three fixes: the nbgrader metadata of
  every known cell (grade, solution, locked, points) is put back; missing test cells (and
  missing read-only code cells) are restored after the nearest surviving cell, which avoids
  nbgrader's ``KeyError`` when that cell is a plain read-only cell; and an unchanged test cell
  whose hidden tests were stripped at release is not reported as changed (nbgrader #1961).
  Every real change is recorded for the audit.
"""

from __future__ import annotations

from typing import Any

import nbformat
from nbformat.notebooknode import NotebookNode
from nbgrader.api import MissingEntry
from nbgrader.preprocessors import NbGraderPreprocessor, OverwriteCells
from traitlets import Unicode

from course_utils import notebooks
from course_utils.notebooks import released_source
from course_utils.ta import events

__all__ = ["EXECUTION_TAGS", "StripExecutionTags", "RestoreCells", "released_source"]

EXECUTION_TAGS = {"skip-execution", "skip_execution", "raises-exception", "skip"}


class StripExecutionTags(NbGraderPreprocessor):
    """Remove the tags that change how (or whether) a cell is executed."""

    def preprocess_cell(
        self, cell: NotebookNode, resources: dict[str, Any], index: int
    ) -> tuple[NotebookNode, dict[str, Any]]:
        tags = cell.metadata.get("tags", [])
        found = [t for t in tags if t in EXECUTION_TAGS]
        if found:
            cell.metadata["tags"] = [t for t in tags if t not in EXECUTION_TAGS]
            gid = notebooks.grade_id(cell) or f"#{index}"
            events.record("tampered", f"removed the tag(s) {', '.join(found)}", gid)
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
        return list(notebooks.cells_by_id(notebooks.read(self.source_notebook)))

    def add_missing_grade_cells(
        self, nb: NotebookNode, resources: dict[str, Any]
    ) -> tuple[NotebookNode, dict[str, Any]]:
        source_nb = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        sources = {c.name: c for c in source_nb.source_cells}
        graded = {c.name: c for c in source_nb.grade_cells}
        solutions = {c.name for c in source_nb.solution_cells}
        order = [gid for gid in self._order() if gid in sources]

        def present() -> dict[str, int]:
            ids = (notebooks.grade_id(c) for c in nb.cells)
            return {gid: i for i, gid in enumerate(ids) if gid is not None}

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
