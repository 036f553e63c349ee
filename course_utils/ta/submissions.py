"""The notebooks of an LMS download (a folder or a zip): whose each is, or why it is skipped.

Whose: the first folder of the entry's path (``alice/lab1_onehot.ipynb``; Moodle's
``Alice Smith_123_assignsubmission_file_/`` gives ``123``) or, for a flat file, the part of its
name before the first ``_`` (Canvas: ``alice_123_456_lab1_onehot.ipynb`` gives ``alice``). The
*key* tells people apart: the folder name, Moodle's number, or Canvas's name and user number
(``alice_123``), so two Canvas students both called ``alice`` are two keys for one id. Ids keep
letters, digits and ``._-``.
"""

from __future__ import annotations

import datetime as dt
import re
import stat
import zipfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from course_utils.ta import nofollow

__all__ = [
    "MAX_BYTES",
    "Candidate",
    "Skipped",
    "clean_id",
    "identity",
    "student_id",
    "from_folder",
    "from_zip",
    "unwanted",
]

MAX_BYTES = 50 << 20
_MOODLE = re.compile(r"^.*_(\d+)_assignsubmission_\w+_?$")
_CANVAS = re.compile(r"^([^_]+)_(?:late_)?(\d+)_\d+_.+$", re.IGNORECASE)
_NOT_ID = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Candidate:
    """A notebook that may become a submission: where it is, whose, when, how to read it."""

    entry: str
    key: str
    raw_id: str
    when: float
    open: Callable[[], AbstractContextManager[BinaryIO]]


@dataclass
class Skipped:
    entry: str
    reason: str


def clean_id(raw: str) -> str | None:
    """``raw`` reduced to a student id (letters, digits, ``._-``), or ``None`` if none is left."""
    return _NOT_ID.sub("-", raw).strip("-.") or None


def _parts(entry: str) -> tuple[str, ...]:
    parts = PurePosixPath(entry.replace("\\", "/")).parts
    return tuple(p for p in parts if p not in ("", ".", "/"))


def identity(entry: str) -> tuple[str, str] | None:
    """(key, raw id) of the person an LMS path belongs to (see the module's docstring)."""
    parts = _parts(entry)
    if not parts or ".." in parts or parts[-1].startswith("."):
        return None
    if len(parts) > 1:
        match = _MOODLE.match(parts[0])
        raw = match.group(1) if match else parts[0]
        return raw, raw
    canvas = _CANVAS.match(parts[0])
    if canvas:
        return f"{canvas.group(1)}_{canvas.group(2)}", canvas.group(1)
    raw = parts[0].split("_", 1)[0] if "_" in parts[0] else PurePosixPath(parts[0]).stem
    return raw, raw


def student_id(entry: str) -> str | None:
    """The student id an LMS export gives to one notebook path, or ``None``."""
    found = identity(entry)
    return clean_id(found[1]) if found else None


def unwanted(relative: str) -> str | None:
    """Why an entry is no submission (before it is read), or ``None``."""
    parts = _parts(relative)
    if "__MACOSX" in parts:
        return "macOS metadata, not a submission"
    if ".ipynb_checkpoints" in parts:
        return "a Jupyter checkpoint copy, not the submission"
    if any(p.startswith(".") for p in parts):
        return "a hidden file or folder"
    if not relative.endswith("/") and not relative.endswith(".ipynb"):
        return "not a notebook (.ipynb)"
    return None


def _too_big(size: int) -> str | None:
    if size > MAX_BYTES:
        return f"{size / (1 << 20):.0f} MB, over the {MAX_BYTES >> 20} MB limit for a notebook"
    return None


def from_folder(source: Path) -> tuple[list[Candidate], list[Skipped]]:
    """The notebooks below ``source``, no link followed; everything else is a ``Skipped``."""
    candidates, skipped = [], []
    for found in nofollow.walk(source, prune=unwanted):
        why = found.refused or unwanted(found.relative) or _too_big(found.info.st_size)
        if why:
            skipped.append(Skipped(found.relative, why))
        else:
            who = identity(found.relative)
            if who is None:
                skipped.append(Skipped(found.relative, "no student id in the path"))
            else:
                opener = (lambda f: lambda: nofollow.open_file(f))(found)
                candidates.append(Candidate(found.relative, *who, found.info.st_mtime, opener))
    return candidates, skipped


def _zip_refusal(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    parts = name.replace("\\", "/").split("/")
    mode = info.external_attr >> 16
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "refused: an absolute path"
    if ".." in parts:
        return "refused: the path leaves the folder ('..')"
    if stat.S_ISLNK(mode):
        return "refused: a symbolic link"
    if mode and stat.S_IFMT(mode) and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        return "refused: a device, FIFO or socket entry"
    if info.flag_bits & 0x1:
        return "refused: encrypted"
    return None


def from_zip(source: Path, workdir: Path) -> tuple[list[Candidate], list[Skipped]]:
    """The notebooks of a zip, each extracted to ``workdir`` (never to the entry's own path)."""
    candidates, skipped = [], []
    with zipfile.ZipFile(source) as archive:
        for number, info in enumerate(archive.infolist()):
            if info.is_dir() and _zip_refusal(info) is None:
                continue
            why = _zip_refusal(info) or unwanted(info.filename) or _too_big(info.file_size)
            who = identity(info.filename)
            if not why and who is None:
                why = "no student id in the path"
            if why:
                skipped.append(Skipped(info.filename, why))
                continue
            target = workdir / f"{number}.ipynb"
            try:
                with archive.open(info) as src:
                    nofollow.write_file(workdir, [target.name], src, MAX_BYTES)
            except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
                skipped.append(Skipped(info.filename, f"could not be read from the zip: {err}"))
                continue
            when = dt.datetime(*info.date_time).timestamp()
            opener = (lambda t: lambda: open(t, "rb"))(target)
            candidates.append(Candidate(info.filename, *who, when, opener))
    return candidates, skipped
