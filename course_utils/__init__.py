"""Helpers for the word-embedding labs.

Each module has one job: ``runtime`` (device, seeding, progress bars), ``corpora``
(text in, token lists out), ``vocabulary`` (words <-> indices), ``evaluation``
(neighbours, analogies, similarity benchmarks), ``plots``, ``grading`` (the checks that
visible test cells call), ``oracle`` (how hidden tests report your results to the grader),
``notebooks`` (the nbgrader markers), ``course`` and ``cli`` (the ``course`` command), and
``ta`` (grading a class). The graded answers themselves live only in the solution notebooks.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from course_utils.runtime import device, seed_everything
    from course_utils.vocabulary import UNK, Vocab

__all__ = ["UNK", "Vocab", "device", "seed_everything"]
__version__ = "0.1.0"

# Where each name of ``from course_utils import ...`` lives. They are imported on first use, so
# that the ``course`` command and the grader, which never compute with torch, do not load it.
_HOMES = {
    "device": "runtime",
    "seed_everything": "runtime",
    "UNK": "vocabulary",
    "Vocab": "vocabulary",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'course_utils' has no attribute {name!r}")
    return getattr(importlib.import_module(f"course_utils.{_HOMES[name]}"), name)
