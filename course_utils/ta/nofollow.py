"""Reading a folder and writing under ``grading/`` without ever following a link.

``walk`` lists a folder the way ``collect`` may read it: regular files only, each with the
reason it is refused if it is a symbolic link, a device, a FIFO, a socket or a hard link to
a file outside the folder. ``open_file`` opens one of them again and checks it is still that
file. ``write_file`` and ``remove`` work below a base folder one component at a time
(``O_NOFOLLOW`` on every folder and file), so a link planted anywhere below the base is
refused instead of written through.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "Found",
    "LinkRefused",
    "walk",
    "open_file",
    "write_file",
    "remove",
    "copy_tree",
    "read_bytes",
    "wipe",
    "chown_tree",
]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 20


class LinkRefused(OSError):
    """A path below the base is a link (or not a folder): nothing is written through it."""


@dataclass
class Found:
    """One entry of a folder: its path relative to the folder, and why it is refused, if it is."""

    relative: str
    path: Path
    info: os.stat_result
    refused: str | None = None


def _kind(mode: int) -> str:
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def walk(root: Path, prune: Callable[[str], str | None] = lambda relative: None) -> list[Found]:
    """Every entry below ``root`` (not following links), folders ``prune`` names reported once."""
    found: list[Found] = []

    def visit(folder: Path, prefix: str) -> None:
        with os.scandir(folder) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                relative = prefix + entry.name
                info = entry.stat(follow_symlinks=False)
                path = Path(entry.path)
                if stat.S_ISLNK(info.st_mode):
                    target = os.readlink(path)
                    found.append(Found(relative, path, info, f"a symbolic link (to {target})"))
                elif stat.S_ISDIR(info.st_mode):
                    why = prune(relative + "/")
                    if why:
                        found.append(Found(relative + "/", path, info, why))
                    else:
                        visit(path, relative + "/")
                elif not stat.S_ISREG(info.st_mode):
                    found.append(Found(relative, path, info, _kind(info.st_mode)))
                else:
                    found.append(Found(relative, path, info))

    visit(root, "")
    inside = Counter((f.info.st_dev, f.info.st_ino) for f in found if f.refused is None)
    for item in found:
        links = item.info.st_nlink
        if item.refused is None and links > inside[(item.info.st_dev, item.info.st_ino)]:
            item.refused = f"a hard link to a file outside {root} ({links} links)"
    return found


@contextmanager
def open_file(found: Found) -> Iterator[BinaryIO]:
    """Open ``found`` for reading, refusing it if it became a link or another file since."""
    fd = os.open(found.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    info = os.fstat(fd)
    same = (info.st_dev, info.st_ino, info.st_nlink) == (
        found.info.st_dev,
        found.info.st_ino,
        found.info.st_nlink,
    )
    if not (stat.S_ISREG(info.st_mode) and same):
        os.close(fd)
        raise LinkRefused(f"{found.path} changed while it was being collected")
    with os.fdopen(fd, "rb") as handle:
        yield handle


def _check(name: str) -> None:
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise ValueError(f"{name!r} is not a file or folder name")


def _open_folders(base: Path, parts: Sequence[str], create: bool) -> int:
    """A descriptor of ``base/parts...``, each part opened without following links."""
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    where = base
    try:
        for name in parts:
            _check(name)
            where = where / name
            if create:
                try:
                    os.mkdir(name, 0o755, dir_fd=fd)
                except FileExistsError:
                    pass
            try:
                inner = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError as err:
                if err.errno in (errno.ELOOP, errno.ENOTDIR):
                    message = f"{where} is a link or not a folder: nothing written through it"
                    raise LinkRefused(message) from err
                raise
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_file(base: Path, parts: Sequence[str], data: BinaryIO | bytes, limit: int) -> None:
    """Write ``data`` to ``base/parts...`` (folders made as needed), at most ``limit`` bytes."""
    *folders, name = parts
    _check(name)
    folder = _open_folders(base, folders, create=True)
    tmp = f".{name}.{os.getpid()}.tmp"
    try:
        try:
            os.unlink(tmp, dir_fd=folder)
        except FileNotFoundError:
            pass
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        out = os.open(tmp, flags, 0o644, dir_fd=folder)
        with os.fdopen(out, "wb") as handle:
            if isinstance(data, bytes):
                handle.write(data)
            else:
                written = 0
                for block in iter(lambda: data.read(_CHUNK), b""):
                    written += len(block)
                    if written > limit:
                        raise ValueError(f"larger than the {limit >> 20} MB limit")
                    handle.write(block)
        # a link at the target is replaced, never followed
        os.replace(tmp, name, src_dir_fd=folder, dst_dir_fd=folder)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=folder)
        except OSError:
            pass
        raise
    finally:
        os.close(folder)


def remove(base: Path, parts: Sequence[str]) -> None:
    """Delete ``base/parts...`` (a folder with its content, or a file or link) if it exists."""
    *folders, name = parts
    _check(name)
    try:
        folder = _open_folders(base, folders, create=False)
    except FileNotFoundError:
        return
    try:
        info = os.stat(name, dir_fd=folder, follow_symlinks=False)
        if stat.S_ISDIR(info.st_mode):
            shutil.rmtree(name, dir_fd=folder)
        else:
            os.unlink(name, dir_fd=folder)
    except FileNotFoundError:
        pass
    finally:
        os.close(folder)


# --- whole folders, for the grading worker (a kernel's work folder, a staged submission) -----

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
