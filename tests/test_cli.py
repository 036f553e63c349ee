import shutil
import subprocess
import sys
from pathlib import Path

from course_utils import cli, course

ROOT = Path(__file__).resolve().parents[1]


def test_help_lists_the_subcommands():
    out = subprocess.run(
        [sys.executable, "-m", "course_utils.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "generate" in out and "list" in out


def test_list_names_the_labs(capsys):
    assert cli.main(["--course-dir", str(ROOT), "list"]) == 0
    assert capsys.readouterr().out.split() == course.labs(ROOT)


def test_generate_writes_the_student_version(tmp_path, capsys):
    shutil.copy(ROOT / course.CONFIG_FILE, tmp_path)
    shutil.copytree(ROOT / "solutions", tmp_path / "solutions")
    lab = course.labs(ROOT)[0]
    assert cli.main(["--course-dir", str(tmp_path), "generate", lab]) == 0
    assert (tmp_path / "labs" / lab / f"{lab}.ipynb").is_file()
    assert f"labs/{lab}/{lab}.ipynb" in capsys.readouterr().out
    assert (tmp_path / "grading" / "gradebook.db").is_file(), "the gradebook belongs in grading/"


def test_errors_are_one_line_messages(tmp_path, capsys):
    assert cli.main(["--course-dir", str(tmp_path), "list"]) == 2
    assert "no nbgrader_config.py" in capsys.readouterr().err
    assert cli.main(["--course-dir", str(ROOT), "generate", "lab99"]) == 2
    assert "unknown lab" in capsys.readouterr().err
