"""Cell execution that survives what student code does to the kernel.

nbgrader's ``Execute`` fails the whole submission when the kernel dies (``os._exit``, a crash,
the CPU limit) and when a cell ignores the interrupt sent at the time limit (IOPub timeout),
and then ``nbgrader export`` shows 0 with no sign of failure. ``ResilientExecute`` instead
gives that cell an error output (so it, or its test, scores 0), restarts the kernel, re-runs
the cells before it without keeping their new outputs, and goes on with the next cell. After
``max_restarts`` restarts the remaining cells are marked as not run. Every timeout and death
is recorded for the audit.

Around that: a kernel that fails to start is started once more, then the submission fails
with the reason; the submission's wall-clock limit (``watchdog``) stops it for good, the
cells left marked as not run; each cell's kept output is bounded (``outputs``); and the work
folder is prepared and emptied of what the kernel wrote (``isolation``).
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import nbformat
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Dict, Integer

from course_utils.ta import events, isolation, watchdog
from course_utils.ta.demo_cells import NOT_RUN_NOTE, skippable
from course_utils.ta.outputs import OutputBudget, size_of
from course_utils.ta.protocol import NOT_RUN_KEY
from course_utils.ta.sandbox import Limits, Sandbox, SandboxedKernelManager

__all__ = ["ResilientExecute"]

_WALL = "not run: the submission ran past its wall-clock limit"
_STOPPED = "stopped: the submission ran past its wall-clock limit"


def _error(ename: str, evalue: str) -> NotebookNode:
    return nbformat.v4.new_output(
        "error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]
    )


class ResilientExecute(Execute):
    """nbgrader's ``Execute`` in the sandboxed kernel, restarting it after a death or a hang."""

    max_restarts = Integer(3, help="kernel restarts allowed per notebook").tag(config=True)
    interrupt_grace = Integer(
        10, help="seconds a cell interrupted at its time limit has to stop before the restart"
    ).tag(config=True)
    demo_cells = Dict(
        help="the instructor's demonstration cells (grade id -> source), not run when nothing "
        "that runs after them needs them (demo_cells.skippable)"
    ).tag(config=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["kernel_manager_class"] = SandboxedKernelManager
        super().__init__(*args, **kwargs)
        self.skip_cells_with_tag = "course-never-skip-" + secrets.token_hex(8)
        self.raise_on_iopub_timeout = True  # an ignored interrupt must surface, to restart
        # outputs still in flight after the reply (large hidden-test reports on a busy machine)
        # must not count as a hang: nbclient's default of 4 s failed correct cells under load
        self.iopub_timeout = self._output_wait = max(self.iopub_timeout, 60)
        self.shutdown_kernel = "immediate"

    def preprocess(
        self, nb: NotebookNode, resources: Any = None, km: Any = None
    ) -> tuple[NotebookNode, Any]:
        from nbclient import NotebookClient

        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        self._demos = skippable(self.nb, self.demo_cells)
        sandbox = self._sandbox()
        self._budget = OutputBudget((sandbox.limits if sandbox else Limits()).output_bytes)
        if sandbox is not None:
            isolation.before_kernel(sandbox)
        try:
            with self._kernel():
                self._run_cells(resources)
        finally:
            if sandbox is not None:
                isolation.after_kernel(sandbox)
        self.set_widgets_metadata()
        return self.nb, self.resources

    def _run_cells(self, resources: Any) -> None:
        restarts = 0
        skipped = set(self._demos)  # not run, and not replayed after a restart
        self._kernel_info()
        index = 0
        while index < len(self.nb.cells):
            if watchdog.expired():
                self._mark_not_run(index, _WALL)
                break
            cell = self.nb.cells[index]
            if index in self._demos:
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=NOT_RUN_NOTE)]
                index += 1
                continue
            try:
                self.preprocess_cell(cell, resources, index)
            except (DeadKernelError, CellTimeoutError) as err:
                skipped.add(index)
                if watchdog.expired():  # stopped by the grader, not dead by itself
                    cell.outputs.append(_error("WallClockLimit", _STOPPED))
                    self._mark_not_run(index + 1, _WALL)
                    break
                self._note_failure(cell, index, err)
                restarts += 1
                if restarts > self.max_restarts or not self._restart_and_replay(index, skipped):
                    self._mark_not_run(index + 1)
                    break
            index += 1

    def _sandbox(self) -> Sandbox | None:
        """The kernels' sandbox, as configured for ``SandboxedKernelManager``."""
        return Sandbox.of(self.config.get("SandboxedKernelManager", {}).get("sandbox"))

    @contextmanager
    def _kernel(self) -> Iterator[None]:
        """A started kernel and client (one more try if the first start fails)."""
        for attempt in (1, 2):
            try:
                if self.km is None:
                    self.km = self.create_kernel_manager()
                if not self.km.has_kernel:
                    self.start_new_kernel()
                if self.kc is None:
                    self.start_new_kernel_client()
                break
            except Exception as err:
                why = f"{type(err).__name__}: {err}".strip()[:300] + self._kernel_said()
                self._discard_kernel()
                if attempt == 2 or watchdog.expired():
                    events.record("failed", f"the kernel did not start, twice: {why}")
                    raise
                self.log.warning("the kernel did not start (%s); trying once more", why)
        try:
            yield
        finally:
            if self.km is not None:
                self._cleanup_kernel()

    def _kernel_said(self) -> str:
        """The last line the kernel (or bubblewrap) wrote to its stderr, if any."""
        sandbox = self._sandbox()
        log = sandbox.part("kernel.log") if sandbox else None
        try:
            lines = log.read_bytes()[-2000:].decode(errors="replace").strip().splitlines()
        except (AttributeError, OSError):
            return ""
        return f" ({lines[-1][:200]})" if lines else ""

    def _discard_kernel(self) -> None:
        try:
            if self.km is not None:
                if self.kc is None:
                    self.kc = self.km.client()  # _cleanup_kernel forgets km only with a kc
                self._cleanup_kernel()
        except Exception as err:
            self.log.warning("could not clean up the kernel that did not start: %s", err)
        self.km = None
        self.kc = None

    def output(
        self, outs: list[NotebookNode], msg: dict[str, Any], display_id: str | None, index: int
    ) -> NotebookNode | None:
        """nbclient's ``output``, keeping only what the cell's output budget allows."""
        if self.clear_before_next_output:
            self._budget.reset(index)
        before = len(outs)
        out = super().output(outs, msg, display_id, index)
        if out is not None and len(outs) == before + 1 and outs[-1] is out:
            outs.pop()
            if not self._budget.admit(index, outs, out) and display_id:
                self._display_id_map.get(display_id, {}).pop(index, None)
        return out

    def clear_output(self, outs: list[NotebookNode], msg: dict[str, Any], index: int) -> None:
        super().clear_output(outs, msg, index)
        if not outs:
            self._budget.reset(index)

    def _update_display_id(self, display_id: str, msg: dict[str, Any]) -> None:
        super()._update_display_id(display_id, msg)
        for index, positions in self._display_id_map.get(display_id, {}).items():
            outputs = self.nb.cells[index].outputs
            for position in positions:
                if position < len(outputs) and size_of(outputs[position]) > self._budget.limit:
                    outputs[position]["data"] = {"text/plain": "[display cut by the grader]"}

    async def _async_handle_timeout(self, timeout: int, cell: NotebookNode | None = None) -> Any:
        gid = (cell or {}).get("metadata", {}).get("nbgrader", {}).get("grade_id", "a cell")
        events.record("timed_out", f"ran past the {timeout} s limit and was interrupted", gid)
        # nbclient then waits iopub_timeout for the cell to end: a cell that ignores the
        # interrupt (and may burn a core meanwhile) is restarted after the grace, not a minute
        self.iopub_timeout = min(self._output_wait, self.interrupt_grace)
        return await super()._async_handle_timeout(timeout, cell)

    async def _async_poll_for_reply(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super()._async_poll_for_reply(*args, **kwargs)
        finally:
            self.iopub_timeout = self._output_wait  # the next cell gets the full wait again

    def _kernel_info(self) -> None:
        info = self.wait_for_reply(self.kc.kernel_info())
        if info is not None:
            self.nb.metadata["language_info"] = info["content"]["language_info"]

    def _note_failure(self, cell: NotebookNode, index: int, err: Exception) -> None:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {index}"
        if isinstance(err, CellTimeoutError):
            why = (
                f"the cell ran for more than {self.timeout} s and did not stop when interrupted; "
                "the kernel was restarted"
            )
            events.record("timed_out", why, gid)
            cell.outputs.append(_error("CellTimeoutError", why))
        else:
            why = "the kernel died while running this cell (os._exit, a crash or the CPU limit)"
            events.record("kernel_died", why + "; it was restarted", gid)
            cell.outputs.append(_error("DeadKernelError", why))

    def _restart_and_replay(self, failed: int, skipped: set[int]) -> bool:
        """A fresh kernel in the state the cells before ``failed`` left; False if that fails."""
        try:
            self._restart()
            for index in range(failed):
                cell = self.nb.cells[index]
                if index in skipped or cell.cell_type != "code":
                    continue
                self.execute_cell(copy.deepcopy(cell), index, store_history=False)
                self.nb.cells[index] = cell  # keep the outputs of the first run
        except (DeadKernelError, CellTimeoutError, RuntimeError) as err:
            self.log.error("could not restore the kernel after a failure: %s", err)
            return False
        return True

    def _restart(self) -> None:
        """Restart the kernel, once more if the new one does not come up."""
        for attempt in (1, 2):
            try:
                if self.kc is not None:
                    self.kc.stop_channels()
                    self.kc = None
                if self.km is None:  # a failed client start shut the kernel down
                    self.km = self.create_kernel_manager()
                    self.start_new_kernel()
                else:
                    run_sync(self.km.restart_kernel)(now=True)
                self.start_new_kernel_client()
                self._kernel_info()
                return
            except (DeadKernelError, RuntimeError, TimeoutError) as err:
                if attempt == 2 or watchdog.expired():
                    raise RuntimeError(f"the kernel did not restart, twice: {err}") from err
                self.log.warning("the kernel did not restart (%s); trying once more", err)

    def _mark_not_run(self, start: int, why: str = "not run: the kernel kept failing") -> None:
        for cell in self.nb.cells[start:]:
            if cell.cell_type == "code":
                cell.outputs = [_error("NotRun", why)]
                cell.metadata[NOT_RUN_KEY] = True
