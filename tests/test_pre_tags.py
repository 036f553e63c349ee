"""``StripExecutionTags`` (and the released source of a test cell, ``RestoreCells``' reference):
tags that would skip a cell are removed and flagged."""

from __future__ import annotations

from preprocessor_notebooks import notebook

from course_utils.ta import events
from course_utils.ta.restore import StripExecutionTags, released_source


def test_execution_tags_are_stripped_and_recorded():
    nb = notebook()
    nb.cells[2].metadata["tags"] = ["skip-execution", "mine"]
    events.drain()
    for index, cell in enumerate(nb.cells):
        StripExecutionTags().preprocess_cell(cell, {}, index)
    assert nb.cells[2].metadata["tags"] == ["mine"]
    assert [e["flag"] for e in events.drain()] == ["tampered"]


def test_released_source_drops_the_hidden_region():
    assert released_source(notebook().cells[2].source).strip() == "assert f(1) == 2"
