"""syscount -L: counts with total latency per syscall, in bcc's layout (us, or ms with -m)."""

from __future__ import annotations

from tests.tools.helpers import gated, release, run_tool
from tests.util import requires_root

pytestmark = requires_root
# 200 nanosleep() calls of 1 ms: at least 200 ms in total
SLEEPER = "import time\nfor _ in range(200):\n    time.sleep(0.001)\n"


def test_syscount_latency_columns() -> None:
    child = gated(SLEEPER)
    rc, out, err = run_tool(["syscount", "-L", "-m", "-p", str(child.pid), "-d", "2.5"],
                            lambda: release(child))
    assert rc == 0, err
    lines = out.splitlines()
    head = lines.index(f"{'SYSCALL':<22} {'COUNT':>8} {'TIME (ms)':>16}")
    rows = {ln.split()[0]: (int(ln.split()[1]), float(ln.split()[2]))
            for ln in lines[head + 1:] if ln.strip()}
    name = "clock_nanosleep" if "clock_nanosleep" in rows else "nanosleep"
    count, ms = rows[name]
    assert count == 200 and 200 <= ms < 2000
