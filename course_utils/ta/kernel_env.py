"""The grading kernel's environment variables: an allowlist, never the TA's environment.

The TA's shell may hold tokens, passwords, paths of the LMS download or of other courses;
none of it reaches student code. The kernel gets only:

* ``PATH`` (this environment's scripts, then the system's), ``HOME=/tmp`` (its private
  ``/tmp``), ``USER``/``LOGNAME``, the locale (``LANG``, ``LC_*``) and ``TZ`` as set;
* ``PYTHONPATH``: the folder the grader's own ``course_utils`` was imported from, first, then
  the TA's ``PYTHONPATH`` if set. The grader may run from a checkout (tests, development,
  ``python -m`` in a checkout) rather than from the installed package, and the kernel must
  import the very same ``course_utils``: only that package folder is visible inside the
  sandbox (see ``fsview``), not the checkout around it, nor an editable install's target;
* the thread counts, writable config folders inside ``/tmp``, offline switches for the
  Hugging Face libraries (the kernel has no network), the datasets cache path, and the
  course's grading variables (``COURSE_GRADING_*``, ``COURSE_DEVICE``,
  ``NBGRADER_EXECUTION``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from course_utils.ta.protocol import ISOLATED_ENV, RECORD_ENV

__all__ = ["kernel_env", "PASSED"]

PASSED = ("LANG", "LANGUAGE", "TZ", "PYTHONPATH", "COURSE_DEVICE", "CUBLAS_WORKSPACE_CONFIG")
_SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


def kernel_env(
    threads: int,
    isolated: bool,
    home: Path,
    caches: Mapping[str, Path] | None = None,
    source: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The kernel's whole environment; ``source`` (default ``os.environ``) supplies the few
    variables passed through, ``caches`` maps variable names to mirrored cache paths."""
    import sys

    source = os.environ if source is None else source
    env = {name: source[name] for name in PASSED if source.get(name)}
    package = _package_folder()
    if package is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package, env.get("PYTHONPATH")]))
    env.update({k: v for k, v in source.items() if k.startswith("LC_")})
    scripts = str(Path(sys.executable).parent)
    env["PATH"] = f"{scripts}:{_SYSTEM_PATH}"
    env["HOME"] = str(home)
    env["USER"] = env["LOGNAME"] = "student"
    count = str(threads)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[name] = count
    env["IPYTHONDIR"] = str(home / "ipython")
    env["MPLCONFIGDIR"] = str(home / "matplotlib")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONNOUSERSITE"] = "1"
    env["PYTHONSAFEPATH"] = "1"  # the work folder is not on sys.path while the kernel boots
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        env[name] = "1"
    env["HF_HUB_DISABLE_TELEMETRY"] = "1"
    env.update({name: str(path) for name, path in (caches or {}).items()})
    env["COURSE_GRADING_KERNEL"] = "1"
    env[RECORD_ENV] = "1"  # hidden tests report their results (course_utils.oracle)
    env[ISOLATED_ENV] = "1" if isolated else "0"
    env["NBGRADER_EXECUTION"] = "autograde"
    return env


def _package_folder() -> str | None:
    """Where ``course_utils`` was imported from, unless that is a site-packages folder
    (already on the kernel's path, and not to be put before the standard library)."""
    import site

    import course_utils

    folder = Path(course_utils.__file__).resolve().parent.parent
    if folder in {Path(p).resolve() for p in site.getsitepackages()}:
        return None
    return str(folder)
