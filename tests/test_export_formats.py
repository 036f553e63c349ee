"""``course export --format canvas|moodle`` writes the LMS's import file (fixtures/lms/)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from gradebook_fixtures import add_student, grade, make_course

from course_utils import cli
from course_utils.ta.lms import export

FIXTURES = Path(__file__).parent / "fixtures" / "lms"


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = make_course(tmp_path_factory.mktemp("lms") / "course")
    people = {
        "ada": dict(first_name="Ada", last_name="Lovelace", email="ada@example.org"),
        "alan": dict(first_name="Alan", last_name="Turing", email="alan@example.org"),
        "grace": dict(first_name="Grace", last_name="Hopper", email="grace@example.org"),
        "ed": {},
        "kat": {},
    }
    for student, fields in people.items():
        add_student(folder, student, **fields)
    add_student(folder, "ada", lms_user_id="101")
    grade(folder, "ada", "lab1_onehot", 11.5)
    grade(folder, "ada", "lab2_cbow", 7.5, penalty=1.5)
    grade(folder, "alan", "lab1_onehot", 12)
    grade(folder, "alan", "lab2_cbow", 10)
    grade(folder, "grace", "lab1_onehot", 9)
    grade(folder, "grace", "lab2_cbow", 0, status="failed")
    grade(folder, "ed", "lab1_onehot", 3)
    grade(folder, "kat", "lab1_onehot", 4)
    grade(folder, "kat", "lab2_cbow", 5)
    return folder


@pytest.mark.parametrize(
    "fmt, key, fixture",
    [
        ("canvas", "email", "canvas_gradebook.csv"),
        ("moodle", "email", "moodle_email.csv"),
        ("moodle", "idnumber", "moodle_idnumber.csv"),
    ],
)
def test_the_lms_file_is_the_fixture(root, fmt, key, fixture):
    done = export(root, None, None, fmt, key)
    expected = (FIXTURES / fixture).read_text(encoding="utf-8")
    assert parse(done.text) == parse(expected)
    notes = "\n".join(done.notes)
    assert "grace: left out (lab2_cbow: failed" in notes
    assert "ed: left out (lab2_cbow: no submission)" in notes
    assert ("kat: left out (no email address)" in notes) == (fmt == "moodle" and key == "email")


def test_canvas_header_and_points_possible_row(root):
    header, points, *_ = parse(export(root, None, None, "canvas").text)
    assert header[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert points[0] == "    Points Possible" and points[5:] == ["12.0", "10.0"]


def test_export_formats_from_the_command_line(root, capsys):
    assert cli.main(["--course-dir", str(root), "export", "--format", "canvas"]) == 0
    out = capsys.readouterr().out
    assert "grace: left out" in out and "canvas.csv" in out
    written = (root / "grading" / "canvas.csv").read_text(encoding="utf-8")
    assert parse(written) == parse((FIXTURES / "canvas_gradebook.csv").read_text())
    args = ["export", "lab1_onehot", "--format", "moodle", "--moodle-key", "idnumber"]
    assert cli.main(["--course-dir", str(root), *args, "--to", "m.csv"]) == 0
    header, *rows = parse((root / "m.csv").read_text(encoding="utf-8"))
    assert header == ["First name", "Last name", "ID number", "lab1_onehot"]
    assert [row[2] for row in rows] == ["ada", "alan", "ed", "grace", "kat"]
    assert cli.main(["--course-dir", str(root), "export"]) == 0  # today's CSV, unchanged
    header, *rows = parse((root / "grading" / "grades.csv").read_text(encoding="utf-8"))
    assert header[:2] == ["assignment", "student_id"] and header[-2:] == ["status", "flags"]
    assert len(rows) == 10
