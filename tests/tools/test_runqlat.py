from __future__ import annotations

from tests.tools.helpers import gated, json_lines, release, run_tool
from tests.util import requires_root

pytestmark = requires_root
SLEEPER = "import time\nfor _ in range(200):\n    time.sleep(0.005)\n"


def test_runqlat_per_process() -> None:
    child = gated(SLEEPER)
    rc, out, err = run_tool(["runqlat", "-P", "-p", str(child.pid), "3", "1"], lambda: release(child))
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "Tracing run queue latency... Hit Ctrl-C to end."
    assert f"pid = {child.pid}" in lines
    assert lines[lines.index(f"pid = {child.pid}") + 1] == \
        "     usecs               : count     distribution"
    sections = [ln for ln in lines if ln.startswith("pid = ")]
    assert sections == [f"pid = {child.pid}"]  # -p filters


def test_runqlat_json_counts_wakeups() -> None:
    child = gated(SLEEPER)
    rc, out, err = run_tool(["runqlat", "-P", "-p", str(child.pid), "--json", "3", "1"],
                            lambda: release(child))
    assert rc == 0, err
    (row,) = json_lines(out)
    assert row["pid"] == child.pid and row["unit"] == "usecs"
    assert sum(b["count"] for b in row["buckets"]) >= 200
