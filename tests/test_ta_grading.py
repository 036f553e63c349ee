"""``course autograde`` on a class of fixture submissions, with real nbgrader and kernels.

One grading run (2 jobs) of every fixture in ``ta_fixtures``; each must get its expected
automatic score and audit flags. Then: the submissions are untouched, the gradebook was not
written by student code, re-grading is idempotent, a second run is locked out, Ctrl-C keeps
what was recorded, and feedback shows no hidden test.
"""

from __future__ import annotations

import csv
import html
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from grading_harness import SANDBOX, run_course
from nbgrader.api import Gradebook
from ta_fixtures import FIXTURES, GRADE, LAB

from course_utils import course
from course_utils.notebooks import hidden_lines
from course_utils.ta.layout import Layout, sha256_file
from course_utils.ta.lock import GradingLock
from course_utils.ta.sandbox import bwrap_available

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.xdist_group(name="ta-grading-lab1")  # one graded class, one worker


def auto_score(root: Path, student: str) -> float:
    with Gradebook(course.load_config(root).CourseDirectory.db_url) as gb:
        nb = gb.find_submission_notebook(LAB, LAB, student)
        return sum(g.auto_score or 0 for g in nb.grades if g.cell.cell_type == "code")


def ledger(root: Path, student: str) -> dict:
    return json.loads((root / "grading" / "ledger" / LAB / f"{student}.json").read_text())


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_fixture_gets_its_score_and_flags(ta_class: dict, name: str):
    fixture = FIXTURES[name]
    if fixture.needs_sandbox and not SANDBOX:
        pytest.skip(f"needs bubblewrap: {bwrap_available()}")
    root = ta_class["root"]
    entry = ledger(root, name)
    flags = {e["flag"] for e in entry["events"]} - {"unsandboxed"}
    assert entry["status"] == "graded", entry
    assert auto_score(root, name) == fixture.score, entry["events"]
    if fixture.exact_flags:
        assert flags == fixture.flags, entry["events"]
    else:
        assert fixture.flags <= flags, entry["events"]
    notebook = root / "grading" / "autograded" / name / LAB / f"{LAB}.ipynb"
    text = notebook.read_text()
    assert "course_guard" not in text and "course-guard" not in text, "guards must be removed"


def test_submissions_are_never_modified(ta_class: dict):
    root = ta_class["root"]
    for name, digest in ta_class["hashes"].items():
        assert sha256_file(root / "grading" / "submitted" / name / LAB / f"{LAB}.ipynb") == digest


def test_clean_submissions_log_no_checksum_warning(ta_class: dict):
    log = (ta_class["root"] / "grading" / "logs" / LAB / "correct.log").read_text()
    assert "has changed" not in log and "checksum" not in log.lower()


@pytest.mark.skipif(not SANDBOX, reason="the gradebook is hidden by the sandbox only")
def test_student_code_cannot_write_the_gradebook(ta_class: dict):
    with Gradebook(course.load_config(ta_class["root"]).CourseDirectory.db_url) as gb:
        nb = gb.find_submission_notebook(LAB, LAB, "writes_gradebook")
        assert all(g.manual_score is None for g in nb.grades)


def test_the_audit_and_the_csv_show_the_flags(ta_class: dict):
    root = ta_class["root"]
    audit = run_course(root, "audit", LAB, "--flagged")
    assert audit.returncode == 0, audit.stderr
    assert "deleted_cells" in audit.stdout and "restored from the gradebook" in audit.stdout
    assert "correct" not in audit.stdout.split()
    export = run_course(root, "export", "--to", "grading/grades.csv")
    assert export.returncode == 0, export.stderr
    with open(root / "grading" / "grades.csv") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    assert rows["correct"]["flags"] == "" and rows["correct"]["status"] == "graded"
    assert float(rows["correct"]["score"]) == 12
    assert "kernel_died" in rows["os_exit"]["flags"]
    assert "tampered" in rows["skip_tags"]["flags"]


def test_feedback_shows_no_hidden_test(ta_class: dict):
    root = ta_class["root"]
    run = run_course(root, "feedback", LAB)
    assert run.returncode == 0, run.stderr
    source = nbformat.read(root / "solutions" / LAB / f"{LAB}.ipynb", as_version=4)
    secret = [line for cell in source.cells for line in hidden_lines(cell.source)]
    secret = [line for line in secret if len(line) > 12]
    pages = list((root / "grading" / "feedback").rglob("*.html"))
    assert len(pages) == len(FIXTURES)
    for page in pages:
        text = html.unescape(page.read_text())
        leaked = [line for line in secret if line in text]
        assert not leaked, f"{page}: {leaked[:3]}"


def test_regrading_is_skipped_then_idempotent(ta_class: dict):
    root = ta_class["root"]
    again = run_course(root, *GRADE)
    assert again.returncode == 0 and "already graded" in again.stdout, again.stdout
    before = auto_score(root, "changed_test")
    forced = run_course(root, *GRADE, "--force", "--student", "changed_test")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert auto_score(root, "changed_test") == before == FIXTURES["changed_test"].score


def test_a_second_run_is_locked_out(ta_class: dict):
    root = ta_class["root"]
    with GradingLock(Layout(root).lock_file, "a test"):
        run = run_course(root, *GRADE, timeout=120)
    assert run.returncode == 2 and "another grading command" in run.stderr, run.stderr


def test_ctrl_c_keeps_recorded_grades_and_leaves_no_half_folder(ta_class: dict):
    root = ta_class["root"]
    layout = Layout(root)
    students = ["blank", "correct", "retyped_test", "skip_tags"]
    for student in students:  # as if never graded
        (layout.ledger_dir(LAB) / f"{student}.json").unlink()
    started = time.time()
    args = [*GRADE, "--jobs", "1"] + [a for s in students for a in ("--student", s)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "course_utils.cli", "--course-dir", str(root), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=course.use_env_tools(),
    )
    ledgers = [layout.ledger_dir(LAB) / f"{s}.json" for s in students]
    while time.time() - started < 600 and proc.poll() is None:
        if any(p.exists() for p in ledgers):
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "graded and recorded" in err
    recorded = [s for s, p in zip(students, ledgers, strict=True) if p.exists()]
    assert 1 <= len(recorded) < len(students)
    assert not any(layout.staging.iterdir()) if layout.staging.exists() else True
    for student in os.listdir(layout.autograded):
        folder = layout.autograded / student / LAB
        assert (folder / f"{LAB}.ipynb").is_file(), f"half-written {folder}"
    for student in recorded:
        assert auto_score(root, student) == FIXTURES[student].score
    rest = run_course(root, *GRADE, *[a for s in students for a in ("--student", s)])
    assert rest.returncode == 0, rest.stdout + rest.stderr
    assert f"{len(recorded)} submission(s) already graded" in rest.stdout
    for student in students:
        assert auto_score(root, student) == FIXTURES[student].score
