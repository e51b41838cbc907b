"""tcpstates, tcpconnect, tcpaccept and tcpretrans over loopback and over a veth pair
between two network namespaces, IPv4 and IPv6."""

from __future__ import annotations

import os
import socket
import time

import pytest

from tests import netns
from tests.tools.helpers import ToolRun, json_lines
from tests.util import requires_root

pytestmark = [requires_root, pytest.mark.skipif(netns.available() is not None,
                                                reason=str(netns.available()))]


def _run_all(argvs: list[list[str]], cause) -> list[tuple[int, str, str]]:
    """Start several tools, wait until each traces, cause the events, collect all outputs."""
    runs = [ToolRun(a) for a in argvs]
    try:
        for r in runs:
            r.wait_ready()
        cause()
        return [r.finish() for r in runs]
    finally:
        for r in runs:
            if r.proc.poll() is None:
                r.proc.kill()
                r.proc.wait()


def _exchange(server_ns: str | None, client_ns: str | None, host: str, family: int
              ) -> tuple[int, int]:
    """One connection from client_ns to host in server_ns (None: this namespace); returns
    (server port, client port)."""
    with netns.enter_netns(server_ns) if server_ns else _nothing():
        srv = socket.socket(family)
    with netns.enter_netns(client_ns) if client_ns else _nothing():
        cl = socket.socket(family)
    with srv, cl:
        srv.bind((host, 0))
        srv.listen()
        port = srv.getsockname()[1]
        cl.connect((host, port))
        conn, _ = srv.accept()
        with conn:
            cl.sendall(b"hello")
            conn.recv(10)
        return port, cl.getsockname()[1]


class _nothing:  # noqa: N801 - a null context manager that reads like enter_netns
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_connect_accept_states_loopback_and_veth() -> None:
    me = str(os.getpid())
    flows: list[tuple[str, int, int, int]] = []

    def cause() -> None:
        with netns.veth_pair() as net:
            for host, fam in (("127.0.0.1", socket.AF_INET), ("::1", socket.AF_INET6)):
                flows.append((host, fam, *_exchange(None, None, host, fam)))
            for host, fam in ((net.ip4_b, socket.AF_INET), (net.ip6_b, socket.AF_INET6)):
                flows.append((host, fam, *_exchange(net.ns_b, net.ns_a, host, fam)))
            time.sleep(0.3)

    (rc1, out1, err1), (rc2, out2, err2), (rc3, out3, err3), (rc4, out4, err4) = _run_all(
        [["tcpconnect", "-p", me, "--json", "--duration", "3"],
         ["tcpaccept", "-p", me, "--json", "--duration", "3"],
         ["tcpstates", "--json", "--duration", "3"],
         ["tcpconnect", "-L", "-p", me, "--duration", "3"]], cause)
    for rc, err in ((rc1, err1), (rc2, err2), (rc3, err3), (rc4, err4)):
        assert rc == 0, err
    connects = json_lines(out1)
    accepts = json_lines(out2)
    states = json_lines(out3)
    assert len(flows) == 4
    for host, fam, sport, cport in flows:
        ip = 6 if fam == socket.AF_INET6 else 4
        assert {"daddr": host, "dport": sport, "ip": ip, "pid": os.getpid()}.items() <= \
            next(c for c in connects if c["dport"] == sport).items()
        acc = next(a for a in accepts if a["lport"] == sport)
        assert (acc["raddr"], acc["rport"], acc["laddr"], acc["ip"]) == (
            host if host in ("127.0.0.1", "::1") else
            ("198.18.0.1" if ip == 4 else "2001:2::1"), cport, host, ip)
        mine = [s for s in states if cport in (s["lport"], s["rport"]) and
                sport in (s["lport"], s["rport"])]
        assert ("SYN_SENT", "ESTABLISHED") in [(s["oldstate"], s["newstate"]) for s in mine
                                               if s["lport"] == cport]
        assert any(s["rport"] == sport and s["lport"] == 0 and s["raddr"] == host and
                   (s["oldstate"], s["newstate"]) == ("CLOSE", "SYN_SENT") for s in states)
        assert ("SYN_RECV", "ESTABLISHED") in [(s["oldstate"], s["newstate"]) for s in mine
                                               if s["lport"] == sport]
    lines = out4.splitlines()
    assert lines[0].split() == ["PID", "COMM", "IP", "SADDR", "LPORT", "DADDR", "DPORT"]
    rows = [ln.split() for ln in lines[1:]]
    assert [(r[4], r[6]) for r in rows] == [(str(c), str(s)) for _, _, s, c in flows]


def test_tcpstates_text_layout() -> None:
    def cause() -> None:
        _exchange(None, None, "127.0.0.1", socket.AF_INET)
        time.sleep(0.3)

    ((rc, out, err),) = _run_all([["tcpstates", "-L", "0", "--duration", "2"]], cause)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["SKADDR", "C-PID", "C-COMM", "LADDR", "LPORT", "RADDR", "RPORT",
                                "OLDSTATE", "->", "NEWSTATE", "MS"]
    assert any(ln.split()[7:10] == ["CLOSE", "->", "SYN_SENT"] for ln in lines[1:])


def _retransmit(net: netns.VethPair) -> None:
    """Connections whose peer disappears: veth (B's link down) over IPv4 and IPv6, and
    loopback inside namespace A (lo down)."""
    socks = []
    targets = [(net.ns_b, net.ns_a, net.ip4_b, socket.AF_INET),
               (net.ns_b, net.ns_a, net.ip6_b, socket.AF_INET6),
               (net.ns_a, net.ns_a, "127.0.0.1", socket.AF_INET)]
    for server_ns, client_ns, host, fam in targets:
        with netns.enter_netns(server_ns):
            srv = socket.socket(fam)
        with netns.enter_netns(client_ns):
            cl = socket.socket(fam)
        srv.bind((host, 0))
        srv.listen()
        cl.connect((host, srv.getsockname()[1]))
        conn, _ = srv.accept()
        socks += [srv, cl, conn]
    netns.ip("link", "set", net.if_b, "down", ns=net.ns_b)
    netns.ip("link", "set", "lo", "down", ns=net.ns_a)
    for s in socks[1::3]:
        s.send(b"x" * 100)
    time.sleep(1.2)
    for s in socks:
        s.close()


def test_tcpretrans_veth_and_loopback() -> None:
    def cause() -> None:
        with netns.veth_pair() as net:
            _retransmit(net)

    (rc, out, err), (rc2, out2, err2) = _run_all(
        [["tcpretrans", "--json", "--duration", "3"], ["tcpretrans", "--duration", "3"]], cause)
    assert rc == 0, err
    assert rc2 == 0, err2
    rows = json_lines(out)
    remotes = {r["raddr"] for r in rows}  # address and port apart
    assert {"198.18.0.2", "2001:2::2", "127.0.0.1"} <= remotes, rows
    assert all(isinstance(r["rport"], int) and r["rport"] > 0 for r in rows), rows
    assert all(r["type"] == "R" and r["state"] for r in rows)
    lines = out2.splitlines()
    assert lines[1].split() == ["TIME", "PID", "IP", "LADDR:LPORT", "T>", "RADDR:RPORT",
                                "STATE"]
    assert any(" R> 198.18.0.2:" in ln for ln in lines[2:])
