"""labs/ must be exactly what nbgrader makes from solutions/ today."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from course_utils import course, notebooks

ROOT = Path(__file__).resolve().parents[1]
LABS = course.labs(ROOT)


def _normalised(path: Path) -> str:
    return json.dumps(nbformat.read(path, as_version=4), sort_keys=True, indent=1)


def test_every_solution_has_a_committed_lab():
    assert LABS, "no lab notebooks found in solutions/"
    released = sorted(p.name for p in (ROOT / "labs").iterdir() if p.is_dir())
    assert released == LABS, "labs/ and solutions/ hold different labs: run `make labs`"


@pytest.mark.parametrize("lab", LABS)
def test_committed_lab_matches_generated(course_copy: Path, lab: str):
    committed = ROOT / "labs" / lab / f"{lab}.ipynb"
    generated = course_copy / "labs" / lab / f"{lab}.ipynb"
    assert committed.is_file(), f"{committed} is missing: run `make labs`"
    assert _normalised(committed) == _normalised(generated), (
        f"labs/{lab} is out of date with solutions/{lab}: run `make labs` and commit the result"
    )


@pytest.mark.parametrize("lab", LABS)
def test_student_version_hides_answers_and_outputs(lab: str):
    nb = nbformat.read(ROOT / "labs" / lab / f"{lab}.ipynb", as_version=4)
    text = json.dumps(nb)
    for marker in (notebooks.BEGIN_SOLUTION, notebooks.BEGIN_HIDDEN, notebooks.END_HIDDEN):
        marker = marker.removeprefix("### ")  # the words alone: no marker in any form
        assert marker not in text, f"labs/{lab} contains {marker!r}"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "outputs left"
    assert all(c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("lab", LABS)
def test_every_answer_cell_is_followed_by_visible_and_hidden_tests(lab: str):
    nb = nbformat.read(ROOT / "solutions" / lab / f"{lab}.ipynb", as_version=4)
    cells = nb.cells
    graded_code = 0
    for i, cell in enumerate(cells):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution") and not meta.get("grade"):
            test = cells[i + 1]
            tmeta = test.metadata.get("nbgrader", {})
            assert tmeta.get("grade") and tmeta.get("points", 0) > 0, (
                f"answer cell {meta['grade_id']} is not followed by a graded test cell"
            )
            visible = notebooks.released_source(test.source)
            assert "assert" in visible, f"{tmeta['grade_id']} has no visible test"
            assert notebooks.hidden_lines(test.source), f"{tmeta['grade_id']} has no hidden test"
            graded_code += 1
    written = [
        c
        for c in cells
        if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("grade")
    ]
    assert graded_code >= 3 and written, "a lab needs graded exercises and a written question"


def test_solutions_carry_outputs_and_labs_carry_none():
    for lab in LABS:
        nb = nbformat.read(ROOT / "solutions" / lab / f"{lab}.ipynb", as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.execution_count is not None for c in code), f"solutions/{lab} not executed"
