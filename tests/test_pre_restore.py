"""``RestoreCells`` on a three-cell notebook and a gradebook made for it in the test.

The gradebook is filled as ``nbgrader generate_assignment`` fills it (checksums, then
``SaveCells``), the release made with nbgrader's ``ClearHiddenTests``; each test tampers with
the release one way and checks what comes back and what the audit is told. Seconds, no kernel.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.preprocessors import ClearHiddenTests, ComputeChecksums, SaveCells

from course_utils import course, notebooks
from course_utils.ta import events
from course_utils.ta.restore import RestoreCells

LAB = "lab"
ROOT = Path(__file__).resolve().parents[1]
TEST_SOURCE = "assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(2) == 3\n### END HIDDEN TESTS"


def _cell(kind: str, source: str, gid: str, **meta: object) -> nbformat.NotebookNode:
    new = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    cell = new(source)
    flags = {"grade": False, "solution": False, "locked": False, **meta}
    cell.metadata["nbgrader"] = {"grade_id": gid, "schema_version": 3, **flags}
    return cell


def _source() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _cell("code", "import math", "setup", locked=True),
        nbformat.v4.new_markdown_cell("Write `f`."),
        _cell("code", "def f(x):\n    raise NotImplementedError()", "f", solution=True),
        _cell("code", TEST_SOURCE, "f_tests", grade=True, locked=True, points=2),
    ]
    return nb


@pytest.fixture(scope="module")
def course_files(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict, Path, nbformat.NotebookNode]:
    """Resources pointing at a gradebook made for the test (``RestoreCells`` only reads it),
    the source notebook, and its release."""
    tmp_path = tmp_path_factory.mktemp("restore")
    course.use_env_tools()  # a new gradebook runs alembic by name
    db_url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with Gradebook(db_url) as gb:
        gb.add_assignment(LAB)
    resources = {"nbgrader": {"notebook": LAB, "assignment": LAB, "db_url": db_url}}
    source, _ = ComputeChecksums().preprocess(_source(), {})
    SaveCells().preprocess(copy.deepcopy(source), copy.deepcopy(resources))
    path = tmp_path / f"{LAB}.ipynb"
    nbformat.write(source, path)
    release, _ = ClearHiddenTests().preprocess(copy.deepcopy(source), {})
    return resources, path, release


def _restore(course_files, edit=None) -> tuple[nbformat.NotebookNode, list[dict]]:
    resources, path, release = course_files
    submission = copy.deepcopy(release)
    if edit is not None:
        edit(submission)
    events.drain()
    nb, _ = RestoreCells(source_notebook=str(path)).preprocess(submission, copy.deepcopy(resources))
    return nb, events.drain()


def test_an_untouched_release_gets_its_hidden_tests_back_and_no_flag(course_files):
    nb, found = _restore(course_files)
    assert found == [], "stripping the hidden tests at release is not a change (nbgrader #1961)"
    assert notebooks.cells_by_id(nb)["f_tests"].source == TEST_SOURCE


def test_an_edited_test_cell_is_restored_and_reported(course_files):
    def edit(nb):
        notebooks.cells_by_id(nb)["f_tests"].source = "pass"

    nb, found = _restore(course_files, edit)
    assert notebooks.cells_by_id(nb)["f_tests"].source == TEST_SOURCE
    assert [(e["flag"], e["cell"]) for e in found] == [("tampered", "f_tests")]
    assert "edited" in found[0]["detail"]


def test_deleted_cells_come_back_in_the_instructor_order(course_files):
    def edit(nb):
        nb.cells = [c for c in nb.cells if notebooks.grade_id(c) not in {"setup", "f_tests"}]

    nb, found = _restore(course_files, edit)
    order = [notebooks.grade_id(c) for c in nb.cells]
    assert order == ["setup", None, "f", "f_tests"], "each after its nearest surviving cell"
    assert {e["cell"] for e in found} == {"setup", "f_tests"}
    assert all("deleted" in e["detail"] for e in found)
    restored = notebooks.cells_by_id(nb)
    assert restored["f_tests"]["metadata"]["nbgrader"]["grade"]
    assert restored["setup"].source == "import math"


def test_cleared_flags_are_put_back(course_files):
    def edit(nb):
        meta = notebooks.cells_by_id(nb)["f_tests"].metadata.nbgrader
        meta.update(grade=False, locked=False)
        del meta["points"]

    nb, found = _restore(course_files, edit)
    meta = notebooks.cells_by_id(nb)["f_tests"].metadata.nbgrader
    assert meta["grade"] and meta["locked"] and meta["points"] == 2
    assert {e["flag"] for e in found} == {"tampered"}
    assert any("'grade' flag" in e["detail"] for e in found)


def test_an_unknown_grade_id_becomes_student_code(course_files):
    def edit(nb):
        nb.cells.append(_cell("code", "print('mine')", "made_up", grade=True, points=99))

    nb, found = _restore(course_files, edit)
    assert "nbgrader" not in nb.cells[-1].metadata
    assert [e["flag"] for e in found] == ["tampered"]


def test_released_source_is_nbgrader_s_release_for_every_cell_of_every_lab():
    for lab in course.labs(ROOT):
        for cell in notebooks.read(ROOT / "solutions" / lab / f"{lab}.ipynb").cells:
            theirs = copy.deepcopy(cell)
            ClearHiddenTests()._remove_hidden_test_region(theirs)
            assert notebooks.released_source(cell.source) == theirs.source
