from __future__ import annotations

import subprocess
import sys

from tests.tools.helpers import ROOT, json_lines, run_tool
from tests.util import requires_root

pytestmark = requires_root


def _load(family: str, nbytes: int) -> subprocess.Popen[str]:
    """The TCP exchange, started once the tool is attached (run_tool's `cause`), so that a
    slow start of the tool on a busy machine cannot miss it."""
    return subprocess.Popen([sys.executable, str(ROOT / "tests/tools/tcp_load.py"), family,
                             str(nbytes), "0"], stdout=subprocess.PIPE, text=True)


def _run(*loads: tuple[str, int]) -> list[subprocess.Popen[str]]:
    children = [_load(fam, n) for fam, n in loads]
    for c in children:
        c.wait()
    return children


def test_tcplife_sessions_with_bytes() -> None:
    started: list[subprocess.Popen[str]] = []
    rc, out, err = run_tool(["tcplife", "--duration", "3"],
                            lambda: started.extend(_run(("4", 300_000))))
    assert rc == 0, err
    (child,) = started
    sport, cport = (int(x) for x in child.stdout.read().split())
    lines = out.splitlines()
    assert lines[0].split() == ["PID", "COMM", "LADDR", "LPORT", "RADDR", "RPORT", "TX_KB",
                                "RX_KB", "MS"]
    rows = {(int(f[3]), int(f[5])): f for f in (ln.split() for ln in lines[1:])}
    client = rows[(cport, sport)]
    server = rows[(sport, cport)]
    assert client[0] == str(child.pid) and server[0] == str(child.pid)
    assert client[2] == client[4] == "127.0.0.1"
    assert int(client[7]) == 292 and int(client[6]) == 0  # 300000 bytes received
    assert int(server[6]) == 292 and int(server[7]) == 0
    assert 150 <= float(client[8]) < 3000


def test_tcplife_ipv6_json_filters() -> None:
    started: list[subprocess.Popen[str]] = []
    rc, out, err = run_tool(["tcplife", "-6", "--json", "--duration", "3"],
                            lambda: started.extend(_run(("6", 50_000), ("4", 1000))))
    assert rc == 0, err
    child, _child4 = started
    sport, cport = (int(x) for x in child.stdout.read().split())
    rows = json_lines(out)
    assert rows and all(r["ip"] == 6 for r in rows)
    client = next(r for r in rows if r["lport"] == cport and r["rport"] == sport)
    assert client["laddr"] == "::1" and client["rx_bytes"] >= 50_000
    assert client["pid"] == child.pid and client["active"]
