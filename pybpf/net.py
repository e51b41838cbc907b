"""Packets in compiled programs (`bpf.xdp`, `bpf.tc`, `bpf.socket_filter`).

    from pybpf import bpf, net

    @bpf.xdp
    def drop_udp_to_53(ctx):
        eth = net.eth(ctx)                   # None (0) when the packet is too short
        if not eth or eth.proto != net.htons(net.ETH_P_IP):
            return net.XDP_PASS
        ip = net.ipv4(ctx, eth)
        udp = net.udp(ctx, ip)               # after the IP options (ihl)
        if udp and udp.dest == net.htons(53):
            return net.XDP_DROP
        return net.XDP_PASS

Header views are bounds-checked where they are made (`data + offset + size <= data_end`, as
the verifier requires); a view of a truncated packet, or after a missing header, is None (0),
and reading a field of a None view gives 0. Fields are in network byte order, as on the wire:
compare with `net.htons(...)`/`net.htonl(...)` or convert with `net.ntohs(...)`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# return codes (include/uapi/linux/bpf.h enum xdp_action, pkt_cls.h TC_ACT_*)
XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT = 0, 1, 2, 3, 4
TC_ACT_UNSPEC, TC_ACT_OK, TC_ACT_RECLASSIFY, TC_ACT_SHOT = -1, 0, 1, 2
TC_ACT_PIPE, TC_ACT_STOLEN, TC_ACT_QUEUED, TC_ACT_REPEAT, TC_ACT_REDIRECT = 3, 4, 5, 6, 7
# EtherTypes and IP protocols
ETH_P_IP, ETH_P_ARP, ETH_P_IPV6 = 0x0800, 0x0806, 0x86DD
ETH_P_8021Q, ETH_P_8021AD = 0x8100, 0x88A8
IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMPV6 = 1, 6, 17, 58
# TCP flag bits (byte 13 of the header)
TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK, TCP_URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
# IPv4 fragment bits (frag_off, host order)
IP_MF, IP_OFFSET = 0x2000, 0x1FFF


def _builtin(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.__bpf_builtin__ = f"net.{name}"  # type: ignore[attr-defined]
        return fn

    return mark


def _kernel_only(name: str) -> Any:
    raise RuntimeError(f"net.{name}() reads packets and exists only in compiled programs")


@_builtin("eth")
def eth(ctx: Any) -> Any:
    """The Ethernet header at the start of the packet."""
    _kernel_only("eth")


@_builtin("vlan")
def vlan(ctx: Any, eth: Any) -> Any:
    """An 802.1Q tag after the Ethernet header (check eth.proto first)."""
    _kernel_only("vlan")


@_builtin("ipv4")
def ipv4(ctx: Any, prev: Any) -> Any:
    """The IPv4 header after `prev` (an Ethernet header or a VLAN tag)."""
    _kernel_only("ipv4")


@_builtin("ipv6")
def ipv6(ctx: Any, prev: Any) -> Any:
    _kernel_only("ipv6")


@_builtin("tcp")
def tcp(ctx: Any, ip: Any) -> Any:
    """The TCP header after an IPv4 (options skipped by ihl) or IPv6 header."""
    _kernel_only("tcp")


@_builtin("udp")
def udp(ctx: Any, ip: Any) -> Any:
    _kernel_only("udp")


@_builtin("icmp")
def icmp(ctx: Any, ip: Any) -> Any:
    """An ICMP (after IPv4) or ICMPv6 (after IPv6) header."""
    _kernel_only("icmp")


@_builtin("swap_mac")
def swap_mac(eth: Any) -> int:
    """Exchange the source and destination MAC addresses in place."""
    _kernel_only("swap_mac")


@_builtin("swap_ipv4")
def swap_ipv4(ip: Any) -> int:
    _kernel_only("swap_ipv4")


@_builtin("swap_ipv6")
def swap_ipv6(ip: Any) -> int:
    _kernel_only("swap_ipv6")


@_builtin("swap_ports")
def swap_ports(l4: Any) -> int:
    """Exchange source and destination ports of a TCP or UDP header in place."""
    _kernel_only("swap_ports")


@_builtin("redirect_map")
def redirect_map(m: Any, key: int, flags: int = 0) -> int:
    """bpf_redirect_map: XDP_REDIRECT through a DevMap, CpuMap or XskMap entry."""
    _kernel_only("redirect_map")


@_builtin("redirect")
def redirect(ifindex: int, flags: int = 0) -> int:
    _kernel_only("redirect")


@_builtin("length")
def length(ctx: Any) -> int:
    """The packet's length in bytes (the whole frame)."""
    _kernel_only("length")


@_builtin("load_u8")
def load_u8(ctx: Any, offset: int) -> int:
    """A byte of the packet (socket filters and tc), through bpf_skb_load_bytes; 0 when
    the packet is shorter."""
    _kernel_only("load_u8")


@_builtin("load_u16")
def load_u16(ctx: Any, offset: int) -> int:
    """Two bytes of the packet in network order, as a number (host order)."""
    _kernel_only("load_u16")


@_builtin("load_u32")
def load_u32(ctx: Any, offset: int) -> int:
    _kernel_only("load_u32")


@_builtin("htons")
def htons(x: int) -> int:
    return int.from_bytes(int(x & 0xFFFF).to_bytes(2, "big"), "little")


@_builtin("ntohs")
def ntohs(x: int) -> int:
    return htons(x)


@_builtin("htonl")
def htonl(x: int) -> int:
    return int.from_bytes(int(x & 0xFFFFFFFF).to_bytes(4, "big"), "little")


@_builtin("ntohl")
def ntohl(x: int) -> int:
    return htonl(x)


def csum_fold(s: int) -> int:
    """Fold a 32-bit one's complement sum to 16 bits (Python side, for tests)."""
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def checksum(data: bytes) -> int:
    """The Internet checksum of `data` (RFC 1071), as stored in headers (network order as a
    big-endian number)."""
    if len(data) % 2:
        data += b"\0"
    s = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    return ~csum_fold(s) & 0xFFFF
