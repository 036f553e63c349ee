"""``InsertGuards`` / ``VerifyGuards``: the guard cells go in before grading and come out after,
flagging a missing marker and never failing a cell."""

from __future__ import annotations

import json

import nbformat
from preprocessor_notebooks import notebook

from course_utils.ta import events
from course_utils.ta.guard import MARK
from course_utils.ta.guard_cells import InsertGuards, VerifyGuards, setup_imports
from course_utils.ta.protocol import GUARD_KEY


def test_guards_go_in_and_come_out_flagging_only():
    nb, resources = InsertGuards().preprocess(notebook(), {})
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
