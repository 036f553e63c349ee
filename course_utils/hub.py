"""The Hugging Face Hub, reached through ``datasets``: a cached copy first, a download only when
the Hub answers.

Corpora (:mod:`course_utils.corpora`) and pre-trained vectors (:mod:`course_utils.pretrained`)
both load Hub data sets through :func:`load_dataset`. ``HF_HUB_OFFLINE`` /
``HF_DATASETS_OFFLINE`` forbid any download, ``HF_ENDPOINT`` names a mirror, and
``HF_DATASETS_CACHE`` the cache (all read at call time).
"""

from __future__ import annotations

import os
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import datasets
import huggingface_hub.constants as hub_constants

__all__ = [
    "HUB_TIMEOUT",
    "HubUnavailableError",
    "cache_dir",
    "endpoint",
    "load_dataset",
    "offline",
    "offline_requested",
    "probe",
    "quiet",
]

#: Seconds to wait for the Hub to answer before calling it unreachable.
HUB_TIMEOUT = 3.0

_TRUE = {"1", "ON", "YES", "TRUE"}


class HubUnavailableError(OSError):
    """A data set is not in the local cache and cannot be downloaded.

    ``reason`` says why, ``advice`` what the user can do about that reason.
    """

    def __init__(self, reason: str, advice: str) -> None:
        super().__init__(f"{reason}. {advice}")
        self.reason = reason
        self.advice = advice


def cache_dir() -> str | None:
    """The datasets cache, honouring ``HF_DATASETS_CACHE`` set after ``datasets`` was imported."""
    return os.environ.get("HF_DATASETS_CACHE") or None


@contextmanager
def quiet() -> Iterator[None]:
    """No ``datasets`` progress bars for the duration (local data load in seconds)."""
    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if was_enabled:
            datasets.enable_progress_bars()


@contextmanager
def offline() -> Iterator[None]:
    """Forbid network access in ``datasets`` and ``huggingface_hub`` for the duration.

    Both libraries read ``HF_HUB_OFFLINE`` at import time, so the flags are set on their config
    modules. Not thread-safe: other threads see offline mode too while this is active.
    """
    saved = (
        datasets.config.HF_HUB_OFFLINE,
        datasets.config.HF_DATASETS_OFFLINE,
        hub_constants.HF_HUB_OFFLINE,
    )
    datasets.config.HF_HUB_OFFLINE = datasets.config.HF_DATASETS_OFFLINE = True
    hub_constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        (
            datasets.config.HF_HUB_OFFLINE,
            datasets.config.HF_DATASETS_OFFLINE,
            hub_constants.HF_HUB_OFFLINE,
        ) = saved


def offline_requested() -> bool:
    """Whether the user asked for offline mode (environment or ``datasets.config``)."""
    env = (os.environ.get(v, "").upper() for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))
    return any(value in _TRUE for value in env) or bool(datasets.config.HF_HUB_OFFLINE)


def endpoint() -> str:
    """The Hub URL: ``HF_ENDPOINT`` as set now, else what ``datasets`` read at import time.

    The download itself uses the endpoint seen at import; set ``HF_ENDPOINT`` before importing
    ``datasets`` to use a mirror.
    """
    return (os.environ.get("HF_ENDPOINT") or datasets.config.HF_ENDPOINT).rstrip("/")


def probe(url: str, timeout: float = HUB_TIMEOUT) -> str | None:
    """None if ``url`` answers within ``timeout`` seconds (any HTTP status), else the problem.

    Runs in a daemon thread so that a slow DNS lookup cannot outlast the timeout either.
    """
    outcome: list[str | None] = []

    def attempt() -> None:
        try:
            urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout)
            outcome.append(None)
        except urllib.error.HTTPError:
            outcome.append(None)  # the server answered, if only with an error status
        except (OSError, ValueError) as err:
            outcome.append(f"{type(err).__name__}: {getattr(err, 'reason', err)}")

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    return outcome[0] if outcome else f"no answer within {timeout:g} s"


def load_dataset(repo_id: str, config: str | None, split: str) -> datasets.Dataset:
    """The ``split`` of a Hub data set: the cached copy if there is one, else a download.

    Raises :class:`HubUnavailableError` within seconds when offline mode is on, the Hub does not
    answer, or the download fails.
    """
    try:
        with offline():
            return datasets.load_dataset(repo_id, config, split=split, cache_dir=cache_dir())
    except OSError:
        pass  # not in the cache (ConnectionError, FileNotFoundError)
    if offline_requested():
        raise HubUnavailableError(
            "offline mode is on (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE)",
            "Unset HF_HUB_OFFLINE and HF_DATASETS_OFFLINE to allow the download and try again",
        )
    url = endpoint()
    problem = probe(url)
    if problem is not None:
        raise HubUnavailableError(
            f"{url} is unreachable: {problem}",
            "You are offline: connect to the internet and try again",
        )
    try:
        return datasets.load_dataset(repo_id, config, split=split, cache_dir=cache_dir())
    except (ConnectionError, TimeoutError, *_transport_errors()) as err:
        raise HubUnavailableError(
            f"the Hub answered but the download failed: {type(err).__name__}: {err}",
            "Try again later, or from another network",
        ) from err


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Network error classes of the HTTP clients huggingface_hub may use."""
    errors: list[type[BaseException]] = []
    try:
        import httpx

        errors.append(httpx.TransportError)
    except ImportError:
        pass
    try:
        import requests

        errors.append(requests.ConnectionError)
    except ImportError:
        pass
    return tuple(errors)
