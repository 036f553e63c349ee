"""The kernel's half of a hidden test: ask your code, report what came back.

Hidden tests do not decide anything inside your kernel. They call your functions on inputs
they make (seeded, so the grader can make the same ones) and report each result as plain
data: a tensor as its dtype, shape, device and bytes; a number; a string; a list; the type of
an exception. A separate, trusted process runs the reference solution through the same
hidden tests and compares the two reports, so the expected values never exist in your
kernel. Outside grading (``COURSE_RECORD`` unset) the calls still run, and nothing is shown.

Two functions:

* ``ask(name, fn, *args, kwargs=None, forbid=(), default_device=None, **spec)``: call
  ``fn(*args, **kwargs)`` and report its result (or the exception it raised) and the tensor
  and list arguments as they are afterwards, so that changing an input in place is seen.
  ``forbid`` names functions that must not be called on the way (a shortcut the exercise
  asks you to write yourself). ``default_device="meta"`` runs the call with torch's default
  device set to ``meta``: a tensor created without ``device=`` then lands on ``meta`` and
  cannot mix with the inputs, so code that ignores its inputs' device fails on a CPU-only
  grader just as it would on a GPU.
* ``report(name, value, **spec)``: report a value the hidden test computed itself (a loss
  after training, a gradient, a count).

``spec`` says how the grader compares (``atol``, ``rtol``, ``dtype=False``,
``at_least=0.45``, ...); the grader reads it from its own reference run only.
"""

from __future__ import annotations

import base64
import importlib
import math
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import numpy as np
import torch

from course_utils.ta.protocol import MAX_RECORD_BYTES, RECORD_ENV, RECORD_MIME

__all__ = ["ask", "report", "encode", "recording"]

# bound now, so that a patched builtin or torch function changes nothing here
_Tensor, _Parameter, _ndarray = torch.Tensor, torch.nn.Parameter, np.ndarray
_b64 = base64.b64encode


def recording() -> bool:
    """Whether reports are sent out (only while a lab is being graded)."""
    return os.environ.get(RECORD_ENV) == "1"


def encode(value: Any, depth: int = 0) -> dict[str, Any]:
    """``value`` as plain JSON; anything that is not plain data is marked unsupported."""
    kind = type(value)
    if depth > 20:
        return {"t": "unsupported", "type": "structure nested too deeply"}
    if value is None:
        return {"t": "none"}
    if kind is bool:
        return {"t": "bool", "v": value}
    if kind is int:
        return {"t": "int", "v": value}
    if kind is float or kind is np.float64 or kind is np.float32:
        number = float(value)
        return {"t": "float", "v": number if math.isfinite(number) else str(number)}
    if kind is np.int64 or kind is np.int32:
        return {"t": "int", "v": int(value)}
    if kind is np.bool_:
        return {"t": "bool", "v": bool(value)}
    if kind is str:
        return {"t": "str", "v": value}
    if kind in (list, tuple, torch.Size):
        return {
            "t": "list" if kind is list else "tuple",
            "items": [encode(v, depth + 1) for v in value],
        }
    if kind is dict:
        return {
            "t": "dict",
            "items": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()],
        }
    if kind is _Tensor or kind is _Parameter:
        return _tensor(value)
    if kind is _ndarray:
        return _ndarray_json(value, "ndarray")
    if _is_scipy_sparse(value):
        coo = value.tocoo()
        return {
            "t": "sparse",
            "shape": [int(n) for n in coo.shape],
            "row": _ndarray_json(np.asarray(coo.row, dtype=np.int64), "ndarray"),
            "col": _ndarray_json(np.asarray(coo.col, dtype=np.int64), "ndarray"),
            "data": _ndarray_json(np.asarray(coo.data), "ndarray"),
        }
    return {"t": "unsupported", "type": f"{kind.__module__}.{kind.__qualname__}"}


def _is_scipy_sparse(value: Any) -> bool:
    module = type(value).__module__
    if not module.startswith("scipy.sparse"):
        return False
    import scipy.sparse

    return scipy.sparse.issparse(value)


def _tensor(value: torch.Tensor) -> dict[str, Any]:
    tensor = value.detach()
    out: dict[str, Any] = {
        "t": "tensor",
        "dtype": str(tensor.dtype).removeprefix("torch."),
        "shape": list(tensor.shape),
        "device": tensor.device.type,
        "requires_grad": bool(value.requires_grad),
    }
    if tensor.device.type == "meta":
        return out
    if tensor.is_sparse or tensor.layout != torch.strided:
        return {"t": "unsupported", "type": f"tensor with layout {tensor.layout}"}
    if tensor.element_size() * tensor.numel() > MAX_RECORD_BYTES:
        return {"t": "unsupported", "type": "tensor too large to report"}
    try:
        array = tensor.to("cpu").contiguous().numpy()
    except (TypeError, RuntimeError):
        return {"t": "unsupported", "type": f"tensor of dtype {tensor.dtype}"}
    out["data"] = _b64(array.tobytes()).decode("ascii")
    return out


def _ndarray_json(array: np.ndarray, kind: str) -> dict[str, Any]:
    if array.dtype == object or array.nbytes > MAX_RECORD_BYTES:
        return {"t": "unsupported", "type": f"array of dtype {array.dtype}"}
    return {
        "t": kind,
        "dtype": str(array.dtype),
        "shape": [int(n) for n in array.shape],
        "data": _b64(np.ascontiguousarray(array).tobytes()).decode("ascii"),
    }


def _emit(record: dict[str, Any]) -> None:
    if not recording():
        return
    from IPython.display import publish_display_data

    publish_display_data({RECORD_MIME: record}, metadata={})


def _resolve(name: str) -> Any:
    """``"torch.nn.functional.one_hot"`` -> that object (None if it does not exist)."""
    module_name, _, attr = name.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError):
        try:  # a class attribute: "course_utils.vocabulary.Vocab.from_corpus"
            return getattr(_resolve(module_name), attr)
        except AttributeError:
            return None


@contextmanager
def _watch(names: tuple[str, ...]) -> Iterator[list[str]]:
    """Note every call, however it is reached, of the functions ``names`` name."""
    used: list[str] = []
    if not names:
        yield used
        return
    targets: dict[int, str] = {}
    codes: dict[Any, str] = {}
    for name in names:
        target = _resolve(name)
        if target is None:
            continue
        target = getattr(target, "__func__", target)
        targets[id(target)] = name
        code = getattr(target, "__code__", None)
        if code is not None:
            codes[code] = name

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "c_call" and id(arg) in targets:
            hit = targets[id(arg)]
        elif event == "call" and frame.f_code in codes:
            hit = codes[frame.f_code]
        else:
            return
        if hit not in used:
            used.append(hit)

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        yield used
    finally:
        if sys.getprofile() is not profile:
            used.append("(the call watcher was switched off)")
        sys.setprofile(previous)


def ask(
    name: str,
    fn: Callable[..., Any],
    *args: Any,
    kwargs: dict[str, Any] | None = None,
    forbid: tuple[str, ...] | list[str] = (),
    default_device: str | None = None,
    **spec: Any,
) -> Any:
    """Call ``fn(*args, **kwargs)``, report the outcome, and return the result (or None)."""
    kwargs = kwargs or {}
    record: dict[str, Any] = {"name": name, "spec": {**spec, "forbid": list(forbid)}}
    result = None
    place = torch.device(default_device) if default_device else nullcontext()
    with _watch(tuple(forbid)) as used:
        try:
            with place:
                result = fn(*args, **kwargs)
        except Exception as err:  # reported: the judge decides whether it was expected
            kind = type(err)
            record["raised"] = {
                "type": kind.__name__,
                "bases": [k.__name__ for k in kind.__mro__],
            }
    if "raised" not in record:
        record["value"] = encode(result)
    record["args_after"] = [encode(a) for a in args if isinstance(a, _Tensor | list | dict)]
    if used:
        record["used"] = used
    _emit(record)
    return result


def report(name: str, value: Any, **spec: Any) -> None:
    """Report a value computed by the hidden test (compared with the reference run's)."""
    _emit({"name": name, "value": encode(value), "spec": spec})
