"""The nbgrader course: where it lives, its configuration, and the student versions."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

__all__ = [
    "CONFIG_FILE",
    "find_root",
    "load_config",
    "labs",
    "require_labs",
    "generate_labs",
    "use_env_tools",
]

CONFIG_FILE = "nbgrader_config.py"


def use_env_tools() -> dict[str, str]:
    """Put this environment's scripts first on ``PATH`` and return the environment.

    nbgrader runs helper programs (``alembic`` for a new gradebook) by name, which fails when
    the virtual environment is used without being activated.
    """
    scripts = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if scripts not in path.split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + path
    return dict(os.environ)


def find_root(start: str | Path | None = None) -> Path:
    """The course root: the nearest folder at or above ``start`` holding ``nbgrader_config.py``."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    raise FileNotFoundError(
        f"no {CONFIG_FILE} in {here} or any folder above it: run this inside the course "
        "repository (or pass --course-dir)"
    )


def load_config(root: Path) -> Config:
    """The course's nbgrader configuration, read from ``root/nbgrader_config.py``."""
    config = PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config()
    config.CourseDirectory.root = str(root)
    return config


def labs(root: Path) -> list[str]:
    """Names of the labs: the folders of ``solutions/`` holding a notebook of the same name."""
    from course_utils.ta.layout import Layout

    return Layout(root).labs()


def require_labs(root: Path, names: list[str]) -> None:
    """Raise ``ValueError`` naming the labs that do not exist (and the ones that do)."""
    known = labs(root)
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ValueError(f"unknown lab(s) {', '.join(unknown)}; the labs are {', '.join(known)}")


def generate_labs(root: Path, names: list[str] | None = None) -> list[Path]:
    """Regenerate the student notebooks in ``labs/`` from ``solutions/`` with nbgrader.

    Returns the notebooks written; raises ``RuntimeError`` with nbgrader's log on failure.
    """
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from course_utils.ta.layout import Layout

    names = names or labs(root)
    require_labs(root, names)
    use_env_tools()
    config = load_config(root)
    layout = Layout(root, config)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    written = []
    for name in names:
        result = api.generate_assignment(name, force=True, create=True)
        if not result["success"]:
            raise RuntimeError(
                f"nbgrader could not generate {name}:\n{result.get('error', '')}"
                f"\n{result.get('log', '')}"
            )
        notebook = layout.release_notebook(name)
        _strip_run_state(notebook)
        written.append(notebook)
    return written


def _strip_run_state(path: Path) -> None:
    """Drop what the instructor's run leaves that a student must not get: execution
    timestamps, widget state, scroll and collapse flags."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for key in ("execution", "scrolled", "collapsed", "ExecuteTime"):
            cell.metadata.pop(key, None)
    nbformat.write(nb, path)
