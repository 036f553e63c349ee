"""The trusted half of a hidden test: compare the student's reports with the reference's.

The student's kernel is an untrusted oracle (``course_utils.oracle``): its hidden tests call
the student's code and report the results as plain data. The judge runs in the grading
worker, outside the sandbox, and never runs student code. It

1. gets the *expected* reports once per lab from a run of the instructor notebook, whose
   answers are the reference (``reference_records``; cached under ``grading/judge/``);
2. reads the student's reports from each test cell's outputs (``harvest``), refusing what
   is not plain data;
3. compares them case by case with the tolerances, bounds and checks of the *reference*
   run (``compare``), and the forbidden shortcuts against the student's source too;
4. replaces each test cell's outputs with its verdict (``JudgeCells``): nothing the kernel
   printed while the test ran is kept, and nbgrader scores the cell from the verdict alone,
   all or nothing (a failed case is an error output; warnings on stderr cost nothing).
"""

from __future__ import annotations

import ast
import json
import math
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from course_utils.ta import events
from course_utils.ta.demo_cells import demo_cells, skippable
from course_utils.ta.protocol import (
    MAX_RECORD_BYTES,
    RECORD_MIME,
    Raised,
    Record,
    Tensor,
    Undecodable,
)

__all__ = [
    "CHECKS",
    "JudgeCells",
    "Verdict",
    "compare",
    "harvest",
    "judge_cell",
    "load_expected",
    "reference_records",
    "shortcuts_in_source",
]

MAX_RECORDS_PER_CELL = 5000
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,79}$")

# Trusted checks a hidden test may name with ``check="..."``: fn(value, **params) -> problem.
CHECKS: dict[str, Callable[..., str | None]] = {}


@dataclass
class Verdict:
    """One test cell judged: whether every case passed, how many, what failed and why."""

    passed: bool
    checked: int
    failures: list[str] = field(default_factory=list)

    def text(self) -> str:
        if self.passed:
            return f"hidden tests: all {self.checked} checks passed"
        shown = self.failures[:5]
        more = len(self.failures) - len(shown)
        lines = [f"hidden tests: {self.checked - len(self.failures)} of {self.checked} passed"]
        lines += [f"  - {line}" for line in shown]
        if more > 0:
            lines.append(f"  - ... and {more} more")
        return "\n".join(lines)


# --- reading the kernel's reports -------------------------------------------------------------


def _payload(output: NotebookNode) -> Any:
    data = output.get("data", {}).get(RECORD_MIME)
    if isinstance(data, str):  # some front ends keep JSON mime data as text
        if len(data) > MAX_RECORD_BYTES:
            raise Undecodable("a report larger than the grader reads")
        data = json.loads(data)
    return data


def harvest(cell: NotebookNode) -> tuple[list[Record | Undecodable], str | None]:
    """The reports in a cell's outputs (each a ``Record`` or the reason it was refused) and
    the name of the error the cell stopped with, if any."""
    found: list[Record | Undecodable] = []
    error = None
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            name = str(output.get("ename", ""))
            error = name if _NAME.match(name) else "an error"
            continue
        if output.get("output_type") != "display_data" or RECORD_MIME not in output.get("data", {}):
            continue
        if len(found) >= MAX_RECORDS_PER_CELL:
            found.append(Undecodable("more reports than the hidden tests make"))
            break
        try:
            found.append(Record.from_json(_payload(output)))
        except (Undecodable, ValueError, TypeError, json.JSONDecodeError) as err:
            found.append(err if isinstance(err, Undecodable) else Undecodable(str(err)[:200]))
    return found, error


# --- comparing one case -----------------------------------------------------------------------


def _describe(value: Any) -> str:
    if isinstance(value, Tensor):
        return "a NumPy array" if value.device == "numpy" else "a tensor"
    if value is None:
        return "None"
    if _is_sparse(value):
        return "a sparse matrix"
    return {bool: "a bool", int: "an int", float: "a float", str: "a string"}.get(
        type(value), f"a {type(value).__name__}"
    )


def _is_sparse(value: Any) -> bool:
    return type(value).__module__.startswith("scipy.sparse")


def _number(value: Any) -> float | None:
    if type(value) in (int, float, bool):
        return float(value)
    if isinstance(value, Tensor) and value.values is not None and value.values.size == 1:
        return float(value.values.reshape(-1)[0].real)
    return None


def _close_arrays(got: np.ndarray, want: np.ndarray, atol: float, rtol: float) -> str | None:
    if want.dtype.kind in "biu" and got.dtype.kind in "biu":
        bad = got != want
    else:
        g, w = (
            got.astype(np.complex128 if "c" in (got.dtype.kind, want.dtype.kind) else float),
            (want.astype(np.complex128 if "c" in (got.dtype.kind, want.dtype.kind) else float)),
        )
        with np.errstate(invalid="ignore"):
            ok = (g == w) | (np.isnan(g) & np.isnan(w))
            ok |= np.isfinite(w) & (np.abs(g - w) <= atol + rtol * np.abs(w))
        bad = ~ok
    count = int(np.count_nonzero(bad))
    if not count:
        return None
    if want.dtype.kind in "biu":
        return f"{count} of {bad.size} values are wrong"
    with np.errstate(invalid="ignore"):
        diffs = np.abs(got.astype(complex) - want.astype(complex))[bad]
    finite = diffs[np.isfinite(diffs)]
    worst = f" (largest difference {finite.max():.3g})" if finite.size else ""
    return f"{count} of {bad.size} values differ{worst}"


def _same(want: Any, got: Any, spec: dict[str, Any]) -> str | None:
    """Why ``got`` differs from ``want`` under ``spec``, or None when it matches."""
    atol = float(spec.get("atol", 1e-6))
    rtol = float(spec.get("rtol", 1e-5))
    if isinstance(want, Tensor):
        if not isinstance(got, Tensor) or (want.device == "numpy") != (got.device == "numpy"):
            return f"expected {_describe(want)}, got {_describe(got)}"
        if got.shape != want.shape:
            return f"expected shape {want.shape}, got {got.shape}"
        if spec.get("dtype", True) and got.dtype != want.dtype:
            return f"expected dtype {want.dtype}, got {got.dtype}"
        if spec.get("device", True) and got.device != want.device:
            return f"expected a tensor on the input's device ({want.device}), got {got.device}"
        if want.values is None:
            return None
        if got.values is None:
            return "expected values, got a tensor without data"
        return _close_arrays(got.values, want.values, atol, rtol)
    if _is_sparse(want):
        if not _is_sparse(got):
            return f"expected a sparse matrix, got {_describe(got)}"
        if got.shape != want.shape:
            return f"expected shape {want.shape}, got {got.shape}"
        if spec.get("dtype", True) and got.dtype != want.dtype:
            return f"expected dtype {want.dtype}, got {got.dtype}"
        return _close_arrays(got.toarray(), want.toarray(), atol, rtol)
    if type(want) is bool or type(want) is str or want is None:
        if type(got) is not type(want):
            return f"expected {_describe(want)}, got {_describe(got)}"
        return None if got == want else "wrong value"
    if type(want) in (int, float):
        if type(got) not in (int, float) or (type(want) is int and type(got) is not int):
            return f"expected {_describe(want)}, got {_describe(got)}"
        if type(want) is int:
            return None if got == want else "wrong value"
        if math.isnan(want):
            return None if math.isnan(got) else "wrong value"
        return None if abs(got - want) <= atol + rtol * abs(want) else "wrong value"
    if isinstance(want, list | tuple):
        if not isinstance(got, list | tuple):
            return f"expected a list or tuple, got {_describe(got)}"
        if len(got) != len(want):
            return f"expected {len(want)} items, got {len(got)}"
        for index, (w, g) in enumerate(zip(want, got, strict=True)):
            if (why := _same(w, g, spec)) is not None:
                return f"item {index}: {why}"
        return None
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return f"expected a dict, got {_describe(got)}"
        if set(got) != set(want):
            missing, extra = len(set(want) - set(got)), len(set(got) - set(want))
            return f"the keys differ ({missing} missing, {extra} unexpected)"
        for key in want:
            if (why := _same(want[key], got[key], spec)) is not None:
                return f"at key {key!r}: {why}"[:200]
        return None
    return "the grader cannot compare this value"


def _bounds(got: Any, spec: dict[str, Any]) -> str | None:
    number = _number(got)
    if number is None or math.isnan(number):
        return f"expected a number, got {_describe(got)}"
    if "at_least" in spec and not number >= float(spec["at_least"]):
        return f"{number:.4g} is below the required {float(spec['at_least']):g}"
    if "at_most" in spec and not number <= float(spec["at_most"]):
        return f"{number:.4g} is above the allowed {float(spec['at_most']):g}"
    return None


def _raises(want: Raised | None, got: Raised | None) -> str | None:
    if want is None and got is not None:
        name = got.type if _NAME.match(got.type) else "an exception"
        return f"raised {name}"
    if want is not None and got is None:
        return f"should raise {want.type}, but it returned"
    if want is not None and got is not None and want.type not in got.bases:
        name = got.type if _NAME.match(got.type) else "another exception"
        return f"should raise {want.type}, but raised {name}"
    return None


def compare(expected: Record, got: Record) -> str | None:
    """Why the student's case ``got`` fails against the reference's ``expected``, or None."""
    spec = expected.spec
    if got.name != expected.name:
        return "the hidden checks were reported out of order"
    if got.used:
        return f"calls {', '.join(got.used)}, which this exercise asks you to write yourself"
    if (why := _raises(expected.raised, got.raised)) is not None:
        return why
    if expected.raised is None:
        if "check" in spec:
            check = CHECKS.get(str(spec["check"]))
            if check is None:
                return f"unknown trusted check {spec['check']!r}"
            params = {k: v for k, v in spec.items() if k not in {"check", "forbid"}}
            why = check(got.value, **params)
        elif "at_least" in spec or "at_most" in spec:
            why = _bounds(got.value, spec)
        else:
            why = _same(expected.value, got.value, spec)
        if why is not None:
            return why
    if len(got.args_after) != len(expected.args_after):
        return "the grader could not read the inputs after the call"
    for index, (want, after) in enumerate(zip(expected.args_after, got.args_after, strict=True)):
        if _same(want, after, {"atol": 0.0, "rtol": 0.0}) is not None:
            return f"changed its input (argument {index + 1}) in place"
    return None


# --- a whole test cell ------------------------------------------------------------------------


def _last_word(dotted: str) -> str:
    """``"a.Vocab.from_corpus"`` -> ``"from_corpus"``; ``"a.Vocab.__init__"`` -> ``"Vocab"``."""
    parts = dotted.split(".")
    while len(parts) > 1 and parts[-1].startswith("__"):
        parts.pop()
    return parts[-1]


def shortcuts_in_source(nb: NotebookNode, names: set[str]) -> set[str]:
    """Which of the dotted ``names`` the student's answer cells refer to (by their last part:
    an attribute, an imported name, or a string that spells it)."""
    wanted = {_last_word(name): name for name in names}
    found: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type != "code" or not utils.is_solution(cell):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            word = None
            if isinstance(node, ast.Attribute):
                word = node.attr
            elif isinstance(node, ast.ImportFrom):
                hits = [a.name for a in node.names if a.name in wanted]
                word = hits[0] if hits else None
            elif isinstance(node, ast.Name):
                word = node.id if node.id in wanted and _is_class_name(node.id) else None
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                word = node.value
            if word in wanted:
                found.add(wanted[word])
    return found


def _is_class_name(word: str) -> bool:
    return word[:1].isupper()


def judge_cell(
    expected: list[Record], reported: list[Record | Undecodable], error: str | None
) -> Verdict:
    """All of ``expected`` must be reported, in order, and match; anything else fails."""
    failures: list[str] = []
    for index, want in enumerate(expected):
        if index >= len(reported):
            why = f"the cell stopped with {error} first" if error else "the cell never got there"
            failures.append(f"{want.name}: not checked, {why}")
            continue
        got = reported[index]
        if isinstance(got, Undecodable):
            failures.append(f"{want.name}: returned {got}")
        elif (why := compare(want, got)) is not None:
            failures.append(f"{want.name}: {why}")
    if len(reported) > len(expected):
        failures.append("the cell reported more results than its hidden tests make")
    return Verdict(passed=not failures and bool(expected), checked=len(expected), failures=failures)


def load_expected(path: str | Path) -> dict[str, list[Record]]:
    """The reference run's reports, by test cell (``reference_records`` wrote them)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return {gid: [Record.from_json(r) for r in records] for gid, records in data.items()}


def _verdict_output(verdict: Verdict) -> NotebookNode:
    if verdict.passed:
        return nbformat.v4.new_output("stream", name="stdout", text=verdict.text() + "\n")
    return nbformat.v4.new_output(
        "error",
        ename="HiddenTestFailed",
        evalue=verdict.text(),
        traceback=[verdict.text()],
    )


class JudgeCells(NbGraderPreprocessor):
    """Give every test cell the judge's verdict as its only output (before scores are saved)."""

    expected = Unicode("", help="the reference run's reports (JSON)").tag(config=True)

    def preprocess(
        self, nb: NotebookNode, resources: dict[str, Any]
    ) -> tuple[NotebookNode, dict[str, Any]]:
        expected = load_expected(self.expected)
        forbidden = {
            gid: {n for r in records for n in r.spec.get("forbid", [])}
            for gid, records in expected.items()
        }
        for cell in nb.cells:
            if not (cell.cell_type == "code" and utils.is_grade(cell)) or utils.is_solution(cell):
                continue
            gid = cell.metadata.nbgrader.grade_id
            reported, error = harvest(cell)
            verdict = judge_cell(expected.get(gid, []), reported, error)
            if shortcuts := shortcuts_in_source(nb, forbidden.get(gid, set())):
                verdict.passed = False
                verdict.failures.insert(
                    0,
                    f"your code uses {', '.join(sorted(shortcuts))}, which this exercise "
                    "asks you to write yourself",
                )
                events.record("suspicious", f"uses {', '.join(sorted(shortcuts))}", gid)
            if any(isinstance(r, Undecodable) for r in reported):
                events.record("suspicious", "reported a value that is not plain data", gid)
            cell.outputs = [_verdict_output(verdict)]
        return nb, resources


# --- the reference run ------------------------------------------------------------------------


def reference_records(
    notebook: Path, workdir: Path, target: Path, kernel: Callable[[], Any], timeout: int
) -> Path:
    """Run the instructor notebook (reference answers) and save its reports to ``target``.

    ``kernel`` makes the kernel manager to run it with (the students' sandbox, so both runs
    see the same environment). The demonstration cells are left out as in the submissions'
    runs. Fails, naming the cell, if the reference does not run clean.
    """
    from jupyter_core.utils import run_sync
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    skip = "course-demo-" + secrets.token_hex(8)
    for index in skippable(nb, demo_cells(nb)):
        nb.cells[index].metadata.setdefault("tags", []).append(skip)
    workdir.mkdir(parents=True, exist_ok=True)
    manager = kernel()
    client = NotebookClient(
        nb,
        km=manager,
        timeout=timeout,
        skip_cells_with_tag=skip,
        resources={"metadata": {"path": str(workdir)}},
    )
    try:
        client.execute()
    finally:
        if manager.has_kernel:
            run_sync(manager.shutdown_kernel)(now=True)
    out: dict[str, list[Any]] = {}
    for cell in nb.cells:
        if not (cell.cell_type == "code" and utils.is_grade(cell)) or utils.is_solution(cell):
            continue
        gid = cell.metadata.nbgrader.grade_id
        reported, error = harvest(cell)
        if error or any(isinstance(r, Undecodable) for r in reported):
            raise RuntimeError(f"the reference solution fails its own test cell {gid}: {error}")
        out[gid] = [_payload(o) for o in cell.outputs if RECORD_MIME in o.get("data", {})]
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(out), encoding="utf-8")
    tmp.replace(target)
    return target


def _register_lab_checks() -> None:
    from course_utils.ta import checks_sgns

    checks_sgns.register(CHECKS)


_register_lab_checks()
