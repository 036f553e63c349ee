"""What crosses a process boundary while grading, defined once.

Two boundaries carry data:

* **kernel -> worker**: a hidden test in the student's (sandboxed, untrusted) kernel calls the
  student's code and *reports* what came back, as a display output of type ``RECORD_MIME``.
  The payload is plain JSON made by ``encode``: tensors as dtype, shape, device and bytes,
  numbers, strings, lists, dicts, a raised exception's type. ``decode`` turns it back into
  plain NumPy / Python data on the trusted side, and refuses anything else.
* **TA process -> worker** (and back): a ``Task`` to grade one submission and its ``Result``,
  as JSON lines on the worker's stdin/stdout (or as pickles through Dask).

Names that several processes must agree on (module paths, metadata keys) are constants here.
"""

from __future__ import annotations

import base64
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "RECORD_MIME",
    "WORKER_MODULE",
    "KERNEL_BOOT_MODULE",
    "NOT_RUN_KEY",
    "GUARD_KEY",
    "GUARD_MODULE",
    "RECORD_ENV",
    "ISOLATED_ENV",
    "MAX_RECORD_BYTES",
    "Undecodable",
    "Tensor",
    "Raised",
    "Record",
    "Task",
    "Result",
    "LabBundle",
    "decode",
]

RECORD_MIME = "application/vnd.course.record+json"
WORKER_MODULE = "course_utils.ta.worker"
KERNEL_BOOT_MODULE = "course_utils.ta.kernel_boot"
NOT_RUN_KEY = "course_not_run"  # cell metadata: not run because the kernel kept failing
GUARD_KEY = "course_guard"  # cell metadata: a cell the grader inserted
GUARD_MODULE = "course_utils.ta.guard"  # what the inserted cells call
RECORD_ENV = "COURSE_RECORD"  # set to "1" in grading kernels: hidden tests report records
ISOLATED_ENV = "COURSE_GRADING_ISOLATED"  # "1" in a kernel inside bubblewrap (kernel_boot)
MAX_RECORD_BYTES = 32 << 20  # one record larger than this is refused, not parsed

_DTYPES = {
    "float16",
    "float32",
    "float64",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "bool",
    "complex64",
    "complex128",
}


class Undecodable(ValueError):
    """A reported value the judge will not read (not plain data, malformed, too large)."""


@dataclass(frozen=True)
class Tensor:
    """A tensor as the judge sees it: metadata, and values unless it lived on ``meta``."""

    dtype: str
    shape: tuple[int, ...]
    device: str
    requires_grad: bool
    values: np.ndarray | None


@dataclass(frozen=True)
class Raised:
    """The student's call raised: the exception's type and the names of its base classes."""

    type: str
    bases: tuple[str, ...]


@dataclass(frozen=True)
class Record:
    """One case of a hidden test as reported: its name, what came back, its inputs after.

    ``spec`` (tolerances, bounds, trusted checks) is read only from the reference run: a
    student's kernel can write anything there, and the judge ignores it.
    """

    name: str
    value: Any
    raised: Raised | None = None
    args_after: tuple[Any, ...] = ()
    spec: dict[str, Any] = field(default_factory=dict)
    used: tuple[str, ...] = ()  # forbidden functions the call was seen to reach

    @classmethod
    def from_json(cls, data: Any) -> Record:
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            raise Undecodable("a record must be an object with a name")
        raised = data.get("raised")
        if raised is not None:
            if not isinstance(raised, dict) or not isinstance(raised.get("type"), str):
                raise Undecodable("malformed exception in a record")
            bases = raised.get("bases") or []
            if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
                raise Undecodable("malformed exception bases in a record")
            raised = Raised(raised["type"][:80], tuple(b[:80] for b in bases[:20]))
        args = data.get("args_after") or []
        if not isinstance(args, list):
            raise Undecodable("malformed arguments in a record")
        spec = data.get("spec") or {}
        if not isinstance(spec, dict):
            raise Undecodable("malformed spec in a record")
        used = data.get("used") or []
        if not isinstance(used, list) or not all(isinstance(u, str) for u in used):
            raise Undecodable("malformed list of used functions")
        return cls(
            name=data["name"][:200],
            value=None if raised is not None else decode(data.get("value")),
            raised=raised,
            args_after=tuple(decode(a) for a in args),
            spec=spec,
            used=tuple(u[:120] for u in used[:20]),
        )


def decode(data: Any, depth: int = 0) -> Any:
    """Plain data from ``course_utils.oracle.encode``'s JSON; ``Undecodable`` otherwise."""
    if depth > 20:
        raise Undecodable("nested too deeply")
    if not isinstance(data, dict) or not isinstance(data.get("t"), str):
        raise Undecodable("not an encoded value")
    kind = data["t"]
    if kind == "none":
        return None
    if kind in ("bool", "int", "str"):
        value = data.get("v")
        want = {"bool": bool, "int": int, "str": str}[kind]
        if type(value) is not want:
            raise Undecodable(f"malformed {kind}")
        return value
    if kind == "float":
        value = data.get("v")
        if isinstance(value, str) and value in ("nan", "inf", "-inf"):
            return float(value)
        if type(value) not in (int, float):
            raise Undecodable("malformed float")
        return float(value)
    if kind in ("list", "tuple"):
        items = data.get("items")
        if not isinstance(items, list):
            raise Undecodable(f"malformed {kind}")
        decoded = [decode(item, depth + 1) for item in items]
        return decoded if kind == "list" else tuple(decoded)
    if kind == "dict":
        items = data.get("items")
        if not isinstance(items, list) or not all(
            isinstance(i, list) and len(i) == 2 for i in items
        ):
            raise Undecodable("malformed dict")
        out = {}
        for key, value in items:
            key = decode(key, depth + 1)
            if not isinstance(key, str | int | float | bool | tuple) and key is not None:
                raise Undecodable("unhashable dict key")
            out[key] = decode(value, depth + 1)
        return out
    if kind in ("tensor", "ndarray"):
        return _array(data, kind)
    if kind == "sparse":
        import scipy.sparse

        shape = tuple(data.get("shape") or ())
        parts = [_array(data.get(k), "ndarray") for k in ("row", "col", "data")]
        if len(shape) != 2 or any(p.values is None or p.values.ndim != 1 for p in parts):
            raise Undecodable("malformed sparse matrix")
        row, col, values = (p.values for p in parts)
        if not (len(row) == len(col) == len(values)):
            raise Undecodable("malformed sparse matrix")
        try:
            return scipy.sparse.coo_matrix((values, (row, col)), shape=shape)
        except ValueError as err:
            raise Undecodable(f"malformed sparse matrix: {err}") from None
    if kind == "unsupported":
        raise Undecodable(f"a {str(data.get('type'))[:80]}, which is not plain data")
    raise Undecodable(f"unknown kind {kind[:40]!r}")


def _array(data: Any, kind: str) -> Tensor:
    if not isinstance(data, dict):
        raise Undecodable("malformed array")
    dtype, shape = data.get("dtype"), data.get("shape")
    if dtype not in _DTYPES:
        raise Undecodable(f"unsupported dtype {str(dtype)[:40]}")
    if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
        raise Undecodable("malformed shape")
    device = data.get("device", "cpu")
    if not isinstance(device, str):
        raise Undecodable("malformed device")
    raw = data.get("data")
    values = None
    if raw is not None:
        if not isinstance(raw, str):
            raise Undecodable("malformed data")
        buffer = base64.b64decode(raw, validate=True)
        count = math.prod(shape)
        if len(buffer) != count * np.dtype(dtype).itemsize:
            raise Undecodable("data does not match the shape")
        values = np.frombuffer(buffer, dtype=dtype).reshape(shape)
    elif device != "meta":
        raise Undecodable("only meta tensors may come without data")
    return Tensor(
        dtype=dtype,
        shape=tuple(shape),
        device=device[:40] if kind == "tensor" else "numpy",
        requires_grad=bool(data.get("requires_grad", False)),
        values=values,
    )


@dataclass
class Task:
    """Grade one student's lab: what a grading worker is sent."""

    root: str
    lab: str
    student: str
    staging: str
    sandbox: dict[str, Any]
    log: str
    expected: str  # path of the reference run's records (``judge.reference_records``)
    timeout: int | None = None
    # "grade" a submission, or "reference": run the lab's reference solution in the same
    # sandbox and write its reports to ``expected`` (what the judge compares with)
    kind: str = "grade"
    # Graded on another machine (``--scheduler``, ``course_utils.ta.cluster``), the task carries
    # what the worker cannot read from a shared file system: the submission's folder (file
    # name -> bytes) and the client's ``cluster.grader_id()``, which the worker must match.
    submission_files: dict[str, bytes] = field(default_factory=dict)
    grader: str = ""

    def to_json(self) -> dict[str, Any]:
        return _files_to_json(asdict(self), "submission_files")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Task:
        return cls(**_files_from_json(data, "submission_files"))


@dataclass
class LabBundle:
    """What every submission of one lab is graded against on a remote worker, sent once per
    run (not once per task): the lab's graded source folder (the notebook with its hidden
    tests), ``nbgrader_config.py``, the judge's expected reports, the lab's gradebook entry
    and the client's grader id."""

    lab: str
    source_files: dict[str, bytes]  # solutions/<lab>/, file name -> bytes
    config_text: str  # nbgrader_config.py
    expected_text: str  # the JSON ``autograde._expected`` makes
    gradebook: bytes  # an SQLite gradebook holding only the lab's definition (cells, points)
    grader: str
    key: str  # a digest of all of the above: a worker prepares each bundle once


@dataclass
class Result:
    """What grading one submission found: its status, the findings and each cell's score."""

    student: str
    lab: str
    status: str
    events: list[dict[str, Any]]
    cells: dict[str, Any]
    seconds: float
    # From a remote worker: the graded folder (file name -> bytes; the client records it in
    # its gradebook and publishes it), nbgrader's log, and which worker graded it.
    files: dict[str, bytes] = field(default_factory=dict)
    log_text: str = ""
    worker: str = ""

    def to_json(self) -> dict[str, Any]:
        return _files_to_json(asdict(self), "files")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Result:
        return cls(**_files_from_json(data, "files"))

    @classmethod
    def failed(cls, task: Task, why: str) -> Result:
        return cls(task.student, task.lab, "failed", [{"flag": "failed", "detail": why}], {}, 0.0)


def _files_to_json(data: dict[str, Any], key: str) -> dict[str, Any]:
    data[key] = {name: base64.b64encode(raw).decode() for name, raw in data[key].items()}
    return data


def _files_from_json(data: dict[str, Any], key: str) -> dict[str, Any]:
    files = data.get(key) or {}
    return {**data, key: {name: base64.b64decode(text) for name, text in files.items()}}
