"""Helpers shared by the tests."""

from __future__ import annotations

import os

import pytest

# the C library the uprobe tests hook, where Debian and others put it
LIBC = next((p for p in ("/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6",
                         "/lib64/libc.so.6", "/usr/lib64/libc.so.6") if os.path.exists(p)),
            "/lib/x86_64-linux-gnu/libc.so.6")
ROOT_REASON = "needs root (or CAP_BPF + CAP_PERFMON) to create BPF maps and load programs"

requires_root = pytest.mark.skipif(os.geteuid() != 0, reason=ROOT_REASON)


# Python code for a child process that drops every capability (staying uid 0, so it can still
# read root's files), the way an unprivileged user would run pybpf.
DROP_CAPABILITIES = """
import ctypes
class _Hdr(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
class _Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]
_libc = ctypes.CDLL(None, use_errno=True)
_hdr, _data = _Hdr(0x20080522, 0), (_Data * 2)()
assert _libc.capset(ctypes.byref(_hdr), _data) == 0, ctypes.get_errno()
"""


def oneliner_outcome(src: str, target: object = None) -> str:
    """Compile a one-liner (for `target`, else the running kernel) and load every probe:
    "loaded", or the text of the positioned, non-internal CompileError that refused it. A
    load failure (a verifier rejection of an accepted program) propagates and fails the
    caller."""
    from pybpf.compiler.errors import CompileError
    from pybpf.lang import runtime
    from pybpf.lang.compile import Compiler

    comp = Compiler(src, "stdin", [], target=target)  # type: ignore[arg-type]
    try:
        try:
            comp.compile()
        except CompileError as e:
            assert e.loc.line >= 1 and e.loc.col >= 1, e.render()
            assert "internal compiler error" not in e.message, e.render()
            return e.render()
        for cp in comp.compiled:
            runtime.load(cp).close()
        return "loaded"
    finally:
        comp.close()


_probed_python: list[str] = []


def probed_python_pid() -> str:
    """The pid of a Python with CPython's USDT probes (Debian's /usr/bin/python3.*), started
    once for the test session and sleeping; this interpreter's own pid when there is none
    (a tool then says in one line that it has no probes)."""
    if not _probed_python:
        import atexit
        import glob
        import subprocess

        found = sorted(glob.glob("/usr/bin/python3.[0-9]*"))
        exe = next((p for p in found if not p.endswith("-config")), None)
        if exe is None:
            _probed_python.append(str(os.getpid()))
        else:
            child = subprocess.Popen([exe, "-c", "import time; time.sleep(7200)"])
            atexit.register(child.kill)
            _probed_python.append(str(child.pid))
    return _probed_python[0]


def tool_args(name: str) -> list[str]:
    """The arguments a tool cannot run without, for tests that run every tool."""
    if name == "funclatency":
        return ["c:malloc"]
    if name == "pythongc":
        return [probed_python_pid()]
    if name in ("funccount", "stackcount"):
        return ["t:syscalls:sys_enter_getppid"]
    return []
