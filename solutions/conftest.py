"""nbval runs the cells of each solution notebook as tests, in one kernel per notebook: keep them
on one pytest-xdist worker (`make test` runs `--dist loadgroup`). Here, not in tests/conftest.py,
because a conftest's collection hooks only see the items below its folder."""

from pathlib import Path

import pytest

#: nbval waits at most 5 s (fixed in nbval) for each output message after a cell's reply; on a
#: busy machine a kernel can take longer to flush a long cell's last output (seen once: lab 5's
#: training cell at load 4). The cell's own limit stays nbval's ``--nbval-cell-timeout``.
OUTPUT_WAIT_S = 120


def pytest_itemcollected(item: pytest.Item) -> None:
    path = Path(str(item.fspath))
    if path.suffix == ".ipynb":
        item.add_marker(pytest.mark.xdist_group(name=f"nbval-{path.stem}"))
        if hasattr(item, "output_timeout"):
            item.output_timeout = OUTPUT_WAIT_S
