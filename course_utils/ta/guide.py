"""``course guide LAB``: the grader's guide to a lab's written questions.

Every manually graded answer cell of an instructor notebook holds, between nbgrader's
solution markers (so the release still says ``YOUR ANSWER HERE``), a model answer and a
rubric::

    ### BEGIN SOLUTION
    **Model answer.** ...

    **Rubric.**
    - 1 point: names the ...
    - 1 point: explains why ...

    **Common wrong answers.** ...
    ### END SOLUTION

``guide`` collects, per question, the question's text (the markdown cell before the answer),
its points, the rubric lines and the model answer, and writes them as Markdown and HTML under
``grading/guide/``. ``rubric_points`` is what the tests use to check that each rubric adds up.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from course_utils import notebooks
from course_utils.ta.layout import Layout

__all__ = ["Question", "questions", "rubric_points", "write_guide"]

_RUBRIC_LINE = re.compile(r"^\s*[-*]\s*(\d+(?:\.\d+)?)\s+points?\s*:\s*(.+)$", re.M)


@dataclass(frozen=True)
class Question:
    """One manually graded question: where it is, what it asks, how it is marked."""

    grade_id: str
    points: float
    prompt: str
    model: str

    @property
    def rubric(self) -> list[tuple[float, str]]:
        return [(float(p), text.strip()) for p, text in _RUBRIC_LINE.findall(self.model)]


def rubric_points(question: Question) -> float:
    """The points the rubric's lines add up to."""
    return sum(points for points, _ in question.rubric)


def questions(notebook: Path) -> list[Question]:
    """The manually graded questions of an instructor notebook, in order."""
    nb = notebooks.read(notebook)
    found = []
    for index, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "markdown" or not (meta.get("grade") and meta.get("solution")):
            continue
        prompt = nb.cells[index - 1].source if index else ""
        regions = [text for _, text in notebooks.solution_regions_of(cell.source)]
        found.append(
            Question(meta["grade_id"], float(meta.get("points", 0)), prompt, "\n".join(regions))
        )
    return found


def _markdown(lab: str, items: list[Question]) -> str:
    total = sum(q.points for q in items)
    parts = [
        f"# Grader's guide: {lab}",
        "",
        f"{len(items)} written questions, {total:g} points.",
        "",
    ]
    for q in items:
        parts += [f"## `{q.grade_id}` ({q.points:g} points)", "", "### The question", "", q.prompt]
        parts += ["", "### Model answer and rubric", "", q.model.strip(), ""]
    return "\n".join(parts)


def write_guide(root: Path, lab: str) -> list[Path]:
    """Write ``grading/guide/<lab>.md`` and ``.html``; returns both paths."""
    layout = Layout(root)
    items = questions(layout.source_notebook(lab))
    text = _markdown(lab, items)
    folder = layout.guides
    folder.mkdir(parents=True, exist_ok=True)
    md, page = folder / f"{lab}.md", folder / f"{lab}.html"
    md.write_text(text, encoding="utf-8")
    import mistune  # nbconvert's Markdown renderer

    body = mistune.html(text)
    page.write_text(
        f"<!doctype html><meta charset='utf-8'><title>Guide: {html.escape(lab)}</title>"
        f"<body style='max-width:50em;margin:auto;font-family:sans-serif'>{body}</body>",
        encoding="utf-8",
    )
    return [md, page]
