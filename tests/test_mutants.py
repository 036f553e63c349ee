"""Mutation testing: realistic student bugs graded by the real ``course autograde`` path.

For each lab with ``tests/mutants/<lab>.py``, the lab's one grading run (``--jobs 2``, the
``graded_labs`` fixture of ``conftest.py``, shared with the round trip) grades the reference,
the untouched release and every mutant submission. The reference must get full
marks, the release 0, and each mutant must lose the points of exactly the test cells it names.
The mutation score (caught / total) is printed per lab.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from grading_harness import answer_cells, auto_scores, by_lab, max_scores

from course_utils import course

ROOT = Path(__file__).resolve().parents[1]
LABS = [lab for lab in course.labs(ROOT) if (ROOT / "tests" / "mutants" / f"{lab}.py").is_file()]


def _module(lab: str):
    return importlib.import_module(f"mutants.{lab}")


def submissions(lab: str) -> dict[str, list]:
    """Submission name -> the mutants it carries."""
    module = _module(lab)
    by_name = {m.name: m for m in module.MUTANTS}
    packed = [list(group) for group in getattr(module, "SUBMISSIONS", [])]
    named = {name for group in packed for name in group}
    packed += [[m.name] for m in module.MUTANTS if m.name not in named]
    return {f"mutant{i:02d}": [by_name[n] for n in group] for i, group in enumerate(packed)}


@pytest.mark.parametrize("lab", LABS)
def test_mutants_are_well_formed(lab: str):
    mutants = _module(lab).MUTANTS
    assert len(mutants) >= 10, "at least 10 realistic bugs per lab"
    assert len({m.name for m in mutants}) == len(mutants), "mutant names must be unique"
    answers, tests = answer_cells(lab), set(max_scores(lab))
    for m in mutants:
        assert m.cell in answers, f"{m.name}: {m.cell} is not an answer cell"
        assert m.fails and m.fails <= tests, f"{m.name}: fails must name test cells"
    for name, group in submissions(lab).items():
        cells = [m.cell for m in group]
        assert len(set(cells)) == len(cells), f"{name}: two mutants of one cell"
        fails = [c for m in group for c in m.fails]
        assert len(set(fails)) == len(fails), f"{name}: mutants whose failures overlap"


@pytest.mark.parametrize("lab", by_lab(LABS))
def test_every_mutant_loses_points(graded_labs, lab: str, capsys):
    root, full = graded_labs[lab], max_scores(lab)
    assert auto_scores(root, lab, "reference") == full, "the reference must get full marks"
    assert sum(auto_scores(root, lab, "untouched").values()) == 0
    caught, total, report = 0, 0, []
    for name, group in submissions(lab).items():
        scores = auto_scores(root, lab, name)
        lost = {gid for gid, score in scores.items() if score < full[gid]}
        for m in group:
            total += 1
            if m.fails <= lost:
                caught += 1
            else:
                report.append(f"{m.name}: kept the points of {sorted(m.fails - lost)}")
        expected = {c for m in group for c in m.fails}
        assert lost == expected, f"{name} ({[m.name for m in group]}): lost {sorted(lost)}"
    with capsys.disabled():
        print(f"\nmutation score {lab}: {caught}/{total} caught")
    assert caught == total, report
