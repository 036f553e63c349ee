"""The audit trail: one JSON record per graded submission, ``grading/ledger/<lab>/<student>.json``.

A record is written (atomically) only after the graded notebook is in place, so it is the mark
of a finished grading: a submission without a current record is graded again by the next run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from course_utils.ta.layout import Layout, atomic_write, sha256_file

__all__ = ["Entry", "read", "write", "is_current"]


@dataclass
class Entry:
    """What one grading of one submission found."""

    student: str
    lab: str
    status: str
    submission_sha256: str
    fingerprint: str
    graded_at: str
    seconds: float
    events: list[dict[str, Any]]
    cells: dict[str, Any]

    @property
    def flags(self) -> list[str]:
        flags = sorted({e["flag"] for e in self.events})
        never = [
            name
            for name, cell in self.cells.items()
            if cell.get("code") and cell.get("auto") is None and cell.get("manual") is None
        ]
        if never and self.status == "graded":
            flags.append("never_scored")
        return flags

    def never_scored(self) -> list[str]:
        return [
            name
            for name, cell in self.cells.items()
            if cell.get("code") and cell.get("auto") is None and cell.get("manual") is None
        ]


def _path(layout: Layout, lab: str, student: str) -> Path:
    return layout.ledger_dir(lab) / f"{student}.json"


def read(layout: Layout, lab: str, student: str) -> Entry | None:
    """The student's record for ``lab``, or ``None``."""
    path = _path(layout, lab, student)
    try:
        return Entry(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def write(layout: Layout, entry: Entry) -> None:
    atomic_write(_path(layout, entry.lab, entry.student), json.dumps(entry.__dict__, indent=1))


def is_current(layout: Layout, lab: str, student: str, fingerprint: str) -> bool:
    """Graded already, from this very submission and grader (``fingerprint``, computed once
    per run by ``Layout.fingerprint``), and the graded notebook is in place?"""
    entry = read(layout, lab, student)
    submission = layout.submission(student, lab)
    return (
        entry is not None
        and entry.status == "graded"
        and submission.is_file()
        and entry.submission_sha256 == sha256_file(submission)
        and entry.fingerprint == fingerprint
        and layout.autograded_notebook(student, lab).is_file()
    )
