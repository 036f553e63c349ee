"""Fixture submissions of lab 1 for the TA grading tests and the benchmark.

Each fixture is the release notebook with its answer cells filled (from the reference
solution, then the fixture's replacements) and optionally edited (cells deleted, retyped,
re-tagged). ``score`` is the automatic score the hardened grader must give (out of 12),
``flags`` the audit flags it must raise, ``plain`` what plain nbgrader 0.9.6 gives when it
grades the submission at all (``None``: the submission fails).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from grading_harness import SANDBOX

from course_utils import notebooks
from course_utils.ta.layout import Layout

LAB = "lab1_onehot"
FULL = 12
# how the class is graded: lab 1's cells take under 3 s; each looping fixture burns the limit
GRADE = ["autograde", LAB, "--jobs", "2", "--timeout", "15", "--memory", "4G"]
GRADE += [] if SANDBOX else ["--no-sandbox"]


@dataclass
class Fixture:
    answers: dict[str, str] | None  # None: the untouched release
    score: float
    flags: set[str] = field(default_factory=set)
    edit: Callable[[nbformat.NotebookNode], None] | None = None
    plain: float | None = FULL
    needs_sandbox: bool = False
    append: dict[str, str] = field(default_factory=dict)  # code added after an answer
    exact_flags: bool = True  # False: ``flags`` must be among those raised, others may be too


_cells = notebooks.cells_by_id


def _delete(*ids: str) -> Callable[[nbformat.NotebookNode], None]:
    def edit(nb: nbformat.NotebookNode) -> None:
        nb.cells = [c for c in nb.cells if notebooks.grade_id(c) not in ids]

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
# A 5 GiB tensor: past the 4G address-space limit of a grading kernel (the class's --memory)
# at once, whatever the kernel already holds, so the allocation fails in milliseconds. Without a
# limit it is address space only (torch.empty touches no page), so safe on any machine. (Filling
# 3 GiB page by page, as this bomb did first, took 8.6 s on the idle 2-core machine and ran past
# the 15 s cell limit on a busy one.) The whole submission's memory is the watchdog's, tested by
# the limits class (sandbox_fixtures.FORK_ALLOCATE).
MEMORY_BOMB = (
    "def embed_with_one_hot(indices, E):\n"
    "    scratch = torch.empty(5 << 30, dtype=torch.uint8)\n"
    "    del scratch\n"
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


# --- attacks on an in-kernel verdict (issue 13): each must earn only what its real code earns

# Every later cell "succeeds" without running: IPython's run_code replaced.
PATCH_RUN_CODE = (
    "\n_shell = get_ipython()\n\n"
    "async def _run_nothing(code_obj, result=None, *, async_=False):\n"
    "    return False\n\n"
    "_shell.run_code = _run_nothing\n"
)
# Makes every check pass, whatever the values: the visible tests then say nothing.
_NO_CHECKS = (
    "\nimport torch.testing\n"
    "import course_utils.grading as _g\n"
    "torch.testing.assert_close = lambda *args, **kwargs: None\n"
    "assert_close = lambda *args, **kwargs: None\n"
)
# Five ways to stop the guard from restoring the checks before each test cell.
GUARD_NOOP = (
    WRONG_COSINE
    + _NO_CHECKS
    + (
        "import course_utils.ta.guard as _guard\n"
        "_guard._RECORD.restore = lambda: None\n"
        "_guard.rearm = lambda namespace, token, imports: _guard._emit(token)\n"
    )
)
GUARD_GC = (
    WRONG_COSINE
    + _NO_CHECKS
    + (
        "import gc\n"
        "for _obj in gc.get_objects():\n"
        "    if type(_obj).__name__ == '_Record':\n"
        "        _obj.attributes = [\n"
        "            (m, a, v) for m, a, v in _obj.attributes if a != 'assert_close'\n"
        "        ]\n"
        "        _obj.code = []\n"
    )
)
GUARD_SHADOW_IMPORT = (
    WRONG_COSINE
    + _NO_CHECKS
    + (
        "import types as _types\n"
        "_real_import = __import__\n"
        "def __import__(name, *args, **kwargs):\n"
        "    if name == 'course_utils.ta.guard':\n"
        "        real = _real_import(name, *args, **kwargs).ta.guard\n"
        "        fake = _types.SimpleNamespace(\n"
        "            rearm=lambda ns, token, imports: real._emit(token),\n"
        "            done=real.done, start=real.start)\n"
        "        return _types.SimpleNamespace(ta=_types.SimpleNamespace(guard=fake))\n"
        "    return _real_import(name, *args, **kwargs)\n"
    )
)
GUARD_SETTRACE = (
    WRONG_COSINE
    + _NO_CHECKS
    + (
        "import sys\n"
        "def _skip_restore(frame, event, arg):\n"
        "    if frame.f_code.co_name != 'rearm':\n"
        "        return None\n"
        "    last = max(line for _, _, line in frame.f_code.co_lines() if line)\n"
        "    def jump(f, e, a):\n"
        "        if e == 'line' and f.f_lineno < last - 1:\n"
        "            try:\n"
        "                f.f_lineno = last - 1\n"
        "            except ValueError:\n"
        "                pass\n"
        "        return jump\n"
        "    return jump\n"
        "sys.settrace(_skip_restore)\n"
    )
)
GUARD_HOOK_LIST = (
    WRONG_COSINE
    + _NO_CHECKS
    + (
        "class _Sticky(list):\n"
        "    def __setitem__(self, key, value):\n"
        "        list.__setitem__(self, key, list(value) + [h for h in self if h not in value])\n"
        "    def clear(self):\n"
        "        pass\n"
        "def _repatch(*args):\n"
        "    import torch.testing\n"
        "    torch.testing.assert_close = lambda *a, **k: None\n"
        "    get_ipython().user_ns['assert_close'] = lambda *a, **k: None\n"
        "_hooks = get_ipython().events.callbacks\n"
        "_hooks['pre_run_cell'] = _Sticky(_hooks['pre_run_cell'] + [_repatch])\n"
    )
)
# A tensor that answers a comparison with whatever it is compared with (the expected value
# used to sit in the kernel's frame); no real code behind it.
MIRROR = (
    "import inspect\n\n"
    "class Mirror(torch.Tensor):\n"
    "    @classmethod\n"
    "    def __torch_function__(cls, func, types, args=(), kwargs=None):\n"
    "        frame = inspect.currentframe().f_back\n"
    "        while frame is not None:\n"
    "            for name in ('expected', 'want'):\n"
    "                if isinstance(frame.f_locals.get(name), torch.Tensor):\n"
    "                    return frame.f_locals[name]\n"
    "            frame = frame.f_back\n"
    "        return super().__torch_function__(func, types, args, kwargs or {})\n\n"
)
MIRROR_ANSWERS = {
    "one_hot": MIRROR + "def one_hot(indices, vocab_size):\n"
    "    return torch.zeros(*indices.shape, vocab_size).as_subclass(Mirror)\n",
    "cosine_similarity": "def cosine_similarity(a, b, eps=1e-8):\n"
    "    return torch.zeros(torch.broadcast_shapes(a.shape, b.shape)[:-1]).as_subclass(Mirror)\n",
    "pairwise_cosine": "def pairwise_cosine(X, eps=1e-8):\n"
    "    return torch.zeros(len(X), len(X)).as_subclass(Mirror)\n",
    "embed_with_one_hot": "def embed_with_one_hot(indices, E):\n"
    "    return torch.zeros(len(indices), E.shape[1]).as_subclass(Mirror)\n",
}
# The caller's source (the hidden test) printed, by a correct answer and by a later cell.
PRINT_CALLER = (
    "\nimport inspect as _inspect\n"
    "_real_one_hot = one_hot\n\n"
    "def one_hot(indices, vocab_size):\n"
    "    caller = _inspect.currentframe().f_back\n"
    "    try:\n"
    "        print(_inspect.getsource(caller))\n"
    "    except (OSError, TypeError):\n"
    "        pass\n"
    "    return _real_one_hot(indices, vocab_size)\n"
)
PRINT_HISTORY = "\nprint('\\n'.join(_ih))\n"
# The hidden test's source carried out in an exception message.
RAISE_CALLER = (
    "\nimport inspect as _inspect\n"
    "_real_most_similar = most_similar\n\n"
    "def most_similar(word, embeddings, word2idx, idx2word, k=5):\n"
    "    if k == 12:\n"
    "        frame = _inspect.currentframe().f_back\n"
    "        outer = _inspect.getouterframes(frame)\n"
    "        lines = [line for f in outer for line in (f.code_context or [])]\n"
    "        raise ValueError(''.join(lines) + _inspect.getsource(frame))\n"
    "    return _real_most_similar(word, embeddings, word2idx, idx2word, k)\n"
)
# An honest answer that triggers a harmless library warning (stderr).
WARNS = (
    "\nimport warnings as _warnings\n"
    "_quiet_cosine = cosine_similarity\n\n"
    "def cosine_similarity(a, b, eps=1e-8):\n"
    "    _warnings.warn('a harmless warning from a library', UserWarning, stacklevel=2)\n"
    "    return _quiet_cosine(a, b, eps)\n"
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
    # issue 13: what an in-kernel verdict could not stop
    "patches_run_code": Fixture(
        None,
        0,
        {"suspicious"},
        plain=FULL,
        append={"build_vocab": PATCH_RUN_CODE},
        exact_flags=False,
    ),
    "guard_noop": Fixture({"cosine_similarity": GUARD_NOOP}, 7, {"suspicious"}, exact_flags=False),
    "guard_gc": Fixture({"cosine_similarity": GUARD_GC}, 7, {"suspicious"}, exact_flags=False),
    "guard_shadow_import": Fixture(
        {"cosine_similarity": GUARD_SHADOW_IMPORT}, 7, {"suspicious"}, exact_flags=False
    ),
    "guard_settrace": Fixture(
        {"cosine_similarity": GUARD_SETTRACE}, 7, {"suspicious"}, exact_flags=False
    ),
    "guard_hook_list": Fixture(
        {"cosine_similarity": GUARD_HOOK_LIST}, 7, {"suspicious"}, exact_flags=False
    ),
    "mirror_tensor": Fixture(
        {
            **{gid: "raise NotImplementedError()\n" for gid in ("build_vocab", "most_similar")},
            **MIRROR_ANSWERS,
        },
        0,
        set(),
        exact_flags=False,
    ),
    "prints_hidden_source": Fixture(
        {},
        FULL,
        set(),
        append={"one_hot": PRINT_CALLER, "embed_with_one_hot": PRINT_HISTORY},
        exact_flags=False,
    ),
    "exception_leak": Fixture(
        {}, FULL - 2, set(), append={"most_similar": RAISE_CALLER}, exact_flags=False
    ),
    "harmless_warning": Fixture({}, FULL, set(), append={"cosine_similarity": WARNS}),
}


def build(root: Path, student: str, fixture: Fixture) -> Path:
    """Write ``fixture`` as ``student``'s submission in the course at ``root``."""
    layout = Layout(root)
    release = notebooks.read(layout.release_notebook(LAB))
    solution = notebooks.read(layout.source_notebook(LAB))
    notebooks.fill_release(release, solution, fixture.answers, fixture.append)
    if fixture.edit is not None:
        fixture.edit(release)
    path = layout.submission(student, LAB)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(release, path)
    return path
