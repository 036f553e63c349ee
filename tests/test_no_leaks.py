"""No graded answer reaches a student: not in any lab's notebook, not in the release bundle.

A leak is a run of 3 consecutive non-trivial lines of any lab's solution region (code answers
and model answers of written questions) that also appears, consecutively, anywhere in a
student notebook: code, markdown, bonus cells, outputs or metadata.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from course_utils import course, notebooks

ROOT = Path(__file__).resolve().parents[1]
LABS = course.labs(ROOT)
RUN = 3
_GENERIC = {"raise NotImplementedError()", "YOUR CODE HERE", "YOUR ANSWER HERE"}


def _lines(text: str) -> list[str]:
    """The non-trivial lines of ``text``: stripped, not comments, at least 10 characters."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if len(line.replace(" ", "")) >= 10 and not line.startswith("#") and line not in _GENERIC:
            out.append(line)
    return out


def _runs(lines: list[str]) -> set[tuple[str, ...]]:
    return {tuple(lines[i : i + RUN]) for i in range(len(lines) - RUN + 1)}


def _answer_runs() -> dict[tuple[str, ...], str]:
    runs = {}
    for lab in LABS:
        nb = notebooks.read(ROOT / "solutions" / lab / f"{lab}.ipynb")
        for gid, text in notebooks.solution_regions(nb):
            for run in _runs(_lines(text)):
                runs[run] = f"{lab}:{gid}"
    return runs


def _student_text(nb_json: dict) -> list[str]:
    """Every line a student sees or can read: sources, outputs, metadata (as JSON text)."""
    lines = []
    for cell in nb_json["cells"]:
        lines += _lines(
            "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        )
        for output in cell.get("outputs", []):
            lines += _lines(json.dumps(output, indent=0).replace("\\n", "\n"))
        lines += _lines(json.dumps(cell.get("metadata", {}), indent=0).replace("\\n", "\n"))
    lines += _lines(json.dumps(nb_json.get("metadata", {}), indent=0).replace("\\n", "\n"))
    return lines


def leaks(nb_json: dict) -> list[str]:
    """The answer runs found in a student notebook, as 'lab:cell: first line'."""
    answers = _answer_runs()
    found = _runs(_student_text(nb_json)) & answers.keys()
    return sorted(f"{answers[run]}: {run[0]}" for run in found)


def test_the_detector_finds_a_pasted_answer():
    lab = LABS[0]
    nb = json.loads((ROOT / "labs" / lab / f"{lab}.ipynb").read_text())
    gid, answer = notebooks.solution_regions(
        notebooks.read(ROOT / "solutions" / lab / f"{lab}.ipynb")
    )[0]
    nb["cells"].append({"cell_type": "markdown", "metadata": {}, "source": answer})
    assert any(gid in leak for leak in leaks(nb))


@pytest.mark.parametrize("lab", LABS)
def test_no_answer_in_the_student_notebook(lab: str):
    nb = json.loads((ROOT / "labs" / lab / f"{lab}.ipynb").read_text())
    assert leaks(nb) == [], f"labs/{lab} contains graded answers"


def test_the_release_bundle_holds_no_solution(tmp_path: Path):
    from grading_harness import make_course, run_course

    lab = LABS[0]
    root = make_course(tmp_path, [lab])
    run = run_course(root, "release", lab)
    assert run.returncode == 0, run.stderr
    with zipfile.ZipFile(root / "grading" / "release" / f"{lab}.zip") as bundle:
        names = bundle.namelist()
        assert not [n for n in names if "solutions" in n.split("/")], names
        for name in names:
            if name.endswith(".ipynb"):
                text = bundle.read(name).decode()
                assert notebooks.BEGIN_SOLUTION not in text and notebooks.BEGIN_HIDDEN not in text
                assert leaks(json.loads(text)) == []
