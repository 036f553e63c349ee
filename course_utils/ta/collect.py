"""``course collect LAB SOURCE|--exchange``: submissions into nbgrader's layout, none lost unsaid.

Each notebook collected becomes ``grading/submitted/<student>/<lab>/<lab>.ipynb`` with a
``timestamp.txt`` (nbgrader reads it for late penalties): from an LMS download (a folder or a
zip, see ``submissions``) or from nbgrader's exchange (see ``exchange``). The source is only
read and no link is followed, in it or under ``grading/``. Every entry left out is in the
report with its reason; a student with several notebooks gets the newest, the others are
reported. When several students (keys) would get the same id, none of them is written: all are
kept under ``grading/conflicts/<lab>/<id>/`` until the TA gives ids with ``--id KEY=ID``.
"""

from __future__ import annotations

import datetime as dt
import shlex
import tempfile
import zipfile
from collections import defaultdict
from pathlib import Path

from course_utils.ta import exchange as nbexchange
from course_utils.ta import nofollow
from course_utils.ta.collect_report import Collected, Collision, Report
from course_utils.ta.layout import Layout
from course_utils.ta.lock import GradingLock
from course_utils.ta.submissions import (
    MAX_BYTES,
    Candidate,
    Skipped,
    clean_id,
    from_folder,
    from_zip,
    student_id,
)

__all__ = ["Collected", "Report", "collect", "parse_ids", "student_id"]


def parse_ids(pairs: list[str] | None) -> dict[str, str]:
    """``["KEY=ID", ...]`` (the ``--id`` options) as a dict, each ID checked to be a clean id."""
    ids = {}
    for pair in pairs or []:
        key, sep, chosen = pair.rpartition("=")
        if not sep or not key or clean_id(chosen) != chosen:
            raise ValueError(f"--id {pair!r}: write KEY=ID, ID made of letters, digits, '._-'")
        ids[key] = chosen
    return ids


def _stamp(when: float) -> str:
    return dt.datetime.fromtimestamp(when, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f %Z")


def _newest(candidates: list[Candidate], report: Report) -> list[Candidate]:
    """One candidate per key, the newest; the others reported."""
    by_key: dict[str, list[Candidate]] = defaultdict(list)
    for candidate in candidates:
        by_key[candidate.key].append(candidate)
    chosen = []
    for key, group in by_key.items():
        group.sort(key=lambda c: (c.when, c.entry), reverse=True)
        chosen.append(group[0])
        for older in group[1:]:
            report.skip(older.entry, f"older than {group[0].entry}, which is collected for {key!r}")
    return chosen


def _write(layout: Layout, notebook: Path, candidate: Candidate) -> None:
    """The submission as ``notebook`` and its ``timestamp.txt`` beside it, under ``grading/``
    and never through a link."""
    folder = layout.parts(notebook.parent)
    with candidate.open() as source:
        nofollow.write_file(layout.grading, [*folder, notebook.name], source, MAX_BYTES)
    stamp = _stamp(candidate.when).encode()
    nofollow.write_file(layout.grading, [*folder, "timestamp.txt"], stamp, MAX_BYTES)


def _keep_conflict(layout: Layout, lab: str, student: str, group: list[Candidate]) -> Collision:
    kept = layout.conflicts(lab, student)
    nofollow.remove(layout.grading, layout.parts(kept))
    for number, candidate in enumerate(group, 1):
        folder = kept / str(number)
        _write(layout, folder / f"{lab}.ipynb", candidate)
        note = f"key: {candidate.key}\nentry: {candidate.entry}\n".encode()
        nofollow.write_file(layout.grading, [*layout.parts(folder), "source.txt"], note, MAX_BYTES)
    claims = [(c.key, c.entry) for c in group]
    return Collision(student, claims, kept)


def _gather(
    source: Path | None, exchange: Path | None, lab: str, tmp: Path
) -> tuple[list[Candidate], list[Skipped]]:
    if exchange is not None:
        return nbexchange.from_exchange(exchange, lab)
    assert source is not None
    return from_folder(source) if source.is_dir() else from_zip(source, tmp)


def collect(
    root: Path,
    lab: str,
    source: Path | None = None,
    replace: bool = True,
    *,
    exchange: Path | bool | None = None,
    ids: dict[str, str] | None = None,
) -> Report:
    """Collect ``source`` (folder or zip) or, with ``exchange``, nbgrader's exchange (``True``:
    the configured one) into ``grading/submitted``; ``ids`` maps keys to chosen ids."""
    layout, ids = Layout(root), ids or {}
    if (source is None) == (exchange is None):
        raise ValueError("give a SOURCE (a folder or a zip) or --exchange [DIR], not both")
    if exchange is not None:
        exchange = nbexchange.inbound(root, None if exchange is True else Path(exchange))
        command = f"course collect {lab} --exchange {shlex.quote(str(exchange.parents[1]))}"
    else:
        assert source is not None
        if not source.exists():
            raise FileNotFoundError(f"{source} does not exist")
        if source.is_file() and not zipfile.is_zipfile(source):
            raise ValueError(f"{source} is neither a folder nor a zip file")
        command = f"course collect {lab} {shlex.quote(str(source))}"
    report = Report(lab, command)
    with (
        GradingLock(layout.lock_file, f"course collect {lab}"),
        tempfile.TemporaryDirectory() as tmp,
    ):
        candidates, report.skipped = _gather(source, exchange, lab, Path(tmp))
        by_id: dict[str, list[Candidate]] = defaultdict(list)
        for candidate in _newest(candidates, report):
            student = ids.get(candidate.key) or clean_id(candidate.raw_id)
            if student is None:
                hint = f"give one with --id {shlex.quote(candidate.key + '=<id>')}"
                report.skip(candidate.entry, f"no usable student id in {candidate.key!r}; {hint}")
            else:
                by_id[student].append(candidate)
        for student, group in sorted(by_id.items()):
            _place(layout, lab, student, group, replace, report)
        _clear_resolved(layout, lab, report)
    return report


def _clear_resolved(layout: Layout, lab: str, report: Report) -> None:
    """Delete the kept collisions whose students this run has all collected."""
    folder = layout.conflicts(lab)
    if folder.is_symlink() or not folder.is_dir():
        return
    done = {c.key for c in report.collected}
    clashing = {c.student for c in report.collisions}
    for kept in sorted(folder.iterdir()):
        if kept.name in clashing or kept.is_symlink() or not kept.is_dir():
            continue
        keys = set()
        for number in kept.iterdir():
            note = number / "source.txt"
            if not number.is_symlink() and note.is_file() and not note.is_symlink():
                lines = note.read_text(encoding="utf-8").splitlines()
                keys |= {line[5:] for line in lines if line.startswith("key: ")}
        if keys and keys <= done:
            nofollow.remove(layout.grading, layout.parts(kept))


def _place(
    layout: Layout, lab: str, student: str, group: list[Candidate], replace: bool, report: Report
) -> None:
    """Write one student's submission, or keep all of a collision aside."""
    try:
        if len(group) > 1:
            report.collisions.append(_keep_conflict(layout, lab, student, group))
            return
        (candidate,) = group
        target = layout.submission(student, lab)
        if not replace and target.exists():
            report.skip(candidate.entry, f"{student} already has one (--keep-existing)")
            return
        _write(layout, target, candidate)
        stamp = _stamp(candidate.when)
        report.collected.append(Collected(student, candidate.entry, target, stamp, candidate.key))
    except (OSError, ValueError) as err:
        for candidate in group:
            report.skip(candidate.entry, f"not written: {err}")
