"""The grading kernel's file system, built up from an empty root (bubblewrap arguments).

Nothing of the machine is visible unless it is listed here: the system's programs and
libraries (``/usr`` and its merged-``/usr`` links), a few files of ``/etc`` the C library and
Python read, the Python environment (the interpreter's prefix, the virtual environment and
every folder on ``sys.path``), the course package, and read-only copies of the caches the
corpora need. The kernel's own folders (its work folder, ``/tmp``, its socket folder) are
added by ``sandbox.Sandbox``. Everything listed is bound read-only, at the path it has
outside, so paths recorded in caches and in the environment stay valid.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["View", "environment_paths", "system_paths"]

_ETC = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "timezone",
    "hosts",
    "nsswitch.conf",
    "alternatives",
    "mime.types",
)
_MAX_MIRRORED_FILES = 5000
_IN_PROGRESS = (".lock", ".incomplete")  # being written by another process


class View:
    """Accumulates bwrap arguments; parent folders are created world-readable (0755).

    bubblewrap creates a missing parent of a mount point with mode 0700, which a kernel run
    as another user could not cross; ``--dir`` makes them 0755 instead.
    """

    def __init__(self) -> None:
        self.args: list[str] = ["--tmpfs", "/"]
        self._made: set[str] = {"/"}

    def _parents(self, target: Path) -> None:
        for parent in reversed(target.parents):
            key = str(parent)
            if key not in self._made:
                self._made.add(key)
                self.args += ["--dir", key]

    def ro(self, path: Path, target: Path | None = None) -> None:
        """Bind ``path`` read-only at ``target`` (default: the same path)."""
        target = target or path
        self._parents(target)
        self._made.add(str(target))
        self.args += ["--ro-bind", str(path), str(target)]

    def rw(self, path: Path, target: Path | None = None) -> None:
        """Bind ``path`` read-write at ``target`` (default: the same path)."""
        target = target or path
        self._parents(target)
        self._made.add(str(target))
        self.args += ["--bind", str(path), str(target)]

    def hide(self, path: Path) -> None:
        """An empty, read-only-by-mode and tiny tmpfs over ``path``."""
        self._parents(path)
        self._made.add(str(path))
        self.args += ["--perms", "0555", "--size", "65536", "--tmpfs", str(path)]

    def link(self, value: str, target: Path) -> None:
        self._parents(target)
        self._made.add(str(target))
        self.args += ["--symlink", value, str(target)]

    def system(self) -> None:
        """``/usr``, its merged-/usr links (``/bin``, ``/lib``, ...) and what ``/etc`` needs."""
        for path in system_paths():
            if path.is_symlink():
                self.link(os.readlink(path), path)
            else:
                self.ro(path)
        for name in _ETC:
            path = Path("/etc", name)
            if path.exists():
                self.ro(path)

    def mirror(self, cache: Path, layer: Path) -> None:
        """``cache`` seen at its own path: its files read-only, new files written in ``layer``.

        ``layer`` (a folder the kernel owns, inside its size-limited scratch space) is bound
        at ``cache`` with the cache's folders recreated in it, and every file of the cache is
        bound over it read-only: a copy-on-write view without overlayfs, which bubblewrap 0.8
        (Debian 12) lacks. A cache of more than 5000 files is not mirrored (an empty one).
        What another process is writing at that moment is left out: lock files and the
        ``*.incomplete`` folders that ``datasets`` builds a data set in before renaming it
        (bound read-only, a half-built folder would stop the kernel building its own).
        """
        files: list[Path] = []
        folders: list[Path] = []
        if cache.is_dir():
            for folder, dirs, names in os.walk(cache):
                dirs[:] = [d for d in dirs if not d.endswith(_IN_PROGRESS)]
                folders += [Path(folder, d) for d in dirs]
                files += [Path(folder, n) for n in names if not n.endswith(_IN_PROGRESS)]
                if len(files) > _MAX_MIRRORED_FILES:
                    files, folders = [], []
                    break
        layer.mkdir(parents=True, exist_ok=True)
        for folder in folders:
            (layer / folder.relative_to(cache)).mkdir(parents=True, exist_ok=True)
        self.rw(layer, cache)
        for path in files:
            if path.is_file() and not path.is_symlink():
                self._made.add(str(path))
                self.args += ["--ro-bind", str(path), str(path)]


def system_paths() -> list[Path]:
    """The top-level system folders (or their merged-/usr links) that exist here."""
    names = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")
    return [Path("/", n) for n in names if os.path.lexists(Path("/", n))]


def environment_paths() -> list[Path]:
    """Folders the kernel's Python needs, outermost first, none inside another.

    The interpreter's prefixes (and the real location of its executable), the site-packages
    folders on ``sys.path``, and the course package itself. Other ``sys.path`` entries are
    not bound: a ``PYTHONPATH`` entry is typically a checkout of the course, whose
    ``solutions/`` and ``.git`` the kernel must not see; the package is bound inside it.
    """
    import site

    import course_utils

    candidates = [
        Path(sys.prefix),
        Path(sys.base_prefix),
        Path(sys.executable).resolve().parent.parent,
        Path(course_utils.__file__).resolve().parent,
        *(Path(p) for p in site.getsitepackages()),
        *(Path(p) for p in sys.path if Path(p).name in {"site-packages", "dist-packages"}),
    ]
    found = set()
    for path in candidates:
        if path.is_absolute() and path.is_dir():
            found |= {path, path.resolve()}
    usr, top = Path("/usr"), Path("/")
    kept = sorted(p for p in found if p not in (usr, top) and usr not in p.parents)
    outer: list[Path] = []
    for path in kept:
        if not any(o == path or o in path.parents for o in outer):
            outer.append(path)
    return outer
