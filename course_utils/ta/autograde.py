"""``course autograde LAB --jobs N``: grade a whole class, in parallel, safely.

* One run at a time (``GradingLock``); leftovers of a crashed run are cleared first.
* ``N`` worker processes (``course_utils.ta.worker``) each grade one submission at a time
  with nbgrader into ``grading/.staging/<run>/``; the gradebook is shared (SQLite waits for
  a concurrent writer) and each notebook's grades are saved in one transaction.
* A finished submission is moved into ``grading/autograded/<student>/<lab>`` with a rename,
  then its ledger record is written: a folder is either complete or absent, and a record
  exists only for a finished grading. Ctrl-C stops the workers and their kernels; what was
  recorded stays, and the next run grades only what is missing.
* Submissions already graded from the same notebook by the same grader are skipped, unless
  ``force``; grading again gives the same grades (idempotent).
"""

from __future__ import annotations

import fnmatch
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course_utils import course
from course_utils.ta import corpus_cache, ledger
from course_utils.ta.layout import Layout, sha256_file
from course_utils.ta.lock import GradingLock
from course_utils.ta.protocol import WORKER_MODULE, Result, Task
from course_utils.ta.sandbox import (
    Limits,
    Sandbox,
    bwrap_available,
    default_caches,
    default_hidden,
)

__all__ = ["Options", "autograde", "ensure_in_gradebook", "hard_limit", "Interrupted"]


class Interrupted(RuntimeError):
    """Grading was stopped (Ctrl-C); what finished is recorded."""


@dataclass
class Options:
    """How to grade: parallelism, limits, isolation and which submissions."""

    jobs: int = 2
    timeout: int | None = None
    limits: Limits = field(default_factory=Limits)
    sandbox: bool = True
    force: bool = False
    students: list[str] = field(default_factory=list)
    scheduler: str | None = None  # a Dask scheduler, or "local" (``course_utils.ta.cluster``)


def ensure_in_gradebook(root: Path, lab: str) -> None:
    """Make sure the gradebook knows ``lab`` (as after ``course generate``), without touching
    ``labs/``: a missing lab is generated into ``grading/.release``."""
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = course.load_config(root)
    with Gradebook(config.CourseDirectory.db_url) as gb:
        try:
            gb.find_notebook(lab, lab)
            return
        except MissingEntry:
            pass
    course.use_env_tools()
    config.CourseDirectory.release_directory = str(Layout(root, config).gradebook_release)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    result = api.generate_assignment(lab, force=True, create=True)
    if not result["success"]:
        raise RuntimeError(f"nbgrader could not register {lab}:\n{result.get('log', '')}")


def _clear_leftovers(layout: Layout) -> None:
    for folder in (layout.staging, layout.trash):
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)


class _Pool:
    """``jobs`` worker processes, each in its own session (Ctrl-C reaches only the parent)."""

    def __init__(self, jobs: int, log_dir: Path) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir = log_dir
        self.procs = [self._spawn(i, "w") for i in range(jobs)]

    def _spawn(self, i: int, mode: str = "a") -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", WORKER_MODULE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(self.log_dir / f"worker-{i}.log", mode),  # noqa: SIM115
            text=True,
            env=course.use_env_tools(),
            start_new_session=True,
        )

    def run(self, tasks: list[Task]) -> Iterator[Result]:
        todo: queue.Queue[Task] = queue.Queue()
        for task in tasks:
            todo.put(task)
        done: queue.Queue[Result] = queue.Queue()

        def serve(i: int) -> None:
            while True:
                try:
                    task = todo.get_nowait()
                except queue.Empty:
                    return
                proc, line = self.procs[i], ""
                limit = hard_limit(task)
                timer = threading.Timer(limit, _stop, (proc,))
                timer.start()
                try:
                    proc.stdin.write(json.dumps(task.to_json()) + "\n")
                    proc.stdin.flush()
                    line = proc.stdout.readline()
                    done.put(Result.from_json(json.loads(line)))
                except (OSError, ValueError, TypeError) as err:
                    if timer.finished.is_set():  # the timer fired: _stop killed it
                        proc.wait()
                        why = f"its grading ran past {limit} s (the wall-clock limit and a margin)"
                        done.put(Result.failed(task, f"{why}; the worker was stopped"))
                        self.procs[i] = self._spawn(i)
                        continue
                    why = f"the grading worker stopped: {err} {line[:200]}"
                    done.put(Result.failed(task, why))
                    return
                finally:
                    timer.cancel()

        threads = [
            threading.Thread(target=serve, args=(i,), daemon=True) for i in range(len(self.procs))
        ]
        for thread in threads:
            thread.start()
        for _ in tasks:
            while True:
                try:
                    yield done.get(timeout=0.2)
                    break
                except queue.Empty:
                    if not any(t.is_alive() for t in threads) and done.empty():
                        while not todo.empty():
                            yield Result.failed(todo.get(), "no grading worker left")
                        return

    def close(self, kill: bool = False) -> None:
        for proc in self.procs:
            if kill and proc.poll() is None:
                try:
                    os.killpg(proc.pid, 9)
                except ProcessLookupError:
                    pass
            else:
                try:
                    proc.stdin.close()
                except OSError:
                    pass
        for proc in self.procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()


def hard_limit(task: Task) -> float:
    """Seconds after which a worker still grading ``task`` is stopped: the submission's own
    wall-clock limit (which the worker enforces) plus a margin for nbgrader's own work."""
    wall = task.sandbox["limits"].get("wall_seconds", 1800)
    return wall + max(120, wall // 4)


def _stop(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, 9)
    except ProcessLookupError:
        pass


def _publish(layout: Layout, staging: Path, result: Result) -> None:
    """Move a finished grading into ``autograded/`` by renames: never half a folder."""
    student, lab = result.student, result.lab
    graded = layout.staged(staging, student, lab)
    final = layout.autograded_folder(student, lab)
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        layout.trash.mkdir(parents=True, exist_ok=True)
        old = layout.trash / f"{staging.name}-{student}-{lab}"
        os.replace(final, old)
        shutil.rmtree(old, ignore_errors=True)
    os.replace(graded, final)


def autograde(
    root: Path, lab: str, options: Options, progress: Callable[[str], None] = print
) -> list[ledger.Entry]:
    """Grade every submission of ``lab`` that needs it; returns the new ledger records."""
    layout = Layout(root)
    course.require_labs(root, [lab])
    if options.sandbox and (why := bwrap_available()):
        raise RuntimeError(f"{why}; or grade with --no-sandbox (limits only, no isolation)")
    with GradingLock(layout.lock_file, f"course autograde {lab}"):
        _clear_leftovers(layout)
        ensure_in_gradebook(root, lab)
        students = layout.students_with_submissions(lab)
        if options.students:
            students = [s for s in students if any(fnmatch.fnmatch(s, p) for p in options.students)]
        fingerprint = layout.fingerprint(lab)
        todo = [
            s
            for s in students
            if options.force or not ledger.is_current(layout, lab, s, fingerprint)
        ]
        if len(todo) < len(students):
            progress(f"{len(students) - len(todo)} submission(s) already graded (use --force)")
        if not todo:
            return []
        return _run(layout, lab, todo, fingerprint, options, progress)


def _run(
    layout: Layout,
    lab: str,
    todo: list[str],
    fingerprint: str,
    options: Options,
    progress: Callable[[str], None],
) -> list[ledger.Entry]:
    pool: Any = None
    if options.scheduler:  # connect first: an unreachable scheduler fails before any work
        from course_utils.ta.cluster import DaskPool

        pool = DaskPool(options.scheduler, options.jobs, progress)
    run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    staging = layout.run_folder(run_id)
    staging.mkdir(parents=True)
    hashes = {s: sha256_file(layout.submission(s, lab)) for s in todo if _has_nb(layout, s, lab)}
    sandbox = Sandbox(
        root=layout.root,
        workdir=staging,
        limits=options.limits,
        isolate=options.sandbox,
        hidden=default_hidden(),
        caches=default_caches(),
    )
    corpus_cache.prepare(progress)  # for the reference run here (and a local pool's kernels)
    expected = _expected(layout, lab, fingerprint, sandbox, options, progress)
    tasks = _tasks(layout, lab, todo, staging, sandbox, expected, options.timeout)
    jobs = max(1, min(options.jobs, len(tasks)))
    if pool is None:
        progress(f"grading {len(tasks)} submission(s) of {lab} with {jobs} job(s)")
        pool = _Pool(jobs, layout.log_dir(lab))
    entries: list[ledger.Entry] = []
    try:
        for number, result in enumerate(pool.run(tasks), 1):
            entry = _record(layout, staging, result, hashes.get(result.student, ""), fingerprint)
            entries.append(entry)
            progress(f"[{number}/{len(tasks)}] {_describe(entry)}")
    except KeyboardInterrupt:
        pool.close(kill=True)
        shutil.rmtree(staging, ignore_errors=True)
        raise Interrupted(
            f"interrupted: {len(entries)} of {len(tasks)} submission(s) graded and recorded; "
            "run the command again to grade the rest"
        ) from None
    pool.close()
    shutil.rmtree(staging, ignore_errors=True)
    return entries


def _tasks(
    layout: Layout,
    lab: str,
    students: list[str],
    staging: Path,
    sandbox: Sandbox,
    expected: Path,
    timeout: int | None,
) -> list[Task]:
    """One ``protocol.Task`` per student, all with the same sandbox (serialised once)."""
    wire = sandbox.to_dict()
    return [
        Task(
            root=str(layout.root),
            lab=lab,
            student=s,
            staging=str(staging),
            sandbox=wire,
            log=str(layout.log_file(lab, s)),
            expected=str(expected),
            timeout=timeout,
        )
        for s in students
    ]


def _record(
    layout: Layout, staging: Path, result: Result, submission_sha256: str, fingerprint: str
) -> ledger.Entry:
    """Publish a finished grading and write its ledger record (in that order)."""
    if result.status == "graded":
        _publish(layout, staging, result)
    entry = ledger.Entry(
        student=result.student,
        lab=result.lab,
        status=result.status,
        submission_sha256=submission_sha256,
        fingerprint=fingerprint,
        graded_at=time.strftime("%Y-%m-%d %H:%M:%S"),
        seconds=result.seconds,
        events=result.events,
        cells=result.cells,
    )
    ledger.write(layout, entry)
    return entry


def _expected(
    layout: Layout,
    lab: str,
    fingerprint: str,
    sandbox: Sandbox,
    options: Options,
    progress: Callable[[str], None],
) -> Path:
    """The judge's expected reports for ``lab``: from a run of the reference solution by a
    grading worker, in a sandbox like the students' (cached under ``grading/judge/``, once per
    version of the lab and the grader)."""
    target = layout.judge_file(lab, fingerprint)
    if target.is_file():
        return target
    progress(f"running the reference solution of {lab} once, for the judge")
    target.parent.mkdir(parents=True, exist_ok=True)
    task = Task(
        root=str(layout.root),
        lab=lab,
        student="_reference",
        staging=str(sandbox.workdir),
        sandbox=sandbox.to_dict(),
        log=str(layout.log_file(lab, "_reference")),
        expected=str(target),
        timeout=options.timeout,
        kind="reference",
    )
    pool = _Pool(1, layout.log_dir(lab))
    try:
        (result,) = list(pool.run([task]))
    finally:
        pool.close()
    if result.status != "graded" or not target.is_file():
        why = "; ".join(e["detail"] for e in result.events) or "no reports were written"
        raise RuntimeError(f"the reference solution of {lab} did not run clean: {why}")
    return target


def _has_nb(layout: Layout, student: str, lab: str) -> bool:
    return layout.submission(student, lab).is_file()


def _describe(entry: ledger.Entry) -> str:
    auto = [c for c in entry.cells.values() if c.get("code")]
    score = sum(c.get("auto") or 0 for c in auto)
    total = sum(c.get("max") or 0 for c in auto)
    flags = ", ".join(entry.flags)
    return (
        f"{entry.student}: {entry.status}, {score:g}/{total:g} automatic points"
        + (f" ({flags})" if flags else "")
        + f" in {entry.seconds:.1f} s"
    )
