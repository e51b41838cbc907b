"""compactsnoop: a child writes 1 to /proc/sys/vm/compact_memory, a synchronous compaction
(order -1) of every populated zone, done by the child itself in the write."""

from __future__ import annotations

import argparse
import re
import subprocess

from tests.tools.helpers import gated, json_lines, release, run_tool
from tests.util import requires_root

pytestmark = requires_root
COMPACT = "open('/proc/sys/vm/compact_memory', 'w').write('1')\n"
HEAD = ["COMM", "PID", "NODE", "ZONE", "ORDER", "MODE", "LAT(ms)", "STATUS"]


def _populated_zones() -> set[str]:
    """ZONE_<NAME> of the zones with pages (those compact_memory compacts)."""
    text = open("/proc/zoneinfo").read()
    zones = set()
    for m in re.finditer(r"^Node \d+, zone\s+(\S+)\n(.*?)(?=^Node |\Z)", text, re.M | re.S):
        present = re.search(r"^\s+present\s+(\d+)", m.group(2), re.M)
        if present and int(present.group(1)) > 0:
            zones.add(f"ZONE_{m.group(1).upper()}")
    return zones


def test_compactsnoop_rows() -> None:
    from pybpf.tools.compactsnoop import STATUS

    child = gated(COMPACT)
    rc, out, err = run_tool(["compactsnoop", "-T", "-d", "3"], lambda: release(child))
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["TIME(s)", *HEAD]
    rows = [ln.split() for ln in lines[1:] if ln.split()[2:3] == [str(child.pid)]]
    assert rows, out
    assert {r[4] for r in rows} == _populated_zones()
    for r in rows:
        assert r[5:7] == ["-1", "SYNC"] and float(r[7]) >= 0 and r[8] in STATUS, r


def test_compactsnoop_json_pid_extended_stack() -> None:
    sleeper = subprocess.Popen(["sleep", "20"])
    try:
        # -p names another process: the child's compaction is not shown
        child = gated(COMPACT)
        rc, out, err = run_tool(["compactsnoop", "--json", "-p", str(sleeper.pid), "-d", "2"],
                                lambda: release(child))
        assert rc == 0, err
        assert json_lines(out) == []
    finally:
        sleeper.kill()
        sleeper.wait()
    child = gated(COMPACT)
    rc, out, err = run_tool(["compactsnoop", "--json", "-e", "-K", "-p", str(child.pid),
                             "-d", "3"], lambda: release(child))
    assert rc == 0, err
    rows = json_lines(out)
    assert rows and {r["pid"] for r in rows} == {child.pid}
    assert {r["zone"] for r in rows} == _populated_zones()
    for r in rows:
        assert r["comm"] and r["order"] == -1 and r["mode"] == "SYNC"
        assert 0 < r["min"] <= r["low"] <= r["high"] and r["free"] >= 0
        assert any(f.startswith("compact_node") for f in r["kernel_stack"]), r


def test_compactsnoop_without_the_tracepoints(monkeypatch, capsys) -> None:
    """A kernel without the compaction tracepoints: one line, exit 1."""
    from pybpf import cli_tools
    from pybpf.tools import compactsnoop

    monkeypatch.setattr(compactsnoop, "BEGIN", "mm_compaction_no_such_begin")
    args = argparse.Namespace(pid=None, extended_fields=False, kernel_stack=False, json=False,
                              timestamp=False, duration=1.0)
    assert cli_tools._guarded("compactsnoop", compactsnoop.run)(args) == 1
    captured = capsys.readouterr()
    assert captured.err == ("pybpf compactsnoop: this kernel has no raw tracepoint "
                            "mm_compaction_no_such_begin, which this tool needs.\n")
    assert captured.out == ""


def test_compactsnoop_bad_arguments() -> None:
    rc, out, err = run_tool(["compactsnoop", "-p", "abc"], ready=False)
    assert rc == 2 and "usage:" in err
    rc, out, err = run_tool(["compactsnoop", "-d", "-1"], ready=False)
    assert rc == 2
