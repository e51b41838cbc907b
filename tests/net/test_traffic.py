"""Real traffic between two namespaces joined by veth (198.18.0.0/15, 2001:2::/48): drops,
passes and counters of xdp-filter, xdp-stats, pktcount and the examples, IPv4 and IPv6,
and the XDP_TX reflector answering pings. Neighbour entries are static, so the counted
traffic is exactly what the test sends (spontaneous ICMPv6 from link-local addresses is
never asserted on)."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

from pybpf.netprogs.pktcount import PktCount
from pybpf.netprogs.xdp_filter import XdpFilter, parse_rule
from pybpf.netprogs.xdp_stats import XdpStats
from tests import netns
from tests.net import packets as P
from tests.net import traffic as T
from tests.util import requires_root

pytestmark = [requires_root, pytest.mark.usefixtures("no_leaks")]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
N = 5


@pytest.fixture
def veth():
    reason = netns.available()
    if reason:
        pytest.skip(reason)
    with netns.veth_pair("pbn") as net:
        T.static_neighbours(net)
        yield net


def _example(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _attach(prog_or_obj, net, **kw):
    with netns.enter_netns(net.ns_b):
        return prog_or_obj.attach(net.if_b, **kw)


@pytest.mark.parametrize("mode", ["auto", "skb"])
def test_filter_drops_ipv4_cidr_and_counts(veth, mode):
    rules = [parse_rule("198.18.0.1/32"), parse_rule("198.19.0.0/16")]
    with XdpFilter(rules) as flt:
        _attach(flt, veth, mode=mode)
        assert T.udp(veth, N, 7000) == 0
        assert T.udp(veth, N, 7000, ipv6=True) == N  # IPv6 from A is not listed
        c = flt.counters()
        assert c[1] == (N, N * T.UDP4_FRAME)
        assert c[2] == (0, 0)
        assert c[0][0] >= N  # the IPv6 datagrams (and any link-local ICMPv6)
    assert T.udp(veth, N, 7000) == N  # detached on close


def test_filter_drops_ipv6_cidr(veth):
    rules = [parse_rule("2001:2::/64"), parse_rule("2001:2:0:1::/64")]
    with XdpFilter(rules) as flt:
        _attach(flt, veth)
        assert T.udp(veth, N, 7001, ipv6=True) == 0
        assert T.udp(veth, N, 7001) == N
        c = flt.counters()
        assert c[1] == (N, N * T.UDP6_FRAME)
        assert c[2] == (0, 0)
        assert c[0][0] >= N


def test_filter_drops_ports(veth):
    rules = [parse_rule("5353/udp"), parse_rule("8080")]
    with XdpFilter(rules) as flt:
        _attach(flt, veth)
        assert T.udp(veth, N, 5353) == 0
        assert T.udp(veth, N, 5353, ipv6=True) == 0
        assert T.udp(veth, N, 5354) == N
        assert T.udp(veth, N, 8080, ipv6=True) == 0
        assert not T.tcp_connect(veth, 8080)  # the SYN is dropped (retried only after 1 s)
        assert T.tcp_connect(veth, 8081)
        c = flt.counters()
        assert c[1] == (2 * N, N * (T.UDP4_FRAME + T.UDP6_FRAME))
        assert c[2] == (N + 1, N * T.UDP6_FRAME + 14 + 60)  # TCP SYN: 20 IP + 40 TCP
    # with options: mss, sack, timestamps, wscale


def test_stats_counts_per_protocol(veth):
    with XdpStats() as st:
        _attach(st, veth)
        assert T.udp(veth, N, 7002) == N
        assert T.udp(veth, 3, 7002, ipv6=True) == 3
        assert len(T.ping(veth, 4)) == 4
        assert T.tcp_connect(veth, 7003, ipv6=True)
        c = st.counts()
        assert c[("UDP/IPv4", "PASS")] == (N, N * T.UDP4_FRAME)
        assert c[("UDP/IPv6", "PASS")] == (3, 3 * T.UDP6_FRAME)
        assert c[("ICMP", "PASS")] == (4, 4 * (14 + 20 + 8 + len(T.PAYLOAD)))
        assert c[("TCP/IPv6", "PASS")][0] >= 3
        assert ("TCP/IPv4", "PASS") not in c and ("ARP", "PASS") not in c
        assert all(action == "PASS" for _, action in c)


def test_pktcount_counts_in_and_out(veth):
    with netns.enter_netns(veth.ns_b):
        pc = PktCount(veth.if_b)
        try:
            pc.attach()
        except BaseException:
            pc.close()
            raise
    with pc:
        assert T.udp(veth, N, 7004) == N
        assert len(T.ping(veth, 2, ipv6=True)) == 2
        deadline = time.monotonic() + 2
        while pc.counts().get(("IPv6", 58, "out"), (0, 0))[0] < 2 \
                and time.monotonic() < deadline:
            time.sleep(0.02)
        c = pc.counts()
        assert c[("IPv4", 17, "in")] == (N, N * T.UDP4_FRAME)
        assert ("IPv4", 17, "out") not in c
        echo6 = 14 + 40 + 8 + len(T.PAYLOAD)
        assert c[("IPv6", 58, "out")] == (2, 2 * echo6)  # B's kernel replies
        assert c[("IPv6", 58, "in")][0] >= 2


def test_reflector_answers_pings(veth):
    # B's kernel stays silent: every reply comes from the XDP program
    with netns.enter_netns(veth.ns_b):
        for path in ("/proc/sys/net/ipv4/icmp_echo_ignore_all",
                     "/proc/sys/net/ipv6/icmp/echo_ignore_all"):
            with open(path, "w") as f:
                f.write("1")
    assert T.ping(veth, 1) == []
    ex = _example("xdp_tx_reflector")
    prog, replies = ex.build()
    try:
        with _attach(prog, veth, mode="skb"):
            got = T.ping(veth, 3, payload=b"reflect me")
            assert len(got) == 3
            for seq, body in enumerate(got):
                assert P.checksum(body) == 0
                assert body[4:8] == bytes.fromhex("4242") + seq.to_bytes(2, "big")
                assert body[8:] == b"reflect me"
            got6 = T.ping(veth, 2, ipv6=True)
            assert len(got6) == 2
            assert (replies.sum(0), replies.sum(1)) == (3, 2)
        assert T.ping(veth, 1) == []  # detached: nobody answers
    finally:
        prog.close()
        replies.close()


def test_tc_egress_counter_example(veth):
    ex = _example("tc_egress_counter")
    prog, pkts, nbytes = ex.build()
    try:
        with netns.enter_netns(veth.ns_a):
            att = prog.attach(veth.if_a, direction="egress")
        with att:
            assert T.udp(veth, N, 7005) == N
            assert T.udp(veth, 2, 7005, ipv6=True) == 2
            c = ex.counts(pkts, nbytes)
            assert c[17] == (N + 2, N * T.UDP4_FRAME + 2 * T.UDP6_FRAME)
            assert 6 not in c and 1 not in c
    finally:
        prog.close()
        pkts.close()
        nbytes.close()


def test_xdp_drop_example(veth):
    ex = _example("xdp_drop")
    prog, dropped = ex.build(7006)
    try:
        with _attach(prog, veth):
            assert T.udp(veth, N, 7006) == 0
            assert T.udp(veth, 2, 7006, ipv6=True) == 0
            assert T.udp(veth, N, 7007) == N
            ip4, ip6 = T.UDP4_FRAME - 14, T.UDP6_FRAME - 14
            assert (dropped.sum(0), dropped.sum(1)) == (N + 2, N * ip4 + 2 * ip6)
    finally:
        prog.close()
        dropped.close()
