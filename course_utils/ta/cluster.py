"""``course autograde LAB --scheduler ADDRESS``: grade a class on a Dask cluster (the client).

Every submission is one Dask task (``cluster_task.grade_remote``) that grades it with the
worker code of a local run (``worker.main``, in a grading process of the Dask worker's own:
bubblewrap and limits, guards, restored cells, the judge) on whichever Dask worker runs it.
Nothing is shared through a file system:

* the client sends, once per run, a ``LabBundle`` (the lab's source folder with its hidden
  tests, ``nbgrader_config.py``, the judge's expected reports) and, with each task, the
  submission's folder; the bundle is a task of its own, so a worker that is lost with it is
  recomputed from the scheduler's copy, not lost;
* the worker grades in a private temporary course of its own (its own gradebook, made once
  per bundle), and returns the graded folder, nbgrader's log and the findings;
* the client alone writes the course: it records the returned notebook in the real gradebook
  with nbgrader's own preprocessors (a save-only pass: ``AtomicSaveAutoGrades`` and
  ``AssignLatePenalties``, as ``Autograde`` runs them), then ``autograde`` publishes it and
  writes the ledger, exactly as for a local run.

Faults: a worker that dies mid-grade has its task re-run elsewhere by the scheduler (Dask's
``allowed-failures``, 3 by default, then the submission is failed), and the client records
each submission once, when its one result arrives; Ctrl-C keeps what was recorded; a scheduler
that cannot be reached fails naming the address: within ``REFUSED_GRACE_S`` where its host
refuses the connection (nothing listens on the port), within ``REFUSED_GRACE_S`` +
``CONNECT_TIMEOUT_S`` otherwise.
A worker whose course package differs from the client's (``grader_id``) or that cannot sandbox
refuses the task, and the run stops with its message.

``--scheduler local`` starts a ``LocalCluster`` of ``--jobs`` single-threaded worker processes
(``LOCAL_WORKER_CONFIG``: no statistical profiler, and each worker's grading process started
with it, through ``cluster_task``'s preload hook). On connecting, the client has every worker
start its grading process if it has none, so nbgrader's imports overlap with the client's own
preparation instead of delaying the first task.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import hashlib
import os
import shutil
import socket
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from course_utils import course
from course_utils.ta.cluster_task import (
    INSTALL,
    WorkerRefused,
    grade_remote,
    grader_id,
    read_folder,
    warm,
    write_folder,
)
from course_utils.ta.layout import Layout
from course_utils.ta.protocol import LabBundle, Result, Task

__all__ = [
    "CONNECT_TIMEOUT_S",
    "DaskPool",
    "WorkerRefused",
    "grade_remote",
    "grader_id",
    "make_bundle",
    "record",
]

CONNECT_TIMEOUT_S = 10
REFUSED_GRACE_S = 2  # how long a refused connection is retried (a scheduler just starting)
WORKER_WAIT_S = 300  # how long a run waits for a first worker (a batch job may be queued)
# Dask settings of ``--scheduler local``'s workers: no statistical profiler (it samples every
# thread every 10 ms; nothing reads its figures), and the grading process started with each
# worker (``cluster_task.dask_setup``)
LOCAL_WORKER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.worker.preload": ["course_utils.ta.cluster_task"],
}


# --- the client ------------------------------------------------------------------------------


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise RuntimeError(
            f"--scheduler needs Dask distributed, an optional extra: {INSTALL}"
        ) from None
    return distributed


def _refuse_if_nothing_listens(address: str) -> None:
    """Fail at once where the scheduler's host refuses the connection (nothing listens on that
    port) for ``REFUSED_GRACE_S``, instead of retrying for ``CONNECT_TIMEOUT_S``; a host that
    does not answer within ``REFUSED_GRACE_S`` is left to Dask's own wait."""
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address)
        host, port = parse_host_port(location, default_port=8786)
    except ValueError:
        return  # not an address this can probe: Dask says what is wrong with it
    if scheme not in ("tcp", "tls"):
        return
    deadline = time.monotonic() + REFUSED_GRACE_S
    while True:
        try:
            socket.create_connection((host, port), timeout=REFUSED_GRACE_S).close()
            return
        except ConnectionRefusedError:
            if time.monotonic() >= deadline:
                raise ConnectionRefusedError(f"nothing listens on port {port} of {host}") from None
            time.sleep(0.25)  # a scheduler started a moment ago may not listen yet
        except OSError:
            return  # no route, a timeout, a name that does not resolve: Dask says


class DaskPool:
    """Grades tasks on a Dask cluster; the same ``run``/``close`` as ``autograde._Pool``."""

    def __init__(self, address: str, jobs: int, progress: Callable[[str], None] = print) -> None:
        distributed = _distributed()
        self.address = address
        self.progress = progress
        self.cluster = None
        self.futures: dict[Any, Task] = {}
        try:
            if address == "local":
                import dask

                with dask.config.set(LOCAL_WORKER_CONFIG):  # the nannies pass it on
                    self.cluster = distributed.LocalCluster(
                        n_workers=max(1, jobs),
                        threads_per_worker=1,
                        processes=True,
                        host="127.0.0.1",
                        dashboard_address=None,
                    )
                self.client = distributed.Client(self.cluster, timeout=CONNECT_TIMEOUT_S)
            elif address.endswith(".json") and Path(address).is_file():
                self.client = distributed.Client(scheduler_file=address, timeout=CONNECT_TIMEOUT_S)
            else:
                _refuse_if_nothing_listens(address)
                self.client = distributed.Client(address, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as err:
            if self.cluster is not None:
                self.cluster.close()
            waited = (
                REFUSED_GRACE_S if isinstance(err, ConnectionRefusedError) else CONNECT_TIMEOUT_S
            )
            raise RuntimeError(
                f"cannot reach the Dask scheduler at {address} (waited {waited} s): {err}"
            ) from None
        self._check_workers()

    def _check_workers(self) -> None:
        try:
            self.client.wait_for_workers(1, timeout=1)
        except TimeoutError:
            self.progress(f"waiting up to {WORKER_WAIT_S} s for a Dask worker at {self.address}")
            try:
                self.client.wait_for_workers(1, timeout=WORKER_WAIT_S)
            except TimeoutError:
                self.close()
                raise RuntimeError(
                    f"no Dask worker joined the scheduler at {self.address}"
                ) from None
        mine = grader_id()
        theirs = self.client.run(grader_id)
        wrong = {worker: found for worker, found in theirs.items() if found != mine}
        if wrong:
            self.close()
            listed = "; ".join(f"{w} runs {found}" for w, found in sorted(wrong.items()))
            raise RuntimeError(
                f"refusing to grade: this client runs {mine}, but {listed}. Install the "
                f"client's version on every worker ({INSTALL} at the same commit, or the "
                "same image)"
            )
        # each worker starts its grading process now (a fork, no waiting for its imports), so
        # nbgrader loads there while the client prepares; one that fails tries again per task
        self.client.run(warm, on_error="ignore")

    def run(self, tasks: list[Task]) -> Iterator[Result]:
        """Submit every task; yield each result once, recorded in the client's gradebook."""
        distributed = _distributed()
        if not tasks:
            return
        layout = Layout(Path(tasks[0].root))
        bundle = make_bundle(layout, tasks[0].lab, Path(tasks[0].expected))
        # a task, not scattered data: if the worker holding it dies, it is recomputed
        shared = self.client.submit(_identity, bundle, key=f"lab-bundle-{bundle.key[:16]}")
        workers = len(self.client.scheduler_info(n_workers=-1)["workers"])
        self.progress(
            f"grading {len(tasks)} submission(s) of {bundle.lab} on the Dask cluster at "
            f"{self.address} ({workers} worker(s) now)"
        )
        for task in tasks:
            remote = dataclasses.replace(
                task,
                submission_files=read_folder(layout.submission(task.student, task.lab).parent),
                grader=bundle.grader,
            )
            key = f"grade-{task.lab}-{task.student}-{os.urandom(4).hex()}"
            self.futures[self.client.submit(grade_remote, remote, shared, key=key)] = task
        seen: set[str] = set()
        for future in distributed.as_completed(list(self.futures)):
            task = self.futures.pop(future)
            try:
                result = future.result()
            except WorkerRefused as err:
                self.close(kill=True)
                raise RuntimeError(f"a Dask worker refused to grade: {err}") from None
            except (asyncio.CancelledError, concurrent.futures.CancelledError):
                self.close(kill=True)  # the scheduler went away: not the submission's fault
                raise RuntimeError(
                    f"lost the Dask scheduler at {self.address}: what was graded is recorded; "
                    "run the command again to grade the rest"
                ) from None
            except distributed.KilledWorker as err:
                result = Result.failed(task, f"every Dask worker that graded it died: {err}")
            except Exception as err:  # noqa: BLE001 - reported per submission, like the pool
                result = Result.failed(task, f"the Dask task failed: {type(err).__name__}: {err}")
            future.release()
            if task.student in seen:  # one result per submission, whatever the scheduler did
                continue
            seen.add(task.student)
            yield _receive(layout, task, result)
        shared.release()

    def close(self, kill: bool = False) -> None:
        with contextlib.suppress(Exception):
            if kill and self.futures:
                self.client.cancel(list(self.futures), force=True)
            self.futures.clear()
        with contextlib.suppress(Exception):
            self.client.close(timeout=10)
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close(timeout=10)
            self.cluster = None


def _identity(value: Any) -> Any:
    return value


def make_bundle(layout: Layout, lab: str, expected: Path) -> LabBundle:
    """The lab's shared payload, read from the client's course."""
    source = read_folder(layout.source_notebook(lab).parent)
    config = (layout.root / course.CONFIG_FILE).read_text(encoding="utf-8")
    reports = expected.read_text(encoding="utf-8")
    grader = grader_id()
    gradebook = _lab_gradebook(layout.root, lab)
    digest = hashlib.sha256(hashlib.sha256(gradebook).digest())
    for name, raw in sorted(source.items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(raw).digest())
    for text in (config, reports, grader, lab):
        digest.update(b"\0" + text.encode())
    return LabBundle(lab, source, config, reports, gradebook, grader, digest.hexdigest())


def _lab_gradebook(root: Path, lab: str) -> bytes:
    """A new gradebook with only ``lab``'s definition, copied from the course's: what a worker
    needs to autograde it (no student, no grade; generating it there would take a minute)."""
    from nbgrader.api import Gradebook
    from sqlalchemy import text

    course.use_env_tools()  # without a stamp to copy, a new gradebook runs alembic
    config = course.load_config(root)
    course_id = config.CourseDirectory.course_id or "default_course"
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "gradebook.db"
        with Gradebook(config.CourseDirectory.db_url, course_id) as source:
            assignment = source.find_assignment(lab)
            _stamp_like(source, target)
            with Gradebook(f"sqlite:///{target}", course_id) as copy:
                copy.db.execute(text("PRAGMA synchronous=OFF"))  # a scratch file, read once
                copy.update_or_create_assignment(lab, duedate=assignment.duedate)
                for nb in assignment.notebooks:
                    copy.update_or_create_notebook(nb.name, lab)
                    for cell in nb.grade_cells:
                        copy.update_or_create_grade_cell(
                            cell.name,
                            nb.name,
                            lab,
                            max_score=cell.max_score,
                            cell_type=cell.cell_type,
                        )
                    for cell in nb.solution_cells:
                        copy.update_or_create_solution_cell(cell.name, nb.name, lab)
                    for cell in nb.task_cells:
                        copy.update_or_create_task_cell(
                            cell.name,
                            nb.name,
                            lab,
                            max_score=cell.max_score,
                            cell_type=cell.cell_type,
                        )
                    for cell in nb.source_cells:
                        copy.update_or_create_source_cell(
                            cell.name,
                            nb.name,
                            lab,
                            cell_type=cell.cell_type,
                            locked=cell.locked,
                            source=cell.source,
                            checksum=cell.checksum,
                        )
        return target.read_bytes()


def _stamp_like(source: Any, target: Path) -> None:
    """Give the new gradebook ``target`` the course gradebook's schema version (alembic's
    stamp) before nbgrader opens it: nbgrader would ask a new ``alembic`` process (2-3 s)."""
    from sqlalchemy import text

    try:
        version = source.db.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception:  # noqa: BLE001 - no stamp to copy: nbgrader makes its own
        return
    if version:
        with contextlib.closing(sqlite3.connect(target)) as db, db:
            db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
            db.execute("INSERT INTO alembic_version (version_num) VALUES (?)", (version,))


def _receive(layout: Layout, task: Task, result: Result) -> Result:
    """Put a remote result where a local worker would have left it, and record it."""
    staging = Layout.staged(Path(task.staging), task.student, task.lab)
    if result.status == "graded":
        shutil.rmtree(staging, ignore_errors=True)
        write_folder(staging, result.files)
    log = Path(task.log)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(result.log_text + (f"\ngraded on {result.worker}\n" if result.worker else ""))
    notebook = staging / layout.submission(task.student, task.lab).name
    try:
        record(layout.root, task.lab, task.student, notebook if notebook.is_file() else None)
    except Exception as err:  # noqa: BLE001 - the gradebook refused it: the grading failed
        result.status = "failed"
        result.events.append({"flag": "failed", "detail": f"could not record: {err}"[:300]})
    from course_utils.ta.worker import cell_scores, gradebook_url

    db_url = gradebook_url(layout.db_url)
    result.cells = cell_scores(layout.root, task.lab, task.student, db_url)
    result.files = {}
    return result


def record(root: Path, lab: str, student: str, graded: Path | None) -> None:
    """Save the grades of ``graded`` (a notebook nbgrader autograded) in the course's gradebook,
    as ``Autograde`` would: the student and submission (with its timestamp), then a save-only
    pass of the grading preprocessors. ``None``: no notebook (nbgrader failed on it)."""
    import nbformat
    from nbgrader.api import Gradebook
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import AssignLatePenalties

    from course_utils.ta.scores import AtomicSaveAutoGrades
    from course_utils.ta.worker import gradebook_url

    config = course.load_config(root)
    coursedir = CourseDirectory(config=config)
    db_url = gradebook_url(config.CourseDirectory.db_url)
    layout = Layout(root)
    with Gradebook(db_url, coursedir.course_id) as gb:
        gb.update_or_create_student(student)
        timestamp = coursedir.get_existing_timestamp(str(layout.submission(student, lab).parent))
        if timestamp:
            gb.update_or_create_submission(lab, student, timestamp=timestamp)
        else:
            gb.update_or_create_submission(lab, student)
        if not layout.submission(student, lab).is_file():  # as Autograde: a missing notebook
            for grade in gb.find_submission_notebook(lab, lab, student).grades:
                grade.auto_score = 0
                grade.needs_manual_grade = False
            gb.db.commit()
    if graded is None:
        return
    nb = nbformat.read(graded, as_version=4)
    resources = {
        "nbgrader": {"notebook": lab, "assignment": lab, "student": student, "db_url": db_url}
    }
    for step in (AtomicSaveAutoGrades(config=config), AssignLatePenalties(config=config)):
        nb, resources = step.preprocess(nb, resources)
