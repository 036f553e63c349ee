"""Demonstration cells (``course_utils.ta.demo_cells``): which ones a grading run leaves out.

A tagged, read-only cell is left out only when no later cell that runs reads a name it binds or
changes; a student's own cell that uses a demonstration's result keeps it running. Every cell
the instructor notebooks tag is a read-only cell without points that the reference can leave
out. (``test_pre_execute`` runs a kernel on such a notebook; the round trip checks the graded
notebooks of every lab.)
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from preprocessor_notebooks import cell

from course_utils import course, notebooks
from course_utils.ta.demo_cells import DEMO_TAG, binds, demo_cells, free_names, skippable

ROOT = Path(__file__).resolve().parents[1]
TIMING = "import time\nstarted = time.perf_counter()\nslow = sum(range(10))\nprint(slow)"


def _demo(source: str, gid: str) -> nbformat.NotebookNode:
    made = cell("code", source, gid, locked=True)
    made.metadata["tags"] = [DEMO_TAG]
    return made


def _nb(*cells: nbformat.NotebookNode | str) -> nbformat.NotebookNode:
    made = [c if not isinstance(c, str) else cell("code", c) for c in cells]
    return nbformat.v4.new_notebook(cells=made)


def test_a_demo_nothing_reads_is_left_out():
    nb = _nb("x = 1", _demo(TIMING, "timing"), "print(x)")
    assert skippable(nb, demo_cells(nb)) == {1}


def test_a_demo_a_later_cell_reads_runs_even_when_a_student_added_that_cell():
    nb = _nb("x = 1", _demo(TIMING, "timing"), "print(slow + x)")
    assert skippable(nb, demo_cells(nb)) == set()


def test_a_demo_whose_names_later_cells_bind_first_is_left_out():
    later = "slow = 3\nfor started in range(2):\n    print(started, slow)\n"
    later += "[time for time in 'ab']\ndef f(slow):\n    return slow\n"
    nb = _nb(_demo(TIMING, "timing"), later)
    assert skippable(nb, demo_cells(nb)) == {0}


def test_a_chain_of_demos_is_left_out_from_the_last():
    nb = _nb(_demo("table = [1, 2]", "make"), _demo("print(table)", "show"), "y = 2")
    assert skippable(nb, demo_cells(nb)) == {0, 1}
    nb.cells.append(cell("code", "print(table)"))
    assert skippable(nb, demo_cells(nb)) == {1}, "the first demo's table is read at the end"


def test_a_changed_or_retagged_cell_is_not_a_demo():
    source = _nb(_demo(TIMING, "timing"), _demo("print(1)", "free"))
    demos = demo_cells(source)
    changed = _nb(cell("code", TIMING + "\nanswer = 42", "timing"), cell("code", "print(1)"))
    assert skippable(changed, demos) == set(), "edited source; a cell without the grade id"
    tagged_by_a_student = _nb(TIMING)
    tagged_by_a_student.cells[0].metadata["tags"] = [DEMO_TAG]
    assert demo_cells(tagged_by_a_student) == {}, "only read-only nbgrader cells can be demos"


def test_changes_to_objects_and_ipython_syntax_count_as_uses():
    assert binds("model.weight = 0\nrows.append(1)\nV.mul_(2)\ntable[0] = 1") == {
        "model",
        "rows",
        "V",
        "table",
    }
    assert {"slow", "print"} <= free_names("%time print(slow)"), "a magic: every word may be read"
    assert "slow" in free_names("def bump():\n    global slow\n    slow += 1\nbump()")
    assert "best" in binds("[best := x for x in range(3)]")
    nb = _nb(_demo(TIMING, "timing"), "%timeit slow")
    assert skippable(nb, demo_cells(nb)) == set()


@pytest.mark.parametrize("lab", course.labs(ROOT))
def test_the_tagged_cells_are_demos_the_reference_can_leave_out(lab: str):
    source = notebooks.read(ROOT / "solutions" / lab / f"{lab}.ipynb")
    tagged = [c for c in source.cells if DEMO_TAG in c.metadata.get("tags", [])]
    demos = demo_cells(source)
    assert len(demos) == len(tagged), "a demo must be a read-only code cell without points"
    left_out = {notebooks.grade_id(source.cells[i]) for i in skippable(source, demos)}
    assert left_out == set(demos), f"later cells need {sorted(set(demos) - left_out)}"
