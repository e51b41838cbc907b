"""The readers on this host's own /proc, over an interval with known work in it."""

from __future__ import annotations

import os
import socket
import time

from pybpf.hoststats import kmsg
from pybpf.hoststats.sample import Sample
from tests.util import requires_root


def test_real_host_sections_see_work() -> None:
    s = Sample.take()
    end = time.monotonic() + 0.6
    while time.monotonic() < end:  # this process busy on a CPU
        pass
    a, b = socket.socketpair()  # (loopback interface traffic comes from TCP below)
    srv = socket.create_server(("127.0.0.1", 0))
    cl = socket.create_connection(srv.getsockname())
    conn, _ = srv.accept()
    cl.sendall(b"x" * 200_000)
    got = 0
    while got < 200_000:
        got += len(conn.recv(1 << 16))
    for sock in (a, b, cl, conn, srv):
        sock.close()
    r = s.finish()
    assert r["interval_s"] > 0.5
    me = next(p for p in r["processes_cpu"]["rows"] if p["pid"] == os.getpid())
    assert me["cpu_pct"] > 30
    assert len(r["cpu"]["per_cpu"]) == os.cpu_count()
    assert r["load"]["tasks"] > 0 and r["memory"]["total_mib"] > 0
    lo = next(i for i in r["interfaces"] if i["iface"] == "lo")
    assert lo["rxkb_per_s"] > 100
    assert r["tcp"]["active_per_s"] > 0 and r["tcp"]["passive_per_s"] > 0


@requires_root
def test_real_kmsg_is_readable_as_root() -> None:
    with open("/dev/kmsg", "w") as f:
        f.write("<4>pybpf-hoststats-test warning\n")
    got = kmsg.read()
    assert any(m["message"].endswith("pybpf-hoststats-test warning") and m["level"] == 4
               for m in got)
