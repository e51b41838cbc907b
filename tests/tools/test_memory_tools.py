"""oomkill and drsnoop: children in a small memory cgroup that allocate until killed, or
write a file larger than the limit (reclaim)."""

from __future__ import annotations

import pytest

from tests.tools import memcg
from tests.tools.helpers import gated, json_lines, release, run_tool
from tests.util import requires_root

pytestmark = [requires_root, pytest.mark.skipif(memcg.available() is not None,
                                                reason=str(memcg.available()))]
HOG = "chunks = []\nwhile True:\n    chunks.append(bytearray(1 << 20))\n"
WRITER = ("import os\nwith open('/var/tmp/pybpf-drsnoop-{pid}', 'wb') as f:\n"
          "    for _ in range(96):\n        f.write(os.urandom(1 << 20))\n"
          "os.unlink('/var/tmp/pybpf-drsnoop-{pid}')\n")


def test_oomkill_reports_the_victim() -> None:
    with memcg.memory_cgroup(48 << 20) as cg:
        child = gated(memcg.join_code(cg) + HOG)
        rc, out, err = run_tool(["oomkill", "--duration", "3"], lambda: release(child))
        rc2, out2, err2 = 0, "", ""
        child2 = gated(memcg.join_code(cg) + HOG)
        rc2, out2, err2 = run_tool(["oomkill", "--json", "--duration", "3"],
                                   lambda: release(child2))
    assert child.returncode == -9 and child2.returncode == -9
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "Tracing OOM kills... Ctrl-C to stop."
    mine = [ln for ln in lines[1:] if f"OOM kill of PID {child.pid} (" in ln]
    assert mine and f"Triggered by PID {child.pid} (" in mine[0]
    assert " pages, loadavg: " in mine[0]
    assert rc2 == 0, err2
    rows = [r for r in json_lines(out2) if r["pid"] == child2.pid]
    assert rows and rows[0]["triggered_pid"] == child2.pid and rows[0]["pages"] > 0


def test_drsnoop_sees_reclaim_in_a_cgroup() -> None:
    with memcg.memory_cgroup(24 << 20) as cg:
        child = gated(memcg.join_code(cg) + WRITER.replace("{pid}", "x"))
        rc, out, err = run_tool(["drsnoop", "-p", str(child.pid), "--json", "-d", "3"],
                                lambda: release(child))
    assert child.returncode == 0
    assert rc == 0, err
    rows = json_lines(out)
    assert rows and all(r["pid"] == child.pid for r in rows)
    assert sum(r["pages"] for r in rows) > 0 and all(r["lat_ms"] >= 0 for r in rows)
    assert {r["kind"] for r in rows} <= {"direct", "memcg"}
