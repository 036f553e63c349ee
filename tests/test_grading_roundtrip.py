"""The grading round trip on a temporary copy of the course, with real nbgrader runs.

reference solution -> full automatic marks; untouched release -> 0; a typical bug -> partial.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.validator import Validator

from course_utils import course

SOLUTION = re.compile(r"^[ \t]*### BEGIN SOLUTION\n(.*?)^[ \t]*### END SOLUTION\n?", re.M | re.S)
LAB = "lab1_onehot"
# A typical lab-1 bug: the dot product, not normalised by the norms.
BUGS = {
    "cosine_similarity": "def cosine_similarity(a, b, eps=1e-8):\n    return (a * b).sum(dim=-1)\n"
}


def _grade_ids(nb) -> dict[str, nbformat.NotebookNode]:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}


def make_submission(root: Path, lab: str, student: str, replace: dict[str, str] | None) -> Path:
    """The release notebook with answer cells filled: from the solution, then ``replace``."""
    release = nbformat.read(root / "labs" / lab / f"{lab}.ipynb", as_version=4)
    if replace is not None:
        solution = _grade_ids(nbformat.read(root / "solutions" / lab / f"{lab}.ipynb", 4))
        for gid, cell in _grade_ids(release).items():
            if cell.metadata["nbgrader"].get("solution") and cell.cell_type == "code":
                cell.source = replace.get(gid) or SOLUTION.sub(r"\1", solution[gid].source)
    folder = root / "grading" / "submitted" / student / lab
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(release, folder / f"{lab}.ipynb")
    return folder


def auto_scores(root: Path, lab: str, student: str) -> dict[str, float]:
    """Automatic score of each graded test cell of one student's submission."""
    with Gradebook(course.load_config(root).CourseDirectory.db_url) as gb:
        nb = gb.find_submission_notebook(lab, lab, student)
        return {g.name: g.auto_score for g in nb.grades if g.cell.cell_type == "code"}


@pytest.fixture(scope="module")
def graded(course_copy: Path) -> Path:
    make_submission(course_copy, LAB, "reference", {})
    make_submission(course_copy, LAB, "untouched", None)
    make_submission(course_copy, LAB, "buggy", BUGS)
    nbgrader = Path(sys.executable).with_name("nbgrader")
    run = subprocess.run(
        [str(nbgrader), "autograde", LAB, "--force"],
        cwd=course_copy,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return course_copy


def max_scores(root: Path) -> dict[str, float]:
    nb = nbformat.read(root / "solutions" / LAB / f"{LAB}.ipynb", as_version=4)
    return {
        gid: c.metadata["nbgrader"]["points"]
        for gid, c in _grade_ids(nb).items()
        if c.cell_type == "code" and c.metadata["nbgrader"].get("grade")
    }


def test_reference_gets_full_marks(graded: Path):
    assert auto_scores(graded, LAB, "reference") == max_scores(graded)


def test_untouched_release_gets_zero(graded: Path):
    scores = auto_scores(graded, LAB, "untouched")
    assert scores.keys() == max_scores(graded).keys()
    assert sum(scores.values()) == 0, scores


def test_unnormalised_cosine_gets_partial_marks(graded: Path):
    scores, full = auto_scores(graded, LAB, "buggy"), max_scores(graded)
    failed = {gid for gid, s in scores.items() if s < full[gid]}
    # the bug fails its own test and the one exercise built on it, nothing else
    assert failed == {"cosine_similarity_tests", "most_similar_tests"}, scores
    assert 0 < sum(scores.values()) < sum(full.values())


def test_validator_passes_the_solution(course_copy: Path):
    validator = Validator(config=course.load_config(course_copy))
    path = course_copy / "solutions" / LAB / f"{LAB}.ipynb"
    assert validator.validate(str(path)) == {}


def test_validator_in_invert_mode_finds_no_passing_test_in_the_release(course_copy: Path):
    validator = Validator(config=course.load_config(course_copy), invert=True)
    path = course_copy / "labs" / LAB / f"{LAB}.ipynb"
    assert validator.validate(str(path)) == {}, "a test cell passes on the untouched release"
    failed = Validator(config=course.load_config(course_copy)).validate(str(path))["failed"]
    graded = [c for c in nbformat.read(path, 4).cells if c.metadata["nbgrader"].get("grade")]
    assert len(failed) == len(graded), "every graded cell (tests and written answers) must fail"
