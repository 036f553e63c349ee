"""Word vectors against benchmarks: nearest neighbours, analogies, similarity judgements.

Vectors are a 2-D float tensor (or NumPy array) of shape ``(n_words, d)`` whose row ``i``
is the vector of ``words[i]`` (typically ``vocab.itos``). :data:`UNK` is never a candidate
answer and never counts as in-vocabulary. The benchmark files are the ones the gensim
wheel ships, so everything runs offline.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from course_utils.bundled import gensim_data
from course_utils.vocabulary import UNK

__all__ = [
    "BENCHMARKS",
    "AnalogyResult",
    "SimilarityResult",
    "benchmark_path",
    "evaluate_all",
    "evaluate_analogies",
    "evaluate_similarity",
    "nearest_neighbours",
]

#: Benchmark name -> file name in ``gensim/test/test_data``.
BENCHMARKS = {
    "questions-words": "questions-words.txt",
    "wordsim353": "wordsim353.tsv",
    "simlex999": "simlex999.txt",
}


def benchmark_path(name: str) -> Path:
    """Path of a benchmark file shipped with gensim: ``questions-words``, ``wordsim353``..."""
    if name not in BENCHMARKS:
        known = ", ".join(repr(n) for n in BENCHMARKS)
        raise ValueError(f"unknown benchmark {name!r}: known benchmarks are {known}")
    path = gensim_data(BENCHMARKS[name])
    if not path.is_file():
        raise FileNotFoundError(f"benchmark {name!r} should be at {path}, but it is missing")
    return path


def _as_matrix(vectors: torch.Tensor | np.ndarray, words: Sequence[str]) -> torch.Tensor:
    """Check ``vectors``/``words`` and return the vectors as a float tensor (at least float32)."""
    if isinstance(words, str):
        raise TypeError("words must be a sequence of words (e.g. vocab.itos), not a string")
    matrix = torch.as_tensor(vectors)
    if matrix.ndim != 2:
        raise ValueError(f"vectors must be 2-D (n_words, d), got shape {tuple(matrix.shape)}")
    if not matrix.is_floating_point():
        raise TypeError(f"vectors must be a float tensor, got dtype {matrix.dtype}")
    if matrix.numel() == 0:
        raise ValueError(f"vectors are empty: shape {tuple(matrix.shape)}")
    if len(words) != matrix.shape[0]:
        raise ValueError(
            f"len(words) = {len(words)} but vectors have {matrix.shape[0]} rows: "
            "row i must be the vector of words[i]"
        )
    if not torch.isfinite(matrix).all():
        raise ValueError("vectors contain NaN or infinite values (did training diverge?)")
    return matrix.to(torch.promote_types(matrix.dtype, torch.float32))


def _lookup(words: Sequence[str], restrict_vocab: int | None = None) -> tuple[list[int], dict]:
    """Rows that count as vocabulary (UNK left out, the first ``restrict_vocab`` of them) and a
    map lowercased word -> position in that list (first occurrence wins, as in gensim)."""
    if restrict_vocab is not None and (isinstance(restrict_vocab, bool) or restrict_vocab < 1):
        raise ValueError(f"restrict_vocab must be a positive int or None, got {restrict_vocab!r}")
    rows = [i for i, w in enumerate(words) if w != UNK][:restrict_vocab]
    positions: dict[str, int] = {}
    for pos, row in enumerate(rows):
        positions.setdefault(words[row].lower(), pos)
    return rows, positions


def nearest_neighbours(
    query: str | torch.Tensor | np.ndarray,
    vectors: torch.Tensor | np.ndarray,
    words: Sequence[str],
    k: int = 10,
    exclude: Iterable[str] = (),
) -> list[tuple[str, float]]:
    """The ``k`` words most cosine-similar to ``query`` (a word or a vector), best first.

    A query word is left out of its own answer, and so are ``exclude`` and UNK.
    """
    matrix = _as_matrix(vectors, words)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    excluded = {UNK, *exclude}
    if isinstance(query, str):
        try:
            target = matrix[list(words).index(query)]
        except ValueError:
            raise KeyError(f"unknown word {query!r}: not among the {len(words)} words") from None
        excluded.add(query)
    else:
        target = torch.as_tensor(query).to(device=matrix.device, dtype=matrix.dtype)
        if target.shape != (matrix.shape[1],):
            raise ValueError(
                f"a query vector must be 1-D of size {matrix.shape[1]}, got {tuple(target.shape)}"
            )
        if not torch.isfinite(target).all() or not target.any():
            raise ValueError("the query vector is zero or not finite: cosine is undefined")
    sims = F.normalize(matrix, dim=1) @ F.normalize(target, dim=0)
    banned = [i for i, w in enumerate(words) if w in excluded]
    sims[banned] = -math.inf
    n_candidates = len(words) - len(banned)
    values, indices = sims.topk(min(k, n_candidates))
    return [(words[i], float(v)) for i, v in zip(indices.tolist(), values.tolist(), strict=True)]


@dataclass
class AnalogyResult:
    """Analogy scores: ``sections`` maps a section name to ``(correct, total)``."""

    sections: dict[str, tuple[int, int]] = field(default_factory=dict)
    correct: int = 0
    total: int = 0
    n_skipped: int = 0

    @property
    def accuracy(self) -> float:
        """Fraction of the evaluated questions answered right (0.0 when none was evaluated)."""
        return self.correct / self.total if self.total else 0.0

    @property
    def oov_rate(self) -> float:
        """Fraction of all questions skipped because a word is out of vocabulary."""
        n_questions = self.total + self.n_skipped
        return self.n_skipped / n_questions if n_questions else 0.0

    def table(self) -> str:
        """One line per section: correct, total and accuracy; then the total and the skips."""
        width = max([len(s) for s in self.sections] + [len("total")])
        lines = [f"{'section':<{width}}  correct  total  accuracy"]
        for name, (correct, total) in [
            *self.sections.items(),
            ("total", (self.correct, self.total)),
        ]:
            accuracy = f"{100 * correct / total:7.1f}%" if total else f"{'-':>8}"
            lines.append(f"{name:<{width}}  {correct:7d}  {total:5d}  {accuracy}")
        lines.append(
            f"skipped (out of vocabulary): {self.n_skipped} of {self.total + self.n_skipped}"
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def _read_analogies(path: Path) -> list[tuple[str, str, str, str, str]]:
    """``(section, a, b, c, d)`` for each question of an analogy file, words lowercased."""
    questions = []
    section = None
    with open(path, encoding="utf8") as lines:
        for line_no, line in enumerate(lines, start=1):
            if line.startswith(":"):
                section = line[1:].strip()
                continue
            fields = line.lower().split()
            if not fields:
                continue
            if len(fields) != 4:
                raise ValueError(f"{path}:{line_no}: expected 4 words, got {line.strip()!r}")
            if section is None:
                raise ValueError(f"{path}:{line_no}: question before the first ': section' line")
            questions.append((section, *fields))
    return questions


def evaluate_analogies(
    vectors: torch.Tensor | np.ndarray,
    words: Sequence[str],
    path: str | Path | None = None,
    *,
    batch_size: int = 2048,
    restrict_vocab: int | None = None,
    device: torch.device | str | None = None,
) -> AnalogyResult:
    """Accuracy on ``a : b :: c : ?`` questions (default: gensim's ``questions-words.txt``).

    3CosAdd: the answer is the word ``x`` maximising ``cos(x, b - a + c)`` on unit vectors,
    ``a``, ``b``, ``c`` themselves excluded; words are compared lowercased. Only the first
    ``restrict_vocab`` words (UNK aside) are vocabulary and candidates; questions with a word
    outside it are skipped and counted in ``n_skipped``. Computed in batches of ``batch_size``
    questions on ``device`` (default: the device of ``vectors``).
    """
    matrix = _as_matrix(vectors, words)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    matrix = matrix.to(device if device is not None else matrix.device)
    path = benchmark_path("questions-words") if path is None else Path(path)
    rows, positions = _lookup(words, restrict_vocab)

    result = AnalogyResult()
    sections, questions = [], []
    for section, *quad in _read_analogies(path):
        result.sections.setdefault(section, (0, 0))
        if all(w in positions for w in quad):
            sections.append(section)
            questions.append([positions[w] for w in quad])
        else:
            result.n_skipped += 1
    if not questions:
        return result

    unit = F.normalize(matrix[rows], dim=1)
    # Position of each candidate's lowercased form: case variants of a question word are
    # excluded too, and a case variant of the expected word counts as right (as in gensim).
    canonical = torch.tensor([positions[words[r].lower()] for r in rows], device=unit.device)
    has_variants = bool((canonical != torch.arange(len(rows), device=unit.device)).any())
    quads = torch.tensor(questions, device=unit.device)
    hits = []
    for batch in quads.split(batch_size):
        a, b, c, expected = batch.unbind(1)
        sims = (unit[b] + unit[c] - unit[a]) @ unit.T
        if has_variants:
            asked = (
                (canonical == a[:, None]) | (canonical == b[:, None]) | (canonical == c[:, None])
            )
            sims.masked_fill_(asked, -math.inf)
        else:
            sims.scatter_(1, batch[:, :3], -math.inf)
        hits.append(canonical[sims.argmax(dim=1)] == expected)
    correct = torch.cat(hits).tolist()

    for section, hit in zip(sections, correct, strict=True):
        n_correct, n_total = result.sections[section]
        result.sections[section] = (n_correct + hit, n_total + 1)
    result.correct = sum(correct)
    result.total = len(correct)
    return result


@dataclass
class SimilarityResult:
    """Agreement of cosine similarities with human judgements of word pairs."""

    spearman: float
    pearson: float
    n_pairs: int
    n_oov: int

    @property
    def oov_rate(self) -> float:
        """Fraction of all pairs skipped because a word is out of vocabulary."""
        n_all = self.n_pairs + self.n_oov
        return self.n_oov / n_all if n_all else 0.0


def _read_pairs(path: Path) -> list[tuple[str, str, float]]:
    """``(word1, word2, score)`` for each line of a tab-separated file, words lowercased."""
    pairs = []
    with open(path, encoding="utf8") as lines:
        for line_no, line in enumerate(lines, start=1):
            if line.startswith("#") or not line.strip():
                continue
            fields = line.strip().split("\t")
            try:
                first, second, score = fields
                pairs.append((first.lower(), second.lower(), float(score)))
            except ValueError:
                raise ValueError(
                    f"{path}:{line_no}: expected 'word<TAB>word<TAB>score', got {line.strip()!r}"
                ) from None
    return pairs


def evaluate_similarity(
    vectors: torch.Tensor | np.ndarray,
    words: Sequence[str],
    path_or_name: str | Path = "wordsim353",
) -> SimilarityResult:
    """Spearman and Pearson correlation of cosine similarity with human scores.

    ``path_or_name`` is a benchmark name (``wordsim353``, ``simlex999``) or a file path.
    Pairs with an out-of-vocabulary word are skipped; with fewer than 2 pairs left the
    correlations are NaN.
    """
    matrix = _as_matrix(vectors, words)
    if isinstance(path_or_name, str) and path_or_name in BENCHMARKS:
        path = benchmark_path(path_or_name)
    else:
        path = Path(path_or_name)
    rows, positions = _lookup(words)
    pairs = _read_pairs(path)
    kept = [p for p in pairs if p[0] in positions and p[1] in positions]
    n_oov = len(pairs) - len(kept)
    if len(kept) < 2:
        return SimilarityResult(math.nan, math.nan, n_pairs=len(kept), n_oov=n_oov)

    unit = F.normalize(matrix[rows], dim=1)
    first = torch.tensor([positions[p[0]] for p in kept], device=unit.device)
    second = torch.tensor([positions[p[1]] for p in kept], device=unit.device)
    model = (unit[first] * unit[second]).sum(dim=1).cpu().double().numpy()
    human = np.array([p[2] for p in kept])
    from scipy import stats  # seconds to import: only where a similarity is scored

    return SimilarityResult(
        spearman=float(stats.spearmanr(human, model).statistic),
        pearson=float(stats.pearsonr(human, model).statistic),
        n_pairs=len(kept),
        n_oov=n_oov,
    )


def evaluate_all(vectors: torch.Tensor | np.ndarray, words: Sequence[str]) -> dict[str, float]:
    """The headline figures of every benchmark, in one flat dict to print as a table."""
    analogies = evaluate_analogies(vectors, words)
    scores = {"analogy_accuracy": analogies.accuracy, "analogy_oov_rate": analogies.oov_rate}
    for name in ("wordsim353", "simlex999"):
        similarity = evaluate_similarity(vectors, words, name)
        scores[f"{name}_spearman"] = similarity.spearman
        scores[f"{name}_oov_rate"] = similarity.oov_rate
    return scores
