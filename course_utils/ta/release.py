"""``course release LAB``: the student bundle, and nothing an instructor keeps to themselves.

The zip holds the student notebook (``labs/<lab>/``), the helper package ``course_utils`` and
what installs it (``pyproject.toml``, ``constraints.txt``), and a short README for students.
It never holds ``solutions/``, the gradebook or anything else of the course folder.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from course_utils import course
from course_utils.ta.layout import Layout

__all__ = ["build_bundle", "STUDENT_README"]

STUDENT_README = """\
# {lab}

You need Python 3.10 to 3.13. In this folder, once:

    python3 -m venv .venv
    .venv/bin/pip install -c constraints.txt .

Then, each time you work:

    .venv/bin/jupyter lab {lab}/{lab}.ipynb

Write your code where a cell says YOUR CODE HERE, your answers where it says YOUR ANSWER HERE,
and run the test cell after each exercise. Before you submit: Kernel > Restart Kernel and Run
All Cells, then the Validate button. Submit {lab}/{lab}.ipynb as your course says.
"""
_INSTALL = ("pyproject.toml", "constraints.txt")


def build_bundle(root: Path, lab: str) -> Path:
    """Regenerate ``labs/<lab>`` and zip the student bundle into ``grading/release/``."""
    (notebook,) = course.generate_labs(root, [lab])
    bundle = Layout(root).release_bundles / f"{lab}.zip"
    bundle.parent.mkdir(parents=True, exist_ok=True)
    package = Path(course.__file__).resolve().parent
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(notebook.parent.rglob("*")):
            if path.is_file() and ".ipynb_checkpoints" not in path.parts:
                archive.write(path, path.relative_to(notebook.parent.parent))
        for path in sorted(package.rglob("*.py")):
            archive.write(path, Path("course_utils") / path.relative_to(package))
        for name in _INSTALL:
            source = package.parent / name
            if source.is_file():
                archive.write(source, name)
        archive.writestr("README.md", STUDENT_README.format(lab=lab))
    return bundle
