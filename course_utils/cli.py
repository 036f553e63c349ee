"""The ``course`` command: what instructors and TAs run on the course repository.

Instructors: ``generate``, ``list``. TAs, from a zip of submissions to a grades CSV:
``release``, ``roster``, ``collect``, ``autograde``, ``feedback``, ``export``, ``audit``
(the work is done in ``course_utils.ta``; this module only parses arguments).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from course_utils import course

__all__ = ["main"]


def _generate(args: argparse.Namespace) -> int:
    root = course.find_root(args.course_dir)
    for notebook in course.generate_labs(root, args.labs or None):
        print(f"wrote {notebook.relative_to(root)}")
    return 0


def _list(args: argparse.Namespace) -> int:
    root = course.find_root(args.course_dir)
    for name in course.labs(root):
        print(name)
    return 0


def _release(args: argparse.Namespace) -> int:
    from course_utils.ta.release import build_bundle

    root = course.find_root(args.course_dir)
    for lab in args.labs or course.labs(root):
        bundle = build_bundle(root, lab)
        print(f"wrote labs/{lab} and {bundle.relative_to(root)} (upload it to students)")
    return 0


def _roster(args: argparse.Namespace) -> int:
    from course_utils.ta.roster import import_roster

    root = course.find_root(args.course_dir)
    students = import_roster(root, args.csv)
    print(f"{len(students)} student(s) in the gradebook")
    return 0


def _collect(args: argparse.Namespace) -> int:
    from course_utils.ta.collect import collect, parse_ids

    root = course.find_root(args.course_dir)
    _known_lab(root, args.lab)
    report = collect(
        root,
        args.lab,
        args.source,
        replace=not args.keep_existing,
        exchange=args.exchange,
        ids=parse_ids(args.id),
    )
    print(report.text())
    return 1 if report.collisions else 0


_SANDBOX_PROMISE = """\
what the sandbox promises (bubblewrap; see the README's TA section):
  each kernel sees only the Python environment, the course package and the corpora
  caches (read-only), its own work folder and /tmp; no solutions/, gradebook, other
  submissions, .git or home folder; only an allowlist of environment variables; no
  network (its own network namespace; it talks to its worker over Unix sockets).
  Files the kernel writes are discarded; links it makes are never followed.
limits per submission:
  run as root: the kernels run as a private user with no capabilities, so --processes
  is enforced by the kernel (RLIMIT_NPROC counts per user), and --disk by a tmpfs of
  that size (it counts as memory); --memory is enforced per process (address space)
  and, for all processes together, by a watchdog polling every 0.2 s: a fast burst can
  overshoot before it is stopped (at most processes x memory).
  not root: no private user and no tmpfs: processes and disk are polled too (weaker).
  Every limit hit is a flag (memory_limit, process_limit, disk_limit, wall_limit) in
  the CSV and in course audit, with what was polled.
"""


def _autograde(args: argparse.Namespace) -> int:
    from course_utils.ta.autograde import Interrupted, Options, autograde
    from course_utils.ta.sandbox import Limits, parse_size

    root = course.find_root(args.course_dir)
    jobs = args.jobs or max(1, min(4, os.cpu_count() or 1))
    limits = Limits(
        memory_bytes=parse_size(args.memory),
        cpu_seconds=args.cpu_time,
        threads=max(1, (os.cpu_count() or 1) // jobs),
        processes=args.processes,
        disk_bytes=parse_size(args.disk),
        wall_seconds=args.wall_time,
        output_bytes=parse_size(args.max_output),
    )
    options = Options(
        jobs=jobs,
        timeout=args.timeout,
        limits=limits,
        sandbox=not args.no_sandbox,
        force=args.force,
        students=args.student or [],
        scheduler=args.scheduler,
    )
    try:
        entries = autograde(root, args.lab, options, progress=lambda line: print(line, flush=True))
    except Interrupted as stop:
        print(f"course: {stop}", file=sys.stderr)
        return 130
    failed = [e.student for e in entries if e.status != "graded"]
    flagged = [e.student for e in entries if e.flags]
    print(f"graded {len(entries) - len(failed)}, failed {len(failed)}, flagged {len(flagged)}")
    if flagged:
        print(f"see: course audit {args.lab} --flagged")
    return 1 if failed else 0


def _feedback(args: argparse.Namespace) -> int:
    from course_utils.ta.feedback import generate_feedback

    root = course.find_root(args.course_dir)
    _known_lab(root, args.lab)
    pages = generate_feedback(root, args.lab, args.student or None)
    for page in pages:
        print(f"wrote {page.relative_to(root)}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from course_utils.ta.lms import export, target_file

    root = course.find_root(args.course_dir)
    for lab in args.labs:
        _known_lab(root, lab)
    target = target_file(root, args.format, args.to)
    done = export(root, target, args.labs or None, args.format, args.moodle_key)
    for note in done.notes:
        print(note)
    print(f"wrote {target}")
    return 0


def _audit(args: argparse.Namespace) -> int:
    from course_utils.ta.report import audit, audit_text

    root = course.find_root(args.course_dir)
    _known_lab(root, args.lab)
    if args.json:
        print(json.dumps(audit(root, args.lab), indent=1))
    else:
        print(audit_text(root, args.lab, only_flagged=args.flagged))
    return 0


def _guide(args: argparse.Namespace) -> int:
    from course_utils.ta.guide import write_guide

    root = course.find_root(args.course_dir)
    for lab in args.labs or course.labs(root):
        _known_lab(root, lab)
        for path in write_guide(root, lab):
            print(f"wrote {path.relative_to(root)}")
    return 0


def _known_lab(root: Path, lab: str) -> None:
    course.require_labs(root, [lab])


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, one subcommand per job."""
    parser = argparse.ArgumentParser(
        prog="course",
        description="Manage the word-embedding labs (an nbgrader course rooted at the "
        "folder that holds nbgrader_config.py).",
    )
    parser.add_argument(
        "--course-dir",
        type=Path,
        default=None,
        help="the course repository (default: found from the current folder)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    generate = sub.add_parser(
        "generate",
        help="regenerate the student notebooks in labs/ from solutions/",
        description="Run nbgrader generate_assignment for each lab: answers become stubs, "
        "hidden tests and outputs are removed, and the result is written to labs/<lab>/.",
    )
    generate.add_argument("labs", nargs="*", help="labs to regenerate (default: all)")
    generate.set_defaults(run=_generate)

    listing = sub.add_parser("list", help="list the labs")
    listing.set_defaults(run=_list)
    for add in _TA_COMMANDS:
        add(sub)
    return parser


def _add_release(sub: argparse._SubParsersAction) -> None:
    """TA: the student notebooks and the LMS zip."""
    release = sub.add_parser(
        "release",
        help="TA: make the student notebooks and a zip to upload to the LMS",
        description="Regenerate labs/<lab>/ (as generate does) and bundle each lab as "
        "grading/release/<lab>.zip for the LMS.",
    )
    release.add_argument("labs", nargs="*", help="labs to release (default: all)")
    release.set_defaults(run=_release)


def _add_roster(sub: argparse._SubParsersAction) -> None:
    """TA: the class list into the gradebook."""
    roster = sub.add_parser(
        "roster",
        help="TA: import the class list (CSV) into the gradebook",
        description="Add or update students from a CSV with a column id (or student_id, "
        "username, login) and optionally first_name, last_name, email.",
    )
    roster.add_argument("csv", type=Path, help="the class list")
    roster.set_defaults(run=_roster)


def _add_collect(sub: argparse._SubParsersAction) -> None:
    """TA: submissions into grading/submitted."""
    collect = sub.add_parser(
        "collect",
        help="TA: copy submissions (a folder, the LMS's zip, nbgrader's exchange) into "
        "grading/submitted",
        description="Each notebook in SOURCE becomes grading/submitted/<student>/<lab>/"
        "<lab>.ipynb. The student is the entry's first folder (Moodle: its number) or, for a "
        "flat file, the name before the first '_' (Canvas). SOURCE is never modified, links "
        "are never followed, every entry left out is listed with its reason. When several "
        "students would get the same id, none is written: all are kept in grading/conflicts/ "
        "until you choose ids with --id (exit status 1).",
    )
    collect.add_argument("lab", help="the lab the submissions are for")
    collect.add_argument("source", type=Path, nargs="?", help="a folder or a .zip")
    collect.add_argument(
        "--exchange",
        type=Path,
        nargs="?",
        const=True,
        default=None,
        metavar="DIR",
        help="collect the latest submission of each student from nbgrader's exchange "
        "(DIR/<course_id>/inbound; default DIR: Exchange.root of the config, else "
        "/srv/nbgrader/exchange)",
    )
    collect.add_argument(
        "--id",
        action="append",
        metavar="KEY=ID",
        help="the id for the student the report calls KEY (repeatable; to settle a collision)",
    )
    collect.add_argument(
        "--keep-existing", action="store_true", help="do not replace submissions already there"
    )
    collect.set_defaults(run=_collect)


def _add_autograde(sub: argparse._SubParsersAction) -> None:
    """TA: grade a lab for the whole class."""
    grade = sub.add_parser(
        "autograde",
        help="TA: grade a lab for the whole class, in parallel and sandboxed",
        description="Grade every submission of LAB with nbgrader, N at a time. Each runs in a "
        "kernel that cannot see solutions/ or the gradebook (bubblewrap) and has time, memory "
        "and CPU limits; dead or stuck kernels are restarted, tampered test cells restored. "
        "Already graded submissions are skipped (--force to redo). Ctrl-C keeps what is done.",
        epilog=_SANDBOX_PROMISE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    grade.add_argument("lab", help="the lab to grade, e.g. lab1_onehot")
    grade.add_argument("--jobs", "-j", type=int, default=None, help="parallel gradings")
    grade.add_argument("--timeout", type=int, default=None, help="seconds per cell (config)")
    grade.add_argument(
        "--memory", default="8G", help="memory per process (address space) and per submission"
    )
    grade.add_argument("--cpu-time", type=int, default=1800, help="CPU seconds per process")
    grade.add_argument(
        "--processes", type=int, default=256, help="processes and threads per submission"
    )
    grade.add_argument("--disk", default="1G", help="disk per submission (work folder, /tmp)")
    grade.add_argument(
        "--wall-time", type=int, default=1800, help="seconds per submission, all cells"
    )
    grade.add_argument("--max-output", default="1M", help="output kept per cell (characters)")
    grade.add_argument("--force", action="store_true", help="grade again even if up to date")
    grade.add_argument("--student", action="append", help="only these students (glob, repeatable)")
    grade.add_argument(
        "--no-sandbox",
        action="store_true",
        help="run without bubblewrap (limits only): kernels can read the course",
    )
    grade.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="grade on a Dask cluster: a scheduler address (tcp://host:8786), its scheduler "
        "file (.json), or 'local' for a local cluster of --jobs workers (pip install -e "
        "'.[cluster]')",
    )
    grade.set_defaults(run=_autograde)


def _add_feedback(sub: argparse._SubParsersAction) -> None:
    """TA: feedback without hidden tests."""
    feedback = sub.add_parser(
        "feedback",
        help="TA: HTML feedback for students, without hidden tests",
        description="Write grading/feedback/<student>/<lab>/<lab>.html for each graded "
        "submission; hidden tests and the traceback lines that quote them are left out.",
    )
    feedback.add_argument("lab")
    feedback.add_argument("--student", action="append", help="only these students")
    feedback.set_defaults(run=_feedback)


def _add_export(sub: argparse._SubParsersAction) -> None:
    """TA: grades CSV or an LMS import file."""
    export = sub.add_parser(
        "export",
        help="TA: write the grades CSV (with status and flags columns), or an LMS import file",
        description="csv (default): one row per student and lab: nbgrader's scores plus "
        "'status' (graded, failed, missing, not graded) and 'flags' (failed, timed_out, "
        "kernel_died, memory_limit, process_limit, disk_limit, wall_limit, tampered, "
        "suspicious, never_scored, unsandboxed, stale). canvas, moodle: the LMS's grade "
        "import CSV, one row per student with a final grade for every lab exported; the "
        "students left out are listed with the reason.",
    )
    export.add_argument("labs", nargs="*", help="labs to export (default: all)")
    export.add_argument(
        "--to",
        type=Path,
        default=None,
        help="the file (default: grading/grades.csv, grading/canvas.csv, grading/moodle.csv)",
    )
    export.add_argument("--format", choices=("csv", "canvas", "moodle"), default="csv")
    export.add_argument(
        "--moodle-key",
        choices=("email", "idnumber"),
        default="email",
        help="how Moodle finds the student: 'Email address' or 'ID number' (the student id)",
    )
    export.set_defaults(run=_export)


def _add_audit(sub: argparse._SubParsersAction) -> None:
    """TA: what happened to each submission."""
    audit = sub.add_parser(
        "audit",
        help="TA: what happened to each submission (failed, timed out, tampered, ...)",
        description="Per student: status, automatic score, each flag with its detail, cells "
        "never scored, and where the grading log is.",
    )
    audit.add_argument("lab")
    audit.add_argument("--flagged", action="store_true", help="only flagged submissions")
    audit.add_argument("--json", action="store_true", help="machine-readable output")
    audit.set_defaults(run=_audit)


def _add_guide(sub: argparse._SubParsersAction) -> None:
    """TA: the grader's guide to written questions."""
    guide = sub.add_parser(
        "guide",
        help="TA: the grader's guide to the written questions (rubrics, model answers)",
        description="Write grading/guide/<lab>.md and .html: every manually graded question "
        "with its points, rubric and model answer, for grading with the formgrader.",
    )
    guide.add_argument("labs", nargs="*", help="labs (default: all)")
    guide.set_defaults(run=_guide)


#: The TA's subcommands, in the order ``course --help`` lists them.
_TA_COMMANDS = (
    _add_release,
    _add_roster,
    _add_collect,
    _add_autograde,
    _add_feedback,
    _add_export,
    _add_audit,
    _add_guide,
)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``course`` command."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (FileNotFoundError, ValueError, RuntimeError, OSError) as err:
        print(f"course: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
