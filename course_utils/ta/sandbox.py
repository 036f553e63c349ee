"""The grading kernel's sandbox: bubblewrap decides what it sees, prlimit what it may use.

Why these two: both are small, standard Debian tools that need no daemon, no image and no
root (bubblewrap uses unprivileged namespaces; run as root it drops every capability), and
both wrap one command line, which is exactly what a Jupyter kernel is. ``bwrap`` gives the
kernel a read-only view of the machine in which the course folder is an empty tmpfs except
for the kernel's own work folder (read-write) and the Python environment it needs; so
``solutions/``, the gradebook, other submissions, ``.git`` and other kernels' connection
files are absent, not merely protected. ``prlimit`` then sets the address-space limit
(memory), the CPU-seconds limit and the largest file the kernel may write; a cell that
asks for more memory gets ``MemoryError``, a kernel over its CPU budget is killed and
restarted by the grader. Where ``bwrap`` is missing, grading stops unless the TA passes
``--no-sandbox`` (limits only), so isolation is never silently lost.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from traitlets import Dict

__all__ = [
    "Limits",
    "Sandbox",
    "SandboxedKernelManager",
    "bwrap_available",
    "parse_size",
]

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.I)
_MAX_MIRRORED_FILES = 5000


def parse_size(text: str | int) -> int:
    """Bytes from ``"4G"``, ``"1.5GiB"``, ``"512M"`` or a plain number of bytes."""
    if isinstance(text, int):
        return text
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"not a size: {text!r} (try 4G or 512M)")
    number, unit = match.groups()
    return int(float(number) * 1024 ** "bkmgt".index((unit or "b").lower()))


@functools.cache
def bwrap_available() -> str | None:
    """Why bubblewrap cannot be used here, or ``None`` when it works."""
    path = shutil.which("bwrap")
    if path is None:
        return "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    probe = [path, "--ro-bind", "/", "/", "--unshare-pid", "--cap-drop", "ALL", "true"]
    try:
        result = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"bubblewrap does not run here: {err}"
    if result.returncode != 0:
        return f"bubblewrap does not run here: {result.stderr.strip()}"
    return None


@dataclass(frozen=True)
class Limits:
    """What one grading kernel may use."""

    memory_bytes: int = 8 << 30
    cpu_seconds: int = 1800
    file_bytes: int = 256 << 20
    threads: int = 1

    def prlimit(self) -> list[str]:
        return [
            "prlimit",
            f"--as={self.memory_bytes}",
            f"--cpu={self.cpu_seconds}",
            f"--fsize={self.file_bytes}",
            "--core=0",
            "--",
        ]


@dataclass
class Sandbox:
    """How to wrap a kernel command: what to hide, what to bind back, what limits to set."""

    root: Path
    workdir: Path
    limits: Limits = field(default_factory=Limits)
    isolate: bool = True
    hidden: list[Path] = field(default_factory=list)
    caches: list[Path] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("root", "workdir"):
            data[key] = str(data[key])
        data["hidden"] = [str(p) for p in self.hidden]
        data["caches"] = [str(p) for p in self.caches]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sandbox:
        return cls(
            root=Path(data["root"]),
            workdir=Path(data["workdir"]),
            limits=Limits(**data["limits"]),
            isolate=data["isolate"],
            hidden=[Path(p) for p in data["hidden"]],
            caches=[Path(p) for p in data["caches"]],
        )

    def env(self) -> dict[str, str]:
        """Variables set for the kernel (threads, writable config folders, grading mode)."""
        threads = str(self.limits.threads)
        return {
            "OMP_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads,
            "OPENBLAS_NUM_THREADS": threads,
            "IPYTHONDIR": "/tmp/ipython" if self.isolate else str(self.workdir / ".ipython"),
            "PYTHONDONTWRITEBYTECODE": "1",
            "COURSE_GRADING_KERNEL": "1",
            "COURSE_RECORD": "1",  # hidden tests report their results (course_utils.oracle)
            "COURSE_GRADING_ISOLATED": "1" if self.isolate else "0",
            "NBGRADER_EXECUTION": "autograde",
        }

    def command(self, argv: list[str], connection_file: Path) -> list[str]:
        """``argv`` wrapped in prlimit, and in bubblewrap when isolating."""
        limited = self.limits.prlimit() + argv
        if not self.isolate:
            return limited
        bwrap = shutil.which("bwrap") or "bwrap"
        args = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        args += ["--tmpfs", "/tmp", "--tmpfs", "/dev/shm"]
        args += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        args += ["--cap-drop", "ALL", "--die-with-parent"]
        root = self.root.resolve()
        for path in [root, *self.hidden]:
            if path.exists():
                args += ["--tmpfs", str(path)]
        for path in _needed():  # bound back after the tmpfs mounts above, wherever they live
            args += ["--ro-bind", str(path), str(path)]
        for cache in self.caches:
            args += _mirror(cache)
        args += ["--bind", str(self.workdir), str(self.workdir)]
        args += ["--ro-bind", str(connection_file), str(connection_file)]
        args += ["--chdir", str(self.workdir)]
        return args + limited


def _needed() -> list[Path]:
    """What the kernel needs to start: the Python environment, its interpreter, the package.

    Bound back explicitly because any of them may sit under a hidden folder: the course root
    (a virtual environment in the repository) or ``/tmp`` (a checkout or CI clone there).
    """
    import course_utils

    needed = {
        Path(sys.prefix).resolve(),
        Path(sys.base_prefix).resolve(),
        Path(course_utils.__file__).resolve().parent,
    }
    return sorted(p for p in needed if p.exists())


def _mirror(cache: Path) -> list[str]:
    """bwrap arguments for a cache the kernel reads but must not change for other kernels.

    The cache's folders are recreated on a tmpfs (so lock files and new entries can be
    written, and vanish with the kernel) and every existing file is bound read-only: a
    copy-on-write view without overlayfs, which bubblewrap 0.8 (Debian 12) lacks.
    """
    if not cache.is_dir():
        cache.mkdir(parents=True, exist_ok=True)  # a first run: an empty, private cache
    args = ["--tmpfs", str(cache)]
    files: list[Path] = []
    for folder, dirs, names in os.walk(cache):
        for name in dirs:
            args += ["--dir", os.path.join(folder, name)]
        files += [Path(folder, n) for n in names if not n.endswith(".lock")]
        if len(files) > _MAX_MIRRORED_FILES:
            return ["--tmpfs", str(cache)]  # too big to mirror: an empty, private cache
    for path in files:
        if path.is_file() and not path.is_symlink():
            args += ["--ro-bind", str(path), str(path)]
    return args


def default_caches() -> list[Path]:
    """Caches the labs read: the datasets cache (corpora) and matplotlib's font cache."""
    home = Path.home()
    hf_home = Path(os.environ.get("HF_HOME", home / ".cache" / "huggingface"))
    datasets_cache = Path(os.environ.get("HF_DATASETS_CACHE", hf_home / "datasets"))
    mpl = Path(os.environ.get("MPLCONFIGDIR", home / ".cache" / "matplotlib"))
    return [datasets_cache, mpl]


def default_hidden() -> list[Path]:
    """Places outside the course that a kernel must not see: other kernels' connection files."""
    from jupyter_core.paths import jupyter_runtime_dir

    return [Path(jupyter_runtime_dir())]


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager that starts ``course_utils.ta.kernel_boot`` inside the sandbox.

    Configured with ``SandboxedKernelManager.sandbox`` (``Sandbox.to_dict()``). The kernel
    always runs this environment's Python, whatever kernelspec the notebook names, and its
    connection file sits next to (not inside) its work folder, visible only to it.
    """

    sandbox = Dict(help="Sandbox.to_dict() of the kernel's sandbox").tag(config=True)

    def _spec(self) -> Sandbox:
        return Sandbox.from_dict(self.sandbox)

    async def _async_pre_start_kernel(self, **kw: Any) -> tuple[list[str], dict[str, Any]]:
        spec = self._spec()
        if not self.connection_file or not str(self.connection_file).startswith(
            str(spec.workdir.parent)
        ):
            folder = spec.workdir.parent / ".kernels"
            folder.mkdir(parents=True, exist_ok=True)
            self.connection_file = str(folder / f"kernel-{uuid.uuid4().hex}.json")
        env = dict(kw.pop("env", None) or os.environ)
        env.update(spec.env())
        kw["env"] = env
        kw["cwd"] = str(spec.workdir)
        return await super()._async_pre_start_kernel(**kw)

    async def _async_interrupt_kernel(self) -> None:
        """Interrupt by message: the kernel then signals itself. A signal sent from outside
        does not reach a kernel inside bubblewrap's pid namespace."""
        if not self._spec().isolate:
            return await super()._async_interrupt_kernel()
        if self.has_kernel:
            message = self.session.msg("interrupt_request", content={})
            self._connect_control_socket()
            self.session.send(self._control_socket, message)

    interrupt_kernel = _async_interrupt_kernel

    def format_kernel_cmd(self, extra_arguments: Iterable[str] | None = None) -> list[str]:
        spec = self._spec()
        argv = [sys.executable, "-m", "course_utils.ta.kernel_boot", "-f", self.connection_file]
        return spec.command(argv + list(extra_arguments or []), Path(self.connection_file))
