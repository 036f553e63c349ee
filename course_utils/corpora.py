"""Text in, token lists out: one loader for every corpus the labs use.

What a token is
---------------
:func:`tokenize` is the course's only tokeniser. It

1. applies Unicode NFKD (``"ﬁ"`` -> ``"fi"``, ``"é"`` -> ``"e"`` + a combining accent),
2. casefolds (lowercase; also ``"ß"`` -> ``"ss"``) and drops combining marks, so accents go,
3. reads the typographic apostrophes ``’`` and ``ʼ`` as ``'``,
4. keeps every match of the regular expression ``[a-z]+(?:'[a-z]+)?``.

So a token is a run of the letters a-z, optionally followed by one apostrophe and more letters
(``"don't"``, ``"o'clock"``). Everything else separates tokens and is dropped: digits,
punctuation, hyphens, a leading or trailing apostrophe, and letters with no a-z form
(``"ø"``, Greek, Cyrillic, CJK). For example::

    >>> tokenize("Déjà vu: DON'T panic -- it's 42°C in São Paulo!")
    ['deja', 'vu', "don't", 'panic', "it's", 'c', 'in', 'sao', 'paulo']

Sources
-------
``load_corpus(source)`` accepts

* a bundled corpus that ships inside the gensim wheel (works offline, see :data:`BUNDLED`):
  ``"lee"`` (Lee news background corpus, 300 documents, ~60k tokens), ``"wiki"`` (107
  Wikipedia articles, ~470k tokens) and ``"default"`` (wiki followed by lee);
* a path (``str`` or :class:`~pathlib.Path`) to a UTF-8 text file with one document per line;
* a Hugging Face Hub data set listed in :data:`HUB` (needs a connection the first time).

A name in :data:`BUNDLED` or :data:`HUB` wins over a file of that name; write ``"./lee"``.

Each document becomes one sentence; documents with no tokens are dropped and longer ones are cut
into sentences of at most :data:`MAX_SENTENCE_LENGTH` tokens (gensim's ``Word2Vec`` ignores
words past that point; text8, whose splits are single lines of millions of tokens, is chunked
the way gensim's ``Text8Corpus`` does).

Every source becomes a ``datasets.Dataset`` with a ``"text"`` column
(:func:`load_text_dataset`); tokenising is a batched ``.map`` that adds ``"tokens"``. Both steps
are cached in the datasets cache (``HF_DATASETS_CACHE``, read at call time), so the second load
of a corpus skips the parsing and the tokenising. ``datasets`` (and this module's Hub helpers)
are imported by the first load, not with the module: :func:`tokenize` alone costs no second.
"""

from __future__ import annotations

import bz2
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, NoReturn

from course_utils.bundled import LEE_FILE, WIKI_FILE, gensim_data

if TYPE_CHECKING:
    import datasets

    from course_utils import hub

__all__ = [
    "BUNDLED",
    "HUB",
    "MAX_SENTENCE_LENGTH",
    "CorpusUnavailableError",
    "corpus_stats",
    "load_corpus",
    "load_text_dataset",
    "tokenize",
    "tokenized",
]

#: Corpora that need no connection: they ship inside the gensim wheel.
BUNDLED: tuple[str, ...] = ("lee", "wiki", "default")

#: Hub corpora: name -> (data set id, config). text8's splits are the usual 90M/5M/5M characters.
HUB: Mapping[str, tuple[str, str | None]] = MappingProxyType(
    {
        "text8": ("afmck/text8", None),
        "wikitext-2": ("Salesforce/wikitext", "wikitext-2-raw-v1"),
    }
)

#: Longest sentence, in tokens; longer documents are cut into pieces of this size.
MAX_SENTENCE_LENGTH = 10_000

_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'"})


class CorpusUnavailableError(RuntimeError):
    """A Hub corpus is neither cached nor reachable (no connection, or offline mode)."""


def tokenize(text: str) -> list[str]:
    """Lowercase a-z word tokens of ``text``, accents stripped (see the module docstring)."""
    if text.isascii():
        return _TOKEN.findall(text.lower())
    text = unicodedata.normalize("NFKD", text).casefold()
    text = "".join(c for c in text if not unicodedata.combining(c))
    return _TOKEN.findall(text.translate(_APOSTROPHES))


def load_text_dataset(
    source: str | os.PathLike[str] = "default", *, split: str = "train"
) -> datasets.Dataset:
    """The raw documents of ``source`` as a ``datasets.Dataset`` with one ``"text"`` column.

    Bundled corpora and local files have only a ``"train"`` split; Hub corpora take any split
    ``datasets`` understands (``"validation"``, ``"train[:10%]"``, ...).
    """
    import datasets

    kind, where = _resolve(source)
    if kind == "hub":
        return _load_hub(str(where), split)
    if split != "train":
        raise ValueError(f"{_label(source)} has only a 'train' split, not {split!r}")
    if kind == "file":
        return _load_file(Path(where))
    if where == "lee":
        return _load_file(gensim_data(LEE_FILE))
    if where == "wiki":
        return _load_wiki()
    return datasets.concatenate_datasets([_load_wiki(), _load_file(gensim_data(LEE_FILE))])


def load_corpus(
    source: str | os.PathLike[str] = "default",
    *,
    max_tokens: int | None = None,
    split: str = "train",
) -> list[list[str]]:
    """Sentences of ``source`` as lists of tokens, in corpus order.

    ``max_tokens`` caps the total number of tokens; the last sentence is truncated to fit.
    """
    if max_tokens is not None and max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1 (or None for all), got {max_tokens}")
    from course_utils import hub

    kind, _ = _resolve(source)
    with hub.quiet() if kind != "hub" else nullcontext():  # a Hub download keeps its progress bars
        sentences = tokenized(load_text_dataset(source, split=split))
    if len(sentences) == 0:
        raise ValueError(f"{_label(source)} is empty: it has no tokens (see tokenize)")
    out: list[list[str]] = []
    budget = max_tokens
    for table in sentences.with_format("arrow").iter(batch_size=1_000):
        for sentence in table.column("tokens").to_pylist():
            if budget is not None and len(sentence) >= budget:
                out.append(sentence[:budget])
                return out
            if budget is not None:
                budget -= len(sentence)
            out.append(sentence)
    return out


def tokenized(texts: datasets.Dataset) -> datasets.Dataset:
    """``texts`` (a ``"text"`` column) -> a ``"tokens"`` column, one row per non-empty sentence.

    A cached, batched ``Dataset.map``: calling it again on the same data reads the cache.
    """
    import datasets

    return texts.map(
        _tokenize_batch,
        batched=True,
        remove_columns=texts.column_names,
        fn_kwargs={"max_length": MAX_SENTENCE_LENGTH},
        features=datasets.Features({"tokens": datasets.List(datasets.Value("string"))}),
        desc="tokenizing",
    )


def corpus_stats(sentences: Iterable[Sequence[str]]) -> dict[str, int]:
    """Counts of sentences, tokens and distinct tokens (types)."""
    n_sentences = n_tokens = 0
    types: set[str] = set()
    for sentence in sentences:
        n_sentences += 1
        n_tokens += len(sentence)
        types.update(sentence)
    return {"n_sentences": n_sentences, "n_tokens": n_tokens, "n_types": len(types)}


# --- sources -----------------------------------------------------------------------------------


def _resolve(source: str | os.PathLike[str]) -> tuple[str, str | Path]:
    """("bundled" | "hub" | "file", name or path) for ``source``."""
    if isinstance(source, os.PathLike):
        return "file", Path(source).expanduser()
    if not isinstance(source, str):
        raise TypeError(f"source must be a corpus name or a path, got {type(source).__name__}")
    if source in BUNDLED:
        return "bundled", source
    if source in HUB:
        return "hub", source
    path = Path(source).expanduser()
    if path.exists() or path.suffix or len(path.parts) > 1:
        return "file", path
    raise ValueError(
        f"unknown corpus {source!r}: use a bundled corpus {', '.join(BUNDLED)} (offline), "
        f"a Hub corpus {', '.join(HUB)}, or the path of a text file"
    )


def _label(source: str | os.PathLike[str]) -> str:
    if isinstance(source, str) and (source in BUNDLED or source in HUB):
        return f"corpus {source!r}"
    return f"corpus file {os.fspath(source)}"


def _load_file(path: Path) -> datasets.Dataset:
    import datasets

    from course_utils import hub

    if not path.is_file():
        raise FileNotFoundError(f"corpus file not found: {path}")
    if path.stat().st_size == 0:
        raise ValueError(f"corpus file {path} is empty")
    with hub.offline():
        return datasets.load_dataset(
            "text", data_files=str(path), split="train", cache_dir=hub.cache_dir()
        )


def _wiki_documents(path: str, stamp: tuple[int, int]) -> Iterator[dict[str, str]]:
    """Plain text of each article (namespace 0, redirects skipped) in a Wikipedia XML dump.

    ``stamp`` (size, mtime) is unused here; it is part of the cache key, so a new dump re-parses.
    """
    from gensim.corpora.wikicorpus import extract_pages, filter_wiki

    with bz2.open(path, "rb") as dump:
        for _title, text, _pageid in extract_pages(dump, filter_namespaces=("0",)):
            if text.lstrip()[:9].lower() != "#redirect":
                yield {"text": filter_wiki(text)}


def _load_wiki() -> datasets.Dataset:
    import datasets

    from course_utils import hub

    path = gensim_data(WIKI_FILE)
    info = path.stat()
    with hub.offline():
        return datasets.Dataset.from_generator(
            _wiki_documents,
            features=datasets.Features({"text": datasets.Value("string")}),
            gen_kwargs={"path": str(path), "stamp": (info.st_size, info.st_mtime_ns)},
            cache_dir=hub.cache_dir(),
        )


def _tokenize_batch(batch: dict[str, list[str]], max_length: int) -> dict[str, list[list[str]]]:
    sentences = []
    for text in batch["text"]:
        tokens = tokenize(text)
        sentences.extend(tokens[i : i + max_length] for i in range(0, len(tokens), max_length))
    return {"tokens": sentences}


# --- the Hub -----------------------------------------------------------------------------------


def _load_hub(name: str, split: str) -> datasets.Dataset:
    """A cached copy if there is one, else a download; fails fast when the Hub is out of reach."""
    from course_utils import hub

    repo_id, config = HUB[name]
    try:
        dataset = hub.load_dataset(repo_id, config, split)
    except hub.HubUnavailableError as err:
        _unavailable(name, err)
    return dataset.select_columns(["text"])


def _unavailable(name: str, err: hub.HubUnavailableError) -> NoReturn:
    repo_id, config = HUB[name]
    where = repo_id if config is None else f"{repo_id}, config {config!r}"
    raise CorpusUnavailableError(
        f"cannot load the Hub corpus {name!r} ({where}): it is not in the local datasets cache "
        f"and {err.reason}. {err.advice}, or use the offline default corpus: "
        "load_corpus('default') works without a connection."
    ) from err
