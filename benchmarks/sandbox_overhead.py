"""Benchmark: what the grading sandbox costs per submission.

Grades the same class of correct lab-1 submissions with ``course autograde --jobs 1`` in
several modes, in turn (round-robin, ``--rounds`` times, so a change in the machine's load
hits every mode alike), and prints the median wall time per submission of each:

* ``sandbox``: this checkout, the full isolation (bubblewrap, private user, no network,
  scratch tmpfs, watchdog);
* ``no-sandbox``: this checkout with ``--no-sandbox`` (no bubblewrap; the scratch space and
  the watchdog remain);
* ``baseline``: with ``--baseline DIR``, a checkout of an earlier version (e.g. the commit
  before the isolation work: ``git archive <commit> | tar -x -C DIR``), sandboxed.

    .venv/bin/python -m benchmarks.sandbox_overhead [--submissions 4] [--rounds 3]
        [--baseline DIR] [--out benchmarks/baseline_sandbox.json]

Reports ``sandbox - no-sandbox`` (the isolation's cost) and ``sandbox - baseline`` (the cost
of this version's isolation over the earlier one's), per submission.
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

from course_utils import course
from tests.ta_fixtures import FIXTURES, LAB, build

ROOT = Path(__file__).resolve().parents[1]


def make_class(folder: Path, size: int) -> Path:
    folder.mkdir(parents=True)
    shutil.copy(ROOT / course.CONFIG_FILE, folder)
    (folder / "solutions").mkdir()
    shutil.copytree(ROOT / "solutions" / LAB, folder / "solutions" / LAB)
    course.generate_labs(folder, [LAB])
    for number in range(size):
        build(folder, f"student{number:02d}", FIXTURES["correct"])
    return folder


def grade(root: Path, source: Path, extra: list[str]) -> float:
    """Seconds for one ``course autograde --jobs 1 --force`` of the class at ``root``."""
    env = {**course.use_env_tools(), "PYTHONPATH": str(source)}
    command = [sys.executable, "-m", "course_utils.cli", "--course-dir", str(root)]
    command += ["autograde", LAB, "--jobs", "1", "--force", "--timeout", "120", *extra]
    started = time.perf_counter()
    run = subprocess.run(command, env=env, cwd=source, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if run.returncode != 0 or "graded" not in run.stdout:
        logs = sorted((root / "grading" / "logs" / LAB).glob("*.log"))
        tail = "\n".join(p.read_text()[-3000:] for p in logs[:2])
        raise RuntimeError(f"grading failed ({source}, {extra}):\n{run.stdout}\n{tail}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "baseline_sandbox.json")
    args = parser.parse_args()
    modes = {"sandbox": (ROOT, []), "no-sandbox": (ROOT, ["--no-sandbox"])}
    if args.baseline is not None:
        modes["baseline"] = (args.baseline.resolve(), [])
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        roots = {mode: make_class(Path(tmp) / mode, args.submissions) for mode in modes}
        for _ in range(args.rounds):
            for mode, (source, extra) in modes.items():
                seconds = grade(roots[mode], source, extra)
                times[mode].append(seconds / args.submissions)
                print(f"{mode:<11} {seconds / args.submissions:6.2f} s/submission", flush=True)
    median = {mode: round(statistics.median(values), 2) for mode, values in times.items()}
    results = {
        "submissions": args.submissions,
        "rounds": args.rounds,
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "seconds_per_submission": {m: [round(v, 2) for v in t] for m, t in times.items()},
        "median_per_submission": median,
        "isolation_cost": round(median["sandbox"] - median["no-sandbox"], 2),
    }
    if "baseline" in median:
        results["cost_over_baseline"] = round(median["sandbox"] - median["baseline"], 2)
    print(json.dumps(results, indent=1))
    args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
