"""Where grading keeps its files: one source of paths, built from the nbgrader configuration."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Layout", "atomic_write", "sha256_file"]


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
    """Paths of one course's grading files, from its nbgrader configuration.

    nbgrader's own folders (submitted, autograded, feedback, the gradebook) are where
    ``nbgrader_config.py`` puts them, through nbgrader's ``CourseDirectory.format_path``; the
    TA command's own (ledger, logs, judge, staging, lock) sit beside them in the same
    ``grading/`` folder.
    """

    root: Path
    _dirs: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        from nbgrader.coursedir import CourseDirectory

        from course_utils import course

        config = course.load_config(self.root)
        object.__setattr__(self, "_dirs", CourseDirectory(config=config))

    def _folder(self, step: str, student: str = ".", lab: str = ".") -> Path:
        return Path(self._dirs.format_path(step, student, lab)).resolve()

    @property
    def grading(self) -> Path:
        """The folder every per-class file goes under (the submitted folder's parent)."""
        return self.submitted.parent

    @property
    def submitted(self) -> Path:
        return self._folder(self._dirs.submitted_directory)

    @property
    def autograded(self) -> Path:
        return self._folder(self._dirs.autograded_directory)

    @property
    def feedback(self) -> Path:
        return self._folder(self._dirs.feedback_directory)

    @property
    def db_url(self) -> str:
        return self._dirs.db_url

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

    @property
    def release_bundles(self) -> Path:
        """Where ``course release`` writes the zips for students."""
        return self.grading / "release"

    @property
    def guides(self) -> Path:
        """Where ``course guide`` writes the graders' guides."""
        return self.grading / "guide"

    def judge_file(self, lab: str, fingerprint: str) -> Path:
        """The reference run's reports for one version of a lab and of the grader."""
        return self.grading / "judge" / lab / f"{fingerprint[:16]}.json"

    def ledger_dir(self, lab: str) -> Path:
        return self.grading / "ledger" / lab

    def log_dir(self, lab: str) -> Path:
        return self.grading / "logs" / lab

    def submission(self, student: str, lab: str) -> Path:
        return self._folder(self._dirs.submitted_directory, student, lab) / f"{lab}.ipynb"

    def autograded_notebook(self, student: str, lab: str) -> Path:
        return self._folder(self._dirs.autograded_directory, student, lab) / f"{lab}.ipynb"

    def students_with_submissions(self, lab: str) -> list[str]:
        """Students with a folder ``<submitted>/<student>/<lab>/``, sorted."""
        if not self.submitted.is_dir():
            return []
        return sorted(p.name for p in self.submitted.iterdir() if (p / lab).is_dir())

    def source_notebook(self, lab: str) -> Path:
        return self._folder(self._dirs.source_directory, ".", lab) / f"{lab}.ipynb"

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
