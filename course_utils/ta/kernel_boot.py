"""The grading kernel's entry point: arm the guard, then start a normal IPython kernel.

Run as ``python -m course_utils.ta.kernel_boot -f CONNECTION_FILE`` inside the sandbox, with
``PYTHONSAFEPATH=1``: the checks and the modules test cells rely on are imported and recorded
here (see ``course_utils.ta.guard``) before any student code can run, and before the work
folder, where a student's files (or files a previous kernel wrote) lie, is on ``sys.path``.
The work folder is then put where IPython would put it, so a student's own modules import.
"""

from __future__ import annotations

__all__ = ["main"]


def main() -> None:
    import os
    import sys

    from course_utils.ta.protocol import ISOLATED_ENV

    # In bubblewrap's pid namespace the kernel's parent is the namespace's init, which
    # ipykernel's parent poller would take for a dead parent; bwrap --die-with-parent does
    # that job instead.
    if os.environ.get(ISOLATED_ENV) == "1":
        os.environ.pop("JPY_PARENT_PID", None)
    from course_utils.ta import guard

    guard.boot()
    if os.environ.pop("PYTHONSAFEPATH", None) and "" not in sys.path:
        site = [i for i, p in enumerate(sys.path) if p.endswith(("site-packages", "dist-packages"))]
        sys.path.insert(site[0] if site else 0, "")
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
