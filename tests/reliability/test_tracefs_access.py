"""A user with CAP_BPF and CAP_PERFMON but not root, who may not read tracefs (mode 0700 by
default): the tools and `pybpf trace` end with one line saying that tracefs is not readable,
its mode and owner, who pybpf runs as, and what grants access, and never that pybpf runs as
root.

Before: opensnoop and statsnoop printed their header and traced nothing, the other tools said
the tracepoint did not exist, and `trace -l` said tracefs was not mounted."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile

import pytest

from tests.reliability.common import ROOT, child_env, no_traceback
from tests.util import requires_root

pytestmark = requires_root

try:
    NOBODY = pwd.getpwnam("nobody")
except KeyError:
    NOBODY = None

# The interpreter may live where the user cannot read it (pyenv under /root), so the child
# starts as root, imports what it will need, then becomes the user, keeping CAP_BPF and
# CAP_PERFMON only (the way `setpriv --reuid ... --ambient-caps +bpf,+perfmon` would).
AS_USER = """
import ctypes, importlib, os, pkgutil, sys
import pybpf
for m in pkgutil.walk_packages(pybpf.__path__, "pybpf."):
    try:
        importlib.import_module(m.name)
    except Exception:
        pass
for name in ("grp", "pwd", "shlex", "resource", "selectors", "ctypes.util", "fnmatch",
             "encodings.idna"):
    importlib.import_module(name)
libc = ctypes.CDLL(None, use_errno=True)
assert libc.prctl(8, 1, 0, 0, 0) == 0  # PR_SET_KEEPCAPS: the capabilities survive setuid
os.setgroups([])
os.setresgid(GID, GID, GID)
os.setresuid(UID, UID, UID)
class Hdr(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
class Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]
hdr, data = Hdr(0x20080522, 0), (Data * 2)()
data[1].effective = data[1].permitted = (1 << (38 - 32)) | (1 << (39 - 32))  # PERFMON, BPF
assert libc.capset(ctypes.byref(hdr), data) == 0, ctypes.get_errno()
from pybpf.cli import main
sys.exit(main(sys.argv[1:]))
"""

COMMANDS = [
    ["opensnoop", "--duration", "3"],
    ["statsnoop", "--duration", "3"],
    ["execsnoop", "--duration", "3"],
    ["tcplife", "--duration", "3"],
    ["syscount", "-d", "3"],
    ["biostat", "1", "1"],
    ["snapshot", "-d", "1"],
    ["trace", "tracepoint:syscalls:sys_enter_openat { @ = count(); } interval:s:3 { exit(); }"],
    ["trace", "-l", "tracepoint:sched:*"],
]


def run_as_user(argv: list[str], env: dict[str, str] | None = None
                ) -> subprocess.CompletedProcess:
    assert NOBODY is not None
    code = AS_USER.replace("GID", str(NOBODY.pw_gid)).replace("UID", str(NOBODY.pw_uid))
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                          env=env or child_env(), cwd=ROOT, timeout=120)


def _real_tracefs() -> str:
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            if len(parts) > 2 and parts[2] == "tracefs":
                return parts[1]
    pytest.skip("tracefs is not mounted")


def _check(res: subprocess.CompletedProcess, argv: list[str], path: str) -> None:
    name = argv[0]
    assert res.returncode == 1, (res.returncode, res.stdout[-500:], res.stderr[-2000:])
    assert no_traceback(res.stderr), res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    line = lines[0]
    assert line.startswith(f"pybpf {name}: cannot read tracefs: {path} is mode "), line
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert f"is mode {mode:04o}, owned by root:" in line, line
    assert f"runs as uid {NOBODY.pw_uid} ({NOBODY.pw_name})" in line, line
    assert "run as root, or " in line, line
    assert "running as root" not in res.stdout + res.stderr
    assert not res.stdout.strip(), res.stdout  # no header of a tool that traces nothing


@pytest.mark.skipif(NOBODY is None, reason="no user 'nobody' to run as")
@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(a)[:40] for a in COMMANDS])
def test_unreadable_tracefs_is_said(argv: list[str]) -> None:
    root = _real_tracefs()
    if os.stat(root).st_mode & stat.S_IXOTH:
        pytest.skip(f"{root} is open to other users here: nothing to show")
    res = run_as_user(argv)
    _check(res, argv, root)
    assert "mount -o remount,gid=" in res.stderr and f",mode=750 {root})" in res.stderr


@pytest.fixture
def closed_tracefs():
    """A folder with an events/ inside, root's and mode 0700, named by PYBPF_TRACEFS: the same
    situation whatever the mode of this machine's tracefs."""
    path = tempfile.mkdtemp(prefix="pybpf-tracefs-")
    os.mkdir(os.path.join(path, "events"))
    os.chmod(path, 0o700)
    try:
        yield path
    finally:
        shutil.rmtree(path)


@pytest.mark.skipif(NOBODY is None, reason="no user 'nobody' to run as")
@pytest.mark.parametrize("argv", COMMANDS[:4] + COMMANDS[-2:],
                         ids=[" ".join(a)[:40] for a in COMMANDS[:4] + COMMANDS[-2:]])
def test_unreadable_tracefs_named_by_the_environment(closed_tracefs: str, argv: list[str]
                                                     ) -> None:
    res = run_as_user(argv, dict(child_env(), PYBPF_TRACEFS=closed_tracefs))
    _check(res, argv, closed_tracefs)


@pytest.mark.skipif(NOBODY is None, reason="no user 'nobody' to run as")
def test_tool_list_and_features_say_why_tracepoints_are_missing(closed_tracefs: str) -> None:
    env = dict(child_env(), PYBPF_TRACEFS=closed_tracefs)
    res = run_as_user(["tools"], env)
    assert res.returncode == 0 and no_traceback(res.stderr), res
    opensnoop = next(line for line in res.stdout.splitlines() if line.startswith("opensnoop "))
    assert "(tracefs is not readable by this user)" in opensnoop, opensnoop
    res = run_as_user(["features"], env)
    assert res.returncode == 0 and no_traceback(res.stderr), res
    assert f"  tracepoint: cannot read tracefs: {closed_tracefs} is mode 0700" in res.stdout


LIBRARY_USE = """
from pybpf import bpf
from pybpf.compiler.errors import CompileError
@bpf.tracepoint("syscalls:sys_enter_openat")
def prog(ctx):
    return 0
try:
    prog.load()
except CompileError as e:
    print(e)
"""


@pytest.mark.skipif(NOBODY is None, reason="no user 'nobody' to run as")
def test_library_says_tracefs_is_unreadable_not_that_the_tracepoint_is_unknown(
        closed_tracefs: str) -> None:
    # the compiler reads the function's source, so the program is a file the user may read
    with tempfile.NamedTemporaryFile("w", suffix=".py", prefix="pybpf-lib-") as f:
        f.write(LIBRARY_USE)
        f.flush()
        os.chmod(f.name, 0o644)
        code = AS_USER.replace("GID", str(NOBODY.pw_gid)).replace("UID", str(NOBODY.pw_uid))
        code = code.replace("from pybpf.cli import main\nsys.exit(main(sys.argv[1:]))\n",
                            f"exec(compile(open({f.name!r}).read(), {f.name!r}, 'exec'))\n")
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=dict(child_env(), PYBPF_TRACEFS=closed_tracefs), cwd=ROOT,
                             timeout=120)
    assert no_traceback(res.stderr), res.stderr
    assert "cannot look up tracepoint syscalls:sys_enter_openat: cannot read tracefs: " \
        f"{closed_tracefs} is mode 0700" in res.stdout, (res.stdout, res.stderr)
    assert "unknown tracepoint" not in res.stdout


@pytest.mark.skipif(NOBODY is None, reason="no user 'nobody' to run as")
def test_one_liner_says_tracefs_is_unreadable(closed_tracefs: str) -> None:
    res = run_as_user(["trace", "tracepoint:syscalls:sys_enter_openat { @ = count(); }"],
                      dict(child_env(), PYBPF_TRACEFS=closed_tracefs))
    assert res.returncode != 0 and no_traceback(res.stderr), res
    assert "cannot read tracefs" in res.stderr and "unknown tracepoint" not in res.stderr, \
        res.stderr
