"""Written questions come with a model answer and a rubric, for the TA only."""

from __future__ import annotations

from pathlib import Path

import pytest

from course_utils import course, notebooks
from course_utils.ta.guide import questions, rubric_points

ROOT = Path(__file__).resolve().parents[1]
LABS = course.labs(ROOT)


@pytest.mark.parametrize("lab", LABS)
def test_every_written_question_has_a_rubric_that_adds_up(lab: str):
    found = questions(ROOT / "solutions" / lab / f"{lab}.ipynb")
    assert found, f"{lab} has no written question"
    for q in found:
        assert "Model answer" in q.model, f"{lab}:{q.grade_id} has no model answer"
        assert q.rubric, f"{lab}:{q.grade_id} has no rubric lines ('- 1 point: ...')"
        assert rubric_points(q) == q.points, f"{lab}:{q.grade_id}: rubric {rubric_points(q)}"


@pytest.mark.parametrize("lab", LABS)
def test_the_release_keeps_only_the_answer_stub(lab: str):
    release = notebooks.cells_by_id(notebooks.read(ROOT / "labs" / lab / f"{lab}.ipynb"))
    for q in questions(ROOT / "solutions" / lab / f"{lab}.ipynb"):
        assert release[q.grade_id].source.strip() == "YOUR ANSWER HERE", q.grade_id


def test_course_guide_writes_markdown_and_html(tmp_path: Path):
    from grading_harness import make_course, run_course

    root = make_course(tmp_path, [LABS[0]])
    run = run_course(root, "guide", LABS[0])
    assert run.returncode == 0, run.stderr
    page = (root / "grading" / "guide" / f"{LABS[0]}.html").read_text()
    md = (root / "grading" / "guide" / f"{LABS[0]}.md").read_text()
    for q in questions(root / "solutions" / LABS[0] / f"{LABS[0]}.ipynb"):
        assert q.grade_id in md and q.grade_id in page
