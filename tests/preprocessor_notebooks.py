"""Small notebooks for the preprocessor unit tests (``tests/test_pre_*.py``): a setup cell,
an answer cell ``f`` and its test cell ``f_tests`` (2 points, with a hidden region)."""

from __future__ import annotations

import nbformat

__all__ = ["cell", "notebook"]


def cell(kind: str, source: str, gid: str | None = None, **meta) -> nbformat.NotebookNode:
    """A code or markdown cell, with nbgrader metadata when it has a grade id."""
    made = (
        nbformat.v4.new_code_cell(source)
        if kind == "code"
        else nbformat.v4.new_markdown_cell(source)
    )
    if gid:
        made.metadata["nbgrader"] = {
            "grade_id": gid,
            "grade": False,
            "solution": False,
            "locked": False,
            "schema_version": 3,
            **meta,
        }
    return made


def notebook() -> nbformat.NotebookNode:
    """setup, ``f`` (answer) and ``f_tests`` (2 points; visible and hidden tests)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        cell(
            "code",
            "import torch\nfrom course_utils.grading import assert_close",
            "setup",
            locked=True,
        ),
        cell("code", "def f(x):\n    return x + 1", "f", solution=True),
        cell(
            "code",
            "assert f(1) == 2\n### BEGIN HIDDEN TESTS\nask('one', f, 1)\n### END HIDDEN TESTS",
            "f_tests",
            grade=True,
            locked=True,
            points=2,
        ),
    ]
    return nb
