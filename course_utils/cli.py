"""The ``course`` command: what instructors and TAs run on the course repository."""

from __future__ import annotations

import argparse
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
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``course`` command."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (FileNotFoundError, ValueError, RuntimeError) as err:
        print(f"course: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
