"""The tools on kernel functions, on a kernel that has fentry/fexit and kprobes (Debian 12's
6.1 in the VM): tcpconnect (forced to kprobes) and tcpaccept (fexit) on a loopback connection
in a child's own network namespace, filelife on a file this test creates and deletes,
vfsstat counting this test's reads, funclatency do_sys_openat2 counting a child's opens
(funccount the same opens when funclatency is not run),
oomkill (forced to kprobes) in a small memory cgroup. On a kernel without the hooks each
test is skipped with the reason pybpf.features gives (tests/tools checks the fallbacks).

    ../shared/vm/run-in-vm --rw "$PWD" -- python3 -m pytest tests/vm/test_tools_vm.py -q
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from pybpf import features
from tests.tools.helpers import ToolRun, gated, json_lines, release
from tests.util import requires_root
from tests.vm import FULL

pytestmark = requires_root
READY = 120.0  # seconds for a tool to compile and attach under emulation


def _needs(*hooks: str) -> pytest.MarkDecorator:
    missing = [h for h in hooks if not features.has(h)]
    return pytest.mark.skipif(bool(missing), reason="; ".join(
        str(features.why_missing(h)) for h in missing))


HOG = "chunks = []\nwhile True:\n    chunks.append(bytearray(1 << 20))\n"
LOOPBACK = """
import socket, subprocess
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen()
cl = socket.create_connection(srv.getsockname())
conn, _ = srv.accept()
print(srv.getsockname()[1], cl.getsockname()[1], flush=True)
conn.close(); cl.close(); srv.close()
"""
N_READS, N_OPENS = 3000, 40
FILE = f"pybpf-filelife-{uuid.uuid4().hex[:12]}"


def _memcg_v2() -> str | None:
    try:
        with open("/sys/fs/cgroup/cgroup.controllers") as f:
            if "memory" in f.read().split():
                return None
    except OSError:
        pass
    return "no cgroup v2 memory controller at /sys/fs/cgroup"


@contextlib.contextmanager
def _memory_cgroup(limit: int) -> Iterator[str | None]:
    if _memcg_v2() is not None or not features.has("kprobe"):
        yield None
        return
    with open("/sys/fs/cgroup/cgroup.subtree_control", "w") as f:
        f.write("+memory")
    path = f"/sys/fs/cgroup/pybpf-oom-{os.getpid()}"
    os.mkdir(path)
    try:
        for name, value in (("memory.max", limit), ("memory.swap.max", 0)):
            with contextlib.suppress(OSError), open(f"{path}/{name}", "w") as f:
                f.write(str(value))
        yield path
    finally:
        deadline = time.monotonic() + 10
        while True:
            try:
                os.rmdir(path)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[str, Any]]:
    """Every tool this kernel can run, started together (one wait for all to compile and
    attach under emulation), then every event caused, then Ctrl-C: {tool: (rc, out, err)},
    with the ports, pids and file name the tests expect."""
    if not (features.has("kprobe") or features.has("fentry")):
        pytest.skip(str(features.why_missing("kprobe")))
    found: dict[str, Any] = {}
    argvs: dict[str, list[str]] = {"filelife": ["filelife", "-v"]}
    if FULL:  # a second fentry tool, fexit (the link tests cover it too): see conftest.py
        argvs["vfsstat"] = ["vfsstat", "-v", "--json", "1"]
        argvs["tcpaccept"] = ["tcpaccept", "-v", "-4"]
    if features.has("kprobe") and features.has("kretprobe"):
        argvs["tcpconnect"] = ["tcpconnect", "-v", "--hook", "kprobe", "--json"]
    opener = gated(f"import os\nfor _ in range({N_OPENS}):\n"
                   "    os.close(os.open('/dev/null', 0))\n")
    if FULL:
        argvs["funclatency"] = ["funclatency", "-v", "--json", "-u", "-p", str(opener.pid),
                                "do_sys_openat2"]
    else:  # the same opens, counted by funccount on a kernel function
        argvs["funccount"] = ["funccount", "--json", "-p", str(opener.pid), "do_sys_openat2"]
    fd = os.open("/proc/self/exe", os.O_RDONLY)
    with _memory_cgroup(32 << 20) if FULL else contextlib.nullcontext() as cg:
        hog = None
        if cg is not None:
            join = f"open({cg + '/cgroup.procs'!r}, 'w').write(str(__import__('os').getpid()))\n"
            hog = gated(join + HOG)
            argvs["oomkill"] = ["oomkill", "-v", "--hook", "kprobe", "--json"]
        tools = {name: ToolRun(argv) for name, argv in argvs.items()}
        try:
            for r in tools.values():
                r.wait_ready(timeout=READY)
            out = subprocess.run(["unshare", "-n", sys.executable, "-c", LOOPBACK], check=True,
                                 capture_output=True, text=True, timeout=60).stdout
            found["ports"] = [int(p) for p in out.split()]
            path = os.path.join("/tmp", FILE)
            with open(path, "w") as f:
                f.write("x")
            time.sleep(0.3)
            os.unlink(path)
            for _ in range(N_READS):
                os.pread(fd, 16, 0)
            release(opener)
            if hog is not None:
                release(hog)
                found["hog"] = hog
            time.sleep(0.5)
            for r in tools.values():
                r.proc.send_signal(signal.SIGINT)
            found.update({name: r.finish(timeout=60) for name, r in tools.items()})
        finally:
            os.close(fd)
            for child in (opener, hog):
                if child is not None and child.poll() is None:
                    child.kill()
                    child.wait()
            for r in tools.values():
                if r.proc.poll() is None:
                    r.proc.kill()
                    r.proc.wait()
    found["opener"] = opener
    yield found


def _result(runs: dict[str, Any], tool: str) -> tuple[int, str, str]:
    if tool not in runs:
        pytest.skip(f"{tool} was not run here")
    rc, out, err = runs[tool]
    assert rc == 0, err
    return rc, out, err


@_needs("kprobe", "kretprobe")
def test_tcpconnect_kprobe_loopback(runs: dict[str, Any]) -> None:
    _, out, err = _result(runs, "tcpconnect")
    assert "tcpconnect: using kprobe tcp_v4_connect/tcp_v6_connect" in err
    sport, cport = runs["ports"]
    row = next(r for r in json_lines(out) if r["dport"] == sport)
    assert (row["daddr"], row["saddr"], row["lport"], row["ip"]) == (
        "127.0.0.1", "127.0.0.1", cport, 4)


@pytest.mark.vm_full
@_needs("fexit")
def test_tcpaccept_fexit_loopback(runs: dict[str, Any]) -> None:
    _, out, err = _result(runs, "tcpaccept")
    assert "tcpaccept: using fexit inet_csk_accept" in err
    sport, cport = runs["ports"]
    lines = out.splitlines()
    assert lines[0].split() == ["PID", "COMM", "IP", "RADDR", "RPORT", "LADDR", "LPORT"]
    assert any(ln.split()[2:] == ["4", "127.0.0.1", str(cport), "127.0.0.1", str(sport)]
               for ln in lines[1:]), out


@_needs("fentry")
def test_filelife_sees_a_short_lived_file(runs: dict[str, Any]) -> None:
    _, out, err = _result(runs, "filelife")
    assert "filelife: using fentry vfs_create/security_inode_create/vfs_unlink" in err
    lines = out.splitlines()
    assert lines[0].split() == ["TIME", "PID", "COMM", "AGE(s)", "FILE"]
    row = next(ln.split() for ln in lines[1:] if ln.endswith(" " + FILE))
    assert int(row[1]) == os.getpid() and 0.25 <= float(row[3]) < 30


@pytest.mark.vm_full
@_needs("fentry")
def test_vfsstat_counts_reads(runs: dict[str, Any]) -> None:
    _, out, err = _result(runs, "vfsstat")
    assert "vfsstat: using fentry vfs_read/" in err
    rows = json_lines(out)
    assert rows and set(rows[0]) >= {"time", "read_s", "write_s", "fsync_s", "open_s",
                                     "create_s"}
    assert sum(r["read"] for r in rows) >= N_READS


@pytest.mark.vm_full
@_needs("fentry", "fexit")
def test_funclatency_counts_opens(runs: dict[str, Any]) -> None:
    _, out, err = _result(runs, "funclatency")
    assert "funclatency: using fentry/fexit do_sys_openat2" in err
    rows = json_lines(out)
    assert sum(r["count"] for r in rows) == N_OPENS, rows


def test_funccount_counts_opens_on_a_kernel_function(runs: dict[str, Any]) -> None:
    _, out, err = _result(runs, "funccount")
    rows = json_lines(out)
    assert [r["func"] for r in rows] == ["do_sys_openat2"], (rows, err)
    assert rows[0]["count"] == N_OPENS, rows


@pytest.mark.vm_full
@_needs("kprobe")
@pytest.mark.skipif(_memcg_v2() is not None, reason=str(_memcg_v2()))
def test_oomkill_kprobe_in_a_memory_cgroup(runs: dict[str, Any]) -> None:
    _, out, err = _result(runs, "oomkill")
    hog = runs["hog"]
    assert hog.returncode == -9
    assert "oomkill: using kprobe oom_kill_process" in err
    rows = [r for r in json_lines(out) if r["pid"] == hog.pid]
    assert rows and rows[0]["triggered_pid"] == hog.pid and rows[0]["pages"] > 0, out
