"""What grading noticed about one submission, gathered while it is graded.

The grading preprocessors run inside nbgrader's converter, which gives them no channel to
the caller; they ``record`` here and the worker ``drain``\\ s the list after each submission.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FLAGS", "record", "drain"]

FLAGS = {
    "failed": "nbgrader could not grade the submission",
    "timed_out": "a cell ran past the time limit and was stopped",
    "kernel_died": "the kernel died (os._exit, a crash, the CPU limit) and was restarted",
    "memory_limit": "a cell hit the memory limit, or the submission's processes together went "
    "over it and were stopped (polled every 0.2 s: a burst can overshoot before it is seen)",
    "process_limit": "the submission reached its limit of processes and threads and was stopped",
    "disk_limit": "the submission filled its disk space (work folder and /tmp); the kernel "
    "refused the writes (size-limited tmpfs), or, graded without root, it was stopped",
    "wall_limit": "the submission ran past its wall-clock limit; the cells left were not run",
    "tampered": "test or read-only cells were deleted, edited, retyped, re-tagged or bypassed",
    "suspicious": "student code touches the grader, the checks, builtins or course files",
    "never_scored": "a graded cell has no automatic score",
    "unsandboxed": "graded without the bubblewrap sandbox (--no-sandbox)",
    "stale": "the submission changed since it was graded, or was never graded",
}

_EVENTS: list[dict[str, Any]] = []


def record(flag: str, detail: str, cell: str | None = None) -> None:
    """Note one finding; ``flag`` is a key of ``FLAGS``."""
    assert flag in FLAGS, flag
    event = {"flag": flag, "detail": detail}
    if cell:
        event["cell"] = cell
    if event not in _EVENTS:
        _EVENTS.append(event)


def drain() -> list[dict[str, Any]]:
    """The findings recorded since the last call."""
    events = list(_EVENTS)
    _EVENTS.clear()
    return events
