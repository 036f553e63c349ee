"""The grading preprocessors, one at a time, on small notebooks (no kernel, no nbgrader run).

``StripExecutionTags``, ``InsertGuards``/``VerifyGuards``, ``JudgeCells`` and the code scan
each get a notebook of a few cells and must do their one job. The preprocessors that need
more have a file of their own: ``RestoreCells`` (a gradebook, ``test_pre_restore.py``),
``ResilientExecute`` (a kernel, ``test_pre_execute.py``), ``AtomicSaveAutoGrades``
(``test_pre_scores.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import torch

from course_utils import oracle
from course_utils.ta import events
from course_utils.ta.code_scan import protected_names, scan_code
from course_utils.ta.guard import MARK
from course_utils.ta.guard_cells import InsertGuards, VerifyGuards, setup_imports
from course_utils.ta.judge import JudgeCells
from course_utils.ta.protocol import GUARD_KEY, RECORD_MIME
from course_utils.ta.restore import StripExecutionTags, released_source


def _cell(kind: str, source: str, gid: str | None = None, **meta) -> nbformat.NotebookNode:
    cell = (
        nbformat.v4.new_code_cell(source)
        if kind == "code"
        else nbformat.v4.new_markdown_cell(source)
    )
    if gid:
        cell.metadata["nbgrader"] = {
            "grade_id": gid,
            "grade": False,
            "solution": False,
            "locked": False,
            "schema_version": 3,
            **meta,
        }
    return cell


def _notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _cell(
            "code",
            "import torch\nfrom course_utils.grading import assert_close",
            "setup",
            locked=True,
        ),
        _cell("code", "def f(x):\n    return x + 1", "f", solution=True),
        _cell(
            "code",
            "assert f(1) == 2\n### BEGIN HIDDEN TESTS\nask('one', f, 1)\n### END HIDDEN TESTS",
            "f_tests",
            grade=True,
            locked=True,
            points=2,
        ),
    ]
    return nb


def test_execution_tags_are_stripped_and_recorded():
    nb = _notebook()
    nb.cells[2].metadata["tags"] = ["skip-execution", "mine"]
    events.drain()
    for index, cell in enumerate(nb.cells):
        StripExecutionTags().preprocess_cell(cell, {}, index)
    assert nb.cells[2].metadata["tags"] == ["mine"]
    assert [e["flag"] for e in events.drain()] == ["tampered"]


def test_released_source_drops_the_hidden_region():
    assert released_source(_notebook().cells[2].source).strip() == "assert f(1) == 2"


def test_guards_go_in_and_come_out_flagging_only():
    nb, resources = InsertGuards().preprocess(_notebook(), {})
    guards = [c for c in nb.cells if c.metadata.get(GUARD_KEY)]
    assert len(guards) == 2 and nb.cells[0].metadata.get(GUARD_KEY)
    token = resources["course_guard"]["token"]
    assert setup_imports(nb).startswith("import torch")
    for cell in guards:  # as if the kernel ran them: the first prints its marker, the other not
        cell.outputs = []
    guards[0].outputs = [
        nbformat.v4.new_output(
            "stream", name="stdout", text=MARK.format(token=token + ":start") + "\n"
        )
    ]
    events.drain()
    nb, _ = VerifyGuards().preprocess(nb, resources)
    assert not [c for c in nb.cells if c.metadata.get(GUARD_KEY)], "guards removed"
    assert "course_guard" not in json.dumps(nb)
    assert {e["flag"] for e in events.drain()} == {"tampered"}
    assert not any(o.output_type == "error" for c in nb.cells for o in c.get("outputs", [])), (
        "the guard flags; it never fails a cell"
    )


def _report(name: str, value) -> nbformat.NotebookNode:
    record = {"name": name, "value": oracle.encode(value), "spec": {}, "args_after": []}
    return nbformat.v4.new_output("display_data", data={RECORD_MIME: record})


def test_the_judge_gives_each_test_cell_its_verdict_as_only_output(tmp_path: Path):
    expected = tmp_path / "expected.json"
    want = {
        "name": "one",
        "value": oracle.encode(torch.tensor([2.0])),
        "spec": {},
        "args_after": [],
    }
    expected.write_text(json.dumps({"f_tests": [want]}))
    good, bad = _notebook(), _notebook()
    good.cells[2].outputs = [
        _report("one", torch.tensor([2.0])),
        nbformat.v4.new_output("stream", name="stderr", text="a warning"),
    ]
    bad.cells[2].outputs = [
        _report("one", torch.tensor([3.0])),
        nbformat.v4.new_output("stream", name="stdout", text="secret line"),
    ]
    judge = JudgeCells(expected=str(expected))
    good, _ = judge.preprocess(good, {})
    bad, _ = judge.preprocess(bad, {})
    (out,) = good.cells[2].outputs
    assert out.output_type == "stream" and out.name == "stdout" and "all 1 checks" in out.text
    (out,) = bad.cells[2].outputs
    assert out.output_type == "error" and "values differ" in out.evalue
    assert "secret line" not in json.dumps(bad)


def test_the_code_scan_flags_patching_and_kernel_control():
    nb = _notebook()
    nb.cells[1].source = (
        "import os\nimport torch.testing\ntorch.testing.assert_close = print\n"
        "assert_close = print\ndef f(x):\n    os._exit(0)\n"
    )
    found = scan_code(nb, protected_names(nb))
    assert any("patches torch.testing.assert_close" in r for r in found)
    assert any("rebinds assert_close" in r for r in found)
    assert any("os._exit" in r for r in found)
    assert scan_code(_notebook(), protected_names(_notebook())) == []
