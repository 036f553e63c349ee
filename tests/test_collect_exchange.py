"""``course collect LAB --exchange``: the latest submission per student from nbgrader's exchange."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import nbformat
import pytest
from nbgrader.utils import parse_utc

from course_utils import cli, course
from course_utils.ta import exchange
from course_utils.ta.collect import collect

ROOT = Path(__file__).resolve().parents[1]
LAB = "lab1_onehot"
COURSE_ID = "word-embeddings"  # the course's nbgrader_config.py


def notebook(marker: str) -> bytes:
    cell = nbformat.v4.new_code_cell(f"# {marker}")
    cell.id = "only-cell"
    return nbformat.writes(nbformat.v4.new_notebook(cells=[cell])).encode()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "course"
    (folder / "solutions" / LAB).mkdir(parents=True)
    (folder / course.CONFIG_FILE).write_text((ROOT / course.CONFIG_FILE).read_text())
    (folder / "solutions" / LAB / f"{LAB}.ipynb").write_bytes(notebook("source"))
    return folder


def submit(inbound: Path, name: str, files: dict[str, bytes], age: float = 0) -> Path:
    """A submission folder as ``nbgrader submit`` leaves it (plus its nbgrader files)."""
    folder = inbound / name
    folder.mkdir(parents=True)
    for relative, body in files.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(body)
    (folder / "timestamp.txt").write_text(name.split("+")[-2])
    (folder / "submission_secret.txt").write_text("0" * 128)
    os.utime(folder, (1e9 + age, 1e9 + age))
    return folder


@pytest.fixture
def inbound(tmp_path: Path) -> Path:
    box = tmp_path / "exchange" / COURSE_ID / "inbound"
    nb = f"{LAB}.ipynb"
    # alice's older submission has the newer folder time: the name's timestamp decides
    submit(box, f"alice+{LAB}+2024-03-01 10:00:00.000000 UTC+AAAAAAAAAAAA", {nb: notebook("a1")}, 9)
    submit(box, f"alice+{LAB}+2024-03-02 09:00:00.000000 UTC+BBBBBBBBBBBB", {nb: notebook("a2")})
    submit(box, f"alice+{LAB}+2024-02-28 09:00:00.000000 UTC+CCCCCCCCCCCC", {nb: notebook("a0")})
    submit(box, f"o.brien+{LAB}+2024-03-01 11:00:00.123456 UTC+DDDDDDDDDDDD", {nb: notebook("o")})
    submit(box, f"josé+{LAB}+2024-03-01 13:00:00.000000 CET+EEEEEEEEEEEE", {nb: notebook("j")})
    submit(box, f"bob+{LAB}+2024-03-01 10:00:00.000000 UTC", {nb: notebook("bob")})  # no random
    submit(box, f"a+b+{LAB}+2024-03-01 12:00:00.000000 UTC+FFFFFFFFFFFF", {nb: notebook("a+b")})
    submit(box, f"a-b+{LAB}+2024-03-01 12:00:00.000000 UTC+GGGGGGGGGGGG", {nb: notebook("a-b")})
    gina = {nb: notebook("gina"), "scratch.ipynb": notebook("scratch"), "data.json": b"{}"}
    submit(box, f"gina+{LAB}+2024-03-01 12:00:00.000000 UTC+HHHHHHHHHHHH", gina)
    submit(box, "erin+lab2_cbow+2024-03-01 12:00:00.000000 UTC+IIIIIIIIIIII", {nb: b"other lab"})
    submit(box, f"frank+{LAB}+not a time+JJJJJJJJJJJJ", {nb: notebook("frank")})
    elsewhere = submit(box.parent / "elsewhere", "x+y+z+w", {nb: notebook("elsewhere")})
    (box / f"carol+{LAB}+2024-03-01 12:00:00.000000 UTC+KKKKKKKKKKKK").symlink_to(elsewhere)
    dave = submit(box, f"dave+{LAB}+2024-03-01 12:00:00.000000 UTC+LLLLLLLLLLLL", {})
    (dave / nb).symlink_to(elsewhere / nb)
    return box


def test_the_latest_submission_of_each_student_with_its_timestamp(root, inbound):
    report = collect(root, LAB, exchange=inbound.parents[1])
    got = {c.student: c for c in report}
    assert sorted(got) == ["alice", "bob", "gina", "jos", "o.brien"]
    submitted = root / "grading" / "submitted"
    assert (submitted / "alice" / LAB / f"{LAB}.ipynb").read_bytes() == notebook("a2")
    stamp = (submitted / "alice" / LAB / "timestamp.txt").read_text()
    assert stamp == "2024-03-02 09:00:00.000000 UTC"
    assert parse_utc(stamp) == dt.datetime(2024, 3, 2, 9, 0)  # as nbgrader reads it
    jose = (submitted / "jos" / LAB / "timestamp.txt").read_text()
    assert parse_utc(jose) == dt.datetime(2024, 3, 1, 12, 0), "13:00 CET is 12:00 UTC"
    assert (submitted / "gina" / LAB / f"{LAB}.ipynb").read_bytes() == notebook("gina")
    assert not (submitted / "carol").exists() and not (submitted / "dave").exists()

    why = {s.entry: s.reason for s in report.skipped}
    older = [e for e, r in why.items() if e.startswith("alice+") and "older than" in r]
    assert len(older) == 2
    assert why[f"carol+{LAB}+2024-03-01 12:00:00.000000 UTC+KKKKKKKKKKKK"].startswith(
        "a symbolic link"
    )
    dave = f"dave+{LAB}+2024-03-01 12:00:00.000000 UTC+LLLLLLLLLLLL"
    assert why[f"{dave}/{LAB}.ipynb"].startswith("a symbolic link")
    assert "no usable notebook" in why[dave]
    assert "readable timestamp" in why[f"frank+{LAB}+not a time+JJJJJJJJJJJJ"]
    gina = f"gina+{LAB}+2024-03-01 12:00:00.000000 UTC+HHHHHHHHHHHH"
    assert "another notebook" in why[f"{gina}/scratch.ipynb"]
    assert why[f"{gina}/data.json"] == "not a notebook (.ipynb)"
    assert not any("erin" in e or "timestamp.txt" in e or "secret" in e for e in why)

    (clash,) = report.collisions
    assert clash.student == "a-b" and sorted(k for k, _ in clash.claims) == ["a+b", "a-b"]


def test_exchange_from_the_command_line(root, inbound, capsys):
    args = ["--course-dir", str(root), "collect", LAB, "--exchange", str(inbound.parents[1])]
    assert cli.main(args) == 1  # the a+b / a-b collision waits for a choice
    out = capsys.readouterr().out
    assert "--exchange" in out and "--id 'a+b=<id>'" in out
    assert cli.main(args + ["--id", "a+b=aplusb", "--id", "a-b=aminusb"]) == 0
    assert (root / "grading" / "submitted" / "aplusb" / LAB / f"{LAB}.ipynb").is_file()
    assert cli.main(["--course-dir", str(root), "collect", LAB]) == 2
    assert "not both" in capsys.readouterr().err


def test_the_default_exchange_is_named_when_missing(root, monkeypatch, tmp_path):
    monkeypatch.setattr(exchange, "DEFAULT_ROOT", tmp_path / "srv" / "nbgrader" / "exchange")
    with pytest.raises(FileNotFoundError, match="srv/nbgrader/exchange/word-embeddings/inbound"):
        collect(root, LAB, exchange=True)
