"""``course autograde --scheduler``: a class graded on a real Dask cluster, with faults.

A real ``dask scheduler`` and two ``dask worker`` processes (``--nthreads 1``) on 127.0.0.1
(subprocesses, random ports, stopped at the end) grade a class of lab-1 submissions. Mid-run
one worker is killed (SIGKILL, as when a node is lost), later the client is interrupted
(Ctrl-C) and run again: every grade must be present, identical to a local ``--jobs 2`` run of
the same class, and each submission recorded once. A scheduler that cannot be reached must
fail within seconds, naming its address.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from grading_harness import SANDBOX, auto_scores, make_course, run_course
from ta_fixtures import FIXTURES, LAB, build

from course_utils import course
from course_utils.ta.cluster import CONNECT_TIMEOUT_S, REFUSED_GRACE_S, DaskPool

# one scheduler and its workers at a time, beside the TA class it compares with (conftest)
pytestmark = pytest.mark.xdist_group(name="ta-grading-lab1")
distributed = pytest.importorskip(
    "distributed", reason="dask[distributed] is not installed (pip install -e '.[cluster]')"
)

# the reference, the untouched release, and faults the grader must catch on any machine
CLASS = ["correct", "blank", "skip_tags", "changed_test", "os_exit", "patched_checks"]
GRADE = ["autograde", LAB, "--timeout", "300", "--memory", "4G"]
GRADE += [] if SANDBOX else ["--no-sandbox"]
DASK = str(Path(sys.executable).parent / "dask")


def _class_course(folder: Path) -> Path:
    folder.mkdir()
    root = make_course(folder, [LAB])
    for name in CLASS:
        build(root, name, FIXTURES[name])
    return root


def _graded(root: Path) -> dict[str, dict]:
    """What a run decided per submission: status, flags, cell scores, gradebook scores."""
    out = {}
    for name in CLASS:
        entry = json.loads((root / "grading/ledger" / LAB / f"{name}.json").read_text())
        out[name] = {
            "status": entry["status"],
            "flags": sorted({e["flag"] for e in entry["events"]}),
            "cells": entry["cells"],
            "gradebook": auto_scores(root, LAB, name),
            "files": sorted(p.name for p in (root / "grading/autograded" / name / LAB).iterdir()),
        }
    return out


def _spawn(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        args,
        stdout=open(log, "w"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        env=course.use_env_tools(),
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=30)


@pytest.fixture
def local_run(ta_class: dict) -> Path:
    """The class graded locally with ``--jobs 2``: the TA class, which holds all of CLASS."""
    return ta_class["root"]


@pytest.fixture
def dask_cluster(tmp_path: Path):
    """A scheduler and two single-threaded workers on 127.0.0.1; yields (address, workers)."""
    scheduler_file = tmp_path / "scheduler.json"
    procs = [
        _spawn(
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
            + ["--scheduler-file", str(scheduler_file)],
            tmp_path / "scheduler.log",
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.is_file():
            assert time.monotonic() < deadline, (tmp_path / "scheduler.log").read_text()
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        workers = [
            _spawn(
                [DASK, "worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard"]
                + ["--host", "127.0.0.1", "--memory-limit", "0"],
                tmp_path / f"worker-{i}.log",
            )
            for i in range(2)
        ]
        procs += workers
        with distributed.Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=120)
        yield address, workers
    finally:
        for proc in reversed(procs):
            _stop(proc)


def _progress_lines(proc: subprocess.Popen, until: int, seen: list[str]) -> None:
    """Read the client's output until ``until`` submissions are reported."""
    while sum(line.startswith("[") for line in seen) < until:
        line = proc.stdout.readline()
        assert line, "the client stopped early:\n" + "".join(seen)
        seen.append(line)


def test_worker_killed_and_client_interrupted(local_run: Path, dask_cluster, tmp_path: Path):
    address, workers = dask_cluster
    root = _class_course(tmp_path / "course")
    shutil.copytree(local_run / "grading/judge", root / "grading/judge")  # same reference run
    client = subprocess.Popen(
        [sys.executable, "-m", "course_utils.cli", "--course-dir", str(root), *GRADE]
        + ["--scheduler", address],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=course.use_env_tools(),
    )
    out: list[str] = []
    try:
        _progress_lines(client, 1, out)
        with distributed.Client(address, timeout=30) as observer:
            busy = {w: keys for w, keys in observer.processing().items() if keys}
            pids = observer.run(os.getpid)
        assert busy, "no worker was grading when one was to be killed"
        victim_address, keys = sorted(busy.items())[0]
        victim = next(p for p in workers if p.pid == pids[victim_address])
        killed_students = {k.split("-")[2] for k in keys if str(k).startswith("grade-")}
        _stop(victim)  # a node lost mid-grade: SIGKILL, no goodbye to the scheduler
        _progress_lines(client, 3, out)
        client.send_signal(signal.SIGINT)  # the TA's Ctrl-C
        rest, _ = client.communicate(timeout=300)
        out.append(rest)
    finally:
        if client.poll() is None:
            client.kill()
    first = "".join(out)
    assert client.returncode == 130, first
    assert "run the command again" in first
    recorded_first = sorted((root / "grading/ledger" / LAB).glob("*.json"))
    reported = [line for line in out if line.startswith("[")]
    assert len(recorded_first) == len(reported) >= 3, first
    assert len(reported) < len(CLASS), "the client was interrupted too late to test it"
    stamps = {p.stem: p.stat().st_mtime_ns for p in recorded_first}

    second = run_course(root, *GRADE, "--scheduler", address)  # one worker left
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"{len(stamps)} submission(s) already graded" in second.stdout, second.stdout
    regraded = [line for line in second.stdout.splitlines() if line.startswith("[")]
    assert len(regraded) == len(CLASS) - len(stamps), second.stdout

    # each submission graded and recorded once: in one of the two runs, never in both
    students = [line.split("]")[1].split(":")[0].strip() for line in reported + regraded]
    assert sorted(students) == sorted(CLASS), first + second.stdout
    for stem, stamp in stamps.items():
        assert (root / "grading/ledger" / LAB / f"{stem}.json").stat().st_mtime_ns == stamp
    assert killed_students <= set(CLASS)
    # identical to the local run, the submission on the killed worker included
    assert _graded(root) == _graded(local_run)


def test_unreachable_scheduler_fails_fast(tmp_path: Path):
    (tmp_path / "course").mkdir()
    root = make_course(tmp_path / "course", [LAB])
    build(root, "alice", FIXTURES["correct"])
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=f"cannot reach the Dask scheduler at {address}") as err:
        DaskPool(address, jobs=1)
    took = time.monotonic() - started
    assert f"nothing listens on port {port}" in str(err.value)
    # refused: given up after the grace, without Dask's wait for a host that does not answer
    assert REFUSED_GRACE_S <= took < CONNECT_TIMEOUT_S, f"took {took:.1f} s"
    run = run_course(root, *GRADE, "--scheduler", address, timeout=300)
    assert run.returncode == 2, run.stdout + run.stderr
    assert f"cannot reach the Dask scheduler at {address}" in run.stderr, run.stderr
    assert "running the reference" not in run.stdout  # it failed before doing any work


def test_a_scheduler_that_starts_listening_within_the_grace_is_reached():
    from course_utils.ta.cluster import _refuse_if_nothing_listens

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = socket.socket()

    def start_listening() -> None:
        server.bind(("127.0.0.1", port))
        server.listen()

    late = threading.Timer(REFUSED_GRACE_S / 4, start_listening)
    late.start()
    try:
        _refuse_if_nothing_listens(f"tcp://127.0.0.1:{port}")  # no error: it listens by then
    finally:
        late.join()
        server.close()


def test_a_worker_with_another_version_refuses(tmp_path: Path):
    from course_utils.ta.cluster import WorkerRefused, grade_remote, grader_id
    from course_utils.ta.protocol import LabBundle, Task

    other = "course-utils 0.0.9 (code 0123456789abcdef)"
    task = Task("/nowhere", LAB, "alice", "/nowhere", {"isolate": False}, "", "", grader=other)
    bundle = LabBundle(LAB, {}, "", "", b"", other, "key")
    with pytest.raises(WorkerRefused, match="install the client's version") as refused:
        grade_remote(task, bundle)
    assert grader_id() in str(refused.value) and other in str(refused.value)


def test_task_and_result_carry_files_as_json():
    from course_utils.ta.protocol import Result, Task

    task = Task("/r", LAB, "alice", "/s", {}, "/l", "/e", submission_files={"a.ipynb": b"\0{}"})
    assert Task.from_json(json.loads(json.dumps(task.to_json()))) == task
    result = Result("alice", LAB, "graded", [], {}, 1.0, files={"x/b.txt": b"\xff"}, worker="w")
    assert Result.from_json(json.loads(json.dumps(result.to_json()))) == result


def test_the_bundle_gradebook_holds_the_lab_and_the_course_stamp(tmp_path: Path):
    """The lab's gradebook for the workers: its cells and points, the course gradebook's
    schema stamp (no ``alembic`` process asked), no student."""
    import sqlite3

    from nbgrader.api import Gradebook

    from course_utils.ta.cluster import make_bundle
    from course_utils.ta.layout import Layout

    (tmp_path / "course").mkdir()
    root = make_course(tmp_path / "course", [LAB])
    expected = tmp_path / "expected.json"
    expected.write_text("{}")
    bundle = make_bundle(Layout(root), LAB, expected)
    copy = tmp_path / "bundle.db"
    copy.write_bytes(bundle.gradebook)
    stamp = "SELECT version_num FROM alembic_version"
    db_file = course.load_config(root).CourseDirectory.db_url.removeprefix("sqlite:///")
    with sqlite3.connect(db_file) as theirs, sqlite3.connect(copy) as ours:
        assert ours.execute(stamp).fetchall() == theirs.execute(stamp).fetchall() != []
    with Gradebook(course.load_config(root).CourseDirectory.db_url) as gb:
        want = {c.name: c.max_score for c in gb.find_notebook(LAB, LAB).grade_cells}
    with Gradebook(f"sqlite:///{copy}") as gb:
        got = {c.name: c.max_score for c in gb.find_notebook(LAB, LAB).grade_cells}
        assert gb.students == []
    assert got == want and want


def test_the_grading_process_stops_with_its_dask_worker(tmp_path: Path):
    """A Dask worker killed with SIGKILL leaves no grading process behind, even one that is
    busy (here: its task pipe held open by another process, so no end of input tells it)."""
    script = (
        "import subprocess, sys, time\n"
        "from pathlib import Path\n"
        "from course_utils.ta import cluster_task\n"
        "proc = cluster_task._grader().start(Path(sys.argv[1]))\n"
        "hold = subprocess.Popen(['sleep', '600'], pass_fds=[proc.stdin.fileno()])\n"
        "print(proc.pid, hold.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env=course.use_env_tools(),
    )
    child, holder = map(int, parent.stdout.readline().split())
    try:
        time.sleep(1)
        assert _alive(child)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 30
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(child):
            os.kill(child, signal.SIGKILL)
            pytest.fail("the grading process outlived its Dask worker")
    finally:
        os.kill(holder, signal.SIGKILL)


def _alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting for whoever adopted it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")
