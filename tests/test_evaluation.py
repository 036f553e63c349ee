"""Tests for course_utils.evaluation: hand-made cases with known answers, and parity with gensim."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from gensim.models import KeyedVectors, Word2Vec
from gensim.test.utils import datapath

from course_utils.evaluation import (
    AnalogyResult,
    SimilarityResult,
    benchmark_path,
    evaluate_all,
    evaluate_analogies,
    evaluate_similarity,
    nearest_neighbours,
)
from course_utils.vocabulary import UNK

# Sections of questions-words.txt that the planted vectors cover, each with its own noise level
# so that the accuracies differ from section to section.
PLANTED_NOISE = {
    "capital-common-countries": 1.2,
    "family": 1.8,
    "gram3-comparative": 1.5,
    "gram7-past-tense": 2.2,
    "gram8-plural": 1.0,
}


def keyed_vectors(words: list[str], vectors: np.ndarray) -> KeyedVectors:
    """The same vectors as a gensim KeyedVectors, UNK left out."""
    kept = [i for i, w in enumerate(words) if w != UNK]
    kv = KeyedVectors(vectors.shape[1])
    kv.add_vectors([words[i] for i in kept], vectors[kept])
    return kv


@pytest.fixture(scope="module")
def word2vec() -> tuple[list[str], np.ndarray]:
    """A small Word2Vec trained on the Lee corpus: rows are UNK then gensim's vocabulary."""
    with open(datapath("lee_background.cor"), encoding="utf8") as lines:
        sentences = [line.lower().split() for line in lines]
    model = Word2Vec(sentences, vector_size=50, min_count=2, seed=0, workers=1, epochs=10)
    words = [UNK, *model.wv.index_to_key]
    vectors = np.vstack([np.full((1, 50), 0.1, np.float32), model.wv.vectors])
    return words, vectors.astype(np.float32)


@pytest.fixture(scope="module")
def planted() -> tuple[list[str], np.ndarray]:
    """Vectors where each analogy section is a noisy constant offset, plus distractor words,
    capitalised near-copies of some words, UNK in the middle and a few question words missing."""
    rng = np.random.default_rng(0)
    d = 32
    offsets: dict[str, np.ndarray] = {}
    vec: dict[str, np.ndarray] = {}
    with open(benchmark_path("questions-words"), encoding="utf8") as lines:
        section = ""
        for line in lines:
            if line.startswith(":"):
                section = line[1:].strip()
                continue
            if section not in PLANTED_NOISE:
                continue
            a, b, c, expected = line.lower().split()
            offsets.setdefault(section, rng.normal(size=d))
            for x, y in ((a, b), (c, expected)):
                vec.setdefault(x, rng.normal(size=d))
                noise = PLANTED_NOISE[section] * rng.normal(size=d)
                vec.setdefault(y, vec[x] + offsets[section] + noise)
    for missing in ("paris", "king", "bigger", "walked", "cats"):
        del vec[missing]
    entries = []
    for i, w in enumerate(vec):
        variant = (w.upper() if i % 2 else w.capitalize(), vec[w] + 0.3 * rng.normal(size=d))
        if i < 40 and i % 2:
            entries.append(variant)  # before the lowercase word: the questions use its vector
        entries.append((w, vec[w]))
        if i < 40 and not i % 2:
            entries.append(variant)  # after it: only a candidate, excluded with the word
    words = [w for w, _ in entries]
    vectors = [v for _, v in entries]
    middle = len(words) // 2
    words.insert(middle, UNK)
    vectors.insert(middle, rng.normal(size=d))
    words += [f"distractor{i}" for i in range(200)]
    vectors += list(rng.normal(size=(200, d)))
    return words, np.array(vectors, dtype=np.float32)


def tiny() -> tuple[list[str], torch.Tensor]:
    words = [UNK, "cat", "dog", "car", "truck", "kitten"]
    vectors = torch.tensor(
        [[1.0, 0.0], [1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8], [1.0, 0.1]]
    )
    return words, vectors


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf8")
    return path


# --- gensim parity -----------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["word2vec", "planted"])
def test_analogies_equal_gensim(fixture, request):
    words, vectors = request.getfixturevalue(fixture)
    ours = evaluate_analogies(torch.from_numpy(vectors), words)
    path = datapath("questions-words.txt")
    score, sections = keyed_vectors(words, vectors).evaluate_word_analogies(path)
    theirs = {
        s["section"]: (len(s["correct"]), len(s["correct"]) + len(s["incorrect"])) for s in sections
    }
    assert theirs.pop("Total accuracy") == (ours.correct, ours.total)
    assert ours.sections == theirs
    assert ours.accuracy == pytest.approx(score, abs=1e-12)
    assert ours.total + ours.n_skipped == 19544
    assert ours.correct > 0
    if fixture == "planted":
        assert 0.3 < ours.accuracy < 0.9
        accuracies = [c / t for c, t in ours.sections.values() if t > 100]
        assert max(accuracies) - min(accuracies) > 0.1


def test_restrict_vocab_equals_gensim(planted):
    words, vectors = planted
    path = datapath("questions-words.txt")
    ours = evaluate_analogies(vectors, words, restrict_vocab=150)
    score, sections = keyed_vectors(words, vectors).evaluate_word_analogies(
        path, restrict_vocab=150
    )
    total = sections[-1]
    assert ours.correct == len(total["correct"])
    assert ours.total == len(total["correct"]) + len(total["incorrect"])
    assert ours.accuracy == pytest.approx(score, abs=1e-12)
    full = evaluate_analogies(vectors, words)
    assert 0 < ours.total < full.total
    assert ours.n_skipped > full.n_skipped


@pytest.mark.parametrize("name", ["wordsim353", "simlex999"])
def test_similarity_equals_gensim(word2vec, name):
    words, vectors = word2vec
    ours = evaluate_similarity(vectors, words, name)
    pearson, spearman, oov_percent = keyed_vectors(words, vectors).evaluate_word_pairs(
        str(benchmark_path(name))
    )
    assert ours.spearman == pytest.approx(spearman.statistic, abs=1e-6)
    assert ours.pearson == pytest.approx(pearson.statistic, abs=1e-6)
    assert 100 * ours.oov_rate == pytest.approx(oov_percent, abs=1e-9)
    assert ours.n_pairs > 50 and ours.n_oov > 0
    assert not math.isclose(ours.spearman, ours.pearson)


def test_nearest_neighbours_equal_gensim(word2vec):
    words, vectors = word2vec
    ours = nearest_neighbours("government", vectors, words, k=5)
    theirs = keyed_vectors(words, vectors).most_similar("government", topn=5)
    assert [w for w, _ in ours] == [w for w, _ in theirs]
    assert [s for _, s in ours] == pytest.approx([s for _, s in theirs], abs=1e-5)


# --- benchmark files ---------------------------------------------------------------------------


def test_benchmark_path():
    assert benchmark_path("questions-words").name == "questions-words.txt"
    assert benchmark_path("wordsim353").name == "wordsim353.tsv"
    assert benchmark_path("simlex999").is_file()
    with pytest.raises(ValueError, match="unknown benchmark 'men'.*'wordsim353'.*'simlex999'"):
        benchmark_path("men")


# --- nearest neighbours ------------------------------------------------------------------------


def test_nearest_neighbours_known_answer():
    words, vectors = tiny()
    result = nearest_neighbours("cat", vectors, words, k=3)
    assert [w for w, _ in result] == ["kitten", "dog", "car"]
    assert [s for _, s in result] == pytest.approx([1 / math.sqrt(1.01), 0.8, 0.0], abs=1e-6)


def test_nearest_neighbours_of_a_vector_keeps_every_word_but_unk():
    words, vectors = tiny()
    result = nearest_neighbours(torch.tensor([2.0, 0.0]), vectors, words, k=100)
    assert [w for w, _ in result] == ["cat", "kitten", "dog", "car", "truck"]
    assert result[0][1] == pytest.approx(1.0)
    assert result[-1][1] == pytest.approx(-0.6)


def test_nearest_neighbours_exclude_and_k():
    words, vectors = tiny()
    result = nearest_neighbours("cat", vectors.numpy(), words, k=2, exclude=["kitten"])
    assert [w for w, _ in result] == ["dog", "car"]


def test_nearest_neighbours_errors():
    words, vectors = tiny()
    with pytest.raises(KeyError, match="'lion'"):
        nearest_neighbours("lion", vectors, words)
    with pytest.raises(ValueError, match="size 2"):
        nearest_neighbours(torch.ones(3), vectors, words)
    with pytest.raises(ValueError, match="zero"):
        nearest_neighbours(torch.zeros(2), vectors, words)
    with pytest.raises(ValueError, match="k must be"):
        nearest_neighbours("cat", vectors, words, k=0)


# --- analogies ---------------------------------------------------------------------------------

# b - a + c = (0, 1.1, 0) is closest to c itself, then to UNK's vector; the answer is d.
ANALOGY_WORDS = [UNK, "a", "b", "c", "d", "e"]
ANALOGY_VECTORS = torch.tensor(
    [
        [0.0, 1.0, 0.01],
        [1.0, 0.0, 0.0],
        [1.0, 0.1, 0.0],
        [0.0, 1.0, 0.0],
        [0.3, 1.0, 0.3],
        [0.9, 0.0, 0.4],
    ]
)


def test_question_words_and_unk_are_never_answers(tmp_path):
    path = write(tmp_path, "q.txt", ": planted\nA B C D\na b c e\n")
    target = ANALOGY_VECTORS[2] - ANALOGY_VECTORS[1] + ANALOGY_VECTORS[3]
    assert nearest_neighbours(target, ANALOGY_VECTORS, ANALOGY_WORDS, k=1)[0][0] == "c"
    result = evaluate_analogies(ANALOGY_VECTORS, ANALOGY_WORDS, path)
    assert result.sections == {"planted": (1, 2)}
    assert (result.correct, result.total, result.n_skipped) == (1, 2, 0)
    assert result.accuracy == 0.5


def test_restrict_vocab_removes_candidates(tmp_path):
    # Without "e" the best remaining candidate is "d"; with it, "e" wins.
    words = [UNK, "a", "b", "c", "d", "e"]
    vectors = ANALOGY_VECTORS.clone()
    vectors[5] = torch.tensor([0.05, 1.0, 0.0])
    path = write(tmp_path, "q.txt", ": s\na b c d\n")
    assert evaluate_analogies(vectors, words, path).correct == 0
    restricted = evaluate_analogies(vectors, words, path, restrict_vocab=4)
    assert (restricted.correct, restricted.total) == (1, 1)
    skipped = evaluate_analogies(vectors, words, path, restrict_vocab=3)
    assert (skipped.total, skipped.n_skipped) == (0, 1)


def test_oov_questions_are_skipped_and_counted(tmp_path):
    text = ": one\na b c d\na b c zebra\n<unk> b c d\n: two\nb a d c\n: three\nx y z w\n"
    result = evaluate_analogies(ANALOGY_VECTORS, ANALOGY_WORDS, write(tmp_path, "q.txt", text))
    assert list(result.sections) == ["one", "two", "three"]
    assert result.sections == {"one": (1, 1), "two": (1, 1), "three": (0, 0)}
    assert (result.total, result.n_skipped) == (2, 3)
    assert result.oov_rate == pytest.approx(3 / 5)
    table = result.table()
    assert "three" in table and "skipped (out of vocabulary): 3 of 5" in table
    assert str(result) == table


def test_batches_and_device_give_the_same_answer(planted):
    words, vectors = planted
    reference = evaluate_analogies(vectors, words)
    for kwargs in ({"device": "cpu"}, {"device": torch.device("cpu"), "batch_size": 7}):
        assert evaluate_analogies(torch.from_numpy(vectors), words, **kwargs) == reference


def test_empty_result():
    result = AnalogyResult()
    assert (result.accuracy, result.oov_rate) == (0.0, 0.0)
    assert "total" in result.table()


def test_malformed_analogy_files(tmp_path):
    with pytest.raises(ValueError, match="before the first"):
        evaluate_analogies(ANALOGY_VECTORS, ANALOGY_WORDS, write(tmp_path, "x.txt", "a b c d\n"))
    with pytest.raises(ValueError, match="x.txt:2: expected 4 words"):
        evaluate_analogies(ANALOGY_VECTORS, ANALOGY_WORDS, write(tmp_path, "x.txt", ": s\na b c\n"))


def test_analogy_argument_errors():
    with pytest.raises(ValueError, match="batch_size"):
        evaluate_analogies(ANALOGY_VECTORS, ANALOGY_WORDS, batch_size=0)
    with pytest.raises(ValueError, match="restrict_vocab"):
        evaluate_analogies(ANALOGY_VECTORS, ANALOGY_WORDS, restrict_vocab=0)


# --- similarity --------------------------------------------------------------------------------


def test_similarity_on_a_small_file(tmp_path):
    words, vectors = tiny()
    text = "# comment\nCat\tkitten\t9.5\ncat\tdog\t7\ndog\tcar\t6.0\ncat\ttruck\t1\nlion\tcat\t8\n"
    result = evaluate_similarity(vectors, words, write(tmp_path, "pairs.tsv", text))
    assert (result.n_pairs, result.n_oov) == (4, 1)
    assert result.oov_rate == pytest.approx(0.2)
    assert result.spearman == pytest.approx(1.0)
    model = [1 / math.sqrt(1.01), 0.8, 0.6, -0.6]
    assert result.pearson == pytest.approx(float(np.corrcoef(model, [9.5, 7, 6, 1])[0, 1]))
    assert result.pearson < 0.999


def test_similarity_with_too_few_pairs(tmp_path):
    words, vectors = tiny()
    result = evaluate_similarity(vectors, words, write(tmp_path, "p.tsv", "cat\tdog\t1\n"))
    assert isinstance(result, SimilarityResult)
    assert math.isnan(result.spearman) and math.isnan(result.pearson)
    assert (result.n_pairs, result.n_oov) == (1, 0)


def test_malformed_pairs_file(tmp_path):
    words, vectors = tiny()
    with pytest.raises(ValueError, match="p.tsv:1: expected"):
        evaluate_similarity(vectors, words, write(tmp_path, "p.tsv", "cat dog 1\n"))


def test_evaluate_all(word2vec):
    words, vectors = word2vec
    scores = evaluate_all(vectors, words)
    assert set(scores) == {
        "analogy_accuracy",
        "analogy_oov_rate",
        "wordsim353_spearman",
        "wordsim353_oov_rate",
        "simlex999_spearman",
        "simlex999_oov_rate",
    }
    assert scores["analogy_accuracy"] == evaluate_analogies(vectors, words).accuracy
    assert scores["simlex999_spearman"] == evaluate_similarity(vectors, words, "simlex999").spearman
    assert all(0 < scores[k] < 1 for k in scores if k.endswith("oov_rate"))


# --- input checks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vectors", "words", "error", "message"),
    [
        (torch.ones(3), ["a", "b", "c"], ValueError, "2-D"),
        (torch.ones(2, 2, 2), ["a", "b"], ValueError, "2-D"),
        (torch.ones(3, 2), ["a", "b"], ValueError, "len\\(words\\) = 2 but vectors have 3 rows"),
        (torch.ones(2, 2, dtype=torch.long), ["a", "b"], TypeError, "float"),
        (torch.ones(0, 4), [], ValueError, "empty"),
        (torch.ones(2, 0), ["a", "b"], ValueError, "empty"),
        (torch.tensor([[1.0, math.nan], [1.0, 0.0]]), ["a", "b"], ValueError, "NaN"),
        (torch.ones(2, 2), "ab", TypeError, "not a string"),
    ],
)
def test_bad_vectors(vectors, words, error, message):
    with pytest.raises(error, match=message):
        nearest_neighbours(torch.ones(2), vectors, words)
    with pytest.raises(error, match=message):
        evaluate_analogies(vectors, words)
    with pytest.raises(error, match=message):
        evaluate_similarity(vectors, words)
