"""Benchmark: ``course autograde --jobs N`` against the same class on a local Dask cluster.

Builds throw-away copies of the course with the same class of lab-1 submissions (the
fixtures of ``tests/ta_fixtures.py`` that finish without waiting for a time limit, topped up
with correct and typical-bug submissions), runs the reference once and gives every copy its
judge cache (so no run pays for it), then times, alternating them ``--rounds`` times (the
machine's load drifts; each run grades a fresh copy),

* ``course autograde LAB --jobs N`` (the local pool of N worker processes), and
* ``course autograde LAB --scheduler local --jobs N`` (a ``LocalCluster`` of N single-threaded
  Dask workers, each grading in a private course; the client records and publishes).

Per run it records the wall time per submission (the whole command: start-up and shut-down
included, as a TA waits for it), the *steady* time per submission (between the first and the
last result the client reports: what grading one more submission costs, start-up and
shut-down left out, for both paths alike), the start-up (command start to first result), the
mean grading time per submission measured inside the workers (the ledger), and whether every
run gave the same grades. It prints the medians and their ratios (Dask / local); the numbers
go to ``baseline_grading_cluster.json``.

    .venv/bin/python -m benchmarks.grading_cluster [--submissions 12] [--jobs 2] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
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

# they wait for a time limit; the memory bomb, which once filled 3 GiB, is kept out so that the
# class stays the one recorded in baseline_grading_cluster.json
SLOW = {"infinite_loop", "sigint_ignored", "memory_bomb"}


def the_class(size: int) -> dict[str, Fixture]:
    students = {k: v for k, v in FIXTURES.items() if k not in SLOW}
    students = dict(list(students.items())[:size])
    extra = 0
    while len(students) < size:
        fixture = Fixture(typical.BUGS, 7) if extra % 2 else Fixture({}, 12)
        students[f"extra{extra:02d}_{'buggy' if extra % 2 else 'correct'}"] = fixture
        extra += 1
    return students


def run(root: Path, *args: str) -> tuple[float, list[float], subprocess.CompletedProcess]:
    """Run ``course``; its wall time and when (seconds from the start) each result came."""
    command = [str(Path(sys.executable).parent / "course"), "--course-dir", str(root), *args]
    started = time.perf_counter()
    proc = subprocess.Popen(
        command,
        env=course.use_env_tools(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines, results = [], []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("["):  # "[k/N] student: ..." once a result is recorded
            results.append(time.perf_counter() - started)
    proc.wait()
    done = subprocess.CompletedProcess(command, proc.returncode, "".join(lines), "")
    return time.perf_counter() - started, results, done


def inside(root: Path, students: list[str]) -> float:
    """Mean seconds per submission measured by the workers themselves (the ledger)."""
    ledger = root / "grading" / "ledger" / LAB
    seconds = [json.loads((ledger / f"{s}.json").read_text())["seconds"] for s in students]
    return sum(seconds) / len(seconds)


def measure(root: Path, args: list[str], students: list[str]) -> dict[str, object]:
    """One timed run of ``course`` on ``root`` and its figures."""
    n = len(students)
    load = os.getloadavg()
    wall, results, done = run(root, *args)
    if done.returncode != 0:
        print(done.stdout)
    steady = (results[-1] - results[0]) / (len(results) - 1) if len(results) > 1 else wall
    return {
        "seconds": round(wall, 1),
        "per_submission": round(wall / n, 2),
        "steady_per_submission": round(steady, 2),
        "startup_s": round(results[0], 1) if results else None,
        "worker_seconds_per_submission": round(inside(root, students), 2),
        "load_average_before": [round(x, 2) for x in load],
        "exit_code": done.returncode,
        "grades": scores(root, students),
    }


def _median(runs: list[dict], key: str) -> float:
    return round(statistics.median(r[key] for r in runs), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=12)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each path, alternated")
    parser.add_argument("--timeout", type=int, default=120)
    parser.add_argument("--memory", default="4G")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "baseline_grading_cluster.json"
    )
    args = parser.parse_args()
    students = the_class(args.submissions)
    common = ["autograde", LAB, "--jobs", str(args.jobs), "--timeout", str(args.timeout)]
    common += ["--memory", args.memory]
    paths = {"local_jobs": common, "dask_local_cluster": [*common, "--scheduler", "local"]}
    runs: dict[str, list[dict]] = {name: [] for name in paths}
    with tempfile.TemporaryDirectory() as tmp:
        warm = make_course(Path(tmp) / "reference", LAB)
        build(warm, "correct", FIXTURES["correct"])
        _, _, done = run(warm, *common)  # the reference run, once, for every copy
        assert done.returncode == 0, done.stdout
        for round_ in range(args.rounds):
            for name, command in paths.items():
                root = make_course(Path(tmp) / f"{name}-{round_}", LAB)
                shutil.copytree(warm / "grading" / "judge", root / "grading" / "judge")
                for student, fixture in students.items():
                    build(root, student, fixture)
                runs[name].append(measure(root, command, list(students)))
                row = runs[name][-1]
                print(
                    f"round {round_ + 1} {name}: {row['per_submission']:.2f} s/submission, "
                    f"steady {row['steady_per_submission']:.2f}, "
                    f"load {row['load_average_before'][0]:.1f}",
                    flush=True,
                )
                shutil.rmtree(root)
    load_after = os.getloadavg()
    grades = [r.pop("grades") for rs in runs.values() for r in rs]
    keys = ("seconds", "per_submission", "steady_per_submission", "startup_s")
    keys += ("worker_seconds_per_submission",)
    summary = {name: {k: _median(rs, k) for k in keys} for name, rs in runs.items()}
    local, dask = summary["local_jobs"], summary["dask_local_cluster"]
    n = len(students)
    results = {
        "submissions": n,
        "jobs": args.jobs,
        "rounds": args.rounds,
        "cell_timeout_s": args.timeout,
        "cpus": os.cpu_count(),
        "load_average_after": [round(x, 2) for x in load_after],
        "medians": summary,
        "ratio": round(dask["per_submission"] / local["per_submission"], 3),
        "overhead_per_submission_pct": round(
            100 * (dask["per_submission"] - local["per_submission"]) / local["per_submission"], 1
        ),
        "steady_ratio": round(dask["steady_per_submission"] / local["steady_per_submission"], 3),
        "steady_overhead_pct": round(
            100
            * (dask["steady_per_submission"] - local["steady_per_submission"])
            / local["steady_per_submission"],
            1,
        ),
        "same_grades": all(g == grades[0] for g in grades),
        "runs": runs,
    }
    print(f"{n} submissions of {LAB}, {args.jobs} workers, {args.rounds} round(s), medians")
    print(f"{'':<20} {'wall s':>7} {'s/sub':>6} {'steady':>7} {'start-up':>9} {'in worker':>10}")
    for label, key in (
        (f"--jobs {args.jobs}", "local_jobs"),
        ("Dask LocalCluster", "dask_local_cluster"),
    ):
        row = summary[key]
        print(
            f"{label:<20} {row['seconds']:>7.1f} {row['per_submission']:>6.2f} "
            f"{row['steady_per_submission']:>7.2f} {row['startup_s']:>9.1f} "
            f"{row['worker_seconds_per_submission']:>10.2f}"
        )
    print(
        f"ratio Dask / --jobs: {results['ratio']:.3f} whole run "
        f"({results['overhead_per_submission_pct']:+.1f}%), {results['steady_ratio']:.3f} steady "
        f"({results['steady_overhead_pct']:+.1f}%)"
    )
    print("same grades:", results["same_grades"])
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
