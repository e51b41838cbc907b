"""tcprtt: a TCP connection on loopback exchanges data both ways while the tool traces,
filtered on the test's ports; the histogram must count that connection's RTT samples."""

from __future__ import annotations

import re
import socket

from tests.tools.helpers import ToolRun, json_lines, run_tool
from tests.util import requires_root

pytestmark = requires_root


def _server(family: int = socket.AF_INET) -> socket.socket:
    srv = socket.socket(family)
    srv.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
    srv.listen()
    return srv


def _exchange(srv: socket.socket, rounds: int = 20) -> int:
    """Connect to `srv`, send 100 bytes each way `rounds` times; the client's port."""
    host, port = srv.getsockname()[:2]
    with socket.create_connection((host, port)) as cl:
        conn, _ = srv.accept()
        with conn:
            for _ in range(rounds):
                cl.sendall(b"x" * 100)
                assert len(conn.recv(100, socket.MSG_WAITALL)) == 100
                conn.sendall(b"y" * 100)
                assert len(cl.recv(100, socket.MSG_WAITALL)) == 100
        return cl.getsockname()[1]


def _counts(out: str) -> int:
    """The sum of the counts of every histogram row in bcc's layout."""
    return sum(int(m.group(1)) for m in re.finditer(r"-> \d+\s+: (\d+)\s+\|", out))


def test_tcprtt_local_port_histogram_with_average() -> None:
    with _server() as srv:
        port = srv.getsockname()[1]
        rc, out, err = run_tool(["tcprtt", "-p", str(port), "-e", "-d", "2"],
                                lambda: _exchange(srv))
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "Tracing TCP RTT... Hit Ctrl-C to end."
    (head,) = [ln for ln in lines if ln.startswith("All Addresses")]
    assert re.fullmatch(r"All Addresses = \*{7} \[AVG \d+\]", head), head
    assert any(ln.split() == ["usecs", ":", "count", "distribution"] for ln in lines)
    # the server's socket receives 20 data segments (and the final ACK of the handshake
    # is not an established receive): at least one sample per data segment
    assert _counts(out) >= 20, out


def test_tcprtt_filters_exclude_other_ports() -> None:
    """Two runs at once: filtered on the exchange's port (counts) and on an idle port
    (nothing), so the empty one is the filter's doing, not a tool that saw nothing."""
    with _server() as srv, _server() as idle:
        runs = [ToolRun(["tcprtt", "-p", str(s.getsockname()[1]), "-d", "2"])
                for s in (srv, idle)]
        try:
            for r in runs:
                r.wait_ready()
            _exchange(srv)
            (rc, out, err), (rc2, out2, err2) = [r.finish() for r in runs]
        finally:
            for r in runs:
                if r.proc.poll() is None:
                    r.proc.kill()
                    r.proc.wait()
    assert rc == 0 and rc2 == 0, err + err2
    assert _counts(out) >= 20, out
    assert "All Addresses" not in out2 and _counts(out2) == 0, out2


def test_tcprtt_json_by_remote_address() -> None:
    with _server() as srv:
        port = srv.getsockname()[1]
        # the client's socket: its remote port is the server's
        rc, out, err = run_tool(["tcprtt", "-P", str(port), "-B", "-m", "--json", "-d", "2"],
                                lambda: _exchange(srv))
    assert rc == 0, err
    (row,) = json_lines(out)
    assert row["raddr"] == "127.0.0.1" and row["unit"] == "msecs"
    assert sum(b["count"] for b in row["buckets"]) >= 20  # loopback: all in 0 -> 1 ms
    assert row["buckets"][0]["low"] == 0


def test_tcprtt_ipv6_by_local_address() -> None:
    with _server(socket.AF_INET6) as srv:
        port = srv.getsockname()[1]
        rc, out, err = run_tool(["tcprtt", "-6", "-b", "-a", "::1", "-p", str(port), "-i", "1",
                                 "-d", "2"], lambda: _exchange(srv))
    assert rc == 0, err
    assert "Local Address = ::1" in out.splitlines()
    assert _counts(out) >= 20, out


def test_tcprtt_bad_arguments() -> None:
    for argv in (["-p", "70000"], ["-a", "not-an-address"], ["-b", "-B"], ["-4", "-6"]):
        rc, out, err = run_tool(["tcprtt", *argv], ready=False)
        assert rc == 2, (argv, err)
        assert "error:" in err and "Traceback" not in err
