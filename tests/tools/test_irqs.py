"""softirqs and hardirqs: loopback traffic raises NET_RX softirqs; disk writes with fsync
raise the disk's interrupts."""

from __future__ import annotations

import os
import socket
import tempfile

from tests.tools.helpers import json_lines, run_tool
from tests.util import requires_root

pytestmark = requires_root


def _loopback_udp(n: int = 200) -> None:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with rx, tx:
        rx.bind(("127.0.0.1", 0))
        for _ in range(n):
            tx.sendto(b"x" * 64, rx.getsockname())
            rx.recv(100)


def _disk_writes() -> None:
    with tempfile.NamedTemporaryFile(dir="/var/tmp") as f:
        for _ in range(20):
            f.write(os.urandom(65536))
            f.flush()
            os.fsync(f.fileno())


def test_softirqs_totals_and_counts() -> None:
    rc, out, err = run_tool(["softirqs", "2", "1"], _loopback_udp)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "Tracing soft irq event time... Hit Ctrl-C to end."
    head = lines.index("SOFTIRQ          TOTAL_usecs")
    rows = {ln.split()[0]: int(ln.split()[1]) for ln in lines[head + 1:] if ln.strip()}
    assert "net_rx" in rows and set(rows) <= {"hi", "timer", "net_tx", "net_rx", "block",
                                              "irq_poll", "tasklet", "sched", "hrtimer", "rcu"}
    rc, out, err = run_tool(["softirqs", "-C", "-d", "--json", "2", "1"], _loopback_udp)
    assert rc == 0, err
    net = [r for r in json_lines(out) if r["softirq"] == "net_rx"]
    assert net and sum(b["count"] for b in net[0]["buckets"]) >= 50


def test_hardirqs_sees_the_disk_interrupts() -> None:
    rc, out, err = run_tool(["hardirqs", "-C", "2", "1"], _disk_writes)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "Tracing hard irq event count... Hit Ctrl-C to end."
    head = lines.index(f"{'HARDIRQ':<26} {'TOTAL_count':>11}")
    rows = [ln.rsplit(None, 1) for ln in lines[head + 1:] if ln.strip()]
    assert rows and all(int(n) > 0 for _, n in rows)
    assert sum(int(n) for _, n in rows) >= 20
    rc, out, err = run_tool(["hardirqs", "--json", "2", "1"], _disk_writes)
    assert rc == 0, err
    rows2 = json_lines(out)
    assert rows2 and all(r["count"] > 0 and r["total_usecs"] >= 0 for r in rows2)
