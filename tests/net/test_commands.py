"""The packet commands as a user runs them (`pybpf xdp-filter/xdp-stats/pktcount` in a
subprocess inside namespace B): counters in the JSON output, and on SIGINT/SIGTERM a clean
exit with the interface left without an XDP program."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from tests import netns
from tests.net import traffic as T
from tests.util import requires_root

pytestmark = [requires_root]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAIN = "import sys; from pybpf.cli import main; sys.exit(main())"
N = 4


@pytest.fixture
def veth():
    reason = netns.available()
    if reason:
        pytest.skip(reason)
    with netns.veth_pair("pbc") as net:
        T.static_neighbours(net)
        yield net


def _start(net: netns.VethPair, *args: str) -> subprocess.Popen[str]:
    p = subprocess.Popen(["ip", "netns", "exec", net.ns_b, sys.executable, "-c", MAIN, *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    first = p.stderr.readline()  # with --json the "Hit Ctrl-C" line goes to stderr
    if "Hit Ctrl-C" not in first:
        p.kill()
        out, err = p.communicate(timeout=10)
        pytest.fail(f"command did not start: {first}{err}{out}")
    return p


def _stop(p: subprocess.Popen[str], sig: int) -> list[dict]:
    p.send_signal(sig)
    try:
        out, err = p.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        pytest.fail("command did not exit after the signal")
    assert p.returncode == 0, err
    assert "Traceback" not in err
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _has_xdp(net: netns.VethPair) -> bool:
    out = netns.ip("link", "show", "dev", net.if_b, ns=net.ns_b).stdout
    return "xdp" in out or "prog/xdp" in out


def test_xdp_filter_command(veth):
    p = _start(veth, "xdp-filter", veth.if_b, "--drop", "198.18.0.0/24", "9000/udp",
               "--interval", "0.2", "--json")
    try:
        assert _has_xdp(veth)
        assert T.udp(veth, N, 7100) == 0
        assert T.udp(veth, N, 9000, ipv6=True) == 0
        assert T.udp(veth, N, 9001, ipv6=True) == N
    finally:
        lines = _stop(p, signal.SIGINT)
    assert not _has_xdp(veth)
    rules = {r["rule"]: r for r in lines[-1]["rules"]}
    assert rules["src 198.18.0.0/24"]["packets"] == N
    assert rules["src 198.18.0.0/24"]["bytes"] == N * T.UDP4_FRAME
    assert rules["dport 9000/udp"]["packets"] == N
    assert rules["passed"]["packets"] >= N
    assert T.udp(veth, N, 7100) == N


def test_xdp_stats_command_sigterm(veth):
    p = _start(veth, "xdp-stats", veth.if_b, "--interval", "0.2", "--json")
    try:
        assert T.udp(veth, N, 7101) == N
        assert len(T.ping(veth, 2)) == 2
    finally:
        lines = _stop(p, signal.SIGTERM)
    assert not _has_xdp(veth)
    rows = {(r["protocol"], r["action"]): r for r in lines[-1]["rows"]}
    assert rows[("UDP/IPv4", "PASS")]["packets"] == N
    assert rows[("ICMP", "PASS")]["packets"] == 2


def test_xdp_stats_text_output(veth):
    p = subprocess.Popen(["ip", "netns", "exec", veth.ns_b, sys.executable, "-c", MAIN,
                          "xdp-stats", veth.if_b, "--mode", "skb", "--duration", "0.6",
                          "--interval", "0.3"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, cwd=ROOT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert "Counting on" in out and "PROTOCOL" in out
    assert not _has_xdp(veth)


def test_pktcount_command(veth):
    p = _start(veth, "pktcount", "--iface", veth.if_b, "--interval", "0.2", "--json")
    try:
        assert T.udp(veth, N, 7102) == N
    finally:
        lines = _stop(p, signal.SIGINT)
    rows = {(r["protocol"], r["direction"]): r for r in lines[-1]["rows"]}
    assert rows[("UDP/IPv4", "in")]["packets"] == N
    assert rows[("UDP/IPv4", "in")]["bytes"] == N * T.UDP4_FRAME


def test_errors_are_one_line(veth):
    r = veth.run(veth.ns_b, sys.executable, "-c", MAIN, "xdp-stats", "nosuchif0",
                 "--duration", "1", timeout=30)
    assert r.returncode == 1
    assert r.stderr.startswith("pybpf xdp-stats:") and "Traceback" not in r.stderr
    r = veth.run(veth.ns_b, sys.executable, "-c", MAIN, "xdp-filter", veth.if_b, "--drop",
                 "not-a-net", timeout=30)
    assert r.returncode == 2 and "neither a CIDR" in r.stderr
