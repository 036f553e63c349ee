"""Submissions from nbgrader's exchange, the folder ``nbgrader submit`` writes to on a JupyterHub.

Layout (nbgrader's ``ExchangeSubmit``/``ExchangeCollect``, nbgrader/exchange/default/): each
submission is a folder ``<exchange>/<course_id>/inbound/<student>+<lab>+<timestamp>+<random>``
(``+<random>`` is absent when ``add_random_string`` is off) holding the student's copy of the
lab folder and a ``timestamp.txt``. As ``nbgrader collect`` does, the timestamp is read from the
folder's name and the latest submission of each student is the one collected. In a submission,
``<lab>.ipynb`` is the notebook (else the newest notebook); nothing is followed or copied that
is a link, a device, a FIFO or a hard link to a file outside that submission's folder.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
from pathlib import Path

from nbgrader.utils import parse_utc

from course_utils import course
from course_utils.ta import nofollow
from course_utils.ta.submissions import MAX_BYTES, Candidate, Skipped, unwanted

__all__ = ["DEFAULT_ROOT", "inbound", "from_exchange"]

DEFAULT_ROOT = Path("/srv/nbgrader/exchange")
_NBGRADER_FILES = {"timestamp.txt", "submission_secret.txt"}
_RANDOM = re.compile(r"[A-Za-z0-9_=-]{12}")


def inbound(root: Path, exchange: Path | None) -> Path:
    """``<exchange>/<course_id>/inbound``: ``exchange``, else the config's, else the default."""
    config = course.load_config(root)
    course_id = config.CourseDirectory.get("course_id", "")
    if not course_id:
        raise ValueError("nbgrader_config.py sets no CourseDirectory.course_id for the exchange")
    if exchange is None:
        exchange = Path(config.Exchange.root) if "root" in config.Exchange else DEFAULT_ROOT
    folder = exchange / course_id / "inbound"
    if not folder.is_dir():
        raise FileNotFoundError(f"no exchange inbound folder {folder} (give --exchange DIR)")
    return folder


def _parse(name: str, lab: str) -> tuple[str, dt.datetime] | None:
    """(student, UTC time) from ``<student>+<lab>+<timestamp>[+<random>]``, else ``None``."""
    marker = f"+{lab}+"
    at = name.find(marker)
    if at <= 0:
        return None
    stamp = name[at + len(marker) :]
    head, _, tail = stamp.rpartition("+")
    if head and _RANDOM.fullmatch(tail):  # nbgrader's 12 random characters (9 bytes, base64)
        stamp = head
    try:
        return name[:at], parse_utc(stamp).replace(tzinfo=dt.timezone.utc)
    except (ValueError, OverflowError):
        return None


def _notebook(folder: Path, lab: str, entry: str) -> tuple[Candidate | None, list[Skipped]]:
    """The notebook of one submission folder, and what in it is skipped."""
    found = nofollow.walk(folder, prune=unwanted)
    skipped, notebooks = [], []
    for item in found:
        why = item.refused or unwanted(item.relative)
        if item.relative in _NBGRADER_FILES and not item.refused:
            continue
        if not why and item.info.st_size > MAX_BYTES:
            why = f"over the {MAX_BYTES >> 20} MB limit for a notebook"
        if why:
            skipped.append(Skipped(f"{entry}/{item.relative}", why))
        else:
            notebooks.append(item)
    if not notebooks:
        return None, skipped + [Skipped(entry, f"no usable notebook in it (expected {lab}.ipynb)")]
    notebooks.sort(key=lambda f: (f.relative == f"{lab}.ipynb", f.info.st_mtime), reverse=True)
    chosen, *others = notebooks
    for other in others:
        reason = f"another notebook of the same submission; {chosen.relative} is collected"
        skipped.append(Skipped(f"{entry}/{other.relative}", reason))
    opener = (lambda f: lambda: nofollow.open_file(f))(chosen)
    return Candidate(f"{entry}/{chosen.relative}", "", "", 0.0, opener), skipped


def from_exchange(folder: Path, lab: str) -> tuple[list[Candidate], list[Skipped]]:
    """One candidate per submission of ``lab`` in the inbound ``folder``, keyed by username."""
    candidates, skipped = [], []
    with os.scandir(folder) as entries:
        names = sorted((e.name, e.stat(follow_symlinks=False).st_mode) for e in entries)
    for name, mode in names:
        if f"+{lab}+" not in name:
            continue  # another lab's submission
        parsed = _parse(name, lab)
        if parsed is None:
            skipped.append(Skipped(name, "no student or readable timestamp in the folder's name"))
        elif stat.S_ISLNK(mode):
            skipped.append(Skipped(name, f"a symbolic link (to {os.readlink(folder / name)})"))
        elif not stat.S_ISDIR(mode):
            skipped.append(Skipped(name, "not a folder"))
        else:
            student, when = parsed
            candidate, inside = _notebook(folder / name, lab, name)
            skipped.extend(inside)
            if candidate is not None:
                candidate.key = candidate.raw_id = student
                candidate.when = when.timestamp()
                candidates.append(candidate)
    return candidates, skipped
