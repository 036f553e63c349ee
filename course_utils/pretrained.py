"""Pre-trained word vectors from the Hugging Face Hub, through ``datasets``.

:func:`load_pretrained` returns the vectors of a published model (GloVe) as a tensor and its
word list, in the form every function of :mod:`course_utils.evaluation` takes. The download
happens once (about 180 MB for GloVe 50d); later calls read the local ``datasets`` cache and
need no connection. Without a connection and without a cached copy, it fails within seconds
with a :class:`PretrainedUnavailableError` that says so and what to do instead: train your own
vectors on the offline default corpus (``load_corpus("default")``), as the labs do.

Hub access follows the rules of :mod:`course_utils.hub`: ``HF_HUB_OFFLINE`` /
``HF_DATASETS_OFFLINE`` forbid any download, and ``HF_ENDPOINT`` names a mirror.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NoReturn

import datasets
import numpy as np
import torch

from course_utils import hub

__all__ = ["PRETRAINED", "PretrainedUnavailableError", "load_pretrained", "vectors_from_dataset"]

#: Published vectors: name -> (Hub data set id, word column, vector column). Rows are ordered
#: as the model ships them (GloVe: most frequent word first).
PRETRAINED: Mapping[str, tuple[str, str, str]] = MappingProxyType(
    {"glove-50": ("karmiq/glove", "word", "embeddings")}
)


class PretrainedUnavailableError(RuntimeError):
    """Pre-trained vectors are neither cached nor reachable (no connection, or offline mode)."""


def vectors_from_dataset(
    table: datasets.Dataset, word_column: str, vector_column: str, max_words: int | None = None
) -> tuple[torch.Tensor, list[str]]:
    """The first ``max_words`` rows of ``table`` as a float32 ``(n, d)`` tensor and n words.

    Raises ``ValueError`` if a column is missing, if the vectors do not all have the same
    length, or if ``max_words`` is below 1.
    """
    if max_words is not None and max_words < 1:
        raise ValueError(f"max_words must be at least 1, got {max_words}")
    missing = {word_column, vector_column} - set(table.column_names)
    if missing:
        raise ValueError(f"columns {sorted(missing)} not in {table.column_names}")
    if max_words is not None:
        table = table.select(range(min(max_words, len(table))))
    words = [str(w) for w in table[word_column]]
    rows = table[vector_column]
    lengths = {len(row) for row in rows}
    if len(lengths) > 1:
        raise ValueError(f"vectors of different lengths: {sorted(lengths)}")
    matrix = np.asarray(rows, dtype=np.float32).reshape(len(words), -1)
    return torch.from_numpy(matrix), words


def load_pretrained(
    name: str = "glove-50", max_words: int | None = None
) -> tuple[torch.Tensor, list[str]]:
    """The vectors and words of the pre-trained model ``name`` (a key of :data:`PRETRAINED`).

    ``max_words`` keeps the first (most frequent) words only. A cached copy is used when there
    is one; otherwise the data set is downloaded, which needs a connection. Raises
    :class:`PretrainedUnavailableError` when neither works, ``KeyError`` for an unknown name.
    """
    if name not in PRETRAINED:
        raise KeyError(f"unknown pre-trained vectors {name!r}; known: {sorted(PRETRAINED)}")
    repo_id, word_column, vector_column = PRETRAINED[name]
    try:
        table = hub.load_dataset(repo_id, None, "train")
    except hub.HubUnavailableError as err:
        _unavailable(name, err)
    with hub.quiet():
        return vectors_from_dataset(table, word_column, vector_column, max_words)


def _unavailable(name: str, err: hub.HubUnavailableError) -> NoReturn:
    raise PretrainedUnavailableError(
        f"cannot load the pre-trained vectors {name!r} ({PRETRAINED[name][0]} on the Hugging Face "
        f"Hub): they are not in the local datasets cache and {err.reason}. {err.advice} (a "
        "download is kept in the cache), or work with vectors you train yourself on the offline "
        "corpus load_corpus('default')."
    ) from err
