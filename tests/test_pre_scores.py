"""``AtomicSaveAutoGrades`` on a two-test notebook and a gradebook made with nbgrader's API.

It must save what nbgrader's ``SaveAutoGrades`` saves, and a failure half-way through a
notebook must leave the grades of the last complete save, not half of the new ones.
"""

from __future__ import annotations

import warnings

import nbformat
import pytest
from nbgrader.api import Gradebook
from sqlalchemy.exc import SAWarning

from course_utils import course
from course_utils.ta.scores import AtomicSaveAutoGrades

LAB, STUDENT = "lab", "alice"
POINTS = {"a_tests": 2.0, "b_tests": 3.0}


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    course.use_env_tools()  # a new gradebook runs alembic by name
    url = f"sqlite:///{tmp_path_factory.mktemp('scores') / 'gradebook.db'}"
    with Gradebook(url) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's add_submission, harmless
        gb.add_assignment(LAB)
        gb.add_notebook(LAB, LAB)
        for gid, points in POINTS.items():
            gb.add_grade_cell(gid, LAB, LAB, max_score=points, cell_type="code")
        gb.add_student(STUDENT)
        gb.add_submission(LAB, STUDENT)
    return url


def _graded(failing: set[str]) -> nbformat.NotebookNode:
    """The notebook as the executor leaves it: the cells of ``failing`` end in an error."""
    nb = nbformat.v4.new_notebook()
    for gid, points in POINTS.items():
        cell = nbformat.v4.new_code_cell(f"assert {gid!r}")
        cell.metadata["nbgrader"] = {
            "grade_id": gid,
            "grade": True,
            "solution": False,
            "locked": True,
            "points": points,
            "schema_version": 3,
        }
        if gid in failing:
            cell.outputs = [nbformat.v4.new_output("error", ename="E", evalue="", traceback=[])]
        nb.cells.append(cell)
    return nb


def _save(db_url: str, nb: nbformat.NotebookNode, step: type = AtomicSaveAutoGrades) -> None:
    meta = {"notebook": LAB, "assignment": LAB, "student": STUDENT, "db_url": db_url}
    step().preprocess(nb, {"nbgrader": meta})


def _scores(db_url: str) -> dict[str, float]:
    with Gradebook(db_url) as gb:
        notebook = gb.find_submission_notebook(LAB, LAB, STUDENT)
        return {g.name: g.auto_score for g in notebook.grades}


class _FailsAtTheSecondCell(AtomicSaveAutoGrades):
    def preprocess_cell(self, cell, resources, index):
        if index == 1:
            raise RuntimeError("the grader crashed")
        return super().preprocess_cell(cell, resources, index)


def test_scores_are_saved_as_nbgrader_does(db_url: str):
    _save(db_url, _graded(failing=set()))
    assert _scores(db_url) == POINTS
    _save(db_url, _graded(failing={"b_tests"}))
    assert _scores(db_url) == {"a_tests": 2.0, "b_tests": 0.0}


def test_a_crash_mid_notebook_keeps_the_last_complete_save(db_url: str):
    _save(db_url, _graded(failing=set()))
    with pytest.raises(RuntimeError, match="crashed"):
        _save(db_url, _graded(failing={"a_tests", "b_tests"}), _FailsAtTheSecondCell)
    assert _scores(db_url) == POINTS, "a_tests's new 0 was not committed alone"
