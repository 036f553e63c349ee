"""``course export --format canvas|moodle``: the gradebook as the LMS's own grade import file.

Canvas (its gradebook CSV, what Grades > Export writes and Grades > Import reads; columns from
``GradebookExporter`` in instructure/canvas-lms ``lib/gradebook_exporter.rb``, import rules in
the Canvas Instructor Guide "How do I import grades in the Gradebook?"): the columns ``Student,
ID, SIS User ID, SIS Login ID, Section``, one column per lab, then a second row whose first cell
is ``    Points Possible`` (four spaces, as Canvas writes it) with each lab's maximum. Here
``Student`` is "Last, First", ``ID`` the Canvas user id (the roster's ``lms_user_id``, else
empty), ``SIS User ID`` the student id, ``SIS Login ID`` and ``Section`` empty.

Moodle (grade import from a CSV file, MoodleDocs "Grade import", and ``gradeimport_csv_load_data``
in moodle/moodle ``grade/import/csv/classes/load_data.php``): a header row, one row per student,
identified by a column mapped on import to ``useremail`` or ``useridnumber``; named as Moodle's
own export names them, ``Email address`` or ``ID number`` (the student id), after ``First name``
and ``Last name``; one column per lab. Moodle stops the whole import at a row whose user it
cannot find, so rows without the key, or sharing it with another student, are left out.

A student's row is written only when every lab exported has a final grade (graded, not failed or
stale, nothing left to grade by hand): an empty cell would clear a grade already in the LMS. The
others are listed in the notes with the reason, e.g. to export again lab by lab.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course_utils import course
from course_utils.ta import csvsafe
from course_utils.ta.layout import Layout
from course_utils.ta.report import export_csv, rows

__all__ = ["FORMATS", "MOODLE_KEYS", "target_file", "Export", "export"]

FORMATS = ("csv", "canvas", "moodle")
MOODLE_KEYS = {"email": "Email address", "idnumber": "ID number"}
CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
POINTS_POSSIBLE = "    Points Possible"


@dataclass
class Export:
    text: str
    notes: list[str] = field(default_factory=list)


def _not_final(row: dict[str, Any]) -> str | None:
    """Why a row's score is no grade to send to the LMS, or ``None`` if it is one."""
    flags = set(filter(None, row["flags"].split(";")))
    if row["status"] == "missing":
        return "no submission"
    if row["status"] != "graded" or flags & {"failed", "stale"}:
        return f"{row['status']} [{', '.join(sorted(flags))}], see course audit"
    if row["needs_manual_grade"]:
        return "answers still to grade by hand (Formgrader)"
    return None


def _students(table: list[dict[str, Any]], labs: list[str], notes: list[str]) -> list[dict]:
    """One record per student with a final score for every lab; the rest go to ``notes``."""
    people: dict[str, dict[str, Any]] = {}
    for row in table:
        person = people.setdefault(row["student_id"], {**row, "scores": {}, "why": []})
        why = _not_final(row)
        if why:
            person["why"].append(f"{row['assignment']}: {why}")
        else:
            person["scores"][row["assignment"]] = round(float(row["score"]), 2)
    kept = []
    for student, person in sorted(people.items()):
        missing = [lab for lab in labs if lab not in person["scores"]]
        if person["why"] or missing:
            reasons = person["why"] or [f"{lab}: not in the gradebook" for lab in missing]
            notes.append(f"{student}: left out ({'; '.join(reasons)})")
        else:
            kept.append(person)
    return kept


def _canvas(table: list[dict[str, Any]], labs: list[str], notes: list[str]) -> list[list[Any]]:
    maxima = {row["assignment"]: float(row["max_score"]) for row in table}
    out: list[list[Any]] = [CANVAS_COLUMNS + labs]
    out.append([POINTS_POSSIBLE, "", "", "", ""] + [maxima.get(lab, "") for lab in labs])
    for person in _students(table, labs, notes):
        last, first = person["last_name"], person["first_name"]
        name = f"{last}, {first}" if last and first else last or first or person["student_id"]
        ids = [person.get("lms_user_id") or "", person["student_id"], "", ""]
        out.append([name, *ids] + [person["scores"][lab] for lab in labs])
    return out


def _moodle(
    table: list[dict[str, Any]], labs: list[str], notes: list[str], key: str
) -> list[list[Any]]:
    field_name = "email" if key == "email" else "student_id"
    people = _students(table, labs, notes)
    counts = Counter(p[field_name] for p in people)
    out: list[list[Any]] = [["First name", "Last name", MOODLE_KEYS[key]] + labs]
    for person in people:
        value = person[field_name]
        if not value:
            notes.append(f"{person['student_id']}: left out (no {MOODLE_KEYS[key].lower()})")
        elif counts[value] > 1:
            notes.append(f"{person['student_id']}: left out ({value} is also another student's)")
        else:
            row = [person["first_name"], person["last_name"], value]
            out.append(row + [person["scores"][lab] for lab in labs])
    return out


def target_file(root: Path, fmt: str, to: Path | None = None) -> Path:
    """Where to write: ``to`` (a relative path is from the course root), by default the
    format's file in ``grading/`` (``Layout.export_file``)."""
    if to is None:
        return Layout(root).export_file(fmt)
    return to if to.is_absolute() else root / to


def export(
    root: Path,
    target: Path | None,
    labs: list[str] | None = None,
    fmt: str = "csv",
    moodle_key: str = "email",
) -> Export:
    """Write the grades in format ``fmt`` to ``target`` (None: only return the text)."""
    if fmt == "csv":
        return Export(export_csv(root, target, labs))
    if fmt not in FORMATS or moodle_key not in MOODLE_KEYS:
        raise ValueError(f"unknown format {fmt!r} or Moodle key {moodle_key!r}")
    table = rows(root, labs)
    names = [lab for lab in labs or course.labs(root) if any(r["assignment"] == lab for r in table)]
    notes: list[str] = []
    if fmt == "canvas":
        cells = _canvas(table, names, notes)
    else:
        cells = _moodle(table, names, notes, moodle_key)
    return Export(csvsafe.write(target, cells), notes)
