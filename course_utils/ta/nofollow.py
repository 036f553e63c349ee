"""File operations for the grader (root) on folders a student controls: links are never followed.

A student's submission folder, or a kernel's work folder, may hold symbolic links (to the
gradebook, a classmate's notebook, ``solutions/``), fifos or device nodes. Opening such a
path as root would read or overwrite the target. These helpers copy regular files and
folders only, open each file with ``O_NOFOLLOW`` and check it is regular once open, and
report what they skipped.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["copy_tree", "read_bytes", "wipe", "chown_tree"]

_CHUNK = 1 << 20


def read_bytes(path: Path, limit: int = 64 << 20) -> bytes:
    """The bytes of a regular file; ``OSError`` for a link, a special file or past ``limit``."""
    if not stat.S_ISREG(os.lstat(path).st_mode):  # not even opened: a fifo, a device
        raise OSError(f"{path} is not a regular file")
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path} is not a regular file")
        if info.st_size > limit:
            raise OSError(f"{path} is larger than {limit} bytes")
        chunks, size = [], 0
        while block := os.read(fd, _CHUNK):
            size += len(block)
            if size > limit:
                raise OSError(f"{path} is larger than {limit} bytes")
            chunks.append(block)
        return b"".join(chunks)
    finally:
        os.close(fd)


def copy_tree(
    source: Path, target: Path, limit: int = 256 << 20, skip: frozenset[str] = frozenset()
) -> list[str]:
    """Copy the regular files and folders under ``source`` into ``target`` (created).

    Links, special files, files over ``limit`` and top-level names in ``skip`` are left
    out; returns their paths relative to ``source``.
    """
    skipped: list[str] = []
    target.mkdir(parents=True, exist_ok=True)
    for folder, dirs, names in os.walk(source):
        here = Path(folder)
        rel = here.relative_to(source)
        for name in list(dirs):
            if rel == Path(".") and name in skip:
                dirs.remove(name)
            elif (here / name).is_symlink():
                dirs.remove(name)
                skipped.append(str(rel / name))
            else:
                (target / rel / name).mkdir(exist_ok=True)
        for name in names:
            if rel == Path(".") and name in skip:
                continue
            try:
                data = read_bytes(here / name, limit)
            except OSError:
                skipped.append(str(rel / name))
                continue
            _write_new(target / rel / name, data)
    return skipped


def _write_new(path: Path, data: bytes) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(path, flags, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def wipe(folder: Path) -> None:
    """Remove everything inside ``folder`` (kept itself); links are removed, not followed."""
    if not folder.is_dir() or folder.is_symlink():
        return
    for entry in os.scandir(folder):
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            wipe(path)
            os.rmdir(path)
        else:
            os.unlink(path)


def chown_tree(folder: Path, uid: int, gid: int) -> None:
    """Give ``folder`` and everything in it to ``uid``; links themselves, never their targets."""
    os.chown(folder, uid, gid, follow_symlinks=False)
    for path, dirs, names in os.walk(folder):
        for name in dirs + names:
            os.chown(os.path.join(path, name), uid, gid, follow_symlinks=False)
