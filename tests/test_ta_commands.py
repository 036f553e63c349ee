"""The TA commands that need no kernel: help, collect (folder and LMS zip), roster, sandbox."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from course_utils import cli, course
from course_utils.ta import sandbox
from course_utils.ta.collect import collect, student_id
from course_utils.ta.layout import sha256_file
from course_utils.ta.roster import import_roster

ROOT = Path(__file__).resolve().parents[1]
LAB = "lab1_onehot"


def test_help_lists_the_ta_commands():
    out = subprocess.run(
        [sys.executable, "-m", "course_utils.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for command in ("release", "roster", "collect", "autograde", "feedback", "export", "audit"):
        assert command in out
    grade = subprocess.run(
        [sys.executable, "-m", "course_utils.cli", "autograde", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--jobs" in grade and "--no-sandbox" in grade


@pytest.mark.parametrize(
    "entry, student",
    [
        ("alice/lab1_onehot.ipynb", "alice"),
        ("bob/lab1_onehot/lab1_onehot.ipynb", "bob"),
        ("Carol Smith_4242_assignsubmission_file_/lab1_onehot.ipynb", "4242"),
        ("dave_123_456_lab1_onehot.ipynb", "dave"),
        ("../evil/lab1_onehot.ipynb", None),
        (".hidden.ipynb", None),
    ],
)
def test_student_ids_from_lms_paths(entry, student):
    assert student_id(entry) == student


def test_collect_a_zip_without_touching_it(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text((ROOT / course.CONFIG_FILE).read_text())
    notebook = (ROOT / "labs" / LAB / f"{LAB}.ipynb").read_bytes()
    bundle = tmp_path / "export.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("alice_11_22_lab1_onehot.ipynb", notebook)
        archive.writestr("Bob Jones_77_assignsubmission_file_/lab1_onehot.ipynb", notebook)
        archive.writestr("../../escape.ipynb", notebook)
        archive.writestr("__MACOSX/._alice.ipynb", b"junk")
    before = sha256_file(bundle)
    found = collect(tmp_path, LAB, bundle)
    assert sorted(c.student for c in found) == ["77", "alice"]
    for student in ("77", "alice"):
        folder = tmp_path / "grading" / "submitted" / student / LAB
        assert (folder / f"{LAB}.ipynb").read_bytes() == notebook
        assert (folder / "timestamp.txt").is_file()
    assert sha256_file(bundle) == before
    assert not (tmp_path.parent / "escape.ipynb").exists()


def test_collect_from_the_command_line(tmp_path, capsys):
    course_dir = tmp_path / "course"
    course_dir.mkdir()
    (course_dir / "nbgrader_config.py").write_text((ROOT / course.CONFIG_FILE).read_text())
    (course_dir / "solutions" / LAB).mkdir(parents=True)
    (course_dir / "solutions" / LAB / f"{LAB}.ipynb").write_bytes(b"{}")
    source = tmp_path / "inbox" / "carol"
    source.mkdir(parents=True)
    (source / f"{LAB}.ipynb").write_text("{}")
    assert cli.main(["--course-dir", str(course_dir), "collect", LAB, str(source.parent)]) == 0
    assert (course_dir / "grading" / "submitted" / "carol" / LAB / f"{LAB}.ipynb").is_file()
    assert cli.main(["--course-dir", str(course_dir), "collect", "lab99", str(source)]) == 2


def test_roster_adds_students(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text((ROOT / course.CONFIG_FILE).read_text())
    roster = tmp_path / "class.csv"
    roster.write_text("Student_ID,First_Name,Last_Name,Email\nalice,Alice,A,a@x.org\nbob,Bob,B,\n")
    assert import_roster(tmp_path, roster) == ["alice", "bob"]
    with Gradebook(course.load_config(tmp_path).CourseDirectory.db_url) as gb:
        assert gb.find_student("alice").email == "a@x.org"
        assert gb.find_student("bob").last_name == "B"


def test_sizes_and_the_sandbox_command(tmp_path):
    assert sandbox.parse_size("1.5G") == 3 << 29 and sandbox.parse_size("512M") == 512 << 20
    with pytest.raises(ValueError):
        sandbox.parse_size("lots")
    spec = sandbox.Sandbox(root=tmp_path, workdir=tmp_path / "grading" / "w")
    command = spec.command(["python"], tmp_path / "conn.json")
    assert command[0].endswith("bwrap") and "--cap-drop" in command
    hidden = [command[i + 1] for i, arg in enumerate(command) if arg == "--tmpfs"]
    assert str(tmp_path.resolve()) in hidden
    assert command[-1] == "python" and "--as=8589934592" in command
    spec.isolate = False
    assert spec.command(["python"], tmp_path / "conn.json")[0] == "prlimit"


def test_autograde_refuses_without_bubblewrap(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sandbox, "bwrap_available", lambda: "bubblewrap is not installed")
    import course_utils.ta.autograde as autograde

    monkeypatch.setattr(autograde, "bwrap_available", lambda: "bubblewrap is not installed")
    assert cli.main(["--course-dir", str(ROOT), "autograde", LAB]) == 2
    assert "--no-sandbox" in capsys.readouterr().err
