from __future__ import annotations

import subprocess
import sys

from tests.tools.helpers import ROOT, comm_of, json_lines, run_tool
from tests.util import requires_root

pytestmark = requires_root


def _load(family: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(ROOT / "tests/tools/tcp_load.py"), family,
                             "1000"], stdout=subprocess.PIPE, text=True)


def test_tcptracer_connect_accept_close() -> None:
    child = _load("4")
    comm = comm_of(child.pid)
    rc, out, err = run_tool(["tcptracer", "--duration", "3"], child.wait)
    assert rc == 0, err
    sport, cport = (int(x) for x in child.stdout.read().split())
    lines = out.splitlines()
    assert lines[0] == "Tracing TCP established connections. Ctrl-C to end."
    assert lines[1].split() == ["T", "PID", "COMM", "IP", "SADDR", "DADDR", "SPORT", "DPORT"]
    rows = [ln.split() for ln in lines[2:]]
    mine = [r for r in rows if {int(r[6]), int(r[7])} == {sport, cport}]
    kinds = sorted(r[0] for r in mine)
    assert kinds == ["A", "C", "X", "X"]
    connect = next(r for r in mine if r[0] == "C")
    assert connect[1:6] == [str(child.pid), comm, "4", "127.0.0.1", "127.0.0.1"]
    assert [int(connect[6]), int(connect[7])] == [cport, sport]
    accept = next(r for r in mine if r[0] == "A")
    assert accept[1] == str(child.pid) and int(accept[6]) == sport


def test_tcptracer_ipv6_json() -> None:
    child = _load("6")
    rc, out, err = run_tool(["tcptracer", "-6", "--json", "--duration", "3"], child.wait)
    assert rc == 0, err
    sport, cport = (int(x) for x in child.stdout.read().split())
    rows = [r for r in json_lines(out) if {r["sport"], r["dport"]} == {sport, cport}]
    assert sorted(r["type"] for r in rows) == ["A", "C", "X", "X"]
    assert all(r["ip"] == 6 and r["saddr"] == "::1" for r in rows)
