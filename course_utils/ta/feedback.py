"""``course feedback LAB``: HTML feedback that shows neither hidden tests nor what they ran.

nbgrader's ``generate_feedback`` renders the graded notebook as it is. ``HideHiddenTests``
runs first and keeps only what the trusted side wrote or the student wrote before any hidden
code ran:

* test cells: the hidden region is cut from the source; the outputs are the judge's verdict
  (``course_utils.ta.judge``), never the kernel's;
* code cells after the first test cell: outputs dropped with a note. Once a hidden test has
  run, the kernel has seen its source (IPython keeps the history and the line cache), and any
  output of a later cell could carry it out, plainly or encoded;
* everything else is rendered with nbconvert's HTML sanitiser (no scripts, no event handlers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.converters import GenerateFeedback
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import GetGrades, NbGraderPreprocessor

from course_utils import course, notebooks
from course_utils.ta import ledger
from course_utils.ta.layout import Layout
from course_utils.ta.lock import GradingLock

__all__ = ["HideHiddenTests", "generate_feedback", "NOTE"]

NOTE = (
    "(outputs of cells after the first graded test are not shown in feedback; "
    "run your notebook to see them)"
)


def _is_test_cell(cell: NotebookNode) -> bool:
    return cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell)


class HideHiddenTests(NbGraderPreprocessor):
    """Remove hidden tests from test cells, and every kernel output that followed one."""

    def preprocess(
        self, nb: NotebookNode, resources: dict[str, Any]
    ) -> tuple[NotebookNode, dict[str, Any]]:
        seen_test = False
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            if _is_test_cell(cell):
                seen_test = True
                cell.source = notebooks.without_hidden(cell.source)
            elif seen_test and cell.get("outputs"):
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=NOTE)]
        return nb, resources


def generate_feedback(root: Path, lab: str, students: list[str] | None = None) -> list[Path]:
    """Feedback HTML for every graded submission of ``lab``; returns the files written."""
    layout = Layout(root)
    written: list[Path] = []
    with GradingLock(layout.lock_file, f"course feedback {lab}"):
        graded = [
            s
            for s in layout.students_with_submissions(lab)
            if (entry := ledger.read(layout, lab, s)) is not None and entry.status == "graded"
        ]
        for student in [s for s in graded if not students or s in students]:
            config = course.load_config(root)
            config.CourseDirectory.assignment_id = lab
            config.CourseDirectory.student_id = student
            config.GenerateFeedback.preprocessors = [
                HideHiddenTests,
                GetGrades,
                CSSHTMLHeaderPreprocessor,
            ]
            config.HTMLExporter.sanitize_html = True
            converter = GenerateFeedback(coursedir=CourseDirectory(config=config), config=config)
            converter.force = True
            converter.start()
            page = layout.feedback / student / lab / f"{lab}.html"
            if page.is_file():
                written.append(page)
    return written
