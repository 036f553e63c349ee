"""Tests for course_utils.corpora: tokenisation, the bundled corpora, files, caching, the Hub."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import datasets
import huggingface_hub.constants as hub_constants
import pytest

from course_utils import corpora, hub
from course_utils.corpora import (
    BUNDLED,
    HUB,
    MAX_SENTENCE_LENGTH,
    CorpusUnavailableError,
    corpus_stats,
    load_corpus,
    load_text_dataset,
    tokenize,
    tokenized,
)

TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?")


@pytest.fixture(scope="module", autouse=True)
def hf_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private datasets cache shared by this module's tests (never the user's cache)."""
    cache = tmp_path_factory.mktemp("hf_datasets_cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_DATASETS_CACHE", str(cache))
        yield cache


@pytest.fixture(scope="module")
def lee(hf_cache: Path) -> list[list[str]]:
    return load_corpus("lee")


@pytest.fixture(scope="module")
def wiki(hf_cache: Path) -> list[list[str]]:
    return load_corpus("wiki")


def counts(sentences: list[list[str]]) -> Counter[str]:
    return Counter(token for sentence in sentences for token in sentence)


# --- tokenize ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, World!", ["hello", "world"]),
        ("NASA's DNA TEST", ["nasa's", "dna", "test"]),
        ("Café naïve RÉSUMÉ São Paulo", ["cafe", "naive", "resume", "sao", "paulo"]),
        ("Straße ﬁne Ｆｕｌｌ", ["strasse", "fine", "full"]),
        ("don't can’t o'clock", ["don't", "can't", "o'clock"]),
        ("'quoted' students' rock'n'roll", ["quoted", "students", "rock'n", "roll"]),
        ("abc123def 42 3.14 x2", ["abc", "def", "x"]),
        (
            "e-mail; well—known (yes) #tag @user",
            ["e", "mail", "well", "known", "yes", "tag", "user"],
        ),
        ("Ωmega ё b", ["mega", "b"]),
        ("", []),
        ("123 !!! ... 4.5%", []),
    ],
)
def test_tokenize_examples(text: str, expected: list[str]) -> None:
    assert tokenize(text) == expected


def test_module_docstring_example_is_true() -> None:
    doc = corpora.__doc__
    assert doc is not None and "['deja', 'vu', \"don't\"" in doc
    assert tokenize("Déjà vu: DON'T panic -- it's 42°C in São Paulo!") == [
        "deja", "vu", "don't", "panic", "it's", "c", "in", "sao", "paulo",
    ]  # fmt: skip


# --- bundled corpora ---------------------------------------------------------------------------


def test_lee(lee: list[list[str]]) -> None:
    stats = corpus_stats(lee)
    assert stats["n_sentences"] == 300  # one news document per line
    assert 55_000 <= stats["n_tokens"] <= 65_000
    assert 6_000 <= stats["n_types"] <= 8_500
    assert lee[0][:4] == ["hundreds", "of", "people", "have"]
    c = counts(lee)
    assert c.most_common(1)[0][0] == "the"
    assert c["australia"] > 50 and c["wales"] > 10


def test_wiki(wiki: list[list[str]]) -> None:
    stats = corpus_stats(wiki)
    assert 400_000 <= stats["n_tokens"] <= 550_000
    assert 30_000 <= stats["n_types"] <= 40_000
    c = counts(wiki)
    for word in ("anarchism", "autism", "albedo", "alabama"):
        assert c[word] > 10, word
    assert max(len(s) for s in wiki) == MAX_SENTENCE_LENGTH  # long articles are chunked


def test_wiki_documents_are_articles_without_redirects(hf_cache: Path) -> None:
    texts = load_text_dataset("wiki")
    assert texts.column_names == ["text"]
    assert 100 <= len(texts) <= 130  # 206 pages in the dump, 99 of them redirects
    assert not any(t.lstrip().lower().startswith("#redirect") for t in texts["text"])
    assert "Anarchism" in texts[0]["text"]


def test_all_tokens_are_documented_tokens(lee: list[list[str]], wiki: list[list[str]]) -> None:
    for token in counts(lee + wiki):
        assert TOKEN.fullmatch(token), token
    assert all(sentence for sentence in lee + wiki)  # no empty sentences


def test_default_is_wiki_then_lee(lee: list[list[str]], wiki: list[list[str]]) -> None:
    assert "default" in BUNDLED
    default = load_corpus()
    assert default == wiki + lee
    stats, w, lee_stats = corpus_stats(default), corpus_stats(wiki), corpus_stats(lee)
    assert stats["n_sentences"] == w["n_sentences"] + lee_stats["n_sentences"]
    assert stats["n_tokens"] == w["n_tokens"] + lee_stats["n_tokens"]


# --- local files -------------------------------------------------------------------------------


def test_local_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "tiny.txt"
    path.write_text("The cat sat.\n\n1984 !!!\nÉmile's DOG, 2 dogs\n", encoding="utf-8")
    expected = [["the", "cat", "sat"], ["emile's", "dog", "dogs"]]
    assert load_corpus(path) == expected
    assert load_corpus(str(path)) == expected
    texts = load_text_dataset(path)
    assert texts.column_names == ["text"]
    assert texts["text"][:] == ["The cat sat.", "", "1984 !!!", "Émile's DOG, 2 dogs"]


def test_long_lines_are_chunked_like_text8(tmp_path: Path) -> None:
    path = tmp_path / "one_line.txt"
    path.write_text(" ".join(f"w{'a' * (i % 7 + 1)}" for i in range(25_000)), encoding="utf-8")
    sentences = load_corpus(path)
    assert [len(s) for s in sentences] == [10_000, 10_000, 5_000]
    assert sentences[1][0] == "w" + "a" * (10_000 % 7 + 1)


def test_a_bundled_name_wins_over_a_file_of_that_name(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("lee").write_text("only this\n", encoding="utf-8")
    assert load_corpus("./lee") == [["only", "this"]]
    assert len(load_corpus("lee", max_tokens=100)[0]) > 2


# --- max_tokens --------------------------------------------------------------------------------


def test_max_tokens_truncates_the_last_sentence(lee: list[list[str]]) -> None:
    capped = load_corpus("lee", max_tokens=1_000)
    assert sum(len(s) for s in capped) == 1_000
    flat = [t for s in lee for t in s]
    assert [t for s in capped for t in s] == flat[:1_000]
    assert capped[:-1] == lee[: len(capped) - 1]
    assert load_corpus("lee", max_tokens=1) == [["hundreds"]]


def test_max_tokens_on_a_sentence_boundary_and_beyond(lee: list[list[str]]) -> None:
    first = len(lee[0])
    assert load_corpus("lee", max_tokens=first) == [lee[0]]
    assert load_corpus("lee", max_tokens=first + 1) == [lee[0], lee[1][:1]]
    assert load_corpus("lee", max_tokens=10**9) == lee


@pytest.mark.parametrize("bad", [0, -5])
def test_max_tokens_must_be_positive(bad: int) -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        load_corpus("lee", max_tokens=bad)


# --- errors ------------------------------------------------------------------------------------


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "corpus.txt"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        load_corpus(missing)
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        load_corpus("missing.txt")
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path))):
        load_corpus(tmp_path)  # a directory is not a corpus file


def test_empty_file_and_tokenless_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match="is empty"):
        load_corpus(empty)
    numbers = tmp_path / "numbers.txt"
    numbers.write_text("1 2 3\n\n--- 4.5 ---\n", encoding="utf-8")
    assert len(load_text_dataset(numbers)) == 3  # text is there, tokens are not
    with pytest.raises(ValueError, match=r"numbers\.txt is empty"):
        load_corpus(numbers)


def test_unknown_name_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown corpus 'text9'") as info:
        load_corpus("text9")
    for name in (*BUNDLED, *HUB):
        assert name in str(info.value)


def test_bundled_corpora_have_only_a_train_split() -> None:
    with pytest.raises(ValueError, match="only a 'train' split"):
        load_corpus("lee", split="test")


def test_source_must_be_a_name_or_a_path() -> None:
    with pytest.raises(TypeError, match="name or a path"):
        load_corpus(42)  # type: ignore[arg-type]


# --- caching -----------------------------------------------------------------------------------


def test_second_load_reads_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("HF_DATASETS_CACHE", str(cache))
    import gensim.corpora.wikicorpus as wikicorpus

    parses = []
    extract_pages = wikicorpus.extract_pages

    def counting_extract_pages(*args, **kwargs):
        parses.append(1)
        return extract_pages(*args, **kwargs)

    monkeypatch.setattr(wikicorpus, "extract_pages", counting_extract_pages)

    first = load_text_dataset("wiki")
    first_tokens = tokenized(first)
    files = [Path(f["filename"]) for f in first.cache_files + first_tokens.cache_files]
    assert files and all(cache in f.parents and f.is_file() for f in files)
    stamps = [f.stat().st_mtime_ns for f in files]
    assert len(parses) == 1

    second = load_text_dataset("wiki")
    second_tokens = tokenized(second)
    assert len(parses) == 1  # the dump was not parsed again
    assert second.cache_files == first.cache_files
    assert second_tokens.cache_files == first_tokens.cache_files
    assert [f.stat().st_mtime_ns for f in files] == stamps


# --- the Hub -----------------------------------------------------------------------------------


def test_hub_ids() -> None:
    assert HUB["wikitext-2"] == ("Salesforce/wikitext", "wikitext-2-raw-v1")
    assert HUB["text8"] == ("afmck/text8", None)
    assert not set(HUB) & set(BUNDLED)


@pytest.mark.parametrize("name", sorted(HUB))
def test_hub_corpus_fails_fast_when_unreachable(name: str, no_hub: None) -> None:
    start = time.monotonic()
    with pytest.raises(CorpusUnavailableError) as info:
        load_corpus(name)
    assert time.monotonic() - start < 30  # a hang guard, not a benchmark
    message = str(info.value)
    assert repr(name) in message and HUB[name][0] in message
    assert "127.0.0.1:9" in message
    assert "load_corpus('default') works without a connection" in message
    assert datasets.config.HF_HUB_OFFLINE is False  # the temporary offline mode was undone
    assert hub_constants.HF_HUB_OFFLINE is False


def test_hub_corpus_in_offline_mode_does_not_probe(no_hub, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def probe(*args, **kwargs):
        raise AssertionError("probed the network in offline mode")

    monkeypatch.setattr(hub, "probe", probe)
    with pytest.raises(CorpusUnavailableError, match="offline mode is on"):
        load_text_dataset("wikitext-2")


def test_hub_corpus_uses_a_cached_copy_first(no_hub, monkeypatch) -> None:
    calls = []

    def fake_load_dataset(path, name=None, *, split, cache_dir=None):
        calls.append((path, name, split, datasets.config.HF_HUB_OFFLINE))
        return datasets.Dataset.from_dict({"text": ["A cached line.", ""], "extra": [1, 2]})

    def probe(*args, **kwargs):
        raise AssertionError("probed the network although a cached copy exists")

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    monkeypatch.setattr(hub, "probe", probe)
    assert load_corpus("wikitext-2", split="validation") == [["a", "cached", "line"]]
    assert calls == [("Salesforce/wikitext", "wikitext-2-raw-v1", "validation", True)]
    assert datasets.config.HF_HUB_OFFLINE is False


# --- corpus_stats ------------------------------------------------------------------------------


def test_corpus_stats() -> None:
    assert corpus_stats([["a", "b", "a"], [], ["c"]]) == {
        "n_sentences": 3,
        "n_tokens": 4,
        "n_types": 3,
    }
    assert corpus_stats([]) == {"n_sentences": 0, "n_tokens": 0, "n_types": 0}


def test_bundled_loads_print_no_progress_bars(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    load_corpus("lee")
    assert "examples/s" not in capfd.readouterr().err


def test_bundled_corpora_load_without_importing_gensim():
    """gensim (and scipy.stats through it) takes seconds to import; every lab's kernel would pay."""
    code = (
        "import sys\n"
        "from course_utils.corpora import load_corpus\n"
        "from course_utils.evaluation import benchmark_path\n"
        "assert load_corpus('lee') and benchmark_path('wordsim353').is_file()\n"
        "print(sorted(m for m in ('gensim', 'scipy.stats') if m in sys.modules))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]", run.stdout + run.stderr


def test_the_grader_prepares_the_bundled_corpus_once_for_the_sandboxed_kernels(tmp_path):
    from course_utils.ta import corpus_cache

    cache, said = tmp_path / "cache", []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_DATASETS_CACHE", str(cache))
        corpus_cache.prepare(said.append)
        built = sorted(p.name for p in cache.rglob("*.arrow"))
        corpus_cache.prepare(said.append)  # the stamp says it is done
        assert len(said) == 1 and built and (cache / corpus_cache.STAMP).is_file()
        (cache / corpus_cache.STAMP).write_text('{"datasets": "0.0"}')  # another version
        corpus_cache.prepare(said.append)
        assert len(said) == 2 and sorted(p.name for p in cache.rglob("*.arrow")) == built
        # what the kernels then load is read from those files: no new file is built
        assert load_corpus("default")
        assert sorted(p.name for p in cache.rglob("*.arrow")) == built
