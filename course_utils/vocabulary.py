"""Words <-> indices: the lexicon of a corpus, with UNK at index 0."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import torch

__all__ = ["UNK", "Vocab"]

#: The unknown-word token; always index 0.
UNK = "<unk>"


class Vocab:
    """A vocabulary built from word counts.

    Index 0 is :data:`UNK`; the other words follow most frequent first, ties in
    alphabetical order, so the same counts always give the same indices. Words seen
    fewer than ``min_count`` times (or beyond ``max_size``) are folded into UNK, whose
    count is the number of tokens they account for.
    """

    def __init__(
        self, counts: Mapping[str, int], *, min_count: int = 1, max_size: int | None = None
    ) -> None:
        if min_count < 1:
            raise ValueError(f"min_count must be at least 1, got {min_count}")
        if max_size is not None and max_size < 1:
            raise ValueError(f"max_size must be at least 1 (UNK included), got {max_size}")
        if UNK in counts:
            raise ValueError(f"the corpus contains the reserved token {UNK!r}")
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        kept = [(w, c) for w, c in ranked if c >= min_count]
        if max_size is not None:
            kept = kept[: max_size - 1]
        n_unknown = sum(counts.values()) - sum(c for _, c in kept)
        self.itos: list[str] = [UNK] + [w for w, _ in kept]
        self.stoi: dict[str, int] = {w: i for i, w in enumerate(self.itos)}
        self.counts: torch.Tensor = torch.tensor([n_unknown] + [c for _, c in kept])
        self.min_count = min_count

    @classmethod
    def from_corpus(
        cls, sentences: Iterable[Sequence[str]], *, min_count: int = 1, max_size: int | None = None
    ) -> Vocab:
        """Count the tokens of a corpus (an iterable of token lists) and build the vocabulary."""
        counts: Counter[str] = Counter()
        for sentence in sentences:
            if isinstance(sentence, str):
                raise TypeError("expected a list of token lists, got a list of strings")
            counts.update(sentence)
        if not counts:
            raise ValueError("the corpus is empty: no tokens to build a vocabulary from")
        return cls(counts, min_count=min_count, max_size=max_size)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, word: object) -> bool:
        return word in self.stoi and word != UNK

    def __getitem__(self, word: str) -> int:
        """Index of ``word``, or 0 (UNK) for a word outside the vocabulary."""
        return self.stoi.get(word, 0)

    def __repr__(self) -> str:
        return f"Vocab({len(self)} entries, min_count={self.min_count}, {self.n_tokens} tokens)"

    @property
    def n_tokens(self) -> int:
        """Number of corpus tokens the counts cover (UNK included)."""
        return int(self.counts.sum())

    def index(self, word: str) -> int:
        """Index of ``word``; a ``KeyError`` naming it when it is not in the vocabulary."""
        if word not in self:
            raise KeyError(f"unknown word {word!r}: not in this vocabulary of {len(self)} entries")
        return self.stoi[word]

    def encode(
        self, tokens: Sequence[str], device: torch.device | str | None = None
    ) -> torch.Tensor:
        """Token list -> int64 tensor of indices (unknown words -> 0)."""
        if isinstance(tokens, str):
            raise TypeError("encode takes a list of tokens, not a string: tokenise it first")
        return torch.tensor([self.stoi.get(t, 0) for t in tokens], dtype=torch.long, device=device)

    def decode(self, indices: Iterable[int] | torch.Tensor) -> list[str]:
        """Indices -> words; an ``IndexError`` for an index outside ``[0, len(self))``."""
        if isinstance(indices, torch.Tensor):
            indices = indices.reshape(-1).tolist()
        words = []
        for i in indices:
            if not 0 <= i < len(self):
                raise IndexError(f"index {i} is outside the vocabulary [0, {len(self)})")
            words.append(self.itos[i])
        return words

    def frequencies(self) -> torch.Tensor:
        """Relative frequency of each entry (float64, sums to 1; UNK's share at index 0)."""
        return self.counts.double() / self.counts.sum()
