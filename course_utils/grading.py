"""Checks that the labs' test cells call, with messages written for students.

Each check raises ``AssertionError`` with a sentence that says what was expected, what
came back and, where it helps, the first place they differ.
"""

from __future__ import annotations

import builtins as _builtins
import os
import sys
import types
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.testing
from torch.overrides import TorchFunctionMode

from course_utils.runtime import device

# The checks below must not change when student code patches a builtin (``builtins.abs =
# ...``) or a torch function (``torch.testing.assert_close = ...``): this module gets its own
# copy of the builtins, and the torch functions it calls are bound now, at import.
__builtins__ = dict(vars(_builtins))
_torch_assert_close = torch.testing.assert_close
_as_tensor_raw = torch.as_tensor
_Tensor = torch.Tensor
_torch_device = torch.device

__all__ = [
    "assert_close",
    "assert_tensor",
    "assert_raises",
    "assert_stays_on_device",
    "test_devices",
    "with_new_tensors_on_meta",
]


def _as_tensor(value: Any, name: str) -> torch.Tensor:
    if isinstance(value, _Tensor):
        return value
    try:
        return _as_tensor_raw(value)
    except (TypeError, ValueError, RuntimeError) as err:
        raise AssertionError(
            f"{name}: expected numbers or a tensor, got {type(value).__name__}"
        ) from err


def assert_tensor(
    value: Any,
    *,
    name: str = "result",
    shape: Sequence[int] | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> None:
    """Check that ``value`` is a tensor with the given shape, dtype and device."""
    if not isinstance(value, _Tensor):
        raise AssertionError(f"{name}: expected a torch.Tensor, got {type(value).__name__}")
    if shape is not None and tuple(value.shape) != tuple(shape):
        raise AssertionError(f"{name}: expected shape {tuple(shape)}, got {tuple(value.shape)}")
    if dtype is not None and value.dtype != dtype:
        raise AssertionError(f"{name}: expected dtype {dtype}, got {value.dtype}")
    if device is not None and value.device.type != _torch_device(device).type:
        raise AssertionError(
            f"{name}: expected a tensor on {_torch_device(device)}, got one on {value.device}"
        )


def assert_close(
    actual: Any,
    expected: Any,
    *,
    name: str = "result",
    atol: float = 1e-6,
    rtol: float = 1e-5,
    check_dtype: bool = False,
) -> None:
    """Check that ``actual`` equals ``expected`` within tolerance, shapes included."""
    if isinstance(expected, _Tensor) and not isinstance(actual, _Tensor):
        raise AssertionError(f"{name}: expected a torch.Tensor, got {type(actual).__name__}")
    got, want = _as_tensor(actual, name), _as_tensor(expected, "expected")
    if got.shape != want.shape:
        raise AssertionError(f"{name}: expected shape {tuple(want.shape)}, got {tuple(got.shape)}")
    if check_dtype and got.dtype != want.dtype:
        raise AssertionError(f"{name}: expected dtype {want.dtype}, got {got.dtype}")
    got, want = got.detach().cpu(), want.detach().cpu()
    if got.is_floating_point() or want.is_floating_point():
        got, want = got.double(), want.double()
    try:
        _torch_assert_close(got, want, atol=atol, rtol=rtol, check_dtype=False)
    except AssertionError as err:
        raise AssertionError(f"{name} differs from the expected value.\n{err}") from None


def assert_raises(
    error: type[BaseException] | tuple[type[BaseException], ...],
    fn: Callable[..., Any],
    *args: Any,
    match: str | None = None,
    **kwargs: Any,
) -> None:
    """Check that ``fn(*args, **kwargs)`` raises ``error`` (whose message contains ``match``)."""
    names = error.__name__ if isinstance(error, type) else " or ".join(e.__name__ for e in error)
    try:
        fn(*args, **kwargs)
    except error as err:
        if match is not None and match.lower() not in str(err).lower():
            raise AssertionError(
                f"{fn.__name__} raised {type(err).__name__}, but its message {str(err)!r} "
                f"does not mention {match!r}"
            ) from None
        return
    raise AssertionError(f"{fn.__name__} should raise {names} for this input, but it returned")


def assert_stays_on_device(fn: Callable[..., Any], *args: Any, name: str | None = None) -> None:
    """Run ``fn`` on copies of the tensor arguments on the ``meta`` device.

    Meta tensors have shapes but no data, so this needs no GPU: code that moves a tensor
    elsewhere (``.cpu()``, ``.numpy()``, ``torch.tensor(...)`` without ``device=``) either
    fails or returns a tensor that is not on ``meta``.
    """
    label = name or getattr(fn, "__name__", "your function")
    moved = [a.to("meta") if isinstance(a, _Tensor) else a for a in args]
    try:
        out = fn(*moved)
    except NotImplementedError as err:
        message = str(err).lower()
        if "copy out of meta" in message:  # .cpu(), .numpy(), .tolist() or .item() on the input
            raise AssertionError(
                f"{label} copies a tensor to the CPU (.cpu(), .numpy(), .tolist() or .item()): "
                "keep the computation on the inputs' device."
            ) from None
        if "meta" in message:  # an operation torch has no meta kernel for
            return
        raise
    except (RuntimeError, TypeError) as err:
        raise AssertionError(
            f"{label} failed when its inputs were on another device ({err}). Build new tensors "
            "with device=... taken from the inputs, and avoid .cpu(), .numpy() and .item()."
        ) from None
    outs = out if isinstance(out, tuple | list) else (out,)
    for value in outs:
        if isinstance(value, _Tensor) and value.device.type != "meta":
            raise AssertionError(
                f"{label} returned a tensor on {value.device} for inputs on another device: "
                "create tensors on the inputs' device (device=x.device)."
            )


class _NewTensorsOnMeta(TorchFunctionMode):
    """Tensors made from scratch without ``device=`` land on ``meta``; inputs stay put."""

    factories = frozenset(
        {
            torch.tensor,
            torch.as_tensor,
            torch.arange,
            torch.zeros,
            torch.ones,
            torch.empty,
            torch.full,
            torch.eye,
            torch.linspace,
            torch.randint,
            torch.randn,
            torch.rand,
            torch.randperm,
        }
    )

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        made_here = not (args and isinstance(args[0], _Tensor))
        if func in self.factories and kwargs.get("device") is None and made_here:
            kwargs["device"] = "meta"
        return func(*args, **kwargs)


def with_new_tensors_on_meta(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` where a tensor made without ``device=`` lands on ``meta``.

    The inputs stay on their device, so code that builds new tensors on the default device
    instead of the inputs' one returns a mix of devices or fails: a hidden test reports it.
    """
    with _NewTensorsOnMeta():
        return fn(*args)


def test_devices() -> list[torch.device]:
    """The devices hidden tests run on: the CPU, plus the course's CUDA GPU when there is one.

    Apple MPS is left out: it has no float64, which the reference comparisons use.
    """
    chosen = device()
    return [_torch_device("cpu")] + ([chosen] if chosen.type == "cuda" else [])


test_devices.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


class _SealedModule(types.ModuleType):
    """This module while grading: its checks can be called, not replaced or deleted."""

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{self.__name__} is read-only while a lab is being graded")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{self.__name__} is read-only while a lab is being graded")


def _seal() -> None:
    """Make this module read-only (the grading kernel calls it before any student code)."""
    module = sys.modules[__name__]
    if not isinstance(module, _SealedModule):
        module.__class__ = _SealedModule


if os.environ.get("NBGRADER_EXECUTION") == "autograde":  # nbgrader sets it while grading
    _seal()
