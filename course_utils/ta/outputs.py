"""A bound on the output a graded notebook keeps per cell, applied as the output arrives.

A cell that prints 100 MB must neither be kept whole in the graded notebook (and in the
feedback) nor pile up in the worker's memory: each output message is measured when it
arrives, and once a cell's outputs reach the budget the rest is cut, with one note that
says how much was left out. The guard's markers (short lines the grader checks) are kept
even past the budget, so a cut output never fails a test cell by itself.
"""

from __future__ import annotations

from typing import Any

import nbformat
from nbformat.notebooknode import NotebookNode

from course_utils.ta.guard import MARK_PATTERN

__all__ = ["OutputBudget", "size_of"]


def size_of(output: NotebookNode | dict[str, Any]) -> int:
    """Characters an output holds (text, data values, traceback)."""
    kind = output.get("output_type")
    if kind == "stream":
        return len(output.get("text", ""))
    if kind == "error":
        lines = output.get("traceback", [])
        return len(output.get("evalue", "")) + sum(len(line) for line in lines)
    return sum(len(str(v)) for v in output.get("data", {}).values())


class OutputBudget:
    """How much of each cell's output is kept (``limit`` characters per cell)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._used: dict[int, int] = {}
        self._dropped: dict[int, int] = {}
        self._notes: dict[int, NotebookNode] = {}

    def reset(self, cell: int) -> None:
        """The cell's output was cleared: its budget starts again."""
        self._used.pop(cell, None)
        self._notes.pop(cell, None)

    def admit(self, cell: int, outs: list[NotebookNode], output: NotebookNode) -> bool:
        """Append ``output`` to ``outs`` as far as the budget allows; False if cut."""
        used = self._used.get(cell, 0)
        size = size_of(output)
        if used + size <= self.limit:
            self._used[cell] = used + size
            outs.append(output)
            return True
        room = max(0, self.limit - used)
        self._used[cell] = self.limit
        dropped = size
        if output.get("output_type") == "stream":
            text = output.get("text", "")
            marks = "".join(MARK_PATTERN.findall(text, room))
            output["text"] = text[:room] + marks
            dropped = len(text) - room - len(marks)
            if output["text"]:
                outs.append(output)
        self._cut(cell, outs, dropped)
        return False

    def _cut(self, cell: int, outs: list[NotebookNode], dropped: int) -> None:
        total = self._dropped[cell] = self._dropped.get(cell, 0) + max(0, dropped)
        note = self._notes.get(cell)
        if note is None or not any(o is note for o in outs):
            note = self._notes[cell] = nbformat.v4.new_output("stream", name="stderr", text="")
            outs.append(note)
        note["text"] = (
            f"\n[output cut by the grader: this cell's output passed {self.limit} characters;"
            f" {total} more were not kept]\n"
        )
