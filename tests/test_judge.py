"""The judge and the report format, without a kernel: what passes, what fails and why.

``oracle.encode`` (the kernel side) and ``protocol.decode`` (the trusted side) must agree on
plain data and refuse everything else; ``judge.compare`` must fail each realistic mismatch and
take its tolerances from the reference's record only.
"""

from __future__ import annotations

import json

import nbformat
import numpy as np
import pytest
import scipy.sparse
import torch

from course_utils import oracle
from course_utils.ta import judge
from course_utils.ta.protocol import RECORD_MIME, Record, Undecodable, decode


def record(name: str, fn, *args, **spec) -> Record:
    """What ``oracle.ask`` would report, through JSON, as the judge reads it."""
    captured = []
    real = oracle._emit
    oracle._emit = captured.append
    try:
        oracle.ask(name, fn, *args, **spec)
    finally:
        oracle._emit = real
    return Record.from_json(json.loads(json.dumps(captured[0])))


def test_plain_data_round_trips():
    values = [None, True, 3, -2.5, float("nan"), "w", [1, (2, 3)], {"a": 1, 2: [0.5]}]
    for value in values:
        got = decode(json.loads(json.dumps(oracle.encode(value))))
        if isinstance(value, float) and value != value:
            assert got != got
        else:
            assert got == (list(value) if isinstance(value, tuple) else value)


def test_tensors_keep_dtype_shape_device_and_bytes():
    x = torch.arange(6, dtype=torch.float64).reshape(2, 3)
    got = decode(oracle.encode(x))
    assert (got.dtype, got.shape, got.device) == ("float64", (2, 3), "cpu")
    assert np.array_equal(got.values, x.numpy())
    meta = decode(oracle.encode(torch.empty(4, 2, device="meta")))
    assert meta.device == "meta" and meta.values is None and meta.shape == (4, 2)


def test_sparse_matrices_keep_their_duplicates_summed_by_value():
    m = scipy.sparse.coo_matrix(([1.0, 2.0], ([0, 0], [1, 1])), shape=(2, 2))
    got = decode(oracle.encode(m))
    assert got.toarray()[0, 1] == 3.0


def test_what_is_not_plain_data_is_refused():
    class Mirror(torch.Tensor):
        pass

    class Sly(float):
        def __eq__(self, other):
            return True

    for value in [torch.zeros(2).as_subclass(Mirror), Sly(1.0), object(), lambda: 1]:
        with pytest.raises(Undecodable):
            decode(oracle.encode(value))
    for malformed in [
        {"t": "int", "v": "3"},
        {"t": "tensor", "dtype": "float32", "shape": [2]},
        {"t": "tensor", "dtype": "float32", "shape": [2], "data": "AAAA"},
        {"t": "eval", "v": "1"},
        [1, 2],
        "3",
    ]:
        with pytest.raises(Undecodable):
            decode(malformed)


_KERNEL_SIDE = ("default_device", "forbid", "kwargs")


def _twice(fn_ref, fn_student, *args, **spec):
    """Both runs of one hidden case; the student's spec is never read by the judge."""
    kernel = {k: v for k, v in spec.items() if k in _KERNEL_SIDE}
    want = record("case", fn_ref, *args, **spec)
    got = record("case", fn_student, *args, **kernel)
    return judge.compare(want, got)


def test_equal_results_pass_and_realistic_mismatches_fail():
    x = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    ref = lambda t: t / t.norm(dim=1, keepdim=True)  # noqa: E731
    assert _twice(ref, ref, x) is None
    assert "values differ" in _twice(ref, lambda t: t / t.norm(), x)
    assert "shape" in _twice(ref, lambda t: (t / t.norm(dim=1, keepdim=True)).T.reshape(1, 4), x)
    assert "dtype" in _twice(ref, lambda t: ref(t).double(), x)
    assert "expected a tensor" in _twice(ref, lambda t: ref(t).tolist(), x)
    assert "raised ZeroDivisionError" in _twice(ref, lambda t: 1 / 0, x)


def test_tolerances_come_from_the_reference_only():
    x = torch.tensor([1.0, 2.0])
    off = lambda t: t + 1e-3  # noqa: E731
    assert _twice(lambda t: t, off, x) is not None
    assert _twice(lambda t: t, off, x, atol=1e-2) is None
    want = record("case", lambda t: t, x)
    got = record("case", off, x, atol=10.0)  # a student asking for a loose tolerance
    assert judge.compare(want, got) is not None


def test_exceptions_must_match_the_reference():
    def strict(t):
        if t.min() < 0:
            raise ValueError("negative")
        return t

    bad = torch.tensor([-1.0])
    assert _twice(strict, strict, bad) is None
    assert "should raise ValueError" in _twice(strict, lambda t: t, bad)
    assert "should raise ValueError, but raised TypeError" in _twice(
        strict, lambda t: (_ for _ in ()).throw(TypeError()), bad
    )


def test_changing_an_input_in_place_fails():
    def in_place(t):
        t /= t.norm()
        return t

    x = torch.tensor([3.0, 4.0])
    assert "changed its input" in _twice(lambda t: t / t.norm(), in_place, x.clone())
    assert "changed its input" in _twice(lambda xs: sorted(xs), lambda xs: xs.sort() or xs, [3, 1])


def test_the_default_device_trap_catches_tensors_made_without_device():
    x = torch.tensor([1.0, 2.0])
    good = lambda t: t + torch.ones(2, device=t.device)  # noqa: E731
    bad = lambda t: t + torch.ones(2)  # noqa: E731
    assert _twice(good, good, x, default_device="meta") is None
    assert "raised RuntimeError" in _twice(good, bad, x, default_device="meta")


def test_forbidden_shortcuts_are_seen_however_they_are_reached():
    import torch.nn.functional as F

    cos = F.cosine_similarity
    a, b = torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 1.0]])
    by_hand = lambda x, y: (x * y).sum(-1) / (x.norm(dim=-1) * y.norm(dim=-1))  # noqa: E731
    forbid = ["torch.nn.functional.cosine_similarity"]
    want = record("case", by_hand, a, b, forbid=forbid)
    assert judge.compare(want, record("case", by_hand, a, b, forbid=forbid)) is None
    got = record("case", lambda x, y: cos(x, y), a, b, forbid=forbid)
    assert "calls torch.nn.functional.cosine_similarity" in judge.compare(want, got)


def test_bounds_and_trusted_checks():
    want = record("rho", lambda: 0.5, at_least=0.45)
    assert judge.compare(want, record("rho", lambda: 0.46)) is None
    assert "below the required" in judge.compare(want, record("rho", lambda: 0.44))
    assert "expected a number" in judge.compare(want, record("rho", lambda: "0.9"))


def test_shortcuts_in_the_student_source_are_found():
    nb = nbformat.v4.new_notebook()
    answer = nbformat.v4.new_code_cell(
        "from course_utils import Vocab\ndef f(a, b):\n    return torch.cosine_similarity(a, b)"
    )
    answer.metadata["nbgrader"] = {"solution": True, "grade": False, "grade_id": "f"}
    nb.cells.append(answer)
    names = {"torch.nn.functional.cosine_similarity", "course_utils.vocabulary.Vocab.__init__"}
    assert judge.shortcuts_in_source(nb, names) == names
    answer.source = "def cosine_similarity(a, b):\n    return (a * b).sum()"
    assert judge.shortcuts_in_source(nb, names) == set()


def _cell(records: list[dict], error: str | None = None) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [nbformat.v4.new_output("display_data", data={RECORD_MIME: r}) for r in records]
    if error:
        cell.outputs.append(nbformat.v4.new_output("error", ename=error, evalue="", traceback=[]))
    return cell


def test_a_test_cell_passes_only_when_every_case_does():
    x = torch.tensor([1.0])
    ok = {"name": "a", "value": oracle.encode(x), "args_after": []}
    other = {"name": "b", "value": oracle.encode(x + 1), "args_after": []}
    expected = [Record.from_json(ok), Record.from_json({**other, "name": "b"})]
    reported, error = judge.harvest(_cell([ok, {**ok, "name": "b"}]))
    verdict = judge.judge_cell(expected, reported, error)
    assert not verdict.passed and verdict.checked == 2 and len(verdict.failures) == 1
    reported, error = judge.harvest(_cell([ok], error="AssertionError"))
    verdict = judge.judge_cell(expected, reported, error)
    assert not verdict.passed and "stopped with AssertionError" in verdict.failures[0]
    reported, error = judge.harvest(_cell([ok, other, ok]))
    assert not judge.judge_cell(expected, reported, error).passed  # extra reports
    assert not judge.judge_cell([], [], None).passed  # nothing checked: no points
    reported, error = judge.harvest(_cell([ok, other]))
    assert judge.judge_cell(expected, reported, error).passed
