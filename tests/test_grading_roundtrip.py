"""The grading round trip through the TA's path, for every lab.

``course autograde`` (sandbox, judge, gradebook) grades, in one run per lab: the reference
solution (full automatic marks), the untouched release (0) and the typical bug of
``tests/typical_bugs/<lab>.py`` (exactly the points it should lose), each with only the lab's
demonstration cells left out. The same run grades the lab's mutants (``tests/test_mutants.py``).
nbgrader's validator accepts the solution and finds no passing test in the release.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import nbformat
import pytest
from grading_harness import answer_cells, auto_scores, by_lab, cells, max_scores, notebook
from nbgrader.validator import Validator

from course_utils import course, notebooks
from course_utils.ta.demo_cells import NOT_RUN_NOTE, demo_cells

ROOT = Path(__file__).resolve().parents[1]
LABS = course.labs(ROOT)


def typical_bug(lab: str):
    return importlib.import_module(f"typical_bugs.{lab}")


@pytest.mark.parametrize("lab", LABS)
def test_every_lab_has_a_typical_bug(lab: str):
    bug = typical_bug(lab)
    assert bug.BUGS and set(bug.BUGS) <= answer_cells(lab), "BUGS must name answer cells"
    assert bug.FAILS and bug.FAILS <= set(max_scores(lab)), "FAILS must name test cells"


@pytest.mark.parametrize("lab", by_lab(LABS))
def test_reference_gets_full_marks(graded_labs, lab: str):
    assert auto_scores(graded_labs[lab], lab, "reference") == max_scores(lab)


@pytest.mark.parametrize("lab", by_lab(LABS))
def test_untouched_release_gets_zero(graded_labs, lab: str):
    scores = auto_scores(graded_labs[lab], lab, "untouched")
    assert scores.keys() == max_scores(lab).keys()
    assert sum(scores.values()) == 0, scores


@pytest.mark.parametrize("lab", by_lab(LABS))
def test_typical_bug_gets_partial_marks(graded_labs, lab: str):
    scores, full = auto_scores(graded_labs[lab], lab, "buggy"), max_scores(lab)
    failed = {gid for gid, score in scores.items() if score < full[gid]}
    assert failed == typical_bug(lab).FAILS, scores
    assert 0 < sum(scores.values()) < sum(full.values())


@pytest.mark.parametrize("lab", by_lab(LABS))
def test_the_graded_test_cells_show_the_judges_verdict(graded_labs, lab: str):
    graded = nbformat.read(notebook(graded_labs[lab], "grading/autograded/reference", lab), 4)
    for gid in max_scores(lab):
        outputs = cells(graded)[gid].outputs
        assert len(outputs) == 1 and outputs[0].text.startswith("hidden tests: all"), gid


@pytest.mark.parametrize("lab", by_lab(LABS))
def test_only_the_demonstrations_are_left_out(graded_labs, lab: str):
    graded = nbformat.read(notebook(graded_labs[lab], "grading/autograded/reference", lab), 4)
    demos = demo_cells(notebooks.read(notebook(ROOT, "solutions", lab)))
    for index, cell in enumerate(graded.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        gid = notebooks.grade_id(cell) or f"#{index}"
        left_out = [o.get("text") for o in cell.outputs] == [NOT_RUN_NOTE]
        assert left_out == (gid in demos), gid
        assert left_out or cell.execution_count is not None, f"{gid} did not run"


def test_validator_passes_the_solution(course_copy: Path):
    # One lab is enough to show the validator accepts a correct notebook: every lab's reference
    # already gets full marks from autograde above, and each validation is a full run.
    validator = Validator(config=course.load_config(course_copy))
    assert validator.validate(str(notebook(course_copy, "solutions", "lab1_onehot"))) == {}


@pytest.mark.parametrize("lab", LABS)
def test_validator_finds_no_passing_test_in_the_release(course_copy: Path, lab):
    # One validation run answers both of nbgrader's modes: `validate` sorts the graded cells of
    # one execution into passed (full score) and failed (less), and invert mode only reports the
    # passed ones. Every graded cell failing therefore means invert mode would find none passing.
    config = course.load_config(course_copy)
    path = notebook(course_copy, "labs", lab)
    result = Validator(config=config).validate(str(path))
    assert set(result) == {"failed"}, f"cells changed against the source: {set(result)}"
    graded_cells = [c for c in nbformat.read(path, 4).cells if c.metadata["nbgrader"].get("grade")]
    assert len(result["failed"]) == len(graded_cells), (
        "every graded cell (tests, written answers) must fail on the untouched release"
    )
