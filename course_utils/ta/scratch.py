"""Each grading worker's private space: a user id of its own and a size-limited scratch folder.

A worker holds one *slot* for its lifetime, chosen among the free ones by a lock file
(``flock``, released by the kernel when the worker dies, however it dies), so two workers
never share a slot, even when two courses are graded at once. Run as root, a slot brings:

* a private user id (``UID_BASE + slot``) that the grading kernels run as: every process of
  that user belongs to the submission being graded, so ``RLIMIT_NPROC`` bounds the
  submission's processes (it counts per real user) and they can all be found and killed;
* a private mount namespace for the worker, in which the scratch folder is a tmpfs of the
  submission's disk size, mounted afresh for each submission: the work folder, ``/tmp``,
  the socket folder and the caches' writable layers all live in it, so what a submission
  writes is bounded and vanishes with the unmount. Nothing of it is visible outside the
  worker and its kernels.

Not root (a TA's own account), there is no private user and no mount: the scratch folder is
a plain folder that the watchdog measures (see ``watchdog``), and processes are counted by
ancestry. ``Slot.promise`` says which of the two applies.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import shutil
import signal
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

__all__ = ["Slot", "UID_BASE", "acquire", "private_mounts", "kill_user"]

UID_BASE = 2_146_000_000
_SLOTS = 256
_CLONE_NEWNS = 0x00020000
_MS_REC, _MS_PRIVATE = 0x4000, 0x40000
_MNT_DETACH = 2
_libc = ctypes.CDLL(None, use_errno=True)
_PRIVATE = False


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def private_mounts() -> bool:
    """Give this process a mount namespace of its own (root only); True if it has one.

    Call it while the process has a single thread. Mounts made afterwards (the scratch
    tmpfs) are seen by this process and its children only, and disappear with them.
    """
    global _PRIVATE
    if _PRIVATE:
        return True
    if os.geteuid() != 0:
        return False
    try:
        _check(_libc.unshare(_CLONE_NEWNS), "unshare")
        _check(_libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None), "mount")
    except OSError:
        return False
    _PRIVATE = True
    return True


def _base() -> Path:
    if os.geteuid() == 0 and os.access("/run", os.W_OK):
        base = Path("/run/course-grading")
    else:
        base = Path(tempfile.gettempdir()) / f"course-grading-{os.getuid()}"
    base.mkdir(mode=0o755, parents=True, exist_ok=True)
    return base


@dataclass
class Slot:
    """One worker's user id and scratch folder (see the module's docstring)."""

    index: int
    folder: Path
    uid: int | None
    mounted: bool
    lock: IO[str]

    @property
    def promise(self) -> str:
        """How the submission's limits are enforced with this slot."""
        if self.uid is not None and self.mounted:
            return "kernel"
        return "polled"

    def owner(self) -> tuple[int, int]:
        """The (uid, gid) kernels run as."""
        if self.uid is None:
            return os.getuid(), os.getgid()
        return self.uid, self.uid

    def fresh(self, disk_bytes: int) -> None:
        """An empty scratch folder for the next submission, at most ``disk_bytes`` big."""
        self.clear()
        self.folder.mkdir(mode=0o755, exist_ok=True)
        if self.uid is not None and _PRIVATE:
            options = f"size={max(disk_bytes, 1 << 20)},mode=0755,nr_inodes=100000".encode()
            try:
                _check(_libc.mount(b"tmpfs", bytes(self.folder), b"tmpfs", 0, options), "mount")
                self.mounted = True
            except OSError:
                self.mounted = False

    def clear(self) -> None:
        """Stop the slot's processes and remove everything the last submission left."""
        if self.uid is not None:
            kill_user(self.uid)
        if self.mounted:
            _libc.umount2(bytes(self.folder), _MNT_DETACH)
            self.mounted = False
        if self.folder.exists():
            shutil.rmtree(self.folder, ignore_errors=True)

    def release(self) -> None:
        self.clear()
        self.lock.close()


def acquire() -> Slot:
    """The first free slot; its leftovers (from a worker that was killed) are cleared."""
    base = _base()
    root = os.geteuid() == 0
    for index in range(_SLOTS):
        handle = open(base / f"slot-{index}.lock", "a")  # noqa: SIM115 (held for life)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            handle.close()
            if err.errno in (errno.EAGAIN, errno.EACCES):
                continue
            raise
        uid = UID_BASE + index if root else None
        slot = Slot(index, base / f"slot-{index}", uid, False, handle)
        slot.clear()
        return slot
    raise RuntimeError(f"all {_SLOTS} grading slots in {base} are in use")


def kill_user(uid: int) -> int:
    """SIGKILL every process whose real user is ``uid``, until none is left; how many."""
    killed: set[int] = set()  # a process still dying is seen again: counted once
    for _ in range(50):
        pids = [pid for pid, real in _real_uids() if real == uid]
        if not pids:
            break
        killed.update(pid for pid in pids if _kill(pid, uid))
    return len(killed)


def _real_uids() -> list[tuple[int, int]]:
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            real = _real_uid(int(name))
            if real is not None:
                out.append((int(name), real))
    return out


def _real_uid(pid: int) -> int | None:
    """The real user of a live process (``None`` for a zombie: it cannot be killed)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            for line in handle:
                if line.startswith(b"State:") and line.split()[1] in (b"Z", b"X"):
                    return None
                if line.startswith(b"Uid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _kill(pid: int, uid: int) -> bool:
    """Kill ``pid`` if it still belongs to ``uid`` (checked through a pidfd: no pid reuse)."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return False
    try:
        if _real_uid(pid) != uid:
            return False
        signal.pidfd_send_signal(fd, signal.SIGKILL)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
