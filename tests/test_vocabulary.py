from collections import Counter

import pytest
import torch

from course_utils.vocabulary import UNK, Vocab

TOY = [["the", "cat", "sat"], ["the", "dog", "sat"], ["a", "cat"]]


def test_unk_first_then_frequency_then_alphabet():
    vocab = Vocab.from_corpus(TOY)
    assert vocab.itos == [UNK, "cat", "sat", "the", "a", "dog"]
    assert all(vocab.stoi[w] == i for i, w in enumerate(vocab.itos))
    assert vocab.counts.tolist() == [0, 2, 2, 2, 1, 1]


def test_min_count_folds_rare_words_into_unk():
    vocab = Vocab.from_corpus(TOY, min_count=2)
    assert vocab.itos == [UNK, "cat", "sat", "the"]
    assert vocab.counts.tolist() == [2, 2, 2, 2]  # "a" and "dog" -> UNK
    assert vocab.n_tokens == 8


def test_max_size_keeps_most_frequent():
    vocab = Vocab(Counter({"x": 5, "y": 5, "z": 9, "w": 1}), max_size=3)
    assert vocab.itos == [UNK, "z", "x"]
    assert vocab.counts[0] == 6


def test_order_does_not_depend_on_insertion_order():
    a = Vocab(dict([("b", 2), ("a", 2), ("c", 3)]))
    b = Vocab(dict([("c", 3), ("a", 2), ("b", 2)]))
    assert a.itos == b.itos == [UNK, "c", "a", "b"]


def test_encode_decode_round_trip():
    vocab = Vocab.from_corpus(TOY)
    ids = vocab.encode(["the", "dog", "zebra"])
    assert ids.dtype == torch.long
    assert ids.tolist() == [3, 5, 0]
    assert vocab.decode(ids) == ["the", "dog", UNK]
    assert vocab.decode([1, 2]) == ["cat", "sat"]


def test_membership_and_index():
    vocab = Vocab.from_corpus(TOY)
    assert "cat" in vocab and "zebra" not in vocab and UNK not in vocab
    assert vocab["zebra"] == 0
    assert vocab.index("dog") == 5
    with pytest.raises(KeyError, match="zebra"):
        vocab.index("zebra")


def test_frequencies_sum_to_one():
    vocab = Vocab.from_corpus(TOY, min_count=2)
    freqs = vocab.frequencies()
    assert freqs.dtype == torch.float64
    assert torch.isclose(freqs.sum(), torch.tensor(1.0, dtype=torch.float64))
    assert freqs[1].item() == pytest.approx(2 / 8)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="empty"):
        Vocab.from_corpus([[], []])
    with pytest.raises(TypeError, match="token lists"):
        Vocab.from_corpus(["a sentence as a string"])
    with pytest.raises(ValueError, match="min_count"):
        Vocab.from_corpus(TOY, min_count=0)
    with pytest.raises(ValueError, match="reserved"):
        Vocab(Counter({UNK: 3}))
    with pytest.raises(TypeError, match="tokenise"):
        Vocab.from_corpus(TOY).encode("the cat")
    with pytest.raises(IndexError, match="outside"):
        Vocab.from_corpus(TOY).decode([99])


def test_encode_on_device():
    ids = Vocab.from_corpus(TOY).encode(["cat"], device="meta")
    assert ids.device.type == "meta"
