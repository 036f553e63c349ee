"""Trusted checks of lab 5 (``lab5_sgns``), registered in ``course_utils.ta.judge.CHECKS``.

``wordsim353_spearman``: the kernel reports the trained vectors of the WordSim-353 words that are
in the vocabulary (a matrix, one row per word of ``words``, in that order); the judge computes the
Spearman correlation of their cosine similarities with the human scores itself, with
``course_utils.evaluation``, and requires at least ``at_least``. A reported number would be easy
to forge; vectors that correlate with human judgements are not.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from course_utils.ta.protocol import Tensor

__all__ = ["register", "wordsim353_spearman"]


def wordsim353_spearman(
    value: Any, *, words: Any = None, at_least: Any = None, **_: Any
) -> str | None:
    """The problem with the reported vectors of ``words``, or None if they reach ``at_least``."""
    if not isinstance(words, list) or not words or not all(isinstance(w, str) for w in words):
        return "the grader has no word list for this check"
    if not isinstance(value, Tensor) or value.device == "numpy" or value.values is None:
        return "expected the vectors as a tensor"
    if len(value.shape) != 2 or value.shape[0] != len(words) or not 1 <= value.shape[1] <= 4096:
        return f"expected {len(words)} vectors (one row per word), got shape {tuple(value.shape)}"
    if value.values.dtype.kind != "f":
        return f"expected floating-point vectors, got {value.dtype}"
    matrix = value.values.astype(np.float64)
    if not np.isfinite(matrix).all():
        return "the vectors contain nan or inf"
    from course_utils.evaluation import evaluate_similarity  # imports torch: only when needed

    result = evaluate_similarity(matrix, words, "wordsim353")
    bound = float(at_least) if at_least is not None else 0.0
    if math.isnan(result.spearman) or not result.spearman >= bound:
        return (
            f"the WordSim-353 Spearman correlation of your vectors is {result.spearman:.3f}, "
            f"below the required {bound:g}"
        )
    return None


def register(checks: dict[str, Any]) -> None:
    checks["wordsim353_spearman"] = wordsim353_spearman
