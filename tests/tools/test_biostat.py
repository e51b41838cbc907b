"""biostat: a child's O_DIRECT writes show as its own row, on its disk."""

from __future__ import annotations

from tests.tools.helpers import ROOT, gated, json_lines, release, run_tool
from tests.util import requires_root

pytestmark = requires_root
WRITER = (f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n"
          "from tests.tools.disk_io import direct_writes\nprint(direct_writes(count=64))\n")


def test_biostat_table() -> None:
    import subprocess

    child = gated(WRITER, stdout=subprocess.PIPE)
    rc, out, err = run_tool(["biostat", "-C", "-p", str(child.pid), "2.5", "1"],
                            lambda: release(child))
    disk = child.stdout.read().decode().strip()
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "Tracing... Output every 2.5 secs. Hit Ctrl-C to end"
    head = next(i for i, ln in enumerate(lines) if ln.startswith("PID "))
    assert " loadavg: " in lines[head - 2]
    assert lines[head].split() == ["PID", "COMM", "D", "MAJ", "MIN", "DISK", "I/O", "Kbytes",
                                   "AVGms"]
    rows = [ln.split() for ln in lines[head + 1:] if ln.strip()]
    writes = [r for r in rows if r[0] == str(child.pid) and r[2] == "W" and r[5] == disk]
    assert writes and int(writes[0][6]) >= 64 and int(writes[0][7]) >= 256


def test_biostat_json() -> None:
    import subprocess

    child = gated(WRITER, stdout=subprocess.PIPE)
    rc, out, err = run_tool(["biostat", "-p", str(child.pid), "--json", "2.5", "1"],
                            lambda: release(child))
    assert rc == 0, err
    rows = [r for r in json_lines(out) if r["pid"] == child.pid and r["d"] == "W"]
    assert rows and rows[0]["io"] >= 64 and rows[0]["avg_ms"] >= 0 and rows[0]["comm"]
