"""``course collect LAB SOURCE``: submissions from a folder or an LMS zip into nbgrader's layout.

Each notebook found becomes ``grading/submitted/<student>/<lab>/<lab>.ipynb`` (with a
``timestamp.txt`` from the file's time). The student id is the first folder of the entry's
path (``alice/lab1_onehot.ipynb``, Moodle's ``Alice Smith_123_assignsubmission_file_/``
gives ``123``), or, for a flat file, the part of its name before the first ``_`` (Canvas:
``alice_123_456_lab1_onehot.ipynb`` gives ``alice``). The source is only read; a student
with several notebooks gets the newest; ids are reduced to letters, digits, ``.-_``.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from course_utils.ta.layout import Layout
from course_utils.ta.lock import GradingLock

__all__ = ["Collected", "collect", "student_id"]

_MOODLE = re.compile(r"^.*_(\d+)_assignsubmission_\w+_?$")
_MAX_BYTES = 50 << 20


@dataclass
class Collected:
    student: str
    source: str
    path: Path


def student_id(entry: str) -> str | None:
    """The student id an LMS export gives to one notebook path, or ``None``."""
    parts = PurePosixPath(entry.replace("\\", "/")).parts
    parts = tuple(p for p in parts if p not in ("", ".", "/"))
    if not parts or ".." in parts or parts[-1].startswith("."):
        return None
    if len(parts) > 1:
        raw = parts[0]
        match = _MOODLE.match(raw)
        raw = match.group(1) if match else raw
    else:
        raw = parts[0].split("_", 1)[0] if "_" in parts[0] else PurePosixPath(parts[0]).stem
    clean = re.sub(r"[^A-Za-z0-9._-]+", "-", raw).strip("-.")
    return clean or None


def _entries(source: Path, workdir: Path) -> list[tuple[str, Path, float]]:
    """(relative path, readable file, mtime) of every notebook in a folder or a zip."""
    found = []
    if source.is_dir():
        for path in sorted(source.rglob("*.ipynb")):
            if ".ipynb_checkpoints" in path.parts:
                continue
            found.append((path.relative_to(source).as_posix(), path, path.stat().st_mtime))
        return found
    with zipfile.ZipFile(source) as archive:
        for number, info in enumerate(archive.infolist()):
            name = info.filename
            if info.is_dir() or not name.endswith(".ipynb") or "__MACOSX" in name:
                continue
            if ".ipynb_checkpoints" in name or info.file_size > _MAX_BYTES:
                continue
            target = workdir / f"{number}.ipynb"  # never the entry's own path (zip slip)
            with archive.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
            when = dt.datetime(*info.date_time).timestamp()
            found.append((name, target, when))
    return found


def collect(root: Path, lab: str, source: Path, replace: bool = True) -> list[Collected]:
    """Copy the notebooks of ``source`` (folder or zip) into ``grading/submitted``."""
    layout = Layout(root)
    if not source.exists():
        raise FileNotFoundError(f"{source} does not exist")
    if source.is_file() and not zipfile.is_zipfile(source):
        raise ValueError(f"{source} is neither a folder nor a zip file")
    with (
        GradingLock(layout.lock_file, f"course collect {lab}"),
        tempfile.TemporaryDirectory() as tmp,
    ):
        newest: dict[str, tuple[str, Path, float]] = {}
        for entry, path, when in _entries(source, Path(tmp)):
            student = student_id(entry)
            if student is None:
                continue
            if student not in newest or when > newest[student][2]:
                newest[student] = (entry, path, when)
        collected = []
        for student, (entry, path, when) in sorted(newest.items()):
            folder = layout.submitted / student / lab
            target = folder / f"{lab}.ipynb"
            if target.exists() and not replace:
                continue
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            stamp = dt.datetime.fromtimestamp(when, dt.timezone.utc)
            (folder / "timestamp.txt").write_text(stamp.strftime("%Y-%m-%d %H:%M:%S.%f %Z"))
            collected.append(Collected(student, entry, target))
        return collected
