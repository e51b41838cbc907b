"""tcpdrop: real drops on loopback. A SYN to a port that is bound but not listening is
dropped by tcp_v4_rcv/tcp_v6_rcv with NO_SOCKET (after the RST is sent); data sent to a
socket whose peer has shut down reading is dropped with TCP_ABORT_ON_DATA, with the
socket known (its state CLOSE: the reset closed it)."""

from __future__ import annotations

import re
import socket
import time

from tests.tools.helpers import json_lines, run_tool
from tests.util import requires_root

pytestmark = requires_root


def _closed_port(family: int = socket.AF_INET) -> tuple[socket.socket, str, int]:
    """A socket bound to a port and not listening: connections to it find no socket."""
    host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
    s = socket.socket(family)
    s.bind((host, 0))
    return s, host, s.getsockname()[1]


def _syn_to(host: str, port: int) -> int:
    """Connect (refused); the client's port."""
    c = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    with c:
        try:
            c.connect((host, port))
        except ConnectionRefusedError:
            pass
        return c.getsockname()[1]


def _drops(out: str) -> list[tuple[list[str], list[str]]]:
    """(row fields, stack frames) of every drop printed."""
    out_rows: list[tuple[list[str], list[str]]] = []
    for line in out.splitlines()[1:]:
        if line.startswith("\t"):
            out_rows[-1][1].append(line.strip())
        elif line:
            out_rows.append((line.split(), []))
    return out_rows


def test_tcpdrop_no_socket_row_and_stack() -> None:
    bound, host, port = _closed_port()
    sport: list[int] = []
    with bound:
        rc, out, err = run_tool(["tcpdrop", "--duration", "2"],
                                lambda: sport.append(_syn_to(host, port)))
    assert rc == 0, err
    assert out.splitlines()[0].split() == ["TIME", "PID", "IP", "SADDR:SPORT", ">",
                                           "DADDR:DPORT", "STATE", "(FLAGS)", "REASON",
                                           "(CODE)"]
    mine = [(r, st) for r, st in _drops(out) if r[5] == f"{host}:{port}"]
    assert mine, out
    row, frames = mine[0]
    assert row[2:5] == ["4", f"{host}:{sport[0]}", ">"]
    assert row[6:9] == ["-", "(SYN)", "NO_SOCKET"] and re.fullmatch(r"\(\d+\)", row[9])
    assert any(f.startswith("tcp_v4_rcv+0x") for f in frames), frames


def test_tcpdrop_json_socket_state_and_reason() -> None:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    port = srv.getsockname()[1]
    cl = socket.create_connection(("127.0.0.1", port))
    conn, _ = srv.accept()
    cport = cl.getsockname()[1]

    def cause() -> None:
        conn.shutdown(socket.SHUT_RDWR)  # FIN_WAIT2, reading shut down
        time.sleep(0.2)
        cl.send(b"too late")  # data after that: reset, and the segment dropped

    with srv, cl, conn:
        rc, out, err = run_tool(["tcpdrop", "-4", "--json", "--duration", "2"], cause)
    assert rc == 0, err
    mine = [r for r in json_lines(out) if r["dport"] == port]
    assert mine, out
    row = mine[0]
    assert row["reason"] == "TCP_ABORT_ON_DATA" and row["flags"] == "PSH|ACK"
    assert row["state"] == "CLOSE" and row["ip"] == 4
    assert row["saddr"] == row["daddr"] == "127.0.0.1"
    assert row["sport"] == cport
    assert row["kernel_stack"] and "tcp" in " ".join(row["kernel_stack"])


def test_tcpdrop_ipv6_only() -> None:
    b4, h4, p4 = _closed_port()
    b6, h6, p6 = _closed_port(socket.AF_INET6)

    def cause() -> None:
        _syn_to(h4, p4)
        _syn_to(h6, p6)

    with b4, b6:
        rc, out, err = run_tool(["tcpdrop", "-6", "--json", "--duration", "2"], cause)
    assert rc == 0, err
    rows = json_lines(out)
    assert {r["ip"] for r in rows} == {6}, out
    mine = [r for r in rows if r["dport"] == p6]
    assert mine and mine[0]["daddr"] == "::1" and mine[0]["reason"] == "NO_SOCKET"
    assert mine[0]["state"] == "-" and mine[0]["flags"] == "SYN"


def test_tcpdrop_bad_arguments() -> None:
    for argv in (["-4", "-6"], ["--duration", "0"], ["-x"]):
        rc, out, err = run_tool(["tcpdrop", *argv], ready=False)
        assert rc == 2, (argv, err)
        assert "error:" in err and "Traceback" not in err
