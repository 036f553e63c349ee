"""The grading kernel's sandbox: bubblewrap decides what it sees, prlimit what one process may use.

Why these two: both are small, standard Debian tools that need no daemon and no image, and
both wrap one command line, which is exactly what a Jupyter kernel is. ``bwrap`` builds the
kernel's file system up from an empty root (see ``fsview``): the system's programs and
libraries, the Python environment and the course package, read-only; read-only copies of
the corpora caches; its own work folder, ``/tmp`` and socket folder, read-write, inside the
submission's size-limited scratch space (see ``scratch``). ``solutions/``, the gradebook,
other submissions and checkouts, ``.git`` and the TA's home are not there at all. The
kernel has its own network namespace (only a loopback of its own) and talks to its worker
over Unix sockets (ZMQ's ``ipc`` transport) in its socket folder, which no other kernel
sees; it has its own pid namespace, and run as root the grader starts it as the slot's
private user with no capabilities. Its environment is an allowlist (``kernel_env``).

``prlimit`` sets the per-process limits (address space, CPU seconds, file size) and, with a
private user, the number of processes and threads of the whole submission; the
``watchdog`` adds the whole submission's memory, disk and wall-clock limits. Where ``bwrap``
is missing, grading stops unless the TA passes ``--no-sandbox`` (limits only), so isolation
is never silently lost.
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
from traitlets import Dict, Instance, TraitError, Union, validate

from course_utils.ta.fsview import View, environment_paths
from course_utils.ta.kernel_env import kernel_env
from course_utils.ta.nofollow import chown_tree, wipe
from course_utils.ta.protocol import KERNEL_BOOT_MODULE

__all__ = [
    "Limits",
    "Sandbox",
    "SandboxedKernelManager",
    "bwrap_available",
    "default_caches",
    "default_hidden",
    "parse_size",
]

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.I)


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
    probe = [path, "--ro-bind", "/", "/", "--unshare-pid", "--unshare-net"]
    probe += ["--size", "65536", "--tmpfs", "/tmp", "--cap-drop", "ALL", "true"]
    try:
        result = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"bubblewrap does not run here: {err}"
    if result.returncode != 0:
        return f"bubblewrap does not run here: {result.stderr.strip()}"
    return None


@dataclass(frozen=True)
class Limits:
    """What one submission may use: per process (memory, CPU, file size) and in all."""

    memory_bytes: int = 8 << 30  # per process (address space), and all processes together
    cpu_seconds: int = 1800  # per process
    file_bytes: int = 256 << 20  # largest file
    threads: int = 1
    processes: int = 256  # processes and threads of the whole submission
    disk_bytes: int = 1 << 30  # work folder, /tmp and caches written, together
    wall_seconds: int = 1800  # the whole submission
    output_bytes: int = 1 << 20  # output kept per cell in the graded notebook

    def prlimit(self, processes: bool = False) -> list[str]:
        """``prlimit`` and its options; ``processes`` only for a private user (RLIMIT_NPROC
        counts every process of the real user)."""
        args = [
            "prlimit",
            f"--as={self.memory_bytes}",
            f"--cpu={self.cpu_seconds}",
            f"--fsize={self.file_bytes}",
            "--core=0",
        ]
        if processes:
            args.append(f"--nproc={self.processes}")
        return [*args, "--"]


@dataclass
class Sandbox:
    """How to wrap a kernel command: what it sees, as whom it runs, what limits it has.

    ``scratch`` is the worker's scratch folder for this submission (``scratch.Slot``) and
    ``uid`` the slot's private user (``None``: the grader's own); without ``scratch`` the
    kernel's ``/tmp`` is a size-limited tmpfs of bubblewrap's.
    """

    root: Path
    workdir: Path
    limits: Limits = field(default_factory=Limits)
    isolate: bool = True
    hidden: list[Path] = field(default_factory=list)
    caches: dict[str, Path] = field(default_factory=dict)
    scratch: Path | None = None
    uid: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The sandbox as plain JSON data: its form in a ``protocol.Task`` (``Task.sandbox``),
        decoded again by ``from_dict`` in the worker, once per submission."""
        data = asdict(self)
        for key in ("root", "workdir", "scratch"):
            data[key] = None if data[key] is None else str(data[key])
        data["hidden"] = [str(p) for p in self.hidden]
        data["caches"] = {k: str(p) for k, p in self.caches.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sandbox:
        """The sandbox ``to_dict`` wrote."""
        caches = data.get("caches") or {}
        if isinstance(caches, list):  # older records: paths only
            caches = dict(zip(_CACHE_VARS, caches, strict=False))
        return cls(
            root=Path(data["root"]),
            workdir=Path(data["workdir"]),
            limits=Limits(**data["limits"]),
            isolate=data["isolate"],
            hidden=[Path(p) for p in data["hidden"]],
            caches={k: Path(p) for k, p in caches.items()},
            scratch=Path(data["scratch"]) if data.get("scratch") else None,
            uid=data.get("uid"),
        )

    @classmethod
    def of(cls, value: Sandbox | dict[str, Any] | None) -> Sandbox | None:
        """A configured sandbox: the object itself, or decoded from its ``to_dict``."""
        if isinstance(value, dict):
            return cls.from_dict(value) if value else None
        return value

    def part(self, name: str) -> Path | None:
        """A folder of the scratch space: ``tmp``, ``ipc``, ``conn``, ``layers``, ``shm``,
        ``inputs``, ``work``, ``submitted``; or its ``kernel.log`` (the kernels' stderr)."""
        return None if self.scratch is None else self.scratch / name

    @property
    def kernel_uid(self) -> int | None:
        """The user the kernel runs as: the private one, inside the sandbox only."""
        return self.uid if self.isolate else None

    @property
    def home(self) -> Path:
        """The kernel's ``HOME`` (and ``/tmp``), as the kernel sees it."""
        if self.isolate:
            return Path("/tmp")
        return self.part("tmp") or self.workdir

    def env(self) -> dict[str, str]:
        """The kernel's whole environment (an allowlist, see ``kernel_env``)."""
        # isolated: the mirrored caches (when mirrored); else the real ones, as nbgrader would
        caches = self.caches if self.scratch or not self.isolate else {}
        return kernel_env(self.limits.threads, self.isolate, self.home, caches)

    def command(self, argv: list[str], connection_file: Path) -> list[str]:
        """``argv`` wrapped in prlimit (and setpriv), and in bubblewrap when isolating."""
        uid = self.kernel_uid
        limited = self.limits.prlimit(processes=uid is not None)
        if uid is not None:
            limited += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
            limited += ["--inh-caps=-all", "--"]
        limited += argv
        if not self.isolate:
            return limited
        view = View()
        view.system()
        for path in [self.root.resolve(), *self.hidden]:
            if path.exists():  # absent anyway, unless under a bound folder (e.g. /usr)
                view.hide(path)
        for path in environment_paths():  # bound after the hiding, wherever they live
            view.ro(path)
        self._private_folders(view)
        layers = self.part("layers")
        if layers is not None:  # after /tmp is bound: a cache may live under it
            for name, cache in self.caches.items():
                view.mirror(cache, layers / name)
        view.rw(self.workdir)
        view.ro(connection_file)
        if layers is not None and layers.is_dir() and uid is not None:
            chown_tree(layers, uid, uid)
        args = [shutil.which("bwrap") or "bwrap", *view.args, "--remount-ro", "/"]
        args += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net"]
        args += ["--unshare-cgroup-try", "--die-with-parent", "--cap-drop", "ALL"]
        if uid is not None:
            args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        args += ["--chdir", str(self.workdir)]
        return args + limited

    def _private_folders(self, view: View) -> None:
        """/dev, /proc, /tmp, /dev/shm and the socket folder: the kernel's own."""
        view.args += ["--dev", "/dev", "--proc", "/proc"]
        size = str(self.limits.disk_bytes)
        for name, target, mode in (("tmp", "/tmp", "1777"), ("shm", "/dev/shm", "1777")):
            folder = self.part(name)
            if folder is not None:
                view.rw(folder, Path(target))
            else:
                view.args += ["--perms", mode, "--size", size, "--tmpfs", target]
        view.args += ["--remount-ro", "/dev"]
        ipc = self.part("ipc")
        if ipc is not None:
            view.rw(ipc)


_CACHE_VARS = ("HF_DATASETS_CACHE", "MPLCONFIGDIR")


def default_caches() -> dict[str, Path]:
    """Caches the labs read, by the variable that points at them: the datasets cache
    (corpora) and matplotlib's font cache."""
    home = Path.home()
    hf_home = Path(os.environ.get("HF_HOME", home / ".cache" / "huggingface"))
    datasets_cache = Path(os.environ.get("HF_DATASETS_CACHE", hf_home / "datasets"))
    mpl = Path(os.environ.get("MPLCONFIGDIR", home / ".cache" / "matplotlib"))
    return dict(zip(_CACHE_VARS, (datasets_cache, mpl), strict=True))


def default_hidden() -> list[Path]:
    """Places outside the course that a kernel must not see: other kernels' connection files."""
    from jupyter_core.paths import jupyter_runtime_dir

    return [Path(jupyter_runtime_dir())]


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager that starts ``course_utils.ta.kernel_boot`` inside the sandbox.

    Configured with ``SandboxedKernelManager.sandbox``: a ``Sandbox`` (the worker passes the
    object; a ``Sandbox.to_dict()`` is decoded once, when the trait is set). The kernel
    always runs this environment's Python, whatever kernelspec the notebook names. With a
    scratch space its channels are Unix sockets in the scratch's ``ipc`` folder and its
    connection file sits in ``conn`` (read-only for the kernel); before every start (and
    restart) the socket folder and the kernel's IPython folder are emptied, so nothing a
    previous kernel left there is used, and the work folder is given to the kernel's user.
    """

    sandbox = Union([Instance(Sandbox), Dict()], allow_none=True, help="the kernel's Sandbox").tag(
        config=True
    )

    @validate("sandbox")
    def _decode(self, proposal: Any) -> Sandbox | None:
        return Sandbox.of(proposal["value"])

    def _spec(self) -> Sandbox:
        if self.sandbox is None:
            raise TraitError("SandboxedKernelManager.sandbox is not configured")
        return self.sandbox

    async def _async_pre_start_kernel(self, **kw: Any) -> tuple[list[str], dict[str, Any]]:
        spec = self._spec()
        conn, ipc = spec.part("conn"), spec.part("ipc")
        if conn is not None and ipc is not None:
            self._prepare(spec, conn, ipc)
        elif not self.connection_file or not str(self.connection_file).startswith(
            str(spec.workdir.parent)
        ):
            folder = spec.workdir.parent / ".kernels"
            folder.mkdir(parents=True, exist_ok=True)
            self.connection_file = str(folder / f"kernel-{uuid.uuid4().hex}.json")
        kw.pop("env", None)
        kw["env"] = spec.env()
        kw["cwd"] = str(spec.workdir)
        log = spec.part("kernel.log")
        if log is not None and "stderr" not in kw:  # what bwrap and the kernel say, kept
            self._log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            kw["stderr"] = kw["stdout"] = self._log_fd
        result = await super()._async_pre_start_kernel(**kw)
        if conn is not None and spec.kernel_uid is not None:
            os.chown(self.connection_file, spec.kernel_uid, spec.kernel_uid)
            os.chmod(self.connection_file, 0o400)
        return result

    async def _async_post_start_kernel(self, **kw: Any) -> None:
        fd, self._log_fd = getattr(self, "_log_fd", None), None
        if fd is not None:
            os.close(fd)
        await super()._async_post_start_kernel(**kw)

    def _prepare(self, spec: Sandbox, conn: Path, ipc: Path) -> None:
        """Unix sockets in ``ipc``; a clean socket folder, IPython folder and owner."""
        self.transport = "ipc"
        self.connection_file = str(conn / "kernel.json")
        self.ip = str(ipc / "k")
        wipe(ipc)
        home = spec.part("tmp")
        if home is not None:
            for name in ("ipython", ".ipython", ".jupyter", ".local"):
                path = home / name
                if path.is_dir() and not path.is_symlink():
                    wipe(path)
                    path.rmdir()
                elif os.path.lexists(path):
                    path.unlink()
        if spec.kernel_uid is not None:
            chown_tree(spec.workdir, spec.kernel_uid, spec.kernel_uid)

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
        argv = [sys.executable, "-m", KERNEL_BOOT_MODULE, "-f", self.connection_file]
        return spec.command(argv + list(extra_arguments or []), Path(self.connection_file))
