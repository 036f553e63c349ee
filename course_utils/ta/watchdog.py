"""Limits for a whole submission, checked from the worker while it is graded.

Per-process limits (``prlimit``) do not bound a submission: ten processes may each stay under
the address-space limit. A ``Watchdog`` thread therefore looks at all of the submission's
processes every ``interval`` seconds (those of its private user, or else the worker's
descendants) and:

* stops them all (SIGKILL) when their memory together (proportional set size: shared pages
  counted once) passes the memory limit: ``memory_limit``;
* stops them all when they reach the process limit (tasks: processes and threads, as
  ``RLIMIT_NPROC`` counts them): ``process_limit``;
* notes ``disk_limit`` when the scratch space is (nearly) full; where it is a size-limited
  tmpfs the kernel refuses the writes, else (no root) the watchdog stops the processes;
* stops them all, once and for good, at the submission's wall-clock deadline
  (``expired()``), so a grading always ends.

Polling is the weaker promise: between two looks a fast allocation can overshoot, bounded by
the per-process limits times the process limit. With a cgroup the kernel would refuse it.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from course_utils.ta import events
from course_utils.ta.scratch import kill_user

__all__ = ["Watchdog", "Usage", "expired", "current"]

_ACTIVE: Watchdog | None = None


@dataclass
class Usage:
    """What the submission's processes use at one moment."""

    pids: list[int]
    memory: int
    tasks: int


def current() -> Watchdog | None:
    """The watchdog of the submission being graded in this process, if any."""
    return _ACTIVE


def expired() -> bool:
    """True once the submission being graded is past its wall-clock limit."""
    return _ACTIVE is not None and _ACTIVE.is_expired


class Watchdog:
    """Polls one submission's processes and scratch space (see the module's docstring)."""

    def __init__(
        self,
        *,
        uid: int | None,
        scratch: Path,
        memory_bytes: int,
        processes: int,
        disk_bytes: int,
        wall_seconds: float,
        disk_enforced: bool,
        interval: float = 0.2,
    ) -> None:
        self.uid = uid
        self.scratch = scratch
        self.memory_bytes = memory_bytes
        self.processes = processes
        self.disk_bytes = disk_bytes
        self.disk_enforced = disk_enforced
        self.deadline = time.monotonic() + wall_seconds
        self.wall_seconds = wall_seconds
        self.interval = interval
        self.is_expired = False
        self.peak = Usage([], 0, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
        self._ticks = 0

    def __enter__(self) -> Watchdog:
        global _ACTIVE
        _ACTIVE = self
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        global _ACTIVE
        self._stop.set()
        self._thread.join()
        self.check_disk(final=True)
        _ACTIVE = None
        logging.getLogger(__name__).info(
            "peak use: %s of memory, %d processes and threads; worker peak memory %s",
            _gib(self.peak.memory),
            self.peak.tasks,
            _gib(_status(os.getpid()).get("VmHWM", 0) * 1024),
        )

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:  # a /proc race must not end the watch
                logging.getLogger(__name__).exception("watchdog tick failed")

    def tick(self) -> None:
        """One look at the submission (called by the thread; public for tests)."""
        self._ticks += 1
        if not self.is_expired and time.monotonic() > self.deadline:
            self.is_expired = True
            events.record(
                "wall_limit",
                f"the submission ran past its {self.wall_seconds:g} s wall-clock limit; "
                "it was stopped and the cells left were not run",
            )
        usage = self.usage()
        self.peak = Usage(
            usage.pids, max(usage.memory, self.peak.memory), max(usage.tasks, self.peak.tasks)
        )
        if self.is_expired and usage.pids:
            self.stop_all()
            return
        if usage.memory > self.memory_bytes:
            events.record(
                "memory_limit",
                f"the submission's processes used {_gib(usage.memory)} together, over the "
                f"{_gib(self.memory_bytes)} limit (checked every {self.interval:g} s); "
                "they were stopped",
            )
            self.stop_all()
        elif usage.tasks >= self.processes:
            events.record(
                "process_limit",
                f"the submission reached its limit of {self.processes} processes and threads;"
                " they were stopped",
            )
            self.stop_all()
        if self._ticks % 5 == 0:
            self.check_disk()

    def check_disk(self, final: bool = False) -> None:
        used = _used(self.scratch, self.disk_enforced)
        if used is None:
            return
        full = used >= self.disk_bytes - min(1 << 20, self.disk_bytes // 50)
        if self.disk_enforced and os.statvfs(self.scratch).f_favail < 64:
            full = True  # out of files (inodes) rather than bytes
        if full:
            how = "writes were refused" if self.disk_enforced else "it was stopped"
            events.record(
                "disk_limit",
                f"the submission filled its {_gib(self.disk_bytes)} of disk (work folder, "
                f"/tmp); {how}",
            )
            if not self.disk_enforced and not final:
                self.stop_all()

    def usage(self) -> Usage:
        pids = self._members()
        memory = tasks = 0
        for pid, status in pids:
            tasks += max(1, status.get("Threads", 1))
            if not status.get("Zombie"):
                memory += _pss(pid, status)
        return Usage([pid for pid, _ in pids], memory, tasks)

    def _members(self) -> list[tuple[int, dict[str, int]]]:
        statuses = _statuses()
        if self.uid is not None:
            return [(pid, status) for pid, status in statuses if status.get("Uid") == self.uid]
        wanted = set(_descendants(os.getpid(), statuses))
        return [(pid, status) for pid, status in statuses if pid in wanted]

    def stop_all(self) -> None:
        """SIGKILL every process of the submission."""
        if self.uid is not None:
            kill_user(self.uid)
            return
        for pid in _descendants(os.getpid(), _statuses()):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def _gib(n: int) -> str:
    return f"{n / (1 << 30):.2f} GiB" if n >= 1 << 30 else f"{n / (1 << 20):.0f} MiB"


def _statuses() -> list[tuple[int, dict[str, int]]]:
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        status = _status(int(name))
        if status:
            out.append((int(name), status))
    return out


def _status(pid: int) -> dict[str, int]:
    wanted = {
        b"Uid:": "Uid",
        b"PPid:": "PPid",
        b"Threads:": "Threads",
        b"VmRSS:": "VmRSS",
        b"VmHWM:": "VmHWM",
    }
    found: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            for line in handle:
                key = line.split(b"\t", 1)[0]
                if key == b"State:" and line.split()[1] in (b"Z", b"X"):
                    found["Zombie"] = 1  # counts as a process, holds no memory
                if key in wanted:
                    found[wanted[key]] = int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return {}
    return found


def _descendants(root: int, statuses: list[tuple[int, dict[str, int]]]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, status in statuses:
        children.setdefault(status.get("PPid", 0), []).append(pid)
    out, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def _pss(pid: int, status: dict[str, int]) -> int:
    """Proportional set size in bytes (shared pages split among sharers), else RSS."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
            for line in handle:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return status.get("VmRSS", 0) * 1024


def _used(folder: Path, is_mount: bool) -> int | None:
    """Bytes used in the scratch folder: from the file system if it is its own tmpfs."""
    if not folder.exists():
        return None
    if is_mount:
        info = os.statvfs(folder)
        return (info.f_blocks - info.f_bfree) * info.f_frsize
    total = 0
    for path, _dirs, names in os.walk(folder):
        for name in names:
            try:
                total += os.lstat(os.path.join(path, name)).st_blocks * 512
            except OSError:
                pass
    return total
