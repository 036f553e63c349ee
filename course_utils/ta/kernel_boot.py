"""The grading kernel's entry point: arm the guard, then start a normal IPython kernel.

Run as ``python -m course_utils.ta.kernel_boot -f CONNECTION_FILE`` inside the sandbox. The
checks and the modules test cells rely on are imported and recorded here, before any
student code can run (see ``course_utils.ta.guard``).
"""

from __future__ import annotations


def main() -> None:
    import os

    # In bubblewrap's pid namespace the kernel's parent is the namespace's init, which
    # ipykernel's parent poller would take for a dead parent; bwrap --die-with-parent does
    # that job instead.
    if os.environ.get("COURSE_GRADING_ISOLATED") == "1":
        os.environ.pop("JPY_PARENT_PID", None)
    from course_utils.ta import guard

    guard.boot()
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
