from __future__ import annotations

from tests.tools.helpers import gated, json_lines, release, run_tool
from tests.util import requires_root

pytestmark = requires_root
# 3000 getppid() calls (a syscall nothing else makes often), then exit
CALLER = "import os\nfor _ in range(3000):\n    os.getppid()\n"


def test_syscount_counts_our_syscalls() -> None:
    child = gated(CALLER)
    rc, out, err = run_tool(["syscount", "-p", str(child.pid), "-d", "2.5"], lambda: release(child))
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "Tracing syscalls, printing top 10... Ctrl+C to quit."
    head = lines.index("SYSCALL                   COUNT")
    rows = {ln.split()[0]: int(ln.split()[1]) for ln in lines[head + 1:] if ln.strip()}
    assert rows["getppid"] == 3000


def test_syscount_latency_process_json() -> None:
    child = gated(CALLER)
    rc, out, err = run_tool(["syscount", "-L", "-P", "-T", "10000", "--json", "-d", "2.5"], lambda: release(child))
    assert rc == 0, err
    rows = json_lines(out)
    mine = [r for r in rows if r["pid"] == child.pid]
    assert mine and mine[0]["count"] >= 3000 and mine[0]["total_us"] > 0


def test_syscount_list() -> None:
    rc, out, _ = run_tool(["syscount", "-l"], ready=False)
    assert rc == 0 and "getppid" in out and "openat" in out
