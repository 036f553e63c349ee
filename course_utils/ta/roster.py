"""``course roster FILE.csv``: students into the gradebook (nbgrader's ``db student add``).

The CSV needs a column ``id`` (or ``student_id``, ``username``, ``login``); ``first_name``,
``last_name``, ``email`` and ``lms_user_id`` are used when present.
"""

from __future__ import annotations

import csv
from pathlib import Path

from nbgrader.api import Gradebook

from course_utils import course

__all__ = ["import_roster"]

_ID_COLUMNS = ("id", "student_id", "username", "login")
_FIELDS = ("first_name", "last_name", "email", "lms_user_id")


def import_roster(root: Path, csv_path: Path) -> list[str]:
    """Add or update every student of the CSV; returns their ids."""
    with open(csv_path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = {c.strip().lower(): c for c in reader.fieldnames or []}
        id_column = next((columns[c] for c in _ID_COLUMNS if c in columns), None)
        if id_column is None:
            raise ValueError(f"{csv_path}: no id column (one of {', '.join(_ID_COLUMNS)})")
        students = []
        for row in reader:
            student = (row.get(id_column) or "").strip()
            if student:
                fields = {f: row[columns[f]].strip() for f in _FIELDS if f in columns}
                students.append((student, {k: v for k, v in fields.items() if v}))
    course.use_env_tools()  # a new gradebook runs alembic
    with Gradebook(course.load_config(root).CourseDirectory.db_url) as gb:
        for student, fields in students:
            gb.update_or_create_student(student, **fields)
    return [s for s, _ in students]
