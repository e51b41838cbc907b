"""cpudist and runqlen: a child that sleeps 5 ms 100 times; three spinners on one CPU."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.tools.helpers import gated, json_lines, release, run_tool
from tests.util import requires_root

pytestmark = requires_root
SLEEPER = "import time\nfor _ in range(100):\n    time.sleep(0.005)\n"
SPINNER = ("import os, time\nos.sched_setaffinity(0, {0})\nt = time.time()\n"
           "while time.time() - t < 3.5:\n    pass\n")


def test_cpudist_on_cpu_per_process() -> None:
    child = gated(SLEEPER)
    rc, out, err = run_tool(["cpudist", "-P", "-p", str(child.pid), "2.5", "1"],
                            lambda: release(child))
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "Tracing on-CPU time... Hit Ctrl-C to end."
    assert [ln for ln in lines if ln.startswith("pid = ")] == [f"pid = {child.pid}"]
    head = lines.index(f"pid = {child.pid}") + 1
    assert lines[head] == "     usecs               : count     distribution"
    assert sum(int(ln.split(":")[1].split()[0]) for ln in lines[head + 1:] if "->" in ln) >= 100


def test_cpudist_off_cpu_json() -> None:
    child = gated(SLEEPER)
    rc, out, err = run_tool(["cpudist", "-O", "-p", str(child.pid), "--json", "2.5", "1"],
                            lambda: release(child))
    assert rc == 0, err
    (row,) = json_lines(out)
    assert row["what"] == "off-cpu" and row["unit"] == "usecs"
    # 5 ms sleeps: most off-CPU intervals in [4096, 8191] usecs
    near = sum(b["count"] for b in row["buckets"] if b["low"] == 4096)
    assert near >= 80, row


def test_runqlen_sees_a_queue_on_a_busy_cpu() -> None:
    spinners: list[subprocess.Popen] = []

    def cause() -> None:
        spinners.extend(subprocess.Popen([sys.executable, "-c", SPINNER]) for _ in range(3))

    try:
        rc, out, err = run_tool(["runqlen", "-C", "--json", "3", "1"], cause)
    finally:
        for s in spinners:
            s.wait()
    assert rc == 0, err
    rows = {r["cpu"]: r for r in json_lines(out)}
    assert set(rows) == set(range(len(os.sched_getaffinity(0)))) or 0 in rows
    cpu0 = rows[0]
    assert cpu0["samples"] >= 150  # 99 Hz for 3 s
    assert cpu0["runqocc"] >= 50, cpu0  # two of the three spinners wait on CPU 0
    rc, out, _ = run_tool(["runqlen", "1", "1"])
    assert rc == 0 and out.splitlines()[2] == "     runqlen       : count     distribution"
