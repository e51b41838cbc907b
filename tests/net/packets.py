"""Crafted frames and a Python reference of what the packet programs decide, written from
their documented rules (not from their code), for the differential tests."""

from __future__ import annotations

import ipaddress
import random
import struct

from pybpf.net import checksum

MAC_A, MAC_B = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")
IP4_POOL = ["198.18.0.1", "198.18.0.77", "198.18.1.9", "198.19.255.1", "198.19.7.7"]
IP6_POOL = ["2001:2::1", "2001:2::99", "2001:2:0:1::5", "2001:2:ff::1"]
PORTS = [22, 53, 80, 443, 9999]


def eth(proto: int, payload: bytes, vlan: int | None = None, src: bytes = MAC_A,
        dst: bytes = MAC_B) -> bytes:
    tag = struct.pack("!HH", vlan, 42) if vlan else b""
    return dst + src + tag + struct.pack("!H", proto) + payload


def ipv4(proto: int, src: str, dst: str, payload: bytes, options: bytes = b"",
         frag_off: int = 0, ihl: int | None = None, ttl: int = 64) -> bytes:
    ihl = ihl if ihl is not None else 5 + len(options) // 4
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 20 + len(options) + len(payload), 1,
                      frag_off, ttl, proto, 0, ipaddress.ip_address(src).packed,
                      ipaddress.ip_address(dst).packed) + options
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return hdr + payload


def ipv6(nexthdr: int, src: str, dst: str, payload: bytes, hop_limit: int = 64) -> bytes:
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), nexthdr, hop_limit,
                       ipaddress.ip_address(src).packed,
                       ipaddress.ip_address(dst).packed) + payload


def udp(sport: int, dport: int, payload: bytes = b"") -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def tcp(sport: int, dport: int, flags: int = 0x02, payload: bytes = b"") -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, flags, 65535, 0, 0) + payload


def icmp(type_: int, ident: int, seq: int, payload: bytes = b"", code: int = 0) -> bytes:
    body = struct.pack("!BBHHH", type_, code, 0, ident, seq) + payload
    return body[:2] + struct.pack("!H", checksum(body)) + body[4:]


def icmp6(type_: int, ident: int, seq: int, src: str, dst: str, payload: bytes = b"") -> bytes:
    body = struct.pack("!BBHHH", type_, 0, 0, ident, seq) + payload
    pseudo = (ipaddress.ip_address(src).packed + ipaddress.ip_address(dst).packed
              + struct.pack("!IxxxB", len(body), 58))
    return body[:2] + struct.pack("!H", checksum(pseudo + body)) + body[4:]


def icmp6_checksum_ok(src: bytes, dst: bytes, body: bytes) -> bool:
    pseudo = src + dst + struct.pack("!IxxxB", len(body), 58)
    return checksum(pseudo + body) == 0


# -- random frames ----------------------------------------------------------------------------
def random_frame(rng: random.Random) -> bytes:
    """A frame with a random shape: VLAN or not, ARP / IPv4 (options, fragments, bad IHL) /
    IPv6 / other, TCP / UDP / ICMP / other, often cut short anywhere after 14 bytes."""
    vlan = rng.choice([None, None, 0x8100, 0x88A8])
    l3 = rng.choice(["ipv4", "ipv4", "ipv4", "ipv6", "ipv6", "arp", "other"])
    l4 = rng.choice(["tcp", "udp", "udp", "icmp", "other"])
    sport, dport = rng.choice(PORTS), rng.choice(PORTS)
    data = bytes(rng.randrange(256) for _ in range(rng.choice([0, 3, 16])))
    if l3 == "ipv4":
        src, dst = rng.choice(IP4_POOL), rng.choice(IP4_POOL)
        body, proto = {"tcp": (tcp(sport, dport, payload=data), 6),
                       "udp": (udp(sport, dport, data), 17),
                       "icmp": (icmp(8, 1, 2, data), 1), "other": (data, 47)}[l4]
        options = b"\x01" * rng.choice([0, 0, 4, 12, 40])
        frag = rng.choice([0, 0, 0, 0x2000, 0x0010, 0x2010, 0x4000])
        ihl = rng.choice([None] * 8 + [0, 4, 15])
        frame = eth(0x0800, ipv4(proto, src, dst, body, options, frag, ihl), vlan)
    elif l3 == "ipv6":
        src, dst = rng.choice(IP6_POOL), rng.choice(IP6_POOL)
        body, proto = {"tcp": (tcp(sport, dport, payload=data), 6),
                       "udp": (udp(sport, dport, data), 17),
                       "icmp": (icmp6(128, 1, 2, src, dst, data), 58),
                       "other": (data, rng.choice([44, 0, 59]))}[l4]
        frame = eth(0x86DD, ipv6(proto, src, dst, body), vlan)
    elif l3 == "arp":
        frame = eth(0x0806, bytes(28), vlan)
    else:
        frame = eth(rng.choice([0x88CC, 0x8100, 0x1234]), data + bytes(20), vlan)
    if rng.random() < 0.4:
        frame = frame[:rng.randrange(14, len(frame) + 1)]
    return frame


# -- the reference ----------------------------------------------------------------------------
def _l2(frame: bytes) -> tuple[int, int] | None:
    """(EtherType, L2 length) looking through one VLAN tag; None when the tag is cut."""
    proto = int.from_bytes(frame[12:14], "big")
    if proto in (0x8100, 0x88A8):
        if len(frame) < 18:
            return None
        return int.from_bytes(frame[16:18], "big"), 18
    return proto, 14


def _lpm(rules: list[tuple[int, object]], addr: bytes, version: int) -> int:
    best, best_len = 0, -1
    a = ipaddress.ip_address(addr)
    for rid, r in rules:
        if getattr(r, "version", 0) == version and a in r and r.prefixlen > best_len:
            best, best_len = rid, r.prefixlen
    return best


def filter_reference(frame: bytes, rules: list) -> tuple[int, int] | None:
    """xdp-filter's decision: (rule id or 0 for passed, counted bytes), or None when the
    packet passes uncounted (a VLAN tag cut short)."""
    l2 = _l2(frame)
    if l2 is None:
        return None
    proto, n = l2
    nets = [(i, r.network) for i, r in enumerate(rules, 1) if r.network is not None]

    def port_rule(l4proto: int, dport: int) -> int:
        name = {6: "tcp", 17: "udp"}[l4proto]
        for i, r in enumerate(rules, 1):
            if r.kind == "port" and r.port == dport and name in r.protocols:
                return i
        return 0

    def l4(l4proto: int, off: int) -> int:
        need = {6: 20, 17: 8}.get(l4proto)
        if need is None or len(frame) < off + need:
            return 0
        return port_rule(l4proto, int.from_bytes(frame[off + 2:off + 4], "big"))

    if proto == 0x0800 and len(frame) >= n + 20:
        size = n + int.from_bytes(frame[n + 2:n + 4], "big")
        rid = _lpm(nets, frame[n + 12:n + 16], 4)
        ihl = frame[n] & 0xF
        frag = int.from_bytes(frame[n + 6:n + 8], "big") & 0x1FFF
        if not rid and not frag and ihl >= 5:
            rid = l4(frame[n + 9], n + ihl * 4)
        return rid, size
    if proto == 0x86DD and len(frame) >= n + 40:
        size = n + 40 + int.from_bytes(frame[n + 4:n + 6], "big")
        rid = _lpm(nets, frame[n + 8:n + 24], 6) or l4(frame[n + 6], n + 40)
        return rid, size
    return 0, n


STATS_CLASSES = ("other", "ARP", "IPv4 other", "ICMP", "TCP/IPv4", "UDP/IPv4", "IPv6 other",
                 "ICMPv6", "TCP/IPv6", "UDP/IPv6", "truncated")


def stats_reference(frame: bytes) -> tuple[str, int]:
    """xdp-stats' class of a frame and its counted bytes."""
    l2 = _l2(frame)
    if l2 is None:
        return "truncated", 18
    proto, n = l2
    l4_size = {1: 8, 6: 20, 17: 8, 58: 8}
    if proto == 0x0806:
        return "ARP", n + 28
    if proto == 0x0800:
        ihl = frame[n] & 0xF if len(frame) > n else 0
        if len(frame) < n + 20 or ihl < 5:
            return "truncated", n
        size = n + int.from_bytes(frame[n + 2:n + 4], "big")
        p = frame[n + 9]
        cls = {1: "ICMP", 6: "TCP/IPv4", 17: "UDP/IPv4"}.get(p, "IPv4 other")
        first = int.from_bytes(frame[n + 6:n + 8], "big") & 0x1FFF == 0
        if p in l4_size and first and len(frame) < n + ihl * 4 + l4_size[p]:
            return "truncated", size
        return cls, size
    if proto == 0x86DD:
        if len(frame) < n + 40:
            return "truncated", n
        size = n + 40 + int.from_bytes(frame[n + 4:n + 6], "big")
        p = frame[n + 6]
        cls = {58: "ICMPv6", 6: "TCP/IPv6", 17: "UDP/IPv6"}.get(p, "IPv6 other")
        if p in (6, 17, 58) and len(frame) < n + 40 + l4_size[p]:
            return "truncated", size
        return cls, size
    return "other", n
