"""Where grading keeps its files: everything under the course's ``grading/`` folder."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Layout", "sha256_file"]


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes, as hex; never through a link (run as root, a link in a
    submission could point at any file, or at ``/dev/zero``): a link or a special file is
    hashed by what it is, not by what it points at."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        if err.errno != errno.ELOOP:
            raise
        return hashlib.sha256(b"link:" + os.fsencode(os.readlink(path))).hexdigest()
    digest = hashlib.sha256()
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return hashlib.sha256(b"special file").hexdigest()
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Layout:
    """Paths of one course's grading files (nbgrader's folders plus the TA command's own)."""

    root: Path

    @property
    def grading(self) -> Path:
        return self.root / "grading"

    @property
    def submitted(self) -> Path:
        return self.grading / "submitted"

    @property
    def autograded(self) -> Path:
        return self.grading / "autograded"

    @property
    def feedback(self) -> Path:
        return self.grading / "feedback"

    @property
    def staging(self) -> Path:
        """Work folders of running grading jobs; anything here after a run is garbage."""
        return self.grading / ".staging"

    @property
    def trash(self) -> Path:
        return self.grading / ".trash"

    @property
    def lock_file(self) -> Path:
        return self.grading / ".grading.lock"

    def ledger_dir(self, lab: str) -> Path:
        return self.grading / "ledger" / lab

    def log_dir(self, lab: str) -> Path:
        return self.grading / "logs" / lab

    def submission(self, student: str, lab: str) -> Path:
        return self.submitted / student / lab / f"{lab}.ipynb"

    def students_with_submissions(self, lab: str) -> list[str]:
        """Students with a folder ``grading/submitted/<student>/<lab>/``, sorted."""
        if not self.submitted.is_dir():
            return []
        return sorted(p.name for p in self.submitted.iterdir() if (p / lab).is_dir())

    def source_notebook(self, lab: str) -> Path:
        return self.root / "solutions" / lab / f"{lab}.ipynb"

    def fingerprint(self, lab: str) -> str:
        """What a grade depends on besides the submission: the source notebook and the grader."""
        digest = hashlib.sha256(sha256_file(self.source_notebook(lab)).encode())
        here = Path(__file__).resolve().parents[1]
        for module in sorted(here.rglob("*.py")):
            if module.parent.name in {"ta", "course_utils"}:
                digest.update(module.read_bytes())
        return digest.hexdigest()


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
