"""``HideHiddenTests`` (feedback): hidden tests leave the test cells, and outputs after the first
test cell are replaced by a note."""

from __future__ import annotations

import nbformat
from preprocessor_notebooks import cell, notebook

from course_utils.ta.feedback import NOTE, HideHiddenTests


def test_hidden_tests_and_later_outputs_leave_the_feedback():
    nb = notebook()
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="before")]
    nb.cells.append(cell("code", "print(f(2))", "after"))
    nb.cells[3].outputs = [nbformat.v4.new_output("stream", name="stdout", text="hidden: 3")]
    nb, _ = HideHiddenTests().preprocess(nb, {})
    assert nb.cells[2].source.strip() == "assert f(1) == 2"
    assert "ask(" not in nbformat.writes(nb)
    assert nb.cells[1].outputs[0].text == "before", "outputs before the first test stay"
    assert [o.text for o in nb.cells[3].outputs] == [NOTE]
