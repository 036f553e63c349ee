"""``JudgeCells``: each test cell's outputs are replaced by the judge's verdict on its records."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import torch
from preprocessor_notebooks import notebook

from course_utils import oracle
from course_utils.ta.judge import JudgeCells
from course_utils.ta.protocol import RECORD_MIME


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
    good, bad = notebook(), notebook()
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
