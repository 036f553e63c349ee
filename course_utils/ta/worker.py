"""A grading worker: grades the submissions it is sent, one at a time, with nbgrader.

Started by ``course autograde`` (``python -m course_utils.ta.worker``), it reads one JSON task
per line on stdin and answers one JSON result per line on stdout. Each submission is graded
by nbgrader's own ``Autograde`` converter into a private staging folder, with the course's
preprocessors swapped for the hardened ones; nbgrader's log goes to a per-student file.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nbformat
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.api import Gradebook
from nbgrader.converters import Autograde
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearOutput,
    DeduplicateIds,
    IgnorePattern,
    LimitOutput,
    OverwriteKernelspec,
)
from traitlets.config import Config

from course_utils.ta import events, isolation, judge, scratch
from course_utils.ta.code_scan import protected_names, scan_code
from course_utils.ta.demo_cells import demo_cells
from course_utils.ta.execution import ResilientExecute
from course_utils.ta.guard_cells import InsertGuards, VerifyGuards
from course_utils.ta.judge import JudgeCells
from course_utils.ta.layout import Layout
from course_utils.ta.protocol import Result, Task
from course_utils.ta.restore import RestoreCells, StripExecutionTags
from course_utils.ta.sandbox import SandboxedKernelManager
from course_utils.ta.scores import AtomicSaveAutoGrades

__all__ = [
    "grade_one",
    "main",
    "cell_scores",
    "gradebook_url",
    "SANITIZE_PREPROCESSORS",
    "AUTOGRADE_PREPROCESSORS",
]

# nbgrader's own lists, with its steps swapped for the hardened ones (as nbgrader names them:
# ``Autograde.sanitize_preprocessors`` and ``Autograde.autograde_preprocessors``).
SANITIZE_PREPROCESSORS = [
    ClearOutput,
    DeduplicateIds,
    OverwriteKernelspec,
    StripExecutionTags,
    RestoreCells,
    CheckCellMetadata,
]
AUTOGRADE_PREPROCESSORS = [
    InsertGuards,
    ResilientExecute,
    VerifyGuards,
    JudgeCells,  # the verdicts: every test cell's outputs replaced by the judge's
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    AtomicSaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]


def gradebook_url(url: str) -> str:
    """SQLite waits for a concurrent writer (other workers) instead of failing at once."""
    if url.startswith("sqlite:") and "timeout=" not in url:
        return url + ("&" if "?" in url else "?") + "timeout=120"
    return url


def reference_run(task: Task) -> Result:
    """Run the lab's reference solution in a submission's sandbox, so that its reports (the
    judge's expected values) are made in the same environment as the students'; writes them
    to ``task.expected``."""
    layout, started = Layout(Path(task.root)), time.monotonic()
    events.drain()
    status = "graded"
    iso = isolation.begin(task)
    try:
        sandbox = iso.sandbox
        sandbox.workdir.mkdir(parents=True, exist_ok=True)
        if sandbox.kernel_uid is not None:
            os.chown(sandbox.workdir, sandbox.kernel_uid, sandbox.kernel_uid)
        timeout = int(task.timeout or layout.config.Execute.timeout or 180)
        judge.reference_records(
            layout.source_notebook(task.lab),
            sandbox.workdir,
            Path(task.expected),
            lambda: SandboxedKernelManager(sandbox=sandbox),
            timeout,
        )
    except Exception as err:  # the TA must see why: the run stops
        status = "failed"
        events.record("failed", f"{type(err).__name__}: {err}".strip()[:2000])
    finally:
        iso.end()
    return Result(task.student, task.lab, status, events.drain(), {}, time.monotonic() - started)


def grade_one(task: Task) -> Result:
    """Autograde one student's lab into ``task.staging``; returns scores and findings."""
    root, lab, student = Path(task.root), task.lab, task.student
    layout = Layout(root)
    with _logging_to(Path(task.log)):
        events.drain()
        started = time.monotonic()
        iso = isolation.begin(task)  # private user, scratch space, watchdog
        try:
            _scan(iso.notebook, layout.source_notebook(lab))
            config = _nbgrader_config(task, iso, layout)
            status = _autograde(config, iso, layout.staged(Path(task.staging), student, lab))
        finally:
            iso.end()
    if not iso.sandbox.isolate:
        events.record("unsandboxed", "graded with --no-sandbox: limits only, no isolation")
    return Result(
        student=student,
        lab=lab,
        status=status,
        events=events.drain(),
        cells=cell_scores(root, lab, student, config.CourseDirectory.db_url),
        seconds=round(time.monotonic() - started, 2),
    )


@contextmanager
def _logging_to(log_file: Path) -> Iterator[None]:
    """nbgrader's and the worker's log lines, to ``log_file`` (one per submission)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file, mode="w")
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    loggers = [logging.getLogger(), logging.getLogger("traitlets")]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
        handler.close()


def _scan(submission: Path, source: Path) -> None:
    """Record what the code scan finds suspicious in the submission."""
    try:
        submitted = nbformat.read(submission, 4)
        protected = protected_names(nbformat.read(source, 4))
        for reason in scan_code(submitted, protected):
            events.record("suspicious", reason)
    except Exception as err:  # an unreadable notebook: nbgrader will say more
        logging.getLogger().warning("could not scan the submission: %s", err)


def _nbgrader_config(task: Task, iso: isolation.Submission, layout: Layout) -> Config:
    """nbgrader's configuration for one submission: its folders in the scratch space, the
    hardened preprocessors, the judge's reports and the kernel's sandbox."""
    config = copy.deepcopy(iso.layout.config)  # submitted and autograded: in the scratch
    config.CourseDirectory.db_url = gradebook_url(config.CourseDirectory.db_url)
    config.CourseDirectory.assignment_id = task.lab
    config.CourseDirectory.student_id = task.student
    config.Autograde.sanitize_preprocessors = SANITIZE_PREPROCESSORS
    config.Autograde.autograde_preprocessors = AUTOGRADE_PREPROCESSORS
    source = layout.source_notebook(task.lab)
    config.RestoreCells.source_notebook = str(source)
    config.ResilientExecute.demo_cells = demo_cells(nbformat.read(source, 4))
    config.JudgeCells.expected = task.expected
    config.SandboxedKernelManager.sandbox = iso.sandbox  # in-process: the object, not its dict
    if task.timeout:
        config.Execute.timeout = int(task.timeout)
    return config


def _autograde(config: Config, iso: isolation.Submission, workdir: Path) -> str:
    """Run nbgrader's ``Autograde`` and publish the graded folder to ``workdir``; the status."""
    try:
        converter = Autograde(coursedir=CourseDirectory(config=config), config=config)
        converter.force = True
        converter.create_student = True
        converter.start()
        iso.publish(workdir)
        if not (workdir / f"{iso.lab}.ipynb").is_file():
            raise RuntimeError("nbgrader wrote no graded notebook")
    except BaseException as err:  # nbgrader reports per-submission failures as one exception
        events.record("failed", f"{type(err).__name__}: {err}".strip()[:300])
        logging.getLogger().error(traceback.format_exc())
        return "failed"
    return "graded"


def cell_scores(root: Path, lab: str, student: str, db_url: str) -> dict[str, Any]:
    """Each graded cell's score and maximum, as the gradebook holds them for ``student``."""
    try:
        with Gradebook(db_url) as gb:
            nb = gb.find_submission_notebook(lab, lab, student)
            return {
                g.name: {
                    "auto": g.auto_score,
                    "manual": g.manual_score,
                    "max": g.max_score,
                    "code": g.cell.cell_type == "code",
                }
                for g in nb.grades
            }
    except Exception:
        return {}


def main() -> None:
    """Serve tasks from stdin until it closes (the parent runs it in its own session)."""
    scratch.private_mounts()  # first, while single-threaded: the scratch mounts stay ours
    out = os.fdopen(os.dup(1), "w")  # results only: kernels inherit fd 1, so point it at stderr
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    for line in sys.stdin:
        if not line.strip():
            continue
        task = Task.from_json(json.loads(line))
        result = reference_run(task) if task.kind == "reference" else grade_one(task)
        out.write(json.dumps(result.to_json()) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
