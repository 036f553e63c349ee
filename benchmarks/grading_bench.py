"""Benchmark: ``course autograde --jobs N`` against one plain ``nbgrader autograde`` process.

Generates a class of lab-1 submissions (every fixture of ``tests/ta_fixtures.py``, the faulty
ones included, topped up with correct and typical-bug submissions), grades one copy of the
course with plain nbgrader 0.9.6 and another with the ``course`` command, and prints the wall
time per submission, the ratio and, per fixture, the score each gave next to the expected
one. Both use the same per-cell time limit. The numbers go to ``baseline_grading.json``.

    .venv/bin/python -m benchmarks.grading_bench [--submissions 24] [--jobs 2] [--timeout 20]
    .venv/bin/python -m benchmarks.grading_bench --lab lab5_sgns --submissions 6 --timeout 300

For a lab other than lab 1 the class alternates the reference solution and the untouched
release (full marks and 0 expected). ``course autograde`` runs with a cold judge cache, so its
time includes the one reference run per lab; the time of that run is printed apart.

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

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from course_utils import course, notebooks
from tests.ta_fixtures import FIXTURES, LAB, Fixture, build
from tests.typical_bugs import lab1_onehot as typical

ROOT = Path(__file__).resolve().parents[1]


def make_course(folder: Path, lab: str) -> Path:
    folder.mkdir(parents=True)
    shutil.copy(ROOT / course.CONFIG_FILE, folder)
    (folder / "solutions").mkdir()
    shutil.copytree(ROOT / "solutions" / lab, folder / "solutions" / lab)
    course.generate_labs(folder, [lab])
    return folder


def full_marks(lab: str) -> float:
    nb = notebooks.read(ROOT / "solutions" / lab / f"{lab}.ipynb")
    return sum(
        c.metadata.nbgrader.get("points", 0)
        for c in nb.cells
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")
    )


def build_other(root: Path, lab: str, student: str, fixture: Fixture) -> None:
    release = notebooks.read(root / "labs" / lab / f"{lab}.ipynb")
    solution = notebooks.read(root / "solutions" / lab / f"{lab}.ipynb")
    notebooks.fill_release(release, solution, fixture.answers)
    folder = root / "grading" / "submitted" / student / lab
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(release, folder / f"{lab}.ipynb")


def the_class(size: int, lab: str = LAB) -> dict[str, Fixture]:
    if lab != LAB:
        full = full_marks(lab)
        return {
            f"s{i:02d}_{'reference' if i % 2 == 0 else 'untouched'}": (
                Fixture({}, full) if i % 2 == 0 else Fixture(None, 0, plain=0)
            )
            for i in range(size)
        }
    students = dict(FIXTURES)
    extra = 0
    while len(students) < size:
        if extra % 2:
            students[f"extra{extra:02d}_buggy"] = Fixture(typical.BUGS, 7)
        else:
            students[f"extra{extra:02d}_correct"] = Fixture({}, 12)
        extra += 1
    return students


def scores(root: Path, students: list[str], lab: str = LAB) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    with Gradebook(course.load_config(root).CourseDirectory.db_url) as gb:
        for student in students:
            graded = root / "grading" / "autograded" / student / lab / f"{lab}.ipynb"
            try:
                nb = gb.find_submission_notebook(lab, lab, student)
            except MissingEntry:
                out[student] = None
                continue
            if not graded.is_file():
                out[student] = None  # nbgrader failed the submission (export would show 0)
                continue
            # score, as exported: a manual score (e.g. written by a student's code) wins
            out[student] = sum(g.score or 0 for g in nb.grades if g.cell.cell_type == "code")
    return out


def timed(command: list[str], cwd: Path) -> tuple[float, int, str, float]:
    """Wall time, exit code, output, and when the grading proper started (after the judge's
    reference run, which ``course autograde`` announces on a line of its own)."""
    started = time.perf_counter()
    grading_from = 0.0
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        env=course.use_env_tools(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("grading ") and not grading_from:
            grading_from = time.perf_counter() - started
    proc.wait()
    return time.perf_counter() - started, proc.returncode, "".join(lines), grading_from


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=24)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=20)
    parser.add_argument("--memory", default="4G")
    parser.add_argument("--lab", default=LAB)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    lab = args.lab
    suffix = "" if lab == LAB else f"_{lab}"
    args.out = args.out or ROOT / "benchmarks" / f"baseline_grading{suffix}.json"
    students = the_class(args.submissions, lab)
    bin_dir = Path(sys.executable).parent
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        plain_root = make_course(Path(tmp) / "plain", lab)
        ours_root = make_course(Path(tmp) / "ours", lab)
        for root in (plain_root, ours_root):
            for name, fixture in students.items():
                if lab == LAB:
                    build(root, name, fixture)
                else:
                    build_other(root, lab, name, fixture)
        load_before = os.getloadavg()
        plain_s, plain_rc, _, _ = timed(
            [str(bin_dir / "nbgrader"), "autograde", lab, f"--Execute.timeout={args.timeout}"],
            plain_root,
        )
        ours_s, ours_rc, log, reference_s = timed(
            [str(bin_dir / "course"), "autograde", lab, "--jobs", str(args.jobs)]
            + ["--timeout", str(args.timeout), "--memory", args.memory],
            ours_root,
        )
        load_after = os.getloadavg()
        if ours_rc != 0:
            print(log)
        plain_scores = scores(plain_root, list(students), lab)
        ours_scores = scores(ours_root, list(students), lab)
        audit = {}
        for name in students:
            entry = ours_root / "grading" / "ledger" / lab / f"{name}.json"
            audit[name] = sorted({e["flag"] for e in json.loads(entry.read_text())["events"]})
    n = len(students)
    results = {
        "lab": lab,
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
            "reference_run_seconds": round(reference_s, 1),
            "per_submission_after_reference_run": round((ours_s - reference_s) / n, 2),
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
    print(f"{n} submissions of {lab}, per-cell limit {args.timeout} s, load {load_before[0]:.1f}")
    print(f"plain nbgrader autograde:        {plain_s:7.1f} s  ({plain_s / n:.2f} s/submission)")
    print(
        f"course autograde --jobs {args.jobs}:        {ours_s:7.1f} s  "
        f"({ours_s / n:.2f} s/submission)"
    )
    print(f"  of which the judge's reference run: {reference_s:.1f} s")
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
