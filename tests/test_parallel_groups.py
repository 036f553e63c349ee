"""`make test` relies on pytest-xdist's ``--dist loadgroup``: every test of one ``xdist_group``
(one lab's graded class, one notebook's nbval cells, the TA class) runs on one worker. When a
pytest release changes what xdist relies on (pytest 9.2 did), the groups are split silently:
classes are graded twice and a notebook's cells run in two kernels. This test notices."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("xdist")

SUITE = """
import os
import time

import pytest

GROUPS = [pytest.param(g, marks=pytest.mark.xdist_group(name=f"g{g}")) for g in range(6)]


# collected as test0-g0, test0-g1, ...: without groups, neighbours go to different workers
@pytest.mark.parametrize("g", GROUPS)
@pytest.mark.parametrize("test", range(4))
def test_member(g, test):
    time.sleep(0.05)
    with open(os.environ["GROUP_LOG"], "a") as log:
        log.write(f"{g} {os.environ['PYTEST_XDIST_WORKER']}\\n")
"""


def test_each_xdist_group_runs_on_one_worker(tmp_path: Path):
    (tmp_path / "test_groups.py").write_text(SUITE)
    log = tmp_path / "log.txt"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "2", "--dist", "loadgroup"]
        + ["-p", "no:cacheprovider", "-p", "no:nbval", "-c", "/dev/null", str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "GROUP_LOG": str(log)},
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    workers: dict[str, set[str]] = {}
    for line in log.read_text().splitlines():
        group, worker = line.split()
        workers.setdefault(group, set()).add(worker)
    assert len(workers) == 6 and all(len(w) == 1 for w in workers.values()), workers
