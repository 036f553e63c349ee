"""``course collect`` loses nothing without a word and follows no link (folder, zip, grading/)."""

from __future__ import annotations

import os
import socket
import stat
import zipfile
from pathlib import Path

import nbformat
import pytest

from course_utils import cli, course
from course_utils.ta import nofollow
from course_utils.ta.collect import collect

ROOT = Path(__file__).resolve().parents[1]
LAB = "lab1_onehot"


def notebook(marker: str) -> bytes:
    """A small valid notebook whose only cell says ``marker``."""
    cell = nbformat.v4.new_code_cell(f"# {marker}")
    cell.id = "only-cell"
    nb = nbformat.v4.new_notebook(cells=[cell])
    return nbformat.writes(nb).encode()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "course"
    folder.mkdir()
    (folder / course.CONFIG_FILE).write_text((ROOT / course.CONFIG_FILE).read_text())
    (folder / "solutions" / LAB).mkdir(parents=True)
    (folder / "solutions" / LAB / f"{LAB}.ipynb").write_bytes(notebook("source"))
    return folder


def submitted(root: Path, student: str) -> Path:
    return root / "grading" / "submitted" / student / LAB / f"{LAB}.ipynb"


def reasons(report) -> dict[str, str]:
    return {s.entry: s.reason for s in report.skipped}


def test_a_folder_with_links_devices_fifos_and_hard_links(root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.ipynb").write_bytes(notebook("secret"))
    source = tmp_path / "inbox"
    for student in ("alice", "bob", "carol", "dave", "erin", "frank", "gina"):
        (source / student).mkdir(parents=True)
    (source / "alice" / f"{LAB}.ipynb").write_bytes(notebook("alice"))
    (source / "bob" / f"{LAB}.ipynb").symlink_to(outside / "secret.ipynb")
    (source / "carol" / "work").symlink_to(outside, target_is_directory=True)
    os.mkfifo(source / "dave" / f"{LAB}.ipynb")
    os.link(outside / "secret.ipynb", source / "erin" / f"{LAB}.ipynb")
    (source / "frank" / f"{LAB}.ipynb").write_bytes(notebook("frank"))
    os.link(source / "frank" / f"{LAB}.ipynb", source / "frank" / "copy.ipynb")  # both inside
    with open(source / "gina" / f"{LAB}.ipynb", "wb") as big:
        big.truncate(60 << 20)  # sparse: 60 MB on paper, nothing on disk
    (source / "alice" / ".ipynb_checkpoints").mkdir()
    (source / "alice" / ".ipynb_checkpoints" / f"{LAB}-checkpoint.ipynb").write_text("{}")
    (source / "alice" / "notes.pdf").write_bytes(b"%PDF")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(source / "alice" / "sock"))
    try:
        report = collect(root, LAB, source)
    finally:
        sock.close()
    assert sorted(c.student for c in report) == ["alice", "frank"]
    why = reasons(report)
    assert why[f"bob/{LAB}.ipynb"].startswith("a symbolic link (to ")
    assert why["carol/work"].startswith("a symbolic link")
    assert "FIFO" in why[f"dave/{LAB}.ipynb"]
    assert "hard link to a file outside" in why[f"erin/{LAB}.ipynb"]
    assert "60 MB, over the 50 MB limit" in why[f"gina/{LAB}.ipynb"]
    assert "checkpoint" in why["alice/.ipynb_checkpoints/"]
    assert why["alice/notes.pdf"] == "not a notebook (.ipynb)"
    assert why["alice/sock"] == "a socket"
    assert "older than" in why["frank/copy.ipynb"] or "older than" in why[f"frank/{LAB}.ipynb"]
    for student in ("bob", "carol", "dave", "erin", "gina"):
        assert not submitted(root, student).parent.exists()
    assert b"alice" in submitted(root, "alice").read_bytes()
    assert (outside / "secret.ipynb").read_bytes() == notebook("secret")
    text = report.text()
    assert "2 submission(s)" in text and "skipped" in text and "a FIFO" in text


def test_a_device_is_refused(root, tmp_path):
    source = tmp_path / "inbox"
    (source / "alice").mkdir(parents=True)
    try:
        os.mknod(source / "alice" / f"{LAB}.ipynb", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs CAP_MKNOD")
    report = collect(root, LAB, source)
    assert len(report) == 0
    assert reasons(report)[f"alice/{LAB}.ipynb"] == "a device"


def test_zip_entries_that_escape_link_or_are_too_big(root, tmp_path):
    bundle = tmp_path / "export.zip"
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("alice/lab1_onehot.ipynb", notebook("alice"))
        archive.writestr("/abs/lab1_onehot.ipynb", notebook("abs"))
        archive.writestr("bob/../../lab1_onehot.ipynb", notebook("dotdot"))
        link = zipfile.ZipInfo("carol/lab1_onehot.ipynb")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
        fifo = zipfile.ZipInfo("dave/lab1_onehot.ipynb")
        fifo.external_attr = (stat.S_IFIFO | 0o644) << 16
        archive.writestr(fifo, "")
        archive.writestr("erin/lab1_onehot.ipynb", b" " * (60 << 20))
        archive.writestr("frank/readme.txt", b"hi")
        archive.writestr("C:/windows/lab1_onehot.ipynb", notebook("drive"))
    report = collect(root, LAB, bundle)
    assert [c.student for c in report] == ["alice"]
    why = reasons(report)
    assert why["/abs/lab1_onehot.ipynb"] == "refused: an absolute path"
    assert why["C:/windows/lab1_onehot.ipynb"] == "refused: an absolute path"
    assert why["bob/../../lab1_onehot.ipynb"] == "refused: the path leaves the folder ('..')"
    assert why["carol/lab1_onehot.ipynb"] == "refused: a symbolic link"
    assert why["dave/lab1_onehot.ipynb"] == "refused: a device, FIFO or socket entry"
    assert why["erin/lab1_onehot.ipynb"].startswith("60 MB, over the 50 MB limit")
    assert why["frank/readme.txt"] == "not a notebook (.ipynb)"
    assert not (root / "grading" / "submitted" / "carol").exists()
    assert not (tmp_path / "lab1_onehot.ipynb").exists()


def test_a_copy_stops_at_the_limit_whatever_the_header_said(tmp_path):
    import io

    with pytest.raises(ValueError, match="limit"):
        nofollow.write_file(tmp_path, ["x.ipynb"], io.BytesIO(b" " * 5000), limit=1000)
    assert list(tmp_path.iterdir()) == []


def test_two_students_one_id_are_both_kept_until_the_ta_chooses(root, tmp_path, capsys):
    source = tmp_path / "inbox"
    for name in ("Alice Smith", "Alice, Smith"):
        (source / name).mkdir(parents=True)
        (source / name / f"{LAB}.ipynb").write_bytes(notebook(name))
    args = ["--course-dir", str(root), "collect", LAB, str(source)]
    assert cli.main(args) == 1
    out = capsys.readouterr().out
    assert "collision: 2 students give the id 'Alice-Smith'" in out
    assert "--id 'Alice Smith=<id>' --id 'Alice, Smith=<id>'" in out
    assert not submitted(root, "Alice-Smith").parent.exists()
    kept = root / "grading" / "conflicts" / LAB / "Alice-Smith"
    bodies = sorted((kept / n / f"{LAB}.ipynb").read_bytes() for n in ("1", "2"))
    assert bodies == sorted([notebook("Alice Smith"), notebook("Alice, Smith")])
    assert (kept / "1" / "timestamp.txt").is_file() and (kept / "2" / "source.txt").is_file()

    choose = ["--id", "Alice Smith=asmith", "--id", "Alice, Smith=asmith2"]
    assert cli.main(args + choose) == 0
    assert submitted(root, "asmith").read_bytes() == notebook("Alice Smith")
    assert submitted(root, "asmith2").read_bytes() == notebook("Alice, Smith")
    assert not kept.exists(), "a collision settled is no longer kept"
    assert cli.main(args + ["--id", "Alice Smith=../x"]) == 2
    assert "--id" in capsys.readouterr().err


def test_canvas_students_with_the_same_name_collide(root, tmp_path):
    bundle = tmp_path / "canvas.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("alice_11_901_lab1_onehot.ipynb", notebook("alice 11"))
        archive.writestr("alice_LATE_11_902_lab1_onehot-1.ipynb", notebook("alice 11 late"))
        archive.writestr("alice_22_903_lab1_onehot.ipynb", notebook("alice 22"))
    report = collect(root, LAB, bundle)
    assert len(report) == 0
    (clash,) = report.collisions
    assert clash.student == "alice" and sorted(k for k, _ in clash.claims) == [
        "alice_11",
        "alice_22",
    ]
    assert len(report.skipped) == 1 and "older than" in report.skipped[0].reason


def test_collect_writes_through_no_link_in_grading(root, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.ipynb").write_bytes(b"untouched")
    source = tmp_path / "inbox"
    for student in ("bob", "carol"):
        (source / student).mkdir(parents=True)
        (source / student / f"{LAB}.ipynb").write_bytes(notebook(student))
    (root / "grading" / "submitted").mkdir(parents=True)
    (root / "grading" / "submitted" / "bob").symlink_to(elsewhere, target_is_directory=True)
    (root / "grading" / "submitted" / "carol" / LAB).mkdir(parents=True)
    submitted(root, "carol").symlink_to(elsewhere / "keep.ipynb")
    report = collect(root, LAB, source)
    assert [c.student for c in report] == ["carol"]
    assert "is a link or not a folder" in reasons(report)[f"bob/{LAB}.ipynb"]
    assert sorted(p.name for p in elsewhere.iterdir()) == ["keep.ipynb"]
    assert (elsewhere / "keep.ipynb").read_bytes() == b"untouched"
    assert not submitted(root, "carol").is_symlink()
    assert submitted(root, "carol").read_bytes() == notebook("carol")


def test_keep_existing_is_reported(root, tmp_path):
    source = tmp_path / "inbox" / "alice"
    source.mkdir(parents=True)
    (source / f"{LAB}.ipynb").write_bytes(notebook("first"))
    assert len(collect(root, LAB, source.parent)) == 1
    (source / f"{LAB}.ipynb").write_bytes(notebook("second"))
    report = collect(root, LAB, source.parent, replace=False)
    assert len(report) == 0 and "--keep-existing" in report.skipped[0].reason
    assert submitted(root, "alice").read_bytes() == notebook("first")
