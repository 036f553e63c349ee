"""Realistic student bugs, per lab, for the mutation tests (``tests/test_mutants.py``).

Each ``tests/mutants/<lab>.py`` defines ``MUTANTS``: a list of ``Mutant``, each one bug a
student could plausibly write, as a replacement of one answer cell, with ``fails``: every test
cell it must make lose points (exactly those). ``SUBMISSIONS`` optionally packs mutants into
shared submissions (lists of mutant names) to grade heavy labs in fewer kernels; mutants may
share a submission only when none of them changes an answer cell that another one's test cells
use, and their ``fails`` are disjoint. Mutants not named there get a submission each.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mutant:
    name: str
    cell: str  # the answer cell's grade id
    source: str  # what the student wrote in it
    fails: frozenset[str] = field(default_factory=frozenset)  # test cells that must lose points
    why: str = ""  # the mistake, in a few words


def mutant(name: str, cell: str, source: str, fails: set[str] | str, why: str = "") -> Mutant:
    fails = {fails} if isinstance(fails, str) else fails
    return Mutant(name, cell, source, frozenset(fails), why)
