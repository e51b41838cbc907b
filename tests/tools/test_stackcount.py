"""stackcount: a child calls getppid() a known number of times; its stacks at the system
call's tracepoint (by process with -P, folded with -f and -p) and at libc's getppid (a
uprobe) carry its comm and at least that many events."""

from __future__ import annotations

import os
import time

from tests.tools.helpers import ToolRun, comm_of, gated, json_lines, release, run_tool
from tests.util import requires_root

pytestmark = requires_root
CALLS = 257
CALLER = f"import os\nfor _ in range({CALLS}):\n    os.getppid()\n"


def _blocks(out: str) -> list[list[str]]:
    """The multi-line stacks: frames, the "comm [pid]" line, the count (blank-separated)."""
    body = [ln for ln in out.splitlines()[1:] if ln != "Detaching..."]
    blocks, cur = [], []
    for ln in body:
        if ln:
            cur.append(ln)
        elif cur:
            blocks.append(cur)
            cur = []
    return blocks + ([cur] if cur else [])


def _attached(run: ToolRun, timeout: float = 10.0) -> None:
    """Wait until the tool has attached (folded output prints nothing before its summary):
    a perf event or BPF link among its file descriptors."""
    deadline = time.monotonic() + timeout
    fds = f"/proc/{run.proc.pid}/fd"
    while time.monotonic() < deadline:
        try:
            names = {os.readlink(f"{fds}/{fd}") for fd in os.listdir(fds)}
        except OSError:
            names = set()
        if names & {"anon_inode:bpf_link", "anon_inode:[perf_event]"}:
            time.sleep(0.3)
            return
        if run.proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"stackcount did not attach: {run.finish()}")


def test_stackcount_tracepoint_per_process() -> None:
    child = gated(CALLER)
    comm = comm_of(child.pid)
    rc, out, err = run_tool(["stackcount", "-P", "-K", "-D", "2",
                             "t:syscalls:sys_enter_getppid"], lambda: release(child))
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == ('Tracing 1 functions for "t:syscalls:sys_enter_getppid"... '
                        "Hit Ctrl-C to end.")
    assert lines[-1] == "Detaching..."
    mine = [b for b in _blocks(out) if b[-2] == f"    {comm} [{child.pid}]"]
    assert len(mine) == 1, out  # -K: one kernel stack for every call
    frames, count = mine[0][:-2], int(mine[0][-1])
    assert count >= CALLS
    assert frames and all(f.startswith("  ") and not f.startswith("   ") for f in frames)
    assert any("syscall" in f.lower() for f in frames), frames


def test_stackcount_folded_for_a_pid() -> None:
    child = gated(CALLER)
    comm = comm_of(child.pid)
    run = ToolRun(["stackcount", "-f", "-p", str(child.pid), "-D", "15",
                   "t:syscalls:sys_enter_getppid"])
    try:
        _attached(run)
        release(child)
        rc, out, err = run.finish()
    finally:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait()
    assert rc == 0, err
    lines = out.splitlines()
    assert lines and "Tracing" not in out and "Detaching..." not in out
    # comm;user frames root first;kernel frames root first count
    folded = [ln.rsplit(" ", 1) for ln in lines]
    assert all(len(f) == 2 and f[1].isdigit() and ";" in f[0] for f in folded), lines
    assert all(f[0].startswith(f"{comm};") for f in folded), lines
    assert sum(int(n) for _, n in folded) >= CALLS


def test_stackcount_uprobe_json() -> None:
    child = gated(CALLER)
    rc, out, err = run_tool(["stackcount", "-U", "-p", str(child.pid), "-D", "15", "--json",
                             "c:getppid"], lambda: release(child))
    assert rc == 0, err
    rows = json_lines(out)
    assert rows and all(r["pid"] == child.pid and r["kernel_stack"] == [] for r in rows)
    assert sum(r["count"] for r in rows) >= CALLS
    rc, out, err = run_tool(["stackcount", "t:no_such_group:no_such_event"], ready=False)
    assert rc == 1 and out == "" and err.startswith("pybpf stackcount: ")
    assert len(err.splitlines()) == 1, err
    rc, _, err = run_tool(["stackcount", "-K", "-U", "c:malloc"], ready=False)
    assert rc == 2 and "Traceback" not in err
