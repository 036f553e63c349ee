"""``course feedback LAB``: HTML feedback that shows neither hidden tests nor their lines.

nbgrader's ``generate_feedback`` renders the graded notebook as it is, hidden tests included,
and tracebacks of failed hidden tests quote their lines. ``HideHiddenTests`` runs first: it
cuts the hidden region out of every test cell and drops each traceback entry that quotes a
hidden line, leaving the error's type and message (which the checks write for students).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbformat.notebooknode import NotebookNode
from nbgrader.converters import GenerateFeedback
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import GetGrades, NbGraderPreprocessor

from course_utils import course
from course_utils.ta import ledger
from course_utils.ta.layout import Layout
from course_utils.ta.lock import GradingLock

__all__ = ["HideHiddenTests", "generate_feedback", "hidden_lines"]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_BEGIN, _END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
NOTE = "(a hidden test failed here; its code is not shown)"


def hidden_lines(source: str) -> list[str]:
    """The non-blank lines between the hidden-test markers, stripped."""
    lines, inside = [], False
    for line in source.splitlines():
        if _BEGIN in line:
            inside = True
        elif _END in line:
            inside = False
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


def _without_hidden(source: str) -> str:
    kept, inside = [], False
    for line in source.split("\n"):
        if _BEGIN in line:
            inside = True
        elif _END in line:
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept).rstrip() + "\n"


class HideHiddenTests(NbGraderPreprocessor):
    """Remove hidden tests from test cells, and their lines from tracebacks."""

    def preprocess_cell(
        self, cell: NotebookNode, resources: dict[str, Any], index: int
    ) -> tuple[NotebookNode, dict[str, Any]]:
        if cell.cell_type != "code" or _BEGIN not in cell.source:
            return cell, resources
        secret = hidden_lines(cell.source)
        cell.source = _without_hidden(cell.source)
        for output in cell.get("outputs", []):
            if output.output_type != "error":
                continue
            text = _ANSI.sub("", "\n".join(output.traceback))
            if any(line in text for line in secret):
                last = f"{output.ename}: {output.evalue}" if output.evalue else output.ename
                output.traceback = [NOTE, last]
        return cell, resources


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
            converter = GenerateFeedback(coursedir=CourseDirectory(config=config), config=config)
            converter.force = True
            converter.start()
            page = layout.feedback / student / lab / f"{lab}.html"
            if page.is_file():
                written.append(page)
    return written
