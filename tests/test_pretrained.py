"""Pre-trained vectors: the conversion of a data set, and the clear failure offline (no network)."""

from __future__ import annotations

import time

import datasets
import huggingface_hub.constants as hub_constants
import pytest
import torch

from course_utils import hub
from course_utils.evaluation import nearest_neighbours
from course_utils.pretrained import (
    PRETRAINED,
    PretrainedUnavailableError,
    load_pretrained,
    vectors_from_dataset,
)


def small_table() -> datasets.Dataset:
    return datasets.Dataset.from_dict(
        {
            "word": ["the", "king", "queen", "apple"],
            "embeddings": [[0.1, 0.0, 0.0], [1.0, 1.0, 0.0], [0.9, 1.1, 0.1], [-1.0, 0.0, 1.0]],
        }
    )


def test_a_data_set_becomes_a_float32_matrix_and_its_words() -> None:
    vectors, words = vectors_from_dataset(small_table(), "word", "embeddings")
    assert words == ["the", "king", "queen", "apple"]
    assert vectors.dtype == torch.float32 and tuple(vectors.shape) == (4, 3)
    assert torch.allclose(vectors[2], torch.tensor([0.9, 1.1, 0.1]))
    assert nearest_neighbours("king", vectors, words, k=1)[0][0] == "queen"


def test_max_words_keeps_the_first_rows() -> None:
    vectors, words = vectors_from_dataset(small_table(), "word", "embeddings", max_words=2)
    assert words == ["the", "king"] and tuple(vectors.shape) == (2, 3)
    _, words = vectors_from_dataset(small_table(), "word", "embeddings", max_words=10)
    assert len(words) == 4


@pytest.mark.parametrize(
    ("table", "columns", "max_words", "message"),
    [
        (small_table(), ("word", "vector"), None, "not in"),
        (small_table(), ("word", "embeddings"), 0, "at least 1"),
        (
            datasets.Dataset.from_dict({"word": ["a", "b"], "embeddings": [[1.0], [1.0, 2.0]]}),
            ("word", "embeddings"),
            None,
            "different lengths",
        ),
    ],
)
def test_bad_tables_are_refused(table, columns, max_words, message) -> None:
    with pytest.raises(ValueError, match=message):
        vectors_from_dataset(table, *columns, max_words=max_words)


def test_the_registry_names_a_hub_data_set() -> None:
    assert PRETRAINED["glove-50"] == ("karmiq/glove", "word", "embeddings")
    with pytest.raises(KeyError, match="glove-50"):
        load_pretrained("word2vec-google-news")


def test_unreachable_hub_fails_fast_with_what_to_do(no_hub: None) -> None:
    start = time.monotonic()
    with pytest.raises(PretrainedUnavailableError) as info:
        load_pretrained("glove-50")
    assert time.monotonic() - start < 30  # a hang guard, not a benchmark
    message = str(info.value)
    assert "'glove-50'" in message and "karmiq/glove" in message and "127.0.0.1:9" in message
    assert "You are offline: connect to the internet" in message
    assert "load_corpus('default')" in message
    assert datasets.config.HF_HUB_OFFLINE is False  # the temporary offline mode was undone
    assert hub_constants.HF_HUB_OFFLINE is False


def test_offline_mode_does_not_probe(no_hub: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def no_probe(url: str, timeout: float = 0.0) -> str | None:
        raise AssertionError("offline mode must not touch the network")

    monkeypatch.setattr(hub, "probe", no_probe)
    with pytest.raises(PretrainedUnavailableError, match="offline mode is on") as info:
        load_pretrained()
    assert "Unset HF_HUB_OFFLINE" in str(info.value) and "You are offline" not in str(info.value)


def test_a_failed_download_from_a_reachable_hub_says_so(
    no_hub: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def load(*args, **kwargs):  # not cached (offline attempt), then the transfer breaks
        raise ConnectionError("connection reset by peer")

    monkeypatch.setattr(hub, "probe", lambda url, timeout=0.0: None)  # the Hub answers
    monkeypatch.setattr(datasets, "load_dataset", load)
    with pytest.raises(PretrainedUnavailableError) as info:
        load_pretrained("glove-50")
    message = str(info.value)
    assert "the Hub answered but the download failed: ConnectionError" in message
    assert "Try again later" in message and "You are offline" not in message
