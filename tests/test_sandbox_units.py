"""The sandbox's parts, without a kernel: the command, the environment, files, outputs, limits."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from course_utils.ta import events, nofollow, scratch
from course_utils.ta.fsview import View, environment_paths
from course_utils.ta.kernel_env import kernel_env
from course_utils.ta.outputs import OutputBudget
from course_utils.ta.sandbox import Limits, Sandbox, bwrap_available
from course_utils.ta.watchdog import Watchdog

ROOT = Path(__file__).resolve().parents[1]


def test_the_view_starts_empty_and_makes_parents_crossable(tmp_path):
    view = View()
    view.ro(Path("/opt/x/env"))
    assert view.args[:2] == ["--tmpfs", "/"]
    assert view.args[2:8] == ["--dir", "/opt", "--dir", "/opt/x", "--ro-bind", "/opt/x/env"]
    assert "--ro-bind" not in view.args[:2] and ["/", "/"] != view.args[1:3]


def test_a_checkout_on_pythonpath_is_not_bound_only_the_package(monkeypatch):
    monkeypatch.setattr(sys, "path", [str(ROOT), *sys.path])
    paths = environment_paths()
    assert ROOT not in paths and ROOT / "course_utils" in paths
    assert not any(p in ROOT.parents or p == ROOT for p in paths)


def test_the_kernel_command_for_a_private_user(tmp_path):
    spec = Sandbox(
        root=tmp_path / "course",
        workdir=tmp_path / "s" / "work" / "alice" / "lab",
        scratch=tmp_path / "s",
        uid=2_146_000_007,
        limits=Limits(processes=64),
    )
    (tmp_path / "course").mkdir()
    command = spec.command(["python", "-m", "k"], tmp_path / "s" / "conn" / "kernel.json")
    joined = " ".join(command)
    assert "--unshare-net" in command and "--ro-bind / /" not in joined
    assert "--nproc=64" in command and "--reuid=2146000007" in command
    assert command[command.index("--cap-drop") + 1] == "ALL"
    assert f"--bind {tmp_path}/s/tmp /tmp" in joined and f"--bind {tmp_path}/s/ipc" in joined
    assert command[-3:] == ["python", "-m", "k"]
    spec.isolate = False
    assert "--reuid=2146000007" not in spec.command(["python"], tmp_path / "c.json")


def test_the_kernel_environment_is_an_allowlist(tmp_path):
    source = {
        "COURSE_TA_SECRET": "x",
        "AWS_SECRET_ACCESS_KEY": "y",
        "PYTHONPATH": "/src",
        "LC_ALL": "C.UTF-8",
        "HOME": "/root",
        "PATH": "/secret/bin",
    }
    env = kernel_env(2, True, Path("/tmp"), {"HF_DATASETS_CACHE": Path("/c")}, source)
    assert "COURSE_TA_SECRET" not in env and "AWS_SECRET_ACCESS_KEY" not in env
    package = str(ROOT)  # where this course_utils comes from, then the TA's PYTHONPATH
    assert env["PYTHONPATH"] == f"{package}:/src" and env["LC_ALL"] == "C.UTF-8"
    assert env["HOME"] == "/tmp" and "/secret/bin" not in env["PATH"]
    assert env["HF_DATASETS_CACHE"] == "/c" and env["OMP_NUM_THREADS"] == "2"
    assert env["HF_HUB_OFFLINE"] == "1" and env["PYTHONSAFEPATH"] == "1"


def test_copies_and_wipes_never_follow_links(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not copy")
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "a.txt").write_text("a")
    (source / "sub" / "b.txt").write_text("b")
    (source / "link.txt").symlink_to(secret)
    (source / "dirlink").symlink_to(tmp_path)
    os.mkfifo(source / "fifo")
    skipped = nofollow.copy_tree(source, tmp_path / "dst")
    assert sorted(skipped) == ["dirlink", "fifo", "link.txt"]
    copied = sorted(str(p.relative_to(tmp_path / "dst")) for p in (tmp_path / "dst").rglob("*"))
    assert copied == ["a.txt", "sub", "sub/b.txt"]
    with pytest.raises(OSError):
        nofollow.read_bytes(source / "link.txt")
    nofollow.wipe(source)
    assert list(source.iterdir()) == [] and secret.read_text() == "do not copy"


def test_hashing_a_submission_never_follows_a_link(tmp_path):
    from course_utils.ta.layout import sha256_file

    link = tmp_path / "lab.ipynb"
    link.symlink_to("/dev/zero")  # followed, this would never end
    assert sha256_file(link) == hashlib.sha256(b"link:/dev/zero").hexdigest()
    assert sha256_file(Path("/dev/null")) == hashlib.sha256(b"special file").hexdigest()


def test_the_output_budget_cuts_with_a_note_and_keeps_guard_marks():
    budget, outs = OutputBudget(10), []
    mark = "\u27e6course-guard:t:end:x\u27e7\n"
    for text in ["hello ", "world, again", "y" * 50 + mark, "more"]:
        budget.admit(0, outs, nbformat.v4.new_output("stream", name="stdout", text=text))
    text = "".join(o["text"] for o in outs)
    assert text.startswith("hello worl") and mark in text and "y" * 5 not in text
    assert "output cut by the grader" in text and "62 more were not kept" in text
    budget.reset(0)
    assert budget.admit(0, [], nbformat.v4.new_output("stream", name="stdout", text="fine"))


def _child(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code])


def test_the_watchdog_stops_a_submission_over_its_memory(tmp_path):
    events.drain()
    child = _child(
        "b = bytearray(300 << 20); b[::4096] = b'x' * (len(b) // 4096); import time; time.sleep(60)"
    )
    dog = Watchdog(
        uid=None,
        scratch=tmp_path,
        memory_bytes=200 << 20,
        processes=1000,
        disk_bytes=1 << 30,
        wall_seconds=600,
        disk_enforced=False,
    )
    deadline = time.monotonic() + 30
    while child.poll() is None and time.monotonic() < deadline:
        dog.tick()
        time.sleep(0.2)
    assert child.wait(timeout=10) == -9
    assert [e["flag"] for e in events.drain()] == ["memory_limit"]


def test_the_watchdog_ends_a_submission_at_its_wall_clock_limit(tmp_path):
    events.drain()
    child = _child("import time; time.sleep(60)")
    with Watchdog(
        uid=None,
        scratch=tmp_path,
        memory_bytes=8 << 30,
        processes=1000,
        disk_bytes=1 << 20,
        wall_seconds=0.5,
        disk_enforced=False,
        interval=0.1,
    ) as dog:
        assert child.wait(timeout=30) == -9
        assert dog.is_expired
    assert [e["flag"] for e in events.drain()] == ["wall_limit"]


def test_a_process_still_dying_is_counted_once(monkeypatch: pytest.MonkeyPatch):
    # SIGKILL takes effect a moment later: the next look at /proc may list the process again
    looks = iter([[(4242, 7)], [(4242, 7)], []])
    monkeypatch.setattr(scratch, "_real_uids", lambda: next(looks))
    monkeypatch.setattr(scratch, "_kill", lambda pid, uid: True)
    assert scratch.kill_user(7) == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="private users need root")
def test_slots_are_exclusive_and_clear_their_user():
    first, second = scratch.acquire(), scratch.acquire()
    try:
        assert first.index != second.index and first.uid != second.uid
        sleeper = subprocess.Popen(
            [
                "setpriv",
                f"--reuid={first.uid}",
                f"--regid={first.uid}",
                "--clear-groups",
                "sleep",
                "60",
            ]
        )
        time.sleep(0.5)
        assert scratch.kill_user(first.uid) == 1
        assert sleeper.wait(timeout=10) == -9
    finally:
        first.release()
        second.release()


@pytest.mark.skipif(bwrap_available() is not None, reason="needs bubblewrap")
def test_a_cache_half_built_by_another_process_is_left_out_of_the_mirror(tmp_path):
    cache, layer = tmp_path / "cache", tmp_path / "layer"
    (cache / "text" / "done").mkdir(parents=True)
    (cache / "text" / "done" / "data.arrow").write_text("finished")
    (cache / "text" / "next.incomplete").mkdir()
    (cache / "text" / "next.incomplete" / "data.arrow").write_text("half written")
    (cache / "text.lock").write_text("")
    view = View()
    view.system()
    for path in environment_paths():
        view.ro(path)
    view.mirror(cache, layer)
    build = (
        "import pathlib, sys; c = pathlib.Path(sys.argv[1]) / 'text';"
        "print((c / 'done' / 'data.arrow').read_text());"
        "(c / 'next.incomplete').mkdir(); (c / 'next.incomplete' / 'data.arrow').write_text('own');"
        "(c / 'done' / 'data.arrow').write_text('overwritten')"
    )
    run = subprocess.run(
        ["bwrap", *view.args, sys.executable, "-c", build, str(cache)],
        capture_output=True,
        text=True,
    )
    # the finished file is seen read-only; the half-built folder is the kernel's own to build
    assert run.stdout.startswith("finished") and "Read-only file system" in run.stderr, run
    assert (layer / "text" / "next.incomplete" / "data.arrow").read_text() == "own"
    assert (cache / "text" / "next.incomplete" / "data.arrow").read_text() == "half written"
    assert (cache / "text" / "done" / "data.arrow").read_text() == "finished"
