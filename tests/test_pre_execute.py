"""``ResilientExecute`` on notebooks of a few cells, in a real kernel without bubblewrap.

The kernel is started by ``SandboxedKernelManager`` with ``isolate=False`` (limits only), so
the tests run wherever a kernel runs; each must show one job of the preprocessor: a death is
survived (the state before it replayed), restarts are bounded, a hang is interrupted, no tag
skips a cell, outputs are bounded, a demonstration nothing needs is left out. A few seconds
per test.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
from preprocessor_notebooks import cell as nbgrader_cell
from traitlets.config import Config

from course_utils.ta import events
from course_utils.ta.demo_cells import NOT_RUN_NOTE
from course_utils.ta.execution import ResilientExecute
from course_utils.ta.protocol import NOT_RUN_KEY
from course_utils.ta.sandbox import Limits, Sandbox


def _code(source: str, *tags: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def _run(
    tmp_path: Path,
    sources: list[str | nbformat.NotebookNode],
    limits: Limits | None = None,
    **traits: object,
) -> tuple[nbformat.NotebookNode, list[dict]]:
    workdir = tmp_path / "work"
    workdir.mkdir()
    config = Config()
    config.SandboxedKernelManager.sandbox = Sandbox(
        root=tmp_path, workdir=workdir, limits=limits or Limits(), isolate=False
    )
    cells = [_code(s) if isinstance(s, str) else s for s in sources]
    nb = nbformat.v4.new_notebook(cells=cells)
    events.drain()
    nb, _ = ResilientExecute(config=config, **{"timeout": 20, **traits}).preprocess(nb, {})
    return nb, events.drain()


def _text(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def _errors(cell: nbformat.NotebookNode) -> list[str]:
    return [o.ename for o in cell.outputs if o.output_type == "error"]


def test_a_dead_kernel_is_restarted_with_the_cells_before_replayed(tmp_path: Path):
    nb, found = _run(tmp_path, ["x = 41\nprint('once')", "import os\nos._exit(1)", "print(x + 1)"])
    assert _text(nb.cells[0]) == "once\n", "the replay's outputs are not kept"
    assert _errors(nb.cells[1]) == ["DeadKernelError"]
    assert _text(nb.cells[2]) == "42\n"
    assert [e["flag"] for e in found] == ["kernel_died"]


def test_past_max_restarts_the_rest_is_marked_not_run(tmp_path: Path):
    cells = ["import os\nos._exit(1)", "print('never')", "# a comment"]
    nb, found = _run(tmp_path, cells, max_restarts=0)
    assert _errors(nb.cells[0]) == ["DeadKernelError"]
    for cell in nb.cells[1:]:
        assert _errors(cell) == ["NotRun"] and cell.metadata[NOT_RUN_KEY]
    assert [e["flag"] for e in found] == ["kernel_died"]


def test_a_cell_past_its_time_limit_is_interrupted_and_the_next_runs(tmp_path: Path):
    nb, found = _run(tmp_path, ["import time\ntime.sleep(60)", "print('next')"], timeout=2)
    assert "KeyboardInterrupt" in _errors(nb.cells[0]), "interrupted, so it scores 0"
    assert _text(nb.cells[1]) == "next\n"
    assert {e["flag"] for e in found} == {"timed_out"}
    assert all(e["cell"] for e in found)


def test_a_cell_that_ignores_the_interrupt_is_restarted_after_the_grace(tmp_path: Path):
    ignore = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(600)"
    started = time.monotonic()
    nb, found = _run(tmp_path, ["x = 1", ignore, "print(x + 1)"], timeout=2, interrupt_grace=2)
    assert time.monotonic() - started < 40, "restarted after the grace, not nbclient's minute"
    assert _errors(nb.cells[1]) == ["CellTimeoutError"]
    assert _text(nb.cells[2]) == "2\n", "the cells before it replayed, the next one ran"
    assert [e["flag"] for e in found] == ["timed_out", "timed_out"]


def test_no_tag_skips_a_cell_and_outputs_are_bounded(tmp_path: Path):
    sources = [_code("print('ran')", "skip-execution"), "print('y' * 100_000)"]
    nb, found = _run(tmp_path, sources, limits=Limits(output_bytes=10_000))
    assert _text(nb.cells[0]) == "ran\n"
    kept = sum(len(o.get("text", "")) for o in nb.cells[1].outputs)
    assert 0 < kept < 20_000, kept
    assert found == []


def test_a_demo_is_not_run_nor_replayed_and_says_so(tmp_path: Path):
    demo = nbgrader_cell("code", "print('demo ran')\nshown = 1", "demo", locked=True)
    used = nbgrader_cell("code", "print('demo ran')\nneeded = 2", "used", locked=True)
    sources = [demo, used, "import os\nos._exit(1)", "print(needed)"]
    demos = {"demo": demo.source, "used": used.source}
    nb, found = _run(tmp_path, sources, demo_cells=demos)
    assert _text(nb.cells[0]) == NOT_RUN_NOTE, "left out, after the death too"
    assert _text(nb.cells[1]) == "demo ran\n", "a later cell reads `needed`: it runs"
    assert _text(nb.cells[3]) == "2\n"
    assert [e["flag"] for e in found] == ["kernel_died"]
