"""Runs inside the grading kernel: test cells see the checks as they were before student code.

``boot()`` (called by ``kernel_boot`` before the kernel starts) imports the checks and the
libraries test cells use, seals ``course_utils.grading``, and records the builtins, the
callables of those modules, the code of their Python functions, the methods of their key
classes and the import machinery. The grader then surrounds every test cell:

* a guard cell before it calls ``rearm``: everything recorded is put back (so a patched
  ``builtins.abs``, ``torch.testing.assert_close``, ``F.cosine_similarity``, a rebound
  ``assert_close`` or a replaced ``__code__`` are undone), IPython's input and AST
  transformers, custom exception handlers, trace functions and output streams are reset,
  and the setup cell's imports are re-run so the names test cells use are the originals;
* a last line in the test cell calls ``done``, which prints a marker only a cell that ran
  to its end can print.

The grader checks both markers outside the kernel and scores a test cell whose markers are
missing as failed. This stops the tampering the issue lists; a student who studies this
module can still defeat an in-kernel guard: it runs in the process it guards.
"""

from __future__ import annotations

import builtins
import importlib
import re
import signal
import sys
import types
from typing import Any

__all__ = ["boot", "start", "rearm", "done", "MARK", "MARK_PATTERN"]

MARK = "\u27e6course-guard:{token}\u27e7"
#: A printed mark and its line end, whatever its token.
MARK_PATTERN = re.compile(re.escape(MARK.split("{token}")[0]) + "[^\u27e7]*\u27e7\n?")
_TRUSTED = ("builtins", "collections", "math", "operator", "functools", "itertools", "numpy")
_TRUSTED_PREFIXES = ("torch", "course_utils")
_PRELOAD = (
    "torch",
    "torch.nn.functional",
    "torch.testing",
    "torch.linalg",
    "course_utils.grading",
    "course_utils.oracle",
)
_CLASSES = ("torch.Tensor", "collections.Counter")


class _Record:
    """What ``boot`` saw, to be put back before each test cell."""

    def __init__(self) -> None:
        self.builtins = dict(vars(builtins))
        self.meta_path = list(sys.meta_path)
        self.path_hooks = list(sys.path_hooks)
        self.modules: dict[str, types.ModuleType] = {}
        self.attributes: list[tuple[Any, str, Any]] = []
        self.code: list[tuple[types.FunctionType, Any, Any, Any]] = []
        self.shell: dict[str, Any] = {}
        self.streams: tuple[Any, ...] = ()
        seen: set[int] = set()
        for name, module in list(sys.modules.items()):
            if not isinstance(module, types.ModuleType) or not _trusted(name):
                continue
            self.modules[name] = module
            for attr, value in list(vars(module).items()):
                if _restorable(value):
                    self.attributes.append((module, attr, value))
                    self._remember_code(value, seen)
        for dotted in _CLASSES:
            owner, _, attr = dotted.rpartition(".")
            cls = getattr(sys.modules.get(owner), attr, None)
            if isinstance(cls, type):
                self._remember_class(cls, seen)
        for module in list(self.modules.values()):
            if module.__name__.startswith("course_utils"):
                for value in list(vars(module).values()):
                    if isinstance(value, type) and value.__module__.startswith("course_utils"):
                        self._remember_class(value, seen)

    def _remember_class(self, cls: type, seen: set[int]) -> None:
        for attr, value in list(vars(cls).items()):
            if _restorable(value) or isinstance(value, classmethod | staticmethod | property):
                self.attributes.append((cls, attr, value))
                inner = getattr(value, "__func__", value)
                self._remember_code(inner, seen)

    def _remember_code(self, value: Any, seen: set[int]) -> None:
        if isinstance(value, types.FunctionType) and id(value) not in seen:
            seen.add(id(value))
            self.code.append((value, value.__code__, value.__defaults__, value.__kwdefaults__))

    def restore(self) -> None:
        for name, value in self.builtins.items():
            if vars(builtins).get(name, _MISSING) is not value:
                setattr(builtins, name, value)
        sys.meta_path[:] = self.meta_path
        sys.path_hooks[:] = self.path_hooks
        for name, module in self.modules.items():
            if sys.modules.get(name) is not module:
                sys.modules[name] = module
        for owner, attr, value in self.attributes:
            if vars(owner).get(attr, _MISSING) is not value:
                _force_set(owner, attr, value)
        for fn, code, defaults, kwdefaults in self.code:
            if fn.__code__ is not code:
                fn.__code__ = code
            if fn.__defaults__ is not defaults:
                fn.__defaults__ = defaults
            if fn.__kwdefaults__ is not kwdefaults:
                fn.__kwdefaults__ = kwdefaults
        sys.settrace(None)
        sys.setprofile(None)
        try:  # a test cell can always be interrupted at the time limit
            signal.signal(signal.SIGINT, signal.default_int_handler)
        except (TypeError, ValueError):
            pass


_MISSING = object()
_RECORD: _Record | None = None


def _trusted(name: str) -> bool:
    return name in _TRUSTED or name.startswith(_TRUSTED_PREFIXES) or name.startswith("numpy.")


def _restorable(value: Any) -> bool:
    return callable(value) or isinstance(value, types.ModuleType)


def _force_set(owner: Any, attr: str, value: Any) -> None:
    """Set an attribute even on a sealed module; built-in types cannot change, so skip them."""
    try:
        if isinstance(owner, types.ModuleType):
            types.ModuleType.__setattr__(owner, attr, value)
        elif isinstance(owner, type):
            type.__setattr__(owner, attr, value)
    except (AttributeError, TypeError):
        pass


def boot() -> None:
    """Import what test cells use and record it; called once, before the kernel starts."""
    global _RECORD
    for name in _PRELOAD:
        importlib.import_module(name)
    from course_utils import grading

    grading._seal()
    _RECORD = _Record()


def _shell() -> Any:
    from IPython import get_ipython

    return get_ipython()


def start(token: str) -> None:
    """First cell of the notebook: record IPython's state before any student cell runs."""
    assert _RECORD is not None, "the grading kernel was not started by kernel_boot"
    shell = _shell()
    _RECORD.shell = {
        "input_transformers_cleanup": list(shell.input_transformers_cleanup),
        "input_transformers_post": list(shell.input_transformers_post),
        "ast_transformers": list(shell.ast_transformers),
        "events": {name: list(cbs) for name, cbs in shell.events.callbacks.items()},
    }
    _RECORD.streams = (sys.stdout, sys.stderr, sys.displayhook, sys.excepthook)
    _emit(token)


def rearm(namespace: dict[str, Any], token: str, setup_imports: str) -> None:
    """Before a test cell: put back everything recorded and re-run the setup cell's imports."""
    assert _RECORD is not None, "the grading kernel was not started by kernel_boot"
    _RECORD.restore()
    shell = _shell()
    state = _RECORD.shell
    if state:
        shell.input_transformers_cleanup[:] = state["input_transformers_cleanup"]
        shell.input_transformers_post[:] = state["input_transformers_post"]
        shell.ast_transformers[:] = state["ast_transformers"]
        for name, callbacks in state["events"].items():
            shell.events.callbacks[name][:] = callbacks
    shell.custom_exceptions = ()
    if _RECORD.streams:
        sys.stdout, sys.stderr, sys.displayhook, sys.excepthook = _RECORD.streams
    namespace["__builtins__"] = builtins
    if setup_imports:
        exec(compile(setup_imports, "<course setup imports>", "exec"), namespace)
    _emit(token)


def done(token: str) -> None:
    """Last line of a test cell: proves the cell ran to its end."""
    _emit(token)


def _emit(token: str) -> None:
    stream = _RECORD.streams[0] if _RECORD and _RECORD.streams else sys.stdout
    stream.write(MARK.format(token=token) + "\n")
    stream.flush()
