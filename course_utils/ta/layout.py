"""Where grading keeps its files: one source of paths, built from the nbgrader configuration."""

from __future__ import annotations

import copy
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
    config: Any = field(default=None, repr=False, compare=False)  # default: the course's
    _dirs: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        from nbgrader.coursedir import CourseDirectory

        from course_utils import course

        config = self.config if self.config is not None else course.load_config(self.root)
        object.__setattr__(self, "config", config)
        object.__setattr__(self, "_dirs", CourseDirectory(config=config))

    def _folder(self, step: str, student: str = ".", lab: str = ".") -> Path:
        """nbgrader's folder of ``step``, resolved (the course may sit behind a link), and in it
        the student's and the lab's folders as named: a link there is never followed."""
        top = Path(self._dirs.format_path(step, ".", "."))
        return top.resolve() / os.path.relpath(self._dirs.format_path(step, student, lab), top)

    def redirected(self, submitted: Path, autograded: Path) -> Layout:
        """This course with nbgrader's submitted and autograded folders elsewhere (a grading
        worker's scratch space), as the worker configures nbgrader for one submission."""
        config = copy.deepcopy(self.config)
        config.CourseDirectory.submitted_directory = str(submitted)
        config.CourseDirectory.autograded_directory = str(autograded)
        return Layout(self.root, config)

    @property
    def source(self) -> Path:
        """The instructor notebooks' folder (nbgrader's source directory)."""
        return self._folder(self._dirs.source_directory)

    def labs(self) -> list[str]:
        """Names of the labs: the folders of the source folder holding a notebook of that name."""
        return sorted(p.name for p in self.source.iterdir() if (p / f"{p.name}.ipynb").is_file())

    def release_notebook(self, lab: str) -> Path:
        """The student version of a lab (nbgrader's release directory: ``labs/``)."""
        return self._folder(self._dirs.release_directory, ".", lab) / f"{lab}.ipynb"

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

    def run_folder(self, run_id: str) -> Path:
        """One grading run's staging folder."""
        return self.staging / run_id

    @staticmethod
    def staged(run_folder: Path, student: str, lab: str) -> Path:
        """Where a worker leaves one graded submission in a run's staging folder."""
        return run_folder / student / lab

    @property
    def trash(self) -> Path:
        return self.grading / ".trash"

    @property
    def gradebook_release(self) -> Path:
        """Where the autograder generates a lab the gradebook lacks, leaving ``labs/`` alone."""
        return self.grading / ".release"

    def conflicts(self, lab: str, student: str | None = None) -> Path:
        """Where ``course collect`` keeps the submissions that claim the same student id."""
        folder = self.grading / "conflicts" / lab
        return folder if student is None else folder / student

    def parts(self, path: Path) -> list[str]:
        """``path`` as folder names under ``grading`` (for ``nofollow``, which walks them)."""
        return list(path.relative_to(self.grading).parts)

    @property
    def lock_file(self) -> Path:
        return self.grading / ".grading.lock"

    @property
    def release_bundles(self) -> Path:
        """Where ``course release`` writes the zips for students."""
        return self.grading / "release"

    def export_file(self, fmt: str) -> Path:
        """Where ``course export`` writes a format by default: ``grades.csv``, ``<fmt>.csv``."""
        return self.grading / ("grades.csv" if fmt == "csv" else f"{fmt}.csv")

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

    def log_file(self, lab: str, student: str) -> Path:
        """nbgrader's log of one student's grading (``_reference``: the reference run's)."""
        return self.log_dir(lab) / f"{student}.log"

    def submission(self, student: str, lab: str) -> Path:
        return self._folder(self._dirs.submitted_directory, student, lab) / f"{lab}.ipynb"

    def autograded_notebook(self, student: str, lab: str) -> Path:
        return self.autograded_folder(student, lab) / f"{lab}.ipynb"

    def autograded_folder(self, student: str, lab: str) -> Path:
        return self._folder(self._dirs.autograded_directory, student, lab)

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
