"""Hostile lab-1 submissions against the grading sandbox, by kind, and what each must get.

Each kind is graded in one ``course autograde --jobs 2`` run together with two honest
students, the reference solution (``b_correct``) and the untouched release (``d_blank``);
names are chosen so that, in the run's (sorted) order, every attacker is graded at the same
time as an honest student. An attacker's code is appended to (``append``) or replaces
(``answers``) an answer cell of the reference solution; what it finds is printed on one line
``<TAG> {json}`` in the graded notebook, for the test to read. ``{ROOT}`` in an attack is
replaced by the course's path when the submission is written: the attackers know where the
course lives.
"""

from __future__ import annotations

from ta_fixtures import FIXTURES, WRONG_PAIRWISE, Fixture

HONEST = {"b_correct": FIXTURES["correct"], "d_blank": FIXTURES["blank"]}

# --- network -----------------------------------------------------------------------------------

NET_SCAN = """
import json as _json, os as _os, socket as _socket, stat as _stat, time as _time
import zmq as _zmq

def _scan(seconds=15):
    from ipykernel import get_connection_info
    mine = _json.loads(get_connection_info())
    tcp = mine["transport"] == "tcp"
    own_ports = {mine[k] for k in mine if k.endswith("_port")} if tcp else set()
    found, captured, sweeps = set(), 0, 0
    context = _zmq.Context.instance()
    deadline = _time.time() + seconds
    while _time.time() < deadline:
        sweeps += 1
        for port in range(1, 65536):
            probe = _socket.socket()
            probe.settimeout(0.05)
            # a connection to a free port of the ephemeral range can meet itself (TCP
            # simultaneous open, source port == port): nothing listens, so it is no find
            if probe.connect_ex(("127.0.0.1", port)) == 0 and port not in own_ports:
                if probe.getsockname()[1] != port:
                    found.add(port)
            probe.close()
        for port in sorted(found):
            sub = context.socket(_zmq.SUB)
            sub.setsockopt(_zmq.SUBSCRIBE, b"")
            sub.connect(f"tcp://127.0.0.1:{port}")
            while sub.poll(300):
                sub.recv_multipart()
                captured += 1
            sub.close(linger=0)
        _time.sleep(0.2)
    sockets = []
    for folder, dirs, names in _os.walk("/"):
        if folder in ("/proc", "/sys", "/dev"):
            dirs[:] = []
            continue
        for name in names:
            path = _os.path.join(folder, name)
            try:
                if _stat.S_ISSOCK(_os.lstat(path).st_mode) and not path.startswith(mine["ip"]):
                    sockets.append(path)
            except OSError:
                pass
    kernels, own = 0, set()
    for pid in filter(str.isdigit, _os.listdir("/proc")):
        try:
            argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\\0")
            booted = any(arg.endswith(b".kernel_boot") for arg in argv)
            kernels += booted and not argv[0].endswith(b"bwrap")
            for fd in _os.listdir(f"/proc/{pid}/fd"):
                link = _os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    own.add(link[8:-1])
        except OSError:
            pass
    listening = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in open(table).read().splitlines()[1:]:
            fields = row.split()
            if fields[3] == "0A":
                listening[int(fields[1].rsplit(":", 1)[1], 16)] = fields[9]
    report = {"open_ports": sorted(found), "captured": captured, "sweeps": sweeps,
              "foreign_sockets": sockets, "kernels_seen": kernels,
              "not_its_own": sorted(p for p, inode in listening.items() if inode not in own),
              "unexplained": sorted(found - set(listening)), "transport": mine["transport"]}
    print("NETSCAN " + _json.dumps(report))

_scan()
"""

PORT_HOG = """
import json as _json, resource as _resource, socket as _socket, time as _time

_soft, _hard = _resource.getrlimit(_resource.RLIMIT_NOFILE)
_resource.setrlimit(_resource.RLIMIT_NOFILE, (min(_hard, 40000), _hard))
_held = []
for _port in range(1024, 65536):
    try:
        _s = _socket.socket()
        _s.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 0)
        _s.bind(("127.0.0.1", _port))
        _s.listen(1)
        _held.append(_s)
    except OSError:
        _s.close()
    if len(_held) >= 30000:
        break
_time.sleep(15)
print("PORTHOG " + _json.dumps({"held": len(_held)}))
for _s in _held:
    _s.close()
"""

NETWORK = {
    "a_net_scan": Fixture({"pairwise_cosine": WRONG_PAIRWISE}, 8, append={"build_vocab": NET_SCAN}),
    "c_port_hog": Fixture({}, 12, append={"build_vocab": PORT_HOG}),
}

# --- file system, environment and links ---------------------------------------------------------

FS_SEARCH = """
import json as _json, os as _os, sys as _sys

def _search():
    environment = tuple({_sys.prefix, _sys.base_prefix})
    course_names = {"solutions", ".git", "grading", "autograded", "submitted", "ledger",
                    "gradebook.db", "nbgrader_config.py", "grades.csv", "b_correct", "d_blank",
                    "c_symlinks", "e_linked"}
    notebooks, course = [], []
    for folder, dirs, names in _os.walk("/"):
        if folder in ("/proc", "/sys", "/dev"):
            dirs[:] = []
            continue
        for name in dirs + names:
            path = _os.path.join(folder, name)
            # (the Python environment ships nbgrader's own test files, and the system's /usr
            # databases such as avahi's service-types.db: not the course's)
            system = path.startswith("/usr/")
            database = name.endswith((".db", ".sqlite", ".sqlite3")) and not system
            if (name in course_names or database) and not path.startswith(environment):
                course.append(path)
            if name.endswith(".ipynb"):
                if not path.startswith(environment):
                    notebooks.append(path)
                else:
                    try:
                        if "lab1_onehot" in open(path, errors="ignore").read():
                            notebooks.append(path)
                    except OSError:
                        pass
    environs = []
    for pid in filter(str.isdigit, _os.listdir("/proc")):
        try:
            environs.append(open(f"/proc/{pid}/environ", "rb").read().decode(errors="ignore"))
        except OSError:
            pass
    initial = open("/proc/self/environ", "rb").read().decode().split("\\0")
    report = {"notebooks": notebooks, "course": course,
              "env": sorted(v.split("=", 1)[0] for v in initial if v),
              "cwd": _os.getcwd(), "secret": _os.environ.get("COURSE_TA_SECRET"),
              "secret_in_proc": any("COURSE_TA_SECRET" in e for e in environs),
              "root_seen": _os.path.exists("{ROOT}"), "home": _os.path.expanduser("~")}
    print("FSSEARCH " + _json.dumps(report))

_search()
"""

SYMLINKS = """
import json as _json, os as _os

_links = {
    "lab1_onehot.ipynb": "{ROOT}/grading/gradebook.db",
    "timestamp.txt": "{ROOT}/grading/submitted/b_correct/lab1_onehot/lab1_onehot.ipynb",
    "classmate.ipynb": "{ROOT}/grading/autograded/b_correct/lab1_onehot/lab1_onehot.ipynb",
    "ledger.json": "{ROOT}/grading/ledger/lab1_onehot/b_correct.json",
    "config.py": "{ROOT}/nbgrader_config.py",
    "solutions": "{ROOT}/solutions",
    "grading": "{ROOT}/grading",
    "/tmp/gradebook": "{ROOT}/grading/gradebook.db",
}
_made = []
for _name, _target in _links.items():
    try:
        if _os.path.lexists(_name):
            _os.remove(_name)
        _os.symlink(_target, _name)
        _made.append(_name)
    except OSError as _err:
        print("link", _name, _err)
for _maker in (lambda: _os.mkfifo("fifo"), lambda: _os.link("/tmp/gradebook", "hard")):
    try:
        _maker()
        _made.append("special")
    except OSError as _err:
        print("special", _err)
print("SYMLINKS " + _json.dumps({"made": _made, "listing": sorted(_os.listdir("."))}))
"""

FILES = {
    "a_fs_search": Fixture({}, 12, {"suspicious"}, append={"build_vocab": FS_SEARCH}),
    "c_symlinks": Fixture({}, 12, {"suspicious"}, append={"build_vocab": SYMLINKS}),
    "e_linked": Fixture({}, 12, {"suspicious"}),  # its folder also holds a link to solutions/
    "f_linked_notebook": Fixture(None, 0, {"failed", "suspicious"}),  # the notebook is a link
}

# --- limits for the whole submission ------------------------------------------------------------

FILL = """
import json as _json, os as _os

def _fill(folder):
    written, number = 0, 0
    block = b"x" * (1 << 20)
    try:
        while True:
            with open(_os.path.join(folder, f"fill-{number}.bin"), "wb") as handle:
                for _ in range(32):
                    handle.write(block)
                    written += len(block)
            number += 1
    except OSError as err:
        return written, str(err)

_written, _error = _fill({FOLDER!r})
print("FILL " + _json.dumps({"written": _written, "error": _error}))
"""

FORK_ALLOCATE = """import subprocess, sys, time

def embed_with_one_hot(indices, E):
    return one_hot(indices, E.shape[0]).to(E.dtype) @ E

HOG = "import time; b = bytearray(1200 << 20); b[::4096] = b'x' * (len(b) // 4096); time.sleep(60)"
children = []
for _ in range(5):  # fresh processes, each far under the per-process limit
    children.append(subprocess.Popen([sys.executable, "-c", HOG]))
    time.sleep(1)
time.sleep(30)
"""

MANY_PROCESSES = """import os, time

def embed_with_one_hot(indices, E):
    return one_hot(indices, E.shape[0]).to(E.dtype) @ E

children = 0
for _ in range(1000):
    try:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        children += 1
    except OSError:
        break
print("MANY", children)
time.sleep(30)
"""

LIMITS = {
    "a_tmp_fill": Fixture(
        {}, 12, {"disk_limit"}, append={"build_vocab": FILL.replace("{FOLDER!r}", "'/tmp'")}
    ),
    "c_fork_allocate": Fixture(
        {"embed_with_one_hot": FORK_ALLOCATE}, 11, {"memory_limit", "kernel_died"}
    ),
    "e_many_processes": Fixture(
        {"embed_with_one_hot": MANY_PROCESSES}, 11, {"process_limit", "kernel_died", "suspicious"}
    ),
    "g_disk_fill": Fixture(
        {}, 12, {"disk_limit"}, append={"build_vocab": FILL.replace("{FOLDER!r}", "'.'")}
    ),
}

# --- kernel starts, wall clock, output ----------------------------------------------------------

BIG_OUTPUT = """
print("x" * 100_000_000)
for _i in range(200_000):
    print("line", _i)
"""

SLEEP_FOREVER = "\nimport time\ntime.sleep(10**6)\n"

RESILIENCE = {
    "a_big_output": Fixture({}, 12, append={"build_vocab": BIG_OUTPUT}),
    "c_flaky_start": Fixture({}, 12),  # the sandbox fails to start its first kernel
    "e_broken_start": Fixture({}, 0, {"failed"}),  # ... and all of its kernels
    "g_wall_hog": Fixture({}, 0, {"wall_limit"}, append={"build_vocab": SLEEP_FOREVER}),
}
