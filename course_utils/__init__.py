"""Helpers for the word-embedding labs.

Each module has one job: ``runtime`` (device, seeding, progress bars), ``corpora``
(text in, token lists out), ``vocabulary`` (words <-> indices), ``evaluation``
(neighbours, analogies, similarity benchmarks), ``plots``, ``grading`` (the checks that
visible test cells call), ``oracle`` (how hidden tests report your results to the grader),
``notebooks`` (the nbgrader markers), ``course`` and ``cli`` (the ``course`` command), and
``ta`` (grading a class). The graded answers themselves live only in the solution notebooks.
"""

from course_utils.runtime import device, seed_everything
from course_utils.vocabulary import UNK, Vocab

__all__ = ["UNK", "Vocab", "device", "seed_everything"]
__version__ = "0.1.0"
