"""What ``course collect`` did: collected, skipped (and why), ids claimed by several students."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from course_utils.ta.submissions import Skipped

__all__ = ["Collected", "Collision", "Report"]


def _show(text: str) -> str:
    """``text`` safe to print: control characters (a name from a zip may hold any) escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


@dataclass
class Collected:
    student: str
    source: str
    path: Path
    timestamp: str = ""
    key: str = ""


@dataclass
class Collision:
    """Several people (keys) whose submissions would all be ``student``: none is collected."""

    student: str
    claims: list[tuple[str, str]]  # (key, entry)
    kept: Path


@dataclass
class Report:
    """The outcome of one collect; iterating over it gives what was collected."""

    lab: str
    command: str
    collected: list[Collected] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    collisions: list[Collision] = field(default_factory=list)

    def __iter__(self) -> Iterator[Collected]:
        return iter(self.collected)

    def __len__(self) -> int:
        return len(self.collected)

    def skip(self, entry: str, reason: str) -> None:
        self.skipped.append(Skipped(entry, reason))

    def text(self) -> str:
        """The report as a TA reads it."""
        lines = [f"{c.student}: {_show(c.source)}" for c in self.collected]
        lines.append(f"{len(self.collected)} submission(s) of {self.lab} in grading/submitted/")
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)}:")
            lines += [f"  {_show(s.entry)}: {_show(s.reason)}" for s in self.skipped]
        for clash in self.collisions:
            lines.append(f"collision: {len(clash.claims)} students give the id {clash.student!r}:")
            lines += [f"  {key!r}: {_show(entry)}" for key, entry in clash.claims]
            lines.append(
                f"  none written to grading/submitted/{clash.student}/; all kept in "
                f"{clash.kept}/ (one numbered folder each, source.txt says whose)"
            )
        if self.collisions:
            choices = [
                f"--id {shlex.quote(key + '=<id>')}"
                for clash in self.collisions
                for key, _ in clash.claims
            ]
            lines.append(
                "To choose, give each of them its id (from the roster) and collect again:\n"
                f"  {self.command} {' '.join(choices)}\n"
                f"or copy the right notebook to grading/submitted/<id>/{self.lab}/{self.lab}.ipynb"
            )
        return "\n".join(lines)
