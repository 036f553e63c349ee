"""Benchmark: ``course autograde --jobs N`` against the same class on a local Dask cluster.

Builds two throw-away copies of the course with the same class of lab-1 submissions (the
fixtures of ``tests/ta_fixtures.py`` that finish without waiting for a time limit, topped up
with correct and typical-bug submissions), runs the reference once and gives both copies its
judge cache (so neither run pays for it), then times

* ``course autograde LAB --jobs N`` (the local pool of N worker processes), and
* ``course autograde LAB --scheduler local --jobs N`` (a ``LocalCluster`` of N single-threaded
  Dask workers, each grading in a private course; the client records and publishes),

and prints the wall time per submission of each, the ratio (Dask / local), the mean grading
time per submission measured inside the workers, and whether both gave the same grades.
The numbers go to ``baseline_grading_cluster.json``.

    .venv/bin/python -m benchmarks.grading_cluster [--submissions 12] [--jobs 2] [--timeout 120]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.grading_bench import make_course, scores
from course_utils import course
from tests.ta_fixtures import FIXTURES, LAB, Fixture, build
from tests.typical_bugs import lab1_onehot as typical

ROOT = Path(__file__).resolve().parents[1]

SLOW = {"infinite_loop", "sigint_ignored", "memory_bomb"}  # they wait for a time limit


def the_class(size: int) -> dict[str, Fixture]:
    students = {k: v for k, v in FIXTURES.items() if k not in SLOW}
    students = dict(list(students.items())[:size])
    extra = 0
    while len(students) < size:
        fixture = Fixture(typical.BUGS, 7) if extra % 2 else Fixture({}, 12)
        students[f"extra{extra:02d}_{'buggy' if extra % 2 else 'correct'}"] = fixture
        extra += 1
    return students


def run(root: Path, *args: str) -> tuple[float, subprocess.CompletedProcess]:
    command = [str(Path(sys.executable).parent / "course"), "--course-dir", str(root), *args]
    started = time.perf_counter()
    done = subprocess.run(command, env=course.use_env_tools(), capture_output=True, text=True)
    return time.perf_counter() - started, done


def inside(root: Path, students: list[str]) -> float:
    """Mean seconds per submission measured by the workers themselves (the ledger)."""
    ledger = root / "grading" / "ledger" / LAB
    seconds = [json.loads((ledger / f"{s}.json").read_text())["seconds"] for s in students]
    return sum(seconds) / len(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=12)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=120)
    parser.add_argument("--memory", default="4G")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "baseline_grading_cluster.json"
    )
    args = parser.parse_args()
    students = the_class(args.submissions)
    common = ["autograde", LAB, "--jobs", str(args.jobs), "--timeout", str(args.timeout)]
    common += ["--memory", args.memory]
    with tempfile.TemporaryDirectory() as tmp:
        warm = make_course(Path(tmp) / "reference", LAB)
        build(warm, "correct", FIXTURES["correct"])
        _, done = run(warm, *common)  # the reference run, once, for both copies
        assert done.returncode == 0, done.stdout + done.stderr
        roots = {}
        for name in ("local", "dask"):
            roots[name] = make_course(Path(tmp) / name, LAB)
            shutil.copytree(warm / "grading" / "judge", roots[name] / "grading" / "judge")
            for student, fixture in students.items():
                build(roots[name], student, fixture)
        load_before = os.getloadavg()
        local_s, local_run = run(roots["local"], *common)
        dask_s, dask_run = run(roots["dask"], *common, "--scheduler", "local")
        load_after = os.getloadavg()
        for done in (local_run, dask_run):
            if done.returncode != 0:
                print(done.stdout + done.stderr)
        grades = {name: scores(root, list(students)) for name, root in roots.items()}
        worker_s = {name: inside(root, list(students)) for name, root in roots.items()}
    n = len(students)
    results = {
        "submissions": n,
        "jobs": args.jobs,
        "cell_timeout_s": args.timeout,
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "local_jobs": {
            "seconds": round(local_s, 1),
            "per_submission": round(local_s / n, 2),
            "worker_seconds_per_submission": round(worker_s["local"], 2),
            "exit_code": local_run.returncode,
        },
        "dask_local_cluster": {
            "seconds": round(dask_s, 1),
            "per_submission": round(dask_s / n, 2),
            "worker_seconds_per_submission": round(worker_s["dask"], 2),
            "exit_code": dask_run.returncode,
        },
        "ratio": round(dask_s / local_s, 3),
        "overhead_per_submission_pct": round(100 * (dask_s - local_s) / local_s, 1),
        "same_grades": grades["local"] == grades["dask"],
    }
    print(f"{n} submissions of {LAB}, {args.jobs} workers, load {load_before[0]:.1f}")
    print(f"{'':<34} {'wall s':>8} {'s/submission':>13} {'in worker':>10}")
    for label, key in (
        (f"--jobs {args.jobs}", "local_jobs"),
        ("Dask LocalCluster", "dask_local_cluster"),
    ):
        row = results[key]
        print(
            f"{label:<34} {row['seconds']:>8.1f} {row['per_submission']:>13.2f} "
            f"{row['worker_seconds_per_submission']:>10.2f}"
        )
    print(
        f"ratio Dask / --jobs: {results['ratio']:.3f} "
        f"({results['overhead_per_submission_pct']:+.1f}% per submission)"
    )
    print("same grades:", results["same_grades"])
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
