"""The Dask worker's side of ``course autograde --scheduler``: one task grades one submission.

``grade_remote`` (the Dask task) checks that this worker may grade (the client's
``grader_id``, a working sandbox), writes the submission into a private copy of the course
(made once per ``LabBundle``), and has it graded by this Dask worker's **grading process**:
``python -m course_utils.ta.cluster_task``, the same JSON-lines worker as ``--jobs`` runs
(``worker.main``: bubblewrap and limits, guards, restored cells, the judge), started once per
Dask worker and kept for its next tasks. So a submission is graded exactly as by a local
pool: in a process of its own, with a private mount namespace (the scratch space is a
size-limited tmpfs, its limits kept by the kernel), away from the Dask worker's event loop
and profiler, and without paying nbgrader's imports per task. The task returns the graded
folder, nbgrader's log and the findings; the client records them.

The grading process stops when its Dask worker dies (it watches its parent): a killed worker
leaves no grading behind, and the scheduler gives the task to another worker.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

from course_utils import course
from course_utils.ta.layout import Layout
from course_utils.ta.protocol import LabBundle, Result, Task

_log = logging.getLogger(__name__)

__all__ = ["INSTALL", "WorkerRefused", "dask_setup", "grade_remote", "grader_id", "warm", "main"]

INSTALL = 'pip install -e ".[cluster]"'
CHILD_MODULE = "course_utils.ta.cluster_task"
_LOCK = threading.Lock()  # one grading at a time per Dask worker process (one grading process)
_PARENT_POLL_S = 0.5


class WorkerRefused(RuntimeError):
    """A Dask worker that must not grade: another version of the course package, no sandbox."""


@functools.cache
def grader_id() -> str:
    """The course package's version and a digest of its code: client and workers must agree."""
    from importlib.metadata import PackageNotFoundError, version

    import course_utils

    try:
        release = version("course-utils")
    except PackageNotFoundError:
        release = "not installed"
    here = Path(course_utils.__file__).resolve().parent
    digest = hashlib.sha256()
    for module in sorted(here.rglob("*.py")):
        if module.parent.name in {"ta", "course_utils"}:
            digest.update(module.relative_to(here).as_posix().encode() + b"\0")
            digest.update(module.read_bytes())
    return f"course-utils {release} (code {digest.hexdigest()[:16]})"


def grade_remote(task: Task, bundle: LabBundle) -> Result:
    """Grade one submission on this Dask worker, in a private course; runs as a Dask task."""
    _import_in_background().join()  # started by ``warm``, else now: never two importers
    from course_utils.ta.sandbox import bwrap_available

    where = _worker_address()
    mine = grader_id()
    if task.grader != mine or bundle.grader != mine:
        raise WorkerRefused(
            f"worker {where} runs {mine} but the client runs {task.grader}: install the "
            f"client's version on every worker ({INSTALL} at the same commit, or the same image)"
        )
    if task.sandbox.get("isolate", True) and (why := bwrap_available()):
        raise WorkerRefused(f"worker {where} cannot sandbox the kernel: {why}")
    with _LOCK:
        result = _grade_private(task, bundle)
    result.worker = where
    return result


def warm() -> None:
    """Start this Dask worker's grading process (nbgrader's imports) before its first task."""
    _grader().start()
    _import_in_background()


def dask_setup(worker: Any) -> None:
    """Dask's preload hook (``dask worker --preload course_utils.ta.cluster_task``): the
    grading process starts with the worker, while it joins the scheduler."""
    _grader().start(Path(worker.local_directory))
    _import_in_background()


@functools.cache
def _import_in_background() -> threading.Thread:
    """Load what a task needs in this process (``Layout``'s nbgrader, the sandbox's checks)
    in a thread, once, started before the first task (which waits for it: two threads
    importing ``jupyter_client`` at once fail on its circular imports)."""

    def load() -> None:
        import nbgrader.coursedir  # noqa: F401

        from course_utils.ta import autograde, corpus_cache  # noqa: F401

    thread = threading.Thread(target=load, name="course-imports", daemon=True)
    thread.start()
    return thread


def _grade_private(task: Task, bundle: LabBundle) -> Result:
    from course_utils.ta import corpus_cache
    from course_utils.ta.sandbox import default_caches, default_hidden

    base, hide = _base_dir()
    template = _template(base, bundle)
    corpus_cache.prepare(_log.warning)  # this worker's machine: its kernels' cache
    (base / "tasks").mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="grade-", dir=base / "tasks"))
    try:
        shutil.copytree(template, root, dirs_exist_ok=True)
        layout = Layout(root)
        write_folder(layout.submission(task.student, task.lab).parent, task.submission_files)
        expected = layout.judge_file(task.lab, bundle.key)
        expected.parent.mkdir(parents=True, exist_ok=True)
        expected.write_text(bundle.expected_text, encoding="utf-8")
        staging = layout.run_folder("remote")
        staging.mkdir(parents=True)
        log = layout.log_file(task.lab, task.student)
        threads = int(os.environ.get("COURSE_KERNEL_THREADS", "1"))
        sandbox = {
            **task.sandbox,
            "root": str(root),
            "limits": {**task.sandbox["limits"], "threads": threads},
            "hidden": [str(p) for p in [*default_hidden(), hide]],
            "caches": {name: str(path) for name, path in default_caches().items()},
        }
        local = dataclasses.replace(
            task,
            root=str(root),
            staging=str(staging),
            sandbox=sandbox,
            log=str(log),
            expected=str(expected),
            submission_files={},
        )
        result = _grader().grade(local)
        if result.status == "graded":
            result.files = read_folder(Layout.staged(staging, task.student, task.lab))
        if log.is_file():
            result.log_text = log.read_text(encoding="utf-8", errors="replace")
        return result
    finally:
        shutil.rmtree(root, ignore_errors=True)


class _GradingProcess:
    """This Dask worker's grading process (``main``), restarted when it dies or hangs."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.log: IO[str] | None = None
        self._starting = threading.Lock()  # ``warm`` (event loop) and a task may both start it

    def start(self, local: Path | None = None) -> subprocess.Popen[str]:
        """The running grading process, started if there is none."""
        with self._starting:
            if self.proc is None or self.proc.poll() is not None:
                self.proc = self._spawn(local)
            return self.proc

    def _spawn(self, local: Path | None) -> subprocess.Popen[str]:
        base, _ = _base_dir(local)
        base.mkdir(parents=True, exist_ok=True)
        if self.log is None:
            self.log = open(base / "grading-process.log", "a")  # noqa: SIM115 (for life)
        return subprocess.Popen(
            [sys.executable, "-m", CHILD_MODULE, str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env=course.use_env_tools(),
            start_new_session=True,  # a Ctrl-C aimed at the Dask worker does not reach it
        )

    def grade(self, task: Task) -> Result:
        """Send ``task``, wait for its result (at most ``autograde.hard_limit``)."""
        from course_utils.ta.autograde import hard_limit

        proc = self.start()
        limit = hard_limit(task)
        fired = threading.Event()

        def stop() -> None:
            fired.set()
            _kill(proc)

        timer = threading.Timer(limit, stop)
        timer.start()
        line = ""
        try:
            proc.stdin.write(json.dumps(task.to_json()) + "\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
            return Result.from_json(json.loads(line))
        except (OSError, ValueError, TypeError) as err:
            _kill(proc)
            self.proc = None
            if fired.is_set():
                why = f"its grading ran past {limit} s (the wall-clock limit and a margin)"
                return Result.failed(task, f"{why}; the grading process was stopped")
            return Result.failed(task, f"the grading process stopped: {err} {line[:200]}")
        finally:
            timer.cancel()


@functools.cache
def _grader() -> _GradingProcess:
    return _GradingProcess()


def _kill(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, 9)
    except ProcessLookupError:
        pass
    proc.wait()


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"pid {os.getpid()}"


def _base_dir(local: Path | None = None) -> tuple[Path, Path]:
    """This worker process's folder for private courses, and a folder to hide from kernels
    (the Dask scratch space holds other workers' private courses, and their hidden tests).
    ``local``: the Dask worker's local directory, where ``get_worker`` cannot tell it yet."""
    if local is None:
        try:
            from distributed import get_worker

            local = Path(get_worker().local_directory)
        except (ImportError, ValueError):
            local = Path(tempfile.gettempdir()) / f"course-grading-{os.getpid()}"
            return local / "course-grading", local
    return local / "course-grading", local.parent


GRADEBOOK = ("grading", "gradebook.db")  # the private course's gradebook, under its root
_OVERRIDES = f"""

# --- added by course_utils.ta.cluster_task: this private copy of the course is graded in place
import os as _os

_private = _os.path.dirname(_os.path.abspath(__file__))
c.CourseDirectory.root = _private
c.CourseDirectory.db_url = "sqlite:///" + _os.path.join(_private, *{GRADEBOOK!r})
"""


def _template(base: Path, bundle: LabBundle) -> Path:
    """A private course with the bundle's lab in its gradebook, made once per bundle."""
    target = base / "templates" / bundle.key[:32]
    if (target / ".ready").is_file():
        return target
    building = target.with_name(f".{target.name}.building")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    (building / course.CONFIG_FILE).write_text(bundle.config_text + _OVERRIDES, encoding="utf-8")
    gradebook = building.joinpath(*GRADEBOOK)
    gradebook.parent.mkdir(parents=True, exist_ok=True)
    gradebook.write_bytes(bundle.gradebook)
    write_folder(Layout(building).source_notebook(bundle.lab).parent, bundle.source_files)
    course.use_env_tools()
    (building / ".ready").touch()
    shutil.rmtree(target, ignore_errors=True)
    os.replace(building, target)
    return target


def read_folder(folder: Path) -> dict[str, bytes]:
    """A folder's files (relative name -> bytes), checkpoints left out."""
    if not folder.is_dir():
        return {}
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and ".ipynb_checkpoints" not in path.parts
    }


def write_folder(folder: Path, files: dict[str, bytes]) -> None:
    """Write ``read_folder``'s files under ``folder``; a name leading outside it is refused."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, raw in files.items():
        parts = Path(name).parts
        if Path(name).is_absolute() or ".." in parts or not parts:
            raise ValueError(f"refusing to write {name!r} outside {folder}")
        path = folder.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(raw)


# --- the grading process ---------------------------------------------------------------------


def _exit_with_parent(parent: int) -> None:
    """Stop this process (and so, through bubblewrap's ``--die-with-parent``, its kernel) when
    the Dask worker that started it (``parent``) is gone, even before this process ran."""
    while os.getppid() == parent:
        time.sleep(_PARENT_POLL_S)
    os._exit(1)


def main() -> None:
    """The grading process: ``worker.main`` (JSON lines), ending with its Dask worker (the
    process id given as its argument)."""
    from course_utils.ta import scratch, worker

    scratch.private_mounts()  # first, while single-threaded (``worker.main`` keeps it)
    parent = int(sys.argv[1]) if len(sys.argv) > 1 else os.getppid()
    threading.Thread(
        target=_exit_with_parent, args=(parent,), name="parent-watch", daemon=True
    ).start()
    worker.main()


if __name__ == "__main__":
    main()
