"""threadsnoop: a Python child starts two threading.Threads (pthread_create in libc) and one
thread through ctypes whose start routine is libc's getppid, so that FUNC has a known name."""

from __future__ import annotations

import subprocess

from tests.tools.helpers import comm_of, gated, json_lines, release, run_tool
from tests.util import requires_root

pytestmark = requires_root
# two Python threads, then pthread_create(&t, NULL, getppid, NULL) and its join; the child
# stays a while so that the tool can read its mappings for the start routine's name
THREADS = """
import ctypes, threading, time
for _ in range(2):
    t = threading.Thread(target=time.sleep, args=(0.01,))
    t.start()
    t.join()
libc = ctypes.CDLL("libc.so.6")
libc.pthread_create.argtypes = [ctypes.POINTER(ctypes.c_ulong), ctypes.c_void_p,
                                ctypes.c_void_p, ctypes.c_void_p]
libc.pthread_join.argtypes = [ctypes.c_ulong, ctypes.c_void_p]
th = ctypes.c_ulong()
assert libc.pthread_create(ctypes.byref(th), None, ctypes.cast(libc.getppid, ctypes.c_void_p),
                           None) == 0
libc.pthread_join(th.value, None)
time.sleep(1.5)
"""


def _child() -> tuple[subprocess.Popen, str]:
    child = gated(THREADS)
    return child, comm_of(child.pid)


def test_threadsnoop_rows() -> None:
    child, comm = _child()
    rc, out, err = run_tool(["threadsnoop", "--duration", "2"], lambda: release(child))
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["TIME(ms)", "PID", "COMM", "FUNC"]
    rows = [ln.split() for ln in lines[1:]]
    mine = [r for r in rows if r[1] == str(child.pid)]
    assert len(mine) == 3, out
    assert all(r[0].isdigit() and r[2] == comm for r in mine)
    assert mine[-1][3] == "getppid"


def test_threadsnoop_pid_filter_json() -> None:
    child, comm = _child()
    other = gated(THREADS)

    def cause() -> None:
        release(other, wait=False)
        release(child)
        other.wait()

    rc, out, err = run_tool(["threadsnoop", "-p", str(child.pid), "--json", "--duration", "2"],
                            cause)
    assert rc == 0, err
    rows = json_lines(out)
    assert [r["pid"] for r in rows] == [child.pid] * 3  # nothing of `other`
    assert {r["comm"] for r in rows} == {comm}
    assert rows[-1]["func"] == "getppid" and rows[-1]["start"].startswith("0x")
    assert rows[0]["time_ms"] == 0 and all(r["time_ms"] >= 0 for r in rows)


def test_threadsnoop_bad_library() -> None:
    rc, out, err = run_tool(["threadsnoop", "-l", "/nonexistent/libc.so.6"], ready=False)
    assert rc == 1 and out == ""
    assert err.strip().splitlines() == ["pybpf threadsnoop: binary '/nonexistent/libc.so.6' "
                                        "does not exist"]
