"""Fixture submissions of lab 1 for the TA grading tests and the benchmark.

Each fixture is the release notebook with its answer cells filled (from the reference
solution, then the fixture's replacements) and optionally edited (cells deleted, retyped,
re-tagged). ``score`` is the automatic score the hardened grader must give (out of 12),
``flags`` the audit flags it must raise, ``plain`` what plain nbgrader 0.9.6 gives when it
grades the submission at all (``None``: the submission fails).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

LAB = "lab1_onehot"
FULL = 12
SOLUTION = re.compile(r"^[ \t]*### BEGIN SOLUTION\n(.*?)^[ \t]*### END SOLUTION\n?", re.M | re.S)


@dataclass
class Fixture:
    answers: dict[str, str] | None  # None: the untouched release
    score: float
    flags: set[str] = field(default_factory=set)
    edit: Callable[[nbformat.NotebookNode], None] | None = None
    plain: float | None = FULL
    needs_sandbox: bool = False
    append: dict[str, str] = field(default_factory=dict)  # code added after an answer


def _cells(nb: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}


def _delete(*ids: str) -> Callable[[nbformat.NotebookNode], None]:
    def edit(nb: nbformat.NotebookNode) -> None:
        nb.cells = [
            c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in ids
        ]

    return edit


def _tag(gid: str, tag: str) -> Callable[[nbformat.NotebookNode], None]:
    def edit(nb: nbformat.NotebookNode) -> None:
        _cells(nb)[gid].metadata.setdefault("tags", []).append(tag)

    return edit


def _retype(gid: str) -> Callable[[nbformat.NotebookNode], None]:
    def edit(nb: nbformat.NotebookNode) -> None:
        cell = _cells(nb)[gid]
        cell.cell_type = "markdown"
        cell.pop("outputs", None)
        cell.pop("execution_count", None)

    return edit


def _rewrite(gid: str, source: str) -> Callable[[nbformat.NotebookNode], None]:
    def edit(nb: nbformat.NotebookNode) -> None:
        _cells(nb)[gid].source = source

    return edit


WRONG_PAIRWISE = "def pairwise_cosine(X, eps=1e-8):\n    return X @ X.T\n"
WRONG_EMBED = "def embed_with_one_hot(indices, E):\n    return E[indices] * 2\n"
WRONG_COSINE = (
    "def cosine_similarity(a, b, eps=1e-8):\n"
    "    if a.shape[-1] != b.shape[-1]:\n"
    "        raise ValueError(f'shapes {tuple(a.shape)} and {tuple(b.shape)}')\n"
    "    return (a * b).sum(-1)\n"
)
ONE_HOT_NO_CHECKS = (
    "def one_hot(indices, vocab_size):\n"
    "    result = torch.zeros(*indices.shape, vocab_size, device=indices.device)\n"
    "    return result.scatter_(-1, indices.long().unsqueeze(-1), 1.0)\n"
)
LOOP = "def embed_with_one_hot(indices, E):\n    while True:\n        pass\n"
SIGINT_LOOP = (
    "import signal\n\n"
    "def embed_with_one_hot(indices, E):\n"
    "    signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
    "    while True:\n"
    "        pass\n"
)
EXIT = "import os\n\ndef embed_with_one_hot(indices, E):\n    os._exit(1)\n"
# 12 blocks of 256 MiB, each page touched: 3 GiB at most, so safe on a 24 GB machine.
MEMORY_BOMB = (
    "def embed_with_one_hot(indices, E):\n"
    "    blocks = []\n"
    "    for _ in range(12):\n"
    "        block = bytearray(256 << 20)\n"
    "        block[::4096] = b'x' * (len(block) // 4096)\n"
    "        blocks.append(block)\n"
    "    del blocks\n"
    "    return one_hot(indices, E.shape[0]).to(E.dtype) @ E\n"
)
PATCH_CHECKS = (
    WRONG_PAIRWISE + "\nimport torch.testing\n"
    "torch.testing.assert_close = lambda *args, **kwargs: None\n"
    "assert_close = lambda *args, **kwargs: None\n"
)
MOST_SIMILAR_TENSORS = (
    "import builtins\n"
    "_real_isinstance = builtins.isinstance\n"
    "builtins.isinstance = lambda obj, kind: kind is float or _real_isinstance(obj, kind)\n\n"
    "def most_similar(word, embeddings, word2idx, idx2word, k=5):\n"
    "    if word not in word2idx or word == UNK:\n"
    "        raise KeyError(f'unknown word {word!r}')\n"
    "    query = word2idx[word]\n"
    "    sims = cosine_similarity(embeddings, embeddings[query])\n"
    "    sims[query] = -float('inf')\n"
    "    sims[word2idx[UNK]] = -float('inf')\n"
    "    values, indices = torch.topk(sims, min(k, len(idx2word) - 2))\n"
    "    return [(idx2word[i], v) for i, v in zip(indices.tolist(), values)]\n"
)
READ_SOLUTIONS = (
    "import json\nfrom pathlib import Path\n\n"
    "def _find(relative):\n"
    "    for folder in [Path.cwd(), *Path.cwd().parents]:\n"
    "        if (folder / relative).is_file():\n"
    "            return folder / relative\n"
    "    raise FileNotFoundError(relative)\n\n"
    "_nb = json.loads(_find('solutions/lab1_onehot/lab1_onehot.ipynb').read_text())\n"
    "_code = [''.join(c['source']) for c in _nb['cells']\n"
    "         if c.get('metadata', {}).get('nbgrader', {}).get('grade_id') == 'build_vocab'][0]\n"
    "exec(_code.replace('### BEGIN SOLUTION', '').replace('### END SOLUTION', ''))\n"
)
WRITE_GRADEBOOK = (
    "\nimport sqlite3\nfrom pathlib import Path\n\n"
    "for _folder in [Path.cwd(), *Path.cwd().parents]:\n"
    "    if (_folder / 'grading' / 'gradebook.db').is_file():\n"
    "        with sqlite3.connect(_folder / 'grading' / 'gradebook.db') as _db:\n"
    "            _db.execute('UPDATE grade SET manual_score = 99')\n"
    "        break\n"
)
BLANK_TESTS = (
    "get_ipython().input_transformers_cleanup.append(\n"
    "    lambda lines: [] if any('visible tests passed' in line for line in lines) else lines\n"
    ")\n" + WRONG_EMBED
)

FIXTURES: dict[str, Fixture] = {
    "correct": Fixture({}, FULL),
    "blank": Fixture(None, 0, plain=0),
    "infinite_loop": Fixture({"embed_with_one_hot": LOOP}, 11, {"timed_out"}, plain=11),
    "sigint_ignored": Fixture(
        {"embed_with_one_hot": SIGINT_LOOP}, 11, {"timed_out", "suspicious"}, plain=None
    ),
    "os_exit": Fixture({"embed_with_one_hot": EXIT}, 11, {"kernel_died", "suspicious"}, plain=None),
    "memory_bomb": Fixture({"embed_with_one_hot": MEMORY_BOMB}, 11, {"memory_limit"}),
    "skip_tags": Fixture(
        {"pairwise_cosine": WRONG_PAIRWISE},
        8,
        {"tampered"},
        edit=_tag("pairwise_cosine_tests", "skip-execution"),
        plain=10,
    ),
    "deleted_cells": Fixture(
        {}, FULL, {"tampered"}, edit=_delete("one_hot_tests", "q_cosine_range"), plain=10
    ),
    "changed_test": Fixture(
        {"cosine_similarity": WRONG_COSINE},
        7,
        {"tampered"},
        edit=_rewrite("cosine_similarity_tests", 'print("visible tests passed")'),
        plain=7,
    ),
    "retyped_test": Fixture(
        {"one_hot": ONE_HOT_NO_CHECKS}, 10, {"tampered"}, edit=_retype("one_hot_tests"), plain=10
    ),
    "patched_checks": Fixture({"pairwise_cosine": PATCH_CHECKS}, 8, {"suspicious"}),
    "patched_builtins": Fixture({"most_similar": MOST_SIMILAR_TENSORS}, 10, {"suspicious"}),
    "blanked_tests": Fixture({"embed_with_one_hot": BLANK_TESTS}, 11, {"suspicious"}),
    "reads_solutions": Fixture(
        {"build_vocab": READ_SOLUTIONS}, 10, {"suspicious"}, needs_sandbox=True
    ),
    "writes_gradebook": Fixture(
        {}, FULL, {"suspicious"}, needs_sandbox=True, append={"build_vocab": WRITE_GRADEBOOK}
    ),
}


def build(root: Path, student: str, fixture: Fixture) -> Path:
    """Write ``fixture`` as ``student``'s submission in the course at ``root``."""
    release = nbformat.read(root / "labs" / LAB / f"{LAB}.ipynb", as_version=4)
    if fixture.answers is not None:
        solution = _cells(nbformat.read(root / "solutions" / LAB / f"{LAB}.ipynb", as_version=4))
        for gid, cell in _cells(release).items():
            if cell.metadata["nbgrader"].get("solution") and cell.cell_type == "code":
                reference = SOLUTION.sub(r"\1", solution[gid].source)
                cell.source = fixture.answers.get(gid) or reference
                cell.source += fixture.append.get(gid, "")
    if fixture.edit is not None:
        fixture.edit(release)
    folder = root / "grading" / "submitted" / student / LAB
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{LAB}.ipynb"
    nbformat.write(release, path)
    return path
