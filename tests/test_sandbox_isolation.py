"""The grading sandbox against hostile submissions, through the real ``course autograde --jobs 2``.

One grading run per kind of attack (network, file system, environment and links; limits;
kernel starts, wall clock and output), each with two honest students graded beside the
attackers. Every attacker must get the score its own code earns and its flags; the honest
students their usual grades; the gradebook must stay intact.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sqlite3
import stat
import time
from pathlib import Path

import nbformat
import pytest
from grading_harness import make_course, run_course
from nbgrader.api import Gradebook
from sandbox_fixtures import FILES, HONEST, LIMITS, NETWORK, RESILIENCE
from ta_fixtures import LAB, Fixture, build

from course_utils import course
from course_utils.ta.sandbox import bwrap_available

pytestmark = pytest.mark.skipif(
    bwrap_available() is not None, reason=f"needs a bubblewrap sandbox: {bwrap_available()}"
)
#: The tests of one class (one module fixture, one grading run) stay on one xdist worker.
ONE_CLASS = {
    name: pytest.mark.xdist_group(name=f"sandbox-{name}")
    for name in ("network-files", "limits", "resilience")
}
ROOT_ONLY = pytest.mark.skipif(
    os.geteuid() != 0, reason="a private user per submission and its tmpfs need root"
)
GRADE = ["autograde", LAB, "--jobs", "2", "--timeout", "120", "--memory", "4G"]
HOG_WALL_S = 20  # the wall-clock limit of the submission that sleeps for ever
DURATIONS: dict[str, float] = {}


def grade(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run ``course autograde`` on ``root``; its output (it must succeed or fail cleanly)."""
    started = time.monotonic()
    run = run_course(root, *args, timeout=1800, env=env)
    DURATIONS[root.name] = time.monotonic() - started
    assert run.returncode in (0, 1), run.stdout + run.stderr
    return run.stdout + run.stderr


def make_class(tmp: Path, attackers: dict[str, Fixture]) -> Path:
    root = make_course(tmp, [LAB])
    for name, fixture in {**HONEST, **attackers}.items():
        answers = fixture.answers and {
            k: v.replace("{ROOT}", str(root)) for k, v in fixture.answers.items()
        }
        append = {k: v.replace("{ROOT}", str(root)) for k, v in fixture.append.items()}
        build(root, name, dataclasses.replace(fixture, answers=answers, append=append))
    return root


def ledger(root: Path, student: str) -> dict:
    return json.loads((root / "grading" / "ledger" / LAB / f"{student}.json").read_text())


def score(root: Path, student: str) -> float:
    with Gradebook(course.load_config(root).CourseDirectory.db_url) as gb:
        nb = gb.find_submission_notebook(LAB, LAB, student)
        return sum(g.auto_score or 0 for g in nb.grades if g.cell.cell_type == "code")


def graded_notebook(root: Path, student: str) -> Path:
    return root / "grading" / "autograded" / student / LAB / f"{LAB}.ipynb"


def report(root: Path, student: str, tag: str) -> dict:
    """The ``<tag> {json}`` line the attacker printed in its graded notebook."""
    nb = nbformat.read(graded_notebook(root, student), as_version=4)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            for line in output.get("text", "").splitlines():
                if line.startswith(tag + " "):
                    return json.loads(line[len(tag) + 1 :])
    raise AssertionError(f"{student} printed no {tag} line")


def files_of(root: Path) -> dict[str, tuple[str, int]]:
    """Checksum and mode of every file and folder under ``root`` (links not followed)."""
    out = {}
    for folder, dirs, names in os.walk(root):
        for name in dirs + names:
            path = Path(folder, name)
            info = path.lstat()
            digest = ""
            if stat.S_ISREG(info.st_mode):
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            out[str(path.relative_to(root))] = (digest, info.st_mode)
    return out


def check_student(root: Path, name: str, fixture: Fixture) -> dict:
    entry = ledger(root, name)
    flags = {e["flag"] for e in entry["events"]}
    expected_status = "failed" if "failed" in fixture.flags else "graded"
    assert entry["status"] == expected_status, entry
    assert flags == fixture.flags, entry["events"]
    if expected_status == "graded":
        assert score(root, name) == fixture.score, entry["events"]
    return entry


def check_honest_and_gradebook(root: Path) -> None:
    for name, fixture in HONEST.items():
        check_student(root, name, fixture)
    db = root / "grading" / "gradebook.db"
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with Gradebook(course.load_config(root).CourseDirectory.db_url) as gb:
        for name in HONEST:
            nb = gb.find_submission_notebook(LAB, LAB, name)
            assert all(g.manual_score is None for g in nb.grades)


# --- network, file system, environment, links: one class ---------------------------------------

SECRET = "hunter2-do-not-leak"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = make_class(tmp_path_factory.mktemp("network_files"), {**NETWORK, **FILES})
    linked = root / "grading" / "submitted" / "e_linked" / LAB
    (linked / "extra.txt").symlink_to(root / "solutions" / LAB / f"{LAB}.ipynb")
    notebook = root / "grading" / "submitted" / "f_linked_notebook" / LAB / f"{LAB}.ipynb"
    notebook.unlink()
    notebook.symlink_to(root / "solutions" / LAB / f"{LAB}.ipynb")
    before = files_of(root)
    grade(root, *GRADE, env={"COURSE_TA_SECRET": SECRET})
    return {"root": root, "before": before, "after": files_of(root)}


@pytest.fixture(scope="module")
def network(files: dict) -> Path:
    return files["root"]


@ONE_CLASS["network-files"]
def test_network_attackers_score_what_their_own_code_earns(network: Path):
    for name, fixture in NETWORK.items():
        check_student(network, name, fixture)
    check_honest_and_gradebook(network)


@ONE_CLASS["network-files"]
def test_a_port_scan_reaches_no_kernel_and_no_service(network: Path):
    found = report(network, "a_net_scan", "NETSCAN")
    assert found["transport"] == "ipc" and found["sweeps"] >= 1
    # the ports it finds are its own kernel's (ipykernel's output pipe, the debugger), in a
    # network namespace of its own: nothing else listens there, nothing answers a subscriber
    assert found["not_its_own"] == [] and found["unexplained"] == [], found
    assert found["captured"] == 0, found
    assert found["foreign_sockets"] == [] and found["kernels_seen"] == 1, found


@ONE_CLASS["network-files"]
def test_binding_thousands_of_ports_disturbs_no_kernel_start(network: Path):
    assert report(network, "c_port_hog", "PORTHOG")["held"] >= 30000
    for name in HONEST:
        assert not ledger(network, name)["events"]  # no retried or failed start


@ONE_CLASS["network-files"]
def test_file_attackers_score_what_their_own_code_earns(files: dict):
    for name, fixture in FILES.items():
        check_student(files["root"], name, fixture)
    check_honest_and_gradebook(files["root"])


@ONE_CLASS["network-files"]
def test_the_kernel_sees_only_its_own_notebook_and_no_secret(files: dict):
    root = files["root"]
    found = report(root, "a_fs_search", "FSSEARCH")
    assert found["notebooks"] == [os.path.join(found["cwd"], f"{LAB}.ipynb")], found
    assert found["course"] == [] and not found["root_seen"], found
    assert found["secret"] is None and not found["secret_in_proc"]
    assert SECRET not in graded_notebook(root, "a_fs_search").read_text()
    allowed = {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "PYTHONPATH"}
    allowed |= {"PYTHONDONTWRITEBYTECODE", "PYTHONNOUSERSITE", "IPYTHONDIR", "MPLCONFIGDIR"}
    allowed |= {"HF_DATASETS_CACHE", "HF_HUB_DISABLE_TELEMETRY", "NBGRADER_EXECUTION"}
    allowed |= {"JPY_PARENT_PID", "JPY_SESSION_NAME", "COURSE_DEVICE", "CUBLAS_WORKSPACE_CONFIG"}
    # set on purpose by ta/kernel_env.py (the judge's records, no work folder on sys.path), and
    # PWD, which bubblewrap sets to the work folder after --chdir
    allowed |= {"COURSE_RECORD", "PYTHONSAFEPATH", "PWD"}
    extra = [
        v
        for v in found["env"]
        if v not in allowed
        and not v.startswith(("LC_", "COURSE_GRADING_", "OMP_", "MKL_", "OPENBLAS_"))
        and not v.endswith("_OFFLINE")
    ]
    assert extra == [], extra
    assert found["home"] == "/tmp"


@ONE_CLASS["network-files"]
def test_links_made_by_a_kernel_change_nothing_outside_its_folder(files: dict):
    root, before, after = files["root"], files["before"], files["after"]
    changed = [p for p, v in before.items() if after.get(p) != v and "gradebook.db" not in p]
    assert changed == [], changed
    made = report(root, "c_symlinks", "SYMLINKS")
    assert "lab1_onehot.ipynb" in made["made"] and "solutions" in made["made"]
    folder = graded_notebook(root, "c_symlinks").parent
    for path in folder.rglob("*"):
        assert path.is_file() and not path.is_symlink(), path
    assert sorted(p.name for p in folder.iterdir()) == [f"{LAB}.ipynb"]
    nbformat.read(graded_notebook(root, "c_symlinks"), as_version=4)


@ONE_CLASS["network-files"]
def test_a_link_in_a_submission_is_not_followed(files: dict):
    root = files["root"]
    events = ledger(root, "e_linked")["events"]
    assert any("extra.txt" in e["detail"] for e in events), events
    assert not (graded_notebook(root, "e_linked").parent / "extra.txt").exists()
    events = ledger(root, "f_linked_notebook")["events"]
    assert any(f"{LAB}.ipynb is a link" in e["detail"] for e in events), events
    assert not graded_notebook(root, "f_linked_notebook").exists()


# --- limits for the whole submission ------------------------------------------------------------


@pytest.fixture(scope="module")
def limits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_class(tmp_path_factory.mktemp("limits"), LIMITS)
    grade(root, *GRADE[:-1], "3G", "--processes", "64", "--disk", "256M")
    return root


@ROOT_ONLY
@ONE_CLASS["limits"]
def test_limit_attackers_are_stopped_and_flagged(limits: Path):
    for name, fixture in LIMITS.items():
        check_student(limits, name, fixture)
    check_honest_and_gradebook(limits)
    assert report(limits, "a_tmp_fill", "FILL")["written"] < 256 << 20
    assert "No space left" in report(limits, "g_disk_fill", "FILL")["error"]


@ROOT_ONLY
@ONE_CLASS["limits"]
def test_what_a_submission_wrote_is_gone_after_grading(limits: Path):
    for name in LIMITS:
        folder = graded_notebook(limits, name).parent
        assert sorted(p.name for p in folder.iterdir()) == [f"{LAB}.ipynb"]
    total = sum(p.stat().st_size for p in limits.rglob("*") if p.is_file())
    assert total < 50 << 20
    leftovers = [p for p in Path("/run/course-grading").glob("slot-*/*")]
    assert leftovers == [], leftovers


# --- kernel starts, wall clock, output ----------------------------------------------------------

FAKE_BWRAP = """#!/bin/sh
case "$*" in
  *"/e_broken_start/"*) echo "fake bwrap: no sandbox for e_broken_start" >&2; exit 1;;
  *"/c_flaky_start/"*)
    if [ ! -e {flag} ]; then touch {flag}; echo "fake bwrap: failing once" >&2; exit 1; fi;;
esac
exec {bwrap} "$@"
"""


@pytest.fixture(scope="module")
def resilience(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import shutil

    root = make_class(tmp_path_factory.mktemp("resilience"), RESILIENCE)
    tools = tmp_path_factory.mktemp("fake_tools")
    fake = tools / "bwrap"
    fake.write_text(FAKE_BWRAP.format(flag=tools / "failed-once", bwrap=shutil.which("bwrap")))
    fake.chmod(0o755)
    path = f"{tools}:{os.environ.get('PATH', '')}"
    others = [arg for name in RESILIENCE.keys() - {"g_wall_hog"} for arg in ("--student", name)]
    others += [arg for name in HONEST for arg in ("--student", name)]
    grade(root, *GRADE[:4], "--timeout", "600", "--wall-time", "240", *others, env={"PATH": path})
    # the hog sleeps until its limit: a run of its own with a short one, not 240 s of waiting
    hog = ["--student", "g_wall_hog", "--wall-time", str(HOG_WALL_S)]
    grade(root, *GRADE[:4], "--timeout", "600", *hog, env={"PATH": path})
    return root


@ONE_CLASS["resilience"]
def test_kernel_starts_wall_clock_and_output_attackers(resilience: Path):
    for name, fixture in RESILIENCE.items():
        check_student(resilience, name, fixture)
    check_honest_and_gradebook(resilience)


@ONE_CLASS["resilience"]
def test_a_kernel_that_does_not_start_is_retried_once_then_failed(resilience: Path):
    log = (resilience / "grading" / "logs" / LAB / "c_flaky_start.log").read_text()
    assert "trying once more" in log
    events = ledger(resilience, "e_broken_start")["events"]
    assert any("did not start, twice" in e["detail"] for e in events), events
    assert any("fake bwrap: no sandbox" in e["detail"] for e in events), events  # the reason


@ONE_CLASS["resilience"]
def test_a_submission_past_its_wall_clock_limit_ends(resilience: Path):
    entry = ledger(resilience, "g_wall_hog")
    assert entry["seconds"] < HOG_WALL_S + 120, entry["seconds"]  # before the worker's kill
    text = graded_notebook(resilience, "g_wall_hog").read_text()
    assert "wall-clock limit" in text


@ONE_CLASS["resilience"]
def test_a_huge_output_is_cut_with_a_note(resilience: Path):
    notebook = graded_notebook(resilience, "a_big_output")
    assert notebook.stat().st_size < 4 << 20
    assert "output cut by the grader" in notebook.read_text()
    log = (resilience / "grading" / "logs" / LAB / "a_big_output.log").read_text()
    peak = [line for line in log.splitlines() if "worker peak memory" in line]
    assert peak and peak[0].endswith(" MiB"), log[-2000:]  # under 1 GiB
