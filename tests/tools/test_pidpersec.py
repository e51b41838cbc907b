"""pidpersec: a child forks a known number of processes while the tool counts; the counts of
the intervals add up to at least that many (other processes on the machine only add)."""

from __future__ import annotations

import re

from tests.tools.helpers import gated, json_lines, release, run_tool
from tests.util import requires_root

pytestmark = requires_root
FORKER = ("import os, sys\nn = int(sys.argv[1])\nfor _ in range(n):\n    p = os.fork()\n"
          "    if p == 0:\n        os._exit(0)\n    os.waitpid(p, 0)\n")
LINE = re.compile(r"^\d\d:\d\d:\d\d: PIDs/sec: (\d+)$")


def test_pidpersec_counts_the_forks() -> None:
    child = gated(FORKER, "300")
    rc, out, err = run_tool(["pidpersec", "1", "3"], lambda: release(child))
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "Tracing... Ctrl-C to end."
    counts = [LINE.match(ln) for ln in lines[1:]]
    assert len(counts) == 3 and all(counts), lines
    assert sum(int(m.group(1)) for m in counts if m) >= 300


def test_pidpersec_json() -> None:
    child = gated(FORKER, "1000")
    rc, out, err = run_tool(["pidpersec", "--json", "1", "4"], lambda: release(child))
    assert rc == 0, err
    rows = json_lines(out)
    assert len(rows) == 4
    assert all(r["pids_per_sec"] == r["pids"] for r in rows)  # 1 second intervals
    assert sum(r["pids"] for r in rows) >= 1000


def test_pidpersec_bad_arguments() -> None:
    rc, out, err = run_tool(["pidpersec", "0"], ready=False)
    assert rc == 2 and "usage:" in err
    rc, out, err = run_tool(["pidpersec", "--bogus"], ready=False)
    assert rc == 2 and "unrecognized arguments: --bogus" in err
