"""The nbgrader markers in the instructor notebooks, read in one place.

An instructor notebook marks the reference answer of a cell with ``### BEGIN SOLUTION`` /
``### END SOLUTION`` and the hidden part of a test cell with ``### BEGIN HIDDEN TESTS`` /
``### END HIDDEN TESTS``. Tests, benchmarks and the TA command read those regions through
these functions rather than each with its own pattern.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode

__all__ = [
    "BEGIN_SOLUTION",
    "END_SOLUTION",
    "BEGIN_HIDDEN",
    "END_HIDDEN",
    "read",
    "grade_id",
    "cells_by_id",
    "reference_answer",
    "solution_regions",
    "solution_regions_of",
    "hidden_lines",
    "released_source",
    "without_hidden",
    "fill_release",
]

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
# nbgrader finds a hidden region by these words anywhere in a line (``ClearHiddenTests``)
_HIDDEN_DELIMITERS = BEGIN_HIDDEN.removeprefix("### "), END_HIDDEN.removeprefix("### ")
_SOLUTION = re.compile(rf"^[ \t]*{BEGIN_SOLUTION}\n(.*?)^[ \t]*{END_SOLUTION}\n?", re.M | re.S)


def read(path: Path) -> NotebookNode:
    """A notebook, as nbformat version 4."""
    return nbformat.read(path, as_version=4)


def grade_id(cell: NotebookNode) -> str | None:
    """A cell's nbgrader grade id, ``None`` for a cell nbgrader does not know."""
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def cells_by_id(nb: NotebookNode) -> dict[str, NotebookNode]:
    """The cells nbgrader knows, by grade id."""
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}


def reference_answer(source: str) -> str:
    """An answer cell's source with its markers removed (what a perfect student writes)."""
    return _SOLUTION.sub(r"\1", source)


def solution_regions_of(source: str) -> list[tuple[int, str]]:
    """(offset, text) of the solution regions of one cell's source."""
    return [(m.start(), m.group(1)) for m in _SOLUTION.finditer(source + "\n")]


def solution_regions(nb: NotebookNode) -> list[tuple[str, str]]:
    """(grade id, text) of every solution region: code between the markers, and the model
    answers of written questions."""
    found = []
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id", "?")
        found += [(gid, text) for _, text in solution_regions_of(cell.source)]
    return found


def _regions(source: str, keep_inside: bool) -> list[str]:
    begin, end = _HIDDEN_DELIMITERS
    kept, inside = [], False
    for line in source.split("\n"):
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside == keep_inside:
            kept.append(line)
    return kept


def hidden_lines(source: str) -> list[str]:
    """The non-blank lines of a test cell's hidden region, stripped."""
    return [line.strip() for line in _regions(source, True) if line.strip()]


def released_source(source: str) -> str:
    """A test cell's source as students receive it: nbgrader's release, to the character."""
    return "\n".join(_regions(source, False))


def without_hidden(source: str) -> str:
    """A test cell's source without its hidden region (ending with one newline)."""
    return released_source(source).rstrip() + "\n"


def fill_release(
    release: NotebookNode,
    solution: NotebookNode,
    answers: dict[str, str] | None,
    append: dict[str, str] | None = None,
) -> NotebookNode:
    """``release`` with every answer cell filled: ``answers[gid]`` where given, else the
    reference answer from ``solution``; ``answers=None`` leaves the stubs (an untouched
    release). ``append`` adds code after an answer. Changes and returns ``release``."""
    reference = cells_by_id(solution)
    for gid, cell in cells_by_id(release).items():
        if not (cell.cell_type == "code" and cell.metadata["nbgrader"].get("solution")):
            continue
        if answers is not None:
            cell.source = answers.get(gid) or reference_answer(reference[gid].source)
        cell.source += (append or {}).get(gid, "")
    return release
