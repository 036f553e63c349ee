"""Data files that ship inside the gensim wheel (corpora, benchmarks), found without importing it.

Importing gensim loads scipy.stats and takes seconds; finding its ``test/test_data`` folder
does not need that.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

__all__ = ["LEE_FILE", "WIKI_FILE", "gensim_data"]

#: The bundled corpora's files: the Lee news corpus and a shortened Wikipedia dump.
LEE_FILE = "lee_background.cor"
WIKI_FILE = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"


def gensim_data(filename: str) -> Path:
    """Path of ``filename`` in gensim's bundled ``test/test_data`` folder (it may not exist)."""
    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"gensim is not installed: it ships the data file {filename}")
    return Path(next(iter(spec.submodule_search_locations))) / "test" / "test_data" / filename
