"""Benchmark: ``course autograde --jobs N`` against one plain ``nbgrader autograde`` process.

Generates a class of lab-1 submissions (every fixture of ``tests/ta_fixtures.py``, the faulty
ones included, topped up with correct and typical-bug submissions), grades one copy of the
course with plain nbgrader 0.9.6 and another with the ``course`` command, and prints the wall
time per submission, the ratio and, per fixture, the score each gave next to the expected
one. Both use the same per-cell time limit. The numbers go to ``baseline_grading.json``.

    .venv/bin/python benchmarks/grading_bench.py [--submissions 24] [--jobs 2] [--timeout 20]

Absolute times depend on the machine's load (``os.getloadavg`` is recorded); the ratio is
the figure to compare.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from nbgrader.api import Gradebook, MissingEntry  # noqa: E402
from ta_fixtures import FIXTURES, LAB, Fixture, build  # noqa: E402
from typical_bugs import lab1_onehot as typical  # noqa: E402

from course_utils import course  # noqa: E402


def make_course(folder: Path) -> Path:
    folder.mkdir(parents=True)
    shutil.copy(ROOT / course.CONFIG_FILE, folder)
    (folder / "solutions").mkdir()
    shutil.copytree(ROOT / "solutions" / LAB, folder / "solutions" / LAB)
    course.generate_labs(folder, [LAB])
    return folder


def the_class(size: int) -> dict[str, Fixture]:
    students = dict(FIXTURES)
    extra = 0
    while len(students) < size:
        if extra % 2:
            students[f"extra{extra:02d}_buggy"] = Fixture(typical.BUGS, 7)
        else:
            students[f"extra{extra:02d}_correct"] = Fixture({}, 12)
        extra += 1
    return students


def scores(root: Path, students: list[str]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    with Gradebook(course.load_config(root).CourseDirectory.db_url) as gb:
        for student in students:
            graded = root / "grading" / "autograded" / student / LAB / f"{LAB}.ipynb"
            try:
                nb = gb.find_submission_notebook(LAB, LAB, student)
            except MissingEntry:
                out[student] = None
                continue
            if not graded.is_file():
                out[student] = None  # nbgrader failed the submission (export would show 0)
                continue
            # score, as exported: a manual score (e.g. written by a student's code) wins
            out[student] = sum(g.score or 0 for g in nb.grades if g.cell.cell_type == "code")
    return out


def timed(command: list[str], cwd: Path) -> tuple[float, int, str]:
    started = time.perf_counter()
    run = subprocess.run(
        command, cwd=cwd, env=course.use_env_tools(), capture_output=True, text=True
    )
    return time.perf_counter() - started, run.returncode, run.stdout + run.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=24)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=20)
    parser.add_argument("--memory", default="4G")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "baseline_grading.json")
    args = parser.parse_args()
    students = the_class(args.submissions)
    bin_dir = Path(sys.executable).parent
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        plain_root = make_course(Path(tmp) / "plain")
        ours_root = make_course(Path(tmp) / "ours")
        for root in (plain_root, ours_root):
            for name, fixture in students.items():
                build(root, name, fixture)
        load_before = os.getloadavg()
        plain_s, plain_rc, _ = timed(
            [str(bin_dir / "nbgrader"), "autograde", LAB, f"--Execute.timeout={args.timeout}"],
            plain_root,
        )
        ours_s, ours_rc, log = timed(
            [str(bin_dir / "course"), "autograde", LAB, "--jobs", str(args.jobs)]
            + ["--timeout", str(args.timeout), "--memory", args.memory],
            ours_root,
        )
        load_after = os.getloadavg()
        if ours_rc != 0:
            print(log)
        plain_scores = scores(plain_root, list(students))
        ours_scores = scores(ours_root, list(students))
        audit = {}
        for name in students:
            entry = ours_root / "grading" / "ledger" / LAB / f"{name}.json"
            audit[name] = sorted({e["flag"] for e in json.loads(entry.read_text())["events"]})
    n = len(students)
    results = {
        "submissions": n,
        "jobs": args.jobs,
        "cell_timeout_s": args.timeout,
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "plain_nbgrader": {
            "seconds": round(plain_s, 1),
            "per_submission": round(plain_s / n, 2),
            "exit_code": plain_rc,
        },
        "course_autograde": {
            "seconds": round(ours_s, 1),
            "per_submission": round(ours_s / n, 2),
            "exit_code": ours_rc,
        },
        "speedup": round(plain_s / ours_s, 2),
        "fixtures": {
            name: {
                "expected": students[name].score,
                "plain": plain_scores[name],
                "ours": ours_scores[name],
                "flags": audit[name],
                "caught": ours_scores[name] == students[name].score
                and set(audit[name]) - {"unsandboxed"} >= students[name].flags,
            }
            for name in students
        },
    }
    print(f"{n} submissions of {LAB}, per-cell limit {args.timeout} s, load {load_before[0]:.1f}")
    print(f"plain nbgrader autograde:        {plain_s:7.1f} s  ({plain_s / n:.2f} s/submission)")
    print(
        f"course autograde --jobs {args.jobs}:        {ours_s:7.1f} s  "
        f"({ours_s / n:.2f} s/submission)"
    )
    print(f"speed-up: {plain_s / ours_s:.2f}x")
    print(f"{'submission':<22} {'expected':>8} {'plain':>7} {'ours':>6}  flags")
    for name, row in results["fixtures"].items():
        plain = "failed" if row["plain"] is None else f"{row['plain']:g}"
        print(
            f"{name:<22} {row['expected']:>8g} {plain:>7} {row['ours']:>6g}  "
            + ",".join(row["flags"])
        )
    caught = all(r["caught"] for r in results["fixtures"].values())
    print("every fault caught:", caught)
    results["every_fault_caught"] = caught
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
