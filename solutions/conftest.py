"""nbval runs the cells of each solution notebook as tests, in one kernel per notebook: keep them
on one pytest-xdist worker (`make test` runs `--dist loadgroup`). Here, not in tests/conftest.py,
because a conftest's collection hooks only see the items below its folder."""

from pathlib import Path

import pytest


def pytest_itemcollected(item: pytest.Item) -> None:
    path = Path(str(item.fspath))
    if path.suffix == ".ipynb":
        item.add_marker(pytest.mark.xdist_group(name=f"nbval-{path.stem}"))
