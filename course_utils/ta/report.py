"""``course export`` and ``course audit``: the grades CSV and what happened to each submission.

Scores come from nbgrader's gradebook; the ``status`` and ``flags`` columns from the ledger,
so a failed, tampered, timed-out or stale grading is visible next to its score.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nbgrader.api import Gradebook, MissingEntry

from course_utils import course
from course_utils.ta import csvsafe, ledger
from course_utils.ta.events import FLAGS
from course_utils.ta.layout import Layout, sha256_file

__all__ = ["rows", "export_csv", "audit", "audit_text", "COLUMNS"]

COLUMNS = [
    "assignment",
    "student_id",
    "last_name",
    "first_name",
    "email",
    "timestamp",
    "raw_score",
    "late_submission_penalty",
    "score",
    "max_score",
    "needs_manual_grade",
    "status",
    "flags",
]


def _status(layout: Layout, lab: str, student: str) -> tuple[str, list[str], Any]:
    entry = ledger.read(layout, lab, student)
    submission = layout.submission(student, lab)
    if not submission.is_file():
        return ("missing", [], entry) if entry is None else ("stale", ["stale"], entry)
    if entry is None:
        return "not graded", ["stale"], None
    flags = list(entry.flags)
    if entry.status != "graded" and "failed" not in flags:
        flags.append("failed")
    if entry.submission_sha256 != sha256_file(submission):
        flags.append("stale")
    return entry.status, sorted(set(flags)), entry


def rows(root: Path, labs: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per student and lab: scores, status, flags."""
    layout = Layout(root)
    labs = labs or layout.labs()
    out: list[dict[str, Any]] = []
    db_url = layout.db_url
    course.use_env_tools()  # a new gradebook runs alembic
    with Gradebook(db_url) as gb:
        students = {s.id: s for s in gb.students}
        for lab in labs:
            try:
                assignment = gb.find_assignment(lab)
            except MissingEntry:
                continue
            names = sorted(set(students) | set(layout.students_with_submissions(lab)))
            for student in names:
                record = students.get(student)
                status, flags, _ = _status(layout, lab, student)
                row: dict[str, Any] = {
                    "assignment": lab,
                    "student_id": student,
                    "last_name": getattr(record, "last_name", "") or "",
                    "first_name": getattr(record, "first_name", "") or "",
                    "email": getattr(record, "email", "") or "",
                    "timestamp": "",
                    "raw_score": 0.0,
                    "late_submission_penalty": 0.0,
                    "score": 0.0,
                    "max_score": assignment.max_score,
                    "needs_manual_grade": False,
                    "status": status,
                    "flags": ";".join(flags),
                    "lms_user_id": getattr(record, "lms_user_id", "") or "",  # not in COLUMNS
                }
                try:
                    sub = gb.find_submission(lab, student)
                    row.update(
                        timestamp=sub.timestamp or "",
                        raw_score=sub.score,
                        late_submission_penalty=sub.late_submission_penalty,
                        score=sub.score - sub.late_submission_penalty,
                        needs_manual_grade=sub.needs_manual_grade,
                    )
                except MissingEntry:
                    pass
                out.append(row)
    return out


def export_csv(root: Path, target: Path | None, labs: list[str] | None = None) -> str:
    """Write the grades CSV to ``target`` (or return it as text when ``target`` is None)."""
    table = [COLUMNS] + [[row[column] for column in COLUMNS] for row in rows(root, labs)]
    return csvsafe.write(target, table)


def audit(root: Path, lab: str) -> list[dict[str, Any]]:
    """Per student: status, automatic score, flags with their details, cells never scored."""
    layout = Layout(root)
    report = []
    for student in layout.students_with_submissions(lab):
        status, flags, entry = _status(layout, lab, student)
        cells = entry.cells if entry else {}
        auto = [c for c in cells.values() if c.get("code")]
        report.append(
            {
                "student": student,
                "status": status,
                "auto_score": sum(c.get("auto") or 0 for c in auto),
                "auto_max": sum(c.get("max") or 0 for c in auto),
                "flags": flags,
                "events": entry.events if entry else [],
                "never_scored": entry.never_scored() if entry else [],
                "log": str(layout.log_dir(lab) / f"{student}.log"),
            }
        )
    return report


def audit_text(root: Path, lab: str, only_flagged: bool = False) -> str:
    """The audit as text a TA reads: one block per student, flagged ones first."""
    lines = []
    report = sorted(audit(root, lab), key=lambda r: (not r["flags"], r["student"]))
    for item in report:
        if only_flagged and not item["flags"]:
            continue
        flags = ", ".join(item["flags"]) or "ok"
        lines.append(
            f"{item['student']}: {item['status']}, {item['auto_score']:g}/{item['auto_max']:g} "
            f"automatic points [{flags}]"
        )
        for event in item["events"]:
            where = f" ({event['cell']})" if event.get("cell") else ""
            lines.append(f"    {event['flag']}{where}: {event['detail']}")
        for cell in item["never_scored"]:
            lines.append(f"    never_scored ({cell}): {FLAGS['never_scored']}")
        if item["flags"]:
            lines.append(f"    log: {item['log']}")
    counts = {flag: sum(flag in r["flags"] for r in report) for flag in FLAGS}
    summary = ", ".join(f"{n} {flag}" for flag, n in counts.items() if n)
    lines.append(f"{len(report)} submission(s) of {lab}: {summary or 'nothing flagged'}")
    return "\n".join(lines)
