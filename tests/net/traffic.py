"""Bounded traffic between the two namespaces of a tests.netns.VethPair: UDP to a chosen
port, one TCP connect, ICMP / ICMPv6 echo through raw sockets; and static neighbour entries,
so that no ARP or neighbour discovery packet joins the counted traffic."""

from __future__ import annotations

import json
import socket
import struct

from tests import netns
from tests.net import packets as P

PAYLOAD = b"pybpf-test-payload"  # 18 bytes
UDP4_FRAME = 14 + 20 + 8 + len(PAYLOAD)
UDP6_FRAME = 14 + 40 + 8 + len(PAYLOAD)


def mac(net: netns.VethPair, ns: str, dev: str) -> str:
    out = netns.ip("-j", "link", "show", "dev", dev, ns=ns).stdout
    return json.loads(out)[0]["address"]


def static_neighbours(net: netns.VethPair) -> None:
    mac_a, mac_b = mac(net, net.ns_a, net.if_a), mac(net, net.ns_b, net.if_b)
    for ns, dev, addrs, lladdr in ((net.ns_a, net.if_a, (net.ip4_b, net.ip6_b), mac_b),
                                   (net.ns_b, net.if_b, (net.ip4_a, net.ip6_a), mac_a)):
        for addr in addrs:
            netns.ip("neigh", "replace", addr, "lladdr", lladdr, "dev", dev, "nud",
                     "permanent", ns=ns)


def udp(net: netns.VethPair, count: int, port: int, ipv6: bool = False,
        timeout: float = 0.5) -> int:
    """`count` datagrams of PAYLOAD from A to B:`port`; how many B received."""
    family = socket.AF_INET6 if ipv6 else socket.AF_INET
    dst = net.ip6_b if ipv6 else net.ip4_b
    with netns.enter_netns(net.ns_b):
        rx = socket.socket(family, socket.SOCK_DGRAM)
    with netns.enter_netns(net.ns_a):
        tx = socket.socket(family, socket.SOCK_DGRAM)
    with rx, tx:
        rx.bind((dst, port))
        rx.settimeout(timeout)
        for _ in range(count):
            tx.sendto(PAYLOAD, (dst, port))
        got = 0
        for _ in range(count):
            try:
                rx.recv(256)
            except TimeoutError:
                break
            got += 1
        return got


def tcp_connect(net: netns.VethPair, port: int, ipv6: bool = False,
                timeout: float = 0.5) -> bool:
    """One TCP connection from A to a listener on B:`port` (sends one byte); True when it
    was accepted within `timeout` (the first SYN is retried only after 1 s)."""
    family = socket.AF_INET6 if ipv6 else socket.AF_INET
    dst = net.ip6_b if ipv6 else net.ip4_b
    with netns.enter_netns(net.ns_b):
        srv = socket.socket(family, socket.SOCK_STREAM)
    with netns.enter_netns(net.ns_a):
        cli = socket.socket(family, socket.SOCK_STREAM)
    with srv, cli:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((dst, port))
        srv.listen(1)
        cli.settimeout(timeout)
        try:
            cli.connect((dst, port))
            cli.sendall(b"x")
        except OSError:
            return False
        srv.settimeout(timeout)
        conn, _ = srv.accept()
        conn.close()
        return True


def ping(net: netns.VethPair, count: int, ipv6: bool = False, timeout: float = 0.5,
         payload: bytes = PAYLOAD) -> list[bytes]:
    """`count` echo requests from A to B through a raw socket; the ICMP bodies of the echo
    replies received (IPv4 replies with their IP header stripped)."""
    with netns.enter_netns(net.ns_a):
        if ipv6:
            s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    replies = []
    with s:
        s.settimeout(timeout)
        dst = net.ip6_b if ipv6 else net.ip4_b
        for seq in range(count):
            # ICMPv6: the kernel fills in the checksum of raw ICMPv6 sockets
            body = P.icmp(128 if ipv6 else 8, 0x4242, seq, payload)
            s.sendto(body, (dst, 0))
        for _ in range(count * 2):
            try:
                data = s.recv(2048)
            except TimeoutError:
                break
            if not ipv6:
                data = data[(data[0] & 0xF) * 4:]
            if data[0] == (129 if ipv6 else 0) and struct.unpack("!H", data[4:6])[0] == 0x4242:
                replies.append(data)
            if len(replies) == count:
                break
    return replies
