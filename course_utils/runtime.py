"""Where tensors live and how runs are made repeatable."""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

__all__ = ["DEVICE_ENV", "device", "seed_everything", "timer", "progress"]

#: Environment variable that overrides the automatic choice, e.g. ``COURSE_DEVICE=cpu``.
DEVICE_ENV = "COURSE_DEVICE"


def _in_jupyter_kernel() -> bool:
    """Whether this code runs in a Jupyter kernel (asked now: IPython may start after import)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # a half-initialised IPython: not a kernel we can draw widgets in
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def progress(iterable: Iterable[Any] | None = None, *args: Any, **kwargs: Any) -> Any:
    """A ``tqdm`` progress bar for long loops: a widget in a Jupyter kernel, text elsewhere.

    The kind of bar is chosen at every call, not when ``course_utils`` is imported: the
    grading kernel imports this package before IPython is running. In a kernel nothing is
    written to stderr: without ``ipywidgets`` the text bar goes to stdout.
    """
    if _in_jupyter_kernel():
        try:
            from tqdm.notebook import IProgress
            from tqdm.notebook import tqdm as notebook_bar
        except ImportError:
            IProgress = None  # noqa: N806 (tqdm's name)
        if IProgress is not None:
            return notebook_bar(iterable, *args, **kwargs)
        if kwargs.get("file") in (None, sys.stderr):
            kwargs["file"] = sys.stdout
    from tqdm.std import tqdm as text_bar

    return text_bar(iterable, *args, **kwargs)


def device() -> torch.device:
    """The device every lab computes on: CUDA, then Apple MPS, then the CPU.

    Set ``COURSE_DEVICE`` (``cpu``, ``cuda``, ``cuda:1``, ``mps``) to choose by hand.
    """
    wanted = os.environ.get(DEVICE_ENV, "").strip()
    if wanted:
        try:
            chosen = torch.device(wanted)
        except RuntimeError as err:
            raise ValueError(f"{DEVICE_ENV}={wanted!r} is not a device name: {err}") from None
        if chosen.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"{DEVICE_ENV}={wanted!r} asks for CUDA, but no CUDA GPU is visible")
        if chosen.type == "mps" and not torch.backends.mps.is_available():
            raise RuntimeError(f"{DEVICE_ENV}={wanted!r} asks for MPS, but MPS is not available")
        return chosen
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices); on a GPU, also turn on deterministic kernels.

    The CPU's kernels are deterministic already; CUDA's ``index_add_`` and scatter kernels are
    not unless told (telling torch costs about 2 s of imports, so the CPU is spared it).
    Returns a fresh ``torch.Generator`` seeded with ``seed`` for code that wants its own.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if torch.cuda.is_available() or torch.backends.mps.is_available():
        torch.use_deterministic_algorithms(True, warn_only=True)
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return torch.Generator().manual_seed(seed)


@contextmanager
def timer(label: str = "elapsed", *, quiet: bool = False) -> Iterator[dict[str, float]]:
    """Time a block: ``with timer("training") as t: ...`` then ``t["seconds"]``."""
    result: dict[str, float] = {}
    start = time.perf_counter()
    try:
        yield result
    finally:
        result["seconds"] = time.perf_counter() - start
        if not quiet:
            print(f"{label}: {result['seconds']:.2f} s")
