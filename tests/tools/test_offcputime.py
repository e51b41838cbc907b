from __future__ import annotations

import subprocess
import sys

from tests.tools.helpers import comm_of, json_lines, run_tool
from tests.util import requires_root

pytestmark = requires_root
SLEEPER = "import time\nfor _ in range(200):\n    time.sleep(0.05)\n"


def test_offcputime_folded_shows_the_sleep() -> None:
    child = subprocess.Popen([sys.executable, "-c", SLEEPER])
    comm = comm_of(child.pid)
    try:
        rc, out, err = run_tool(["offcputime", "-f", "-p", str(child.pid), "1.5"], ready=False)
    finally:
        child.kill()
        child.wait()
    assert rc == 0, err
    lines = [ln for ln in out.splitlines() if ln.strip()]
    sleeping = [ln for ln in lines if "nanosleep" in ln]
    assert sleeping, out
    stack, us = sleeping[-1].rsplit(" ", 1)
    assert stack.startswith(f"{comm};")
    frames = stack.split(";")
    assert frames[-1] in ("__schedule", "schedule")  # the tracing frames are dropped
    total = sum(int(ln.rsplit(" ", 1)[1]) for ln in sleeping)
    assert 500_000 <= total <= 1_600_000  # ~1.5 s of 50 ms sleeps, in microseconds


def test_offcputime_json_kernel_stacks() -> None:
    child = subprocess.Popen([sys.executable, "-c", SLEEPER])
    try:
        rc, out, err = run_tool(["offcputime", "-K", "--json", "-p", str(child.pid), "1"])
    finally:
        child.kill()
        child.wait()
    assert rc == 0, err
    rows = json_lines(out)
    assert rows and all(r["pid"] == child.pid and r["user_stack"] == [] for r in rows)
    assert any(any("nanosleep" in f for f in r["kernel_stack"]) for r in rows)
