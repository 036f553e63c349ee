"""Grades saved in one transaction: a crash mid-save leaves the previous grades, not half."""

from __future__ import annotations

from typing import Any

from nbformat.notebooknode import NotebookNode
from nbgrader.api import Gradebook
from nbgrader.preprocessors import SaveAutoGrades

__all__ = ["AtomicSaveAutoGrades"]


class AtomicSaveAutoGrades(SaveAutoGrades):
    """nbgrader's ``SaveAutoGrades`` with one commit per notebook instead of one per cell."""

    def preprocess(
        self, nb: NotebookNode, resources: dict[str, Any]
    ) -> tuple[NotebookNode, dict[str, Any]]:
        self.notebook_id = resources["nbgrader"]["notebook"]
        self.assignment_id = resources["nbgrader"]["assignment"]
        self.student_id = resources["nbgrader"]["student"]
        self.db_url = resources["nbgrader"]["db_url"]
        self.gradebook = Gradebook(self.db_url)
        with self.gradebook:
            session = self.gradebook.db
            commit = session.commit
            session.commit = session.flush  # the per-cell commits become flushes
            try:
                for index, cell in enumerate(nb.cells):
                    nb.cells[index], resources = self.preprocess_cell(cell, resources, index)
            except BaseException:
                session.rollback()
                raise
            finally:
                session.commit = commit
            session.commit()
        return nb, resources
