"""funccount: a child calls getppid() a known number of times, counted at the system call's
tracepoint and at libc's function (a uprobe); patterns that match nothing, and kernel
functions where this kernel has no kprobes, are one line and exit 1."""

from __future__ import annotations

import os

from tests.tools.helpers import gated, json_lines, release, run_tool
from tests.util import requires_root

pytestmark = requires_root
CALLS = 321
CALLER = f"import os\nfor _ in range({CALLS}):\n    os.getppid()\n"


def test_funccount_tracepoint_exact_count_for_a_pid() -> None:
    child = gated(CALLER)
    rc, out, err = run_tool(["funccount", "-p", str(child.pid), "-d", "15",
                             "t:syscalls:sys_enter_getppid"], lambda: release(child))
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == ('Tracing 1 functions for "t:syscalls:sys_enter_getppid"... '
                        "Hit Ctrl-C to end.")
    assert lines[1] == ""
    assert lines[2] == f"{'FUNC':<36} {'COUNT':>8}"
    assert lines[3] == f"{'syscalls:sys_enter_getppid':<36} {CALLS:>8}"
    assert lines[4:] == ["Detaching..."]


def test_funccount_uprobe_on_libc_counts_the_calls() -> None:
    child = gated(CALLER)
    # u:lib:pattern: a wildcard whose aliases (getppid, __getppid) are one function
    rc, out, err = run_tool(["funccount", "-p", str(child.pid), "-d", "15", "--json",
                             "u:c:*getppid"], lambda: release(child))
    assert rc == 0, err
    (row,) = json_lines(out)
    assert row["func"] == "getppid" and row["count"] == CALLS
    assert os.path.basename(row["binary"]).startswith("libc")
    child = gated(CALLER)
    rc, out, err = run_tool(["funccount", "-p", str(child.pid), "-d", "15", "-r",
                             "c:^getppid$"], lambda: release(child))
    assert rc == 0, err
    assert f"{'getppid':<36} {CALLS:>8}" in out.splitlines()


def test_funccount_bad_patterns_are_one_line() -> None:
    from pybpf import features

    for pattern in ("t:no_such_group:no_such_event", "c:no_such_function_here", "x:y:z"):
        rc, out, err = run_tool(["funccount", "-d", "1", pattern], ready=False)
        assert rc == 1 and out == ""
        assert err.startswith("pybpf funccount: ") and len(err.splitlines()) == 1, err
    if not (features.has("kprobe") or features.has("fentry")):
        rc, _, err = run_tool(["funccount", "-d", "1", "vfs_read"], ready=False)
        assert rc == 1 and len(err.splitlines()) == 1 and "kprobes" in err, err
    rc, _, err = run_tool(["funccount", "--no-such-flag", "c:malloc"], ready=False)
    assert rc == 2 and "Traceback" not in err
