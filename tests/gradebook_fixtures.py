"""A small course with a gradebook filled through nbgrader's ``Gradebook`` API (no autograde run).

``make_course`` writes the config and two labs; ``grade`` records one student's score for a lab
the way a finished grading leaves it: the submitted notebook, nbgrader's grade and late penalty,
and the ledger record that ``course export`` reads the status from.
"""

from __future__ import annotations

import datetime as dt
import shutil
import warnings
from pathlib import Path

from nbgrader.api import Gradebook
from sqlalchemy.exc import SAWarning

from course_utils import course
from course_utils.ta import ledger
from course_utils.ta.layout import Layout, sha256_file

ROOT = Path(__file__).resolve().parents[1]
LABS = {"lab1_onehot": 12.0, "lab2_cbow": 10.0}


_PRISTINE: list[Path] = []  # a gradebook made once: a new one runs alembic, which is slow


def make_course(folder: Path) -> Path:
    """A course at ``folder`` with the labs of ``LABS``, each one grade cell worth its maximum."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / course.CONFIG_FILE).write_text((ROOT / course.CONFIG_FILE).read_text())
    for lab in LABS:
        (folder / "solutions" / lab).mkdir(parents=True)
        (folder / "solutions" / lab / f"{lab}.ipynb").write_text("{}")
    database = folder / "grading" / "gradebook.db"
    if _PRISTINE and _PRISTINE[0].is_file():
        database.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_PRISTINE[0], database)
        return folder
    course.use_env_tools()
    with Gradebook(db_url(folder)) as gb:
        for lab, points in LABS.items():
            gb.update_or_create_assignment(lab)
            gb.add_notebook(lab, lab)
            gb.add_grade_cell("answer", lab, lab, max_score=points, cell_type="code")
    _PRISTINE[:] = [folder.parent / "pristine-gradebook.db"]
    shutil.copyfile(database, _PRISTINE[0])
    return folder


def db_url(root: Path) -> str:
    return course.load_config(root).CourseDirectory.db_url


def add_student(root: Path, student: str, **fields: str) -> None:
    with Gradebook(db_url(root)) as gb:
        gb.update_or_create_student(student, **fields)


def grade(
    root: Path, student: str, lab: str, score: float, penalty: float = 0.0, status: str = "graded"
) -> None:
    """``student`` got ``score`` (before ``penalty``) for ``lab``; ``status`` as the ledger says."""
    layout = Layout(root)
    submission = layout.submission(student, lab)
    submission.parent.mkdir(parents=True, exist_ok=True)
    submission.write_text('{"cells": []}')
    with Gradebook(db_url(root)) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's add_submission, not ours
        gb.add_submission(lab, student, timestamp="2024-03-01 10:00:00 UTC")
        cell = gb.find_grade("answer", lab, lab, student)
        cell.auto_score = score
        cell.needs_manual_grade = False
        gb.find_submission_notebook(lab, lab, student).late_submission_penalty = penalty
        gb.db.commit()
    entry = ledger.Entry(
        student=student,
        lab=lab,
        status=status,
        submission_sha256=sha256_file(submission),
        fingerprint="test",
        graded_at=dt.datetime.now(dt.timezone.utc).isoformat(),
        seconds=1.0,
        events=[{"flag": "failed", "detail": "test"}] if status != "graded" else [],
        cells={},
    )
    ledger.write(layout, entry)
