"""One submission's isolation, from the worker's side: its scratch space, its watchdog, its files.

``begin(task)`` (in the worker, before nbgrader runs) takes the worker's slot (see
``scratch``), mounts a fresh scratch space, stages a copy of the submission in it (regular
files only: a link in a submission is never followed, and is reported), starts the
watchdog and returns the ``Submission``: where nbgrader reads the submission and writes the
graded copy, and the kernel's ``Sandbox``. ``Submission.publish`` copies the graded folder
out of the scratch space (regular files only); ``end`` stops the watchdog and clears the
scratch space, so nothing a kernel wrote survives the submission.

Around the kernel (``ResilientExecute``): ``before_kernel`` keeps a root-only copy of the work
folder as nbgrader prepared it, and ``after_kernel``, once the kernel and every process of
the submission are gone, empties the work folder, ``/tmp`` and the other kernel-writable
folders and puts that copy back. So the files nbgrader then writes (the graded notebook) and
publishes are its own: no link a kernel made is followed, no file a kernel wrote is kept.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from course_utils.ta import events, scratch
from course_utils.ta.layout import Layout
from course_utils.ta.nofollow import copy_tree, wipe
from course_utils.ta.protocol import Task
from course_utils.ta.sandbox import Sandbox
from course_utils.ta.watchdog import Watchdog, current

__all__ = ["Submission", "begin", "before_kernel", "after_kernel", "KERNEL_FOLDERS"]

KERNEL_FOLDERS = ("tmp", "ipc", "layers", "shm")  # the kernel's user owns these
_ROOT_FOLDERS = ("conn", "inputs", "submitted", "work")
_SLOT: scratch.Slot | None = None


def _slot() -> scratch.Slot:
    global _SLOT
    if _SLOT is None:
        _SLOT = scratch.acquire()
    return _SLOT


@dataclass
class Submission:
    """Where one submission is graded (paths in the worker's view)."""

    sandbox: Sandbox
    layout: Layout  # the course, with nbgrader's submitted and autograded folders in the scratch
    student: str
    lab: str
    watchdog: Watchdog | None = None
    skipped: list[str] = field(default_factory=list)

    @property
    def submitted(self) -> Path:
        """nbgrader's submitted_directory: the staged copy."""
        return self.layout.submitted

    @property
    def autograded(self) -> Path:
        """nbgrader's autograded_directory, in the scratch space."""
        return self.layout.autograded

    @property
    def notebook(self) -> Path:
        """The staged submitted notebook."""
        return self.layout.submission(self.student, self.lab)

    def publish(self, target: Path) -> None:
        """Copy the graded folder to ``target`` (outside the scratch space)."""
        source = self.layout.autograded_folder(self.student, self.lab)
        if source.is_dir() and not source.is_symlink():
            if target.exists():
                shutil.rmtree(target)
            copy_tree(source, target, limit=self.sandbox.limits.disk_bytes)

    def end(self) -> None:
        """Stop the watchdog, stop every process of the submission, clear the scratch space.

        The kernels' stderr (bubblewrap's messages, crashes of C code) goes to the log first.
        """
        if self.watchdog is not None:
            self.watchdog.__exit__(None, None, None)
            self.watchdog = None
        log = self.sandbox.part("kernel.log")
        if log is not None and log.is_file() and not log.is_symlink():
            text = log.read_bytes()[-20_000:].decode(errors="replace").strip()
            if text:
                logging.getLogger(__name__).info("the kernels' stderr (end):\n%s", text)
        _slot().clear()


def begin(task: Task) -> Submission:
    """Prepare the scratch space for ``task`` (see the module's docstring)."""
    lab, student = task.lab, task.student
    sandbox = Sandbox.from_dict(task.sandbox)  # the one decoding of the task's sandbox
    limits = sandbox.limits
    slot = _slot()
    slot.fresh(limits.disk_bytes)
    uid, gid = slot.owner()
    for name in _ROOT_FOLDERS:
        (slot.folder / name).mkdir(mode=0o755)
    os.chmod(slot.folder / "inputs", 0o700)
    for name in KERNEL_FOLDERS:
        folder = slot.folder / name
        folder.mkdir(mode=0o700)
        os.chown(folder, uid, gid)
    course_layout = Layout(Path(task.root))
    layout = course_layout.redirected(slot.folder / "submitted", slot.folder / "work")
    source = course_layout.submission(student, lab).parent
    staged = layout.submission(student, lab).parent
    skipped: list[str] = []
    if source.is_dir() and not source.is_symlink():
        skipped = copy_tree(source, staged, limit=limits.file_bytes)
    for name in skipped:
        why = "is a link or not a regular file: it was not followed nor graded"
        events.record("suspicious", f"the submission's {name} {why}")
    sandbox = dataclasses.replace(
        sandbox,
        root=Path(task.root),
        workdir=layout.autograded_folder(student, lab),
        scratch=slot.folder,
        uid=slot.uid,
    )
    watchdog = Watchdog(
        uid=sandbox.kernel_uid,
        scratch=slot.folder,
        memory_bytes=limits.memory_bytes,
        processes=limits.processes,
        disk_bytes=limits.disk_bytes,
        wall_seconds=limits.wall_seconds,
        disk_enforced=slot.mounted,
    )
    watchdog.__enter__()
    logging.getLogger(__name__).info(
        "slot %s, user %s, scratch %s (%s limits)", slot.index, slot.uid, slot.folder, slot.promise
    )
    return Submission(
        sandbox=sandbox,
        layout=layout,
        student=student,
        lab=lab,
        watchdog=watchdog,
        skipped=skipped,
    )


def before_kernel(sandbox: Sandbox) -> None:
    """Keep a root-only copy of the work folder as nbgrader prepared it."""
    inputs = sandbox.part("inputs")
    if inputs is None or not sandbox.workdir.is_dir():
        return
    wipe(inputs)
    copy_tree(sandbox.workdir, inputs, limit=sandbox.limits.disk_bytes)


def after_kernel(sandbox: Sandbox) -> None:
    """With the kernel gone: stop what is left of the submission, drop what it wrote."""
    inputs = sandbox.part("inputs")
    if inputs is None:
        return
    dog = current()
    if dog is not None:
        dog.stop_all()
    elif sandbox.kernel_uid is not None:
        scratch.kill_user(sandbox.kernel_uid)
    for name in KERNEL_FOLDERS:
        folder = sandbox.part(name)
        if folder is not None:
            wipe(folder)
    if sandbox.workdir.is_dir() and not sandbox.workdir.is_symlink():
        wipe(sandbox.workdir)
        copy_tree(inputs, sandbox.workdir, limit=sandbox.limits.disk_bytes)
        if sandbox.kernel_uid is not None:
            os.chown(sandbox.workdir, os.geteuid(), os.getegid())
