"""mountsnoop: a child in its own mount namespace mounts a tmpfs, fails one mount and
unmounts."""

from __future__ import annotations

import os
import tempfile

from tests.tools.helpers import gated, json_lines, release, run_tool
from tests.util import requires_root

pytestmark = requires_root
MOUNTER = """
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
assert libc.unshare(0x00020000) == 0
assert libc.mount(None, b"/", None, (1 << 14) | (1 << 18), None) == 0
d = sys.argv[1].encode()
assert libc.mount(b"pybpfmnt", d, b"tmpfs", 2 | 8, b"size=1m") == 0
libc.mount(b"pybpfmnt", b"/nonexistent-pybpf-dir", b"tmpfs", 0, None)
assert libc.umount2(d, 2) == 0
"""


def test_mountsnoop_prints_the_calls() -> None:
    with tempfile.TemporaryDirectory() as d:
        child = gated(MOUNTER, d)
        rc, out, err = run_tool(["mountsnoop", "-p", str(child.pid), "--duration", "2"],
                                lambda: release(child))
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["COMM", "PID", "TID", "MNT_NS", "CALL"]
    calls = [ln.split(None, 4)[4] for ln in lines[1:]]
    assert f'mount("pybpfmnt", "{d}", "tmpfs", MS_NOSUID|MS_NOEXEC, "size=1m") = 0' in calls
    assert 'mount("pybpfmnt", "/nonexistent-pybpf-dir", "tmpfs", 0x0, "") = -ENOENT' in calls
    assert f'umount("{d}", MNT_DETACH) = 0' in calls
    ns = {ln.split()[3] for ln in lines[1:]}
    assert len(ns) == 1 and ns != {str(os.stat("/proc/self/ns/mnt").st_ino)}


def test_mountsnoop_json() -> None:
    with tempfile.TemporaryDirectory() as d:
        child = gated(MOUNTER, d)
        rc, out, err = run_tool(["mountsnoop", "-p", str(child.pid), "--json", "--duration",
                                 "2"], lambda: release(child))
    assert rc == 0, err
    rows = json_lines(out)
    assert [(r["call"], r["ret"]) for r in rows] == [("mount", 0), ("mount", 0), ("mount", -2),
                                                 ("umount", 0)]
    assert rows[1]["fstype"] == "tmpfs" and rows[1]["target"] == d and rows[1]["pid"] == child.pid
