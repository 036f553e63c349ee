"""One grading run at a time: an exclusive ``flock`` on ``grading/.grading.lock``.

The operating system drops the lock when the holder exits, crashes or is killed, so a lock is
never left stale; the file keeps the holder's pid and command for the error message.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from pathlib import Path
from types import TracebackType

__all__ = ["GradingLock", "LockedError"]


class LockedError(RuntimeError):
    """Another grading command holds the lock."""


class GradingLock:
    """Context manager holding the course's grading lock; raises ``LockedError`` if taken."""

    def __init__(self, path: Path, what: str = "") -> None:
        self.path = path
        self.what = what or " ".join(sys.argv)
        self._fd: int | None = None

    def __enter__(self) -> GradingLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LockedError(
                f"another grading command is running ({holder}); wait for it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {time.ctime()}: {self.what}\n".encode(), 0)
        self._fd = fd
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
