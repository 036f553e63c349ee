"""The grading round trip on a temporary copy of the course, with real nbgrader runs.

For every lab: the reference solution gets full automatic marks, the untouched release 0, and
the typical bug of ``tests/typical_bugs/<lab>.py`` loses exactly the points it should.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.validator import Validator

from course_utils import course

ROOT = Path(__file__).resolve().parents[1]
LABS = course.labs(ROOT)
SOLUTION = re.compile(r"^[ \t]*### BEGIN SOLUTION\n(.*?)^[ \t]*### END SOLUTION\n?", re.M | re.S)


def _cells(nb) -> dict[str, nbformat.NotebookNode]:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}


def _notebook(root: Path, folder: str, lab: str) -> Path:
    return root / folder / lab / f"{lab}.ipynb"


def make_submission(root: Path, lab: str, student: str, replace: dict[str, str] | None) -> None:
    """The release notebook with answer cells filled: from the solution, then ``replace``."""
    release = nbformat.read(_notebook(root, "labs", lab), as_version=4)
    if replace is not None:
        solution = _cells(nbformat.read(_notebook(root, "solutions", lab), as_version=4))
        for gid, cell in _cells(release).items():
            if cell.metadata["nbgrader"].get("solution") and cell.cell_type == "code":
                cell.source = replace.get(gid) or SOLUTION.sub(r"\1", solution[gid].source)
    folder = root / "grading" / "submitted" / student / lab
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(release, folder / f"{lab}.ipynb")


def auto_scores(root: Path, lab: str, student: str) -> dict[str, float]:
    """Automatic score of each graded test cell of one student's submission."""
    with Gradebook(course.load_config(root).CourseDirectory.db_url) as gb:
        nb = gb.find_submission_notebook(lab, lab, student)
        return {g.name: g.auto_score for g in nb.grades if g.cell.cell_type == "code"}


def max_scores(root: Path, lab: str) -> dict[str, float]:
    cells = _cells(nbformat.read(_notebook(root, "solutions", lab), as_version=4))
    return {
        gid: c.metadata["nbgrader"]["points"]
        for gid, c in cells.items()
        if c.cell_type == "code" and c.metadata["nbgrader"].get("grade")
    }


def typical_bug(lab: str):
    return importlib.import_module(f"typical_bugs.{lab}")


@pytest.fixture(scope="module")
def graded(course_copy: Path) -> Path:
    """Every lab autograded for three students: reference, untouched and buggy."""
    for lab in LABS:
        make_submission(course_copy, lab, "reference", {})
        make_submission(course_copy, lab, "untouched", None)
        make_submission(course_copy, lab, "buggy", typical_bug(lab).BUGS)
    nbgrader = Path(sys.executable).with_name("nbgrader")
    for lab in LABS:
        run = subprocess.run(
            [str(nbgrader), "autograde", lab, "--force"],
            cwd=course_copy,
            env=course.use_env_tools(),
            capture_output=True,
            text=True,
            timeout=1800,
        )
        assert run.returncode == 0, run.stdout + run.stderr
    return course_copy


@pytest.mark.parametrize("lab", LABS)
def test_every_lab_has_a_typical_bug(lab: str):
    bug = typical_bug(lab)
    answers = {
        gid
        for gid, c in _cells(nbformat.read(_notebook(ROOT, "solutions", lab), 4)).items()
        if c.metadata["nbgrader"].get("solution") and c.cell_type == "code"
    }
    assert bug.BUGS and set(bug.BUGS) <= answers, "BUGS must name answer cells"
    assert bug.FAILS and bug.FAILS <= set(max_scores(ROOT, lab)), "FAILS must name test cells"


@pytest.mark.parametrize("lab", LABS)
def test_reference_gets_full_marks(graded: Path, lab: str):
    assert auto_scores(graded, lab, "reference") == max_scores(graded, lab)


@pytest.mark.parametrize("lab", LABS)
def test_untouched_release_gets_zero(graded: Path, lab: str):
    scores = auto_scores(graded, lab, "untouched")
    assert scores.keys() == max_scores(graded, lab).keys()
    assert sum(scores.values()) == 0, scores


@pytest.mark.parametrize("lab", LABS)
def test_typical_bug_gets_partial_marks(graded: Path, lab: str):
    scores, full = auto_scores(graded, lab, "buggy"), max_scores(graded, lab)
    failed = {gid for gid, score in scores.items() if score < full[gid]}
    assert failed == typical_bug(lab).FAILS, scores
    assert 0 < sum(scores.values()) < sum(full.values())


def test_validator_passes_the_solution(course_copy: Path):
    # One lab is enough to show the validator accepts a correct notebook: every lab's reference
    # already gets full marks from autograde above, and each validation is a full run.
    validator = Validator(config=course.load_config(course_copy))
    assert validator.validate(str(_notebook(course_copy, "solutions", "lab1_onehot"))) == {}


@pytest.mark.parametrize("lab", LABS)
def test_validator_in_invert_mode_finds_no_passing_test_in_the_release(course_copy: Path, lab):
    config = course.load_config(course_copy)
    path = _notebook(course_copy, "labs", lab)
    assert Validator(config=config, invert=True).validate(str(path)) == {}, (
        "a test cell passes on the untouched release"
    )
    failed = Validator(config=config).validate(str(path))["failed"]
    graded_cells = [c for c in nbformat.read(path, 4).cells if c.metadata["nbgrader"].get("grade")]
    assert len(failed) == len(graded_cells), "every graded cell (tests, written answers) must fail"
