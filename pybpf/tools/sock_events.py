"""One ring buffer record per TCP socket, filled from its `struct sock` and the current task:
the BPF side that tcpconnect and tcpaccept share (their kernel-function hooks in tcp_kfunc,
and tcpaccept's accept()-exit tracepoints), and the decoding of the addresses.

    submit_sock = sock_event_ring(session)    # the session's ring buffer, and its filler

    @bpf.fexit("tcp_v4_connect")
    def on_connect(ctx, sk):
        submit_sock(sk)
        return 0
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from pybpf.session import Session

AF_INET6 = 10  # the kernel's numbers (as in Linux's socket module), for the BPF side
IPPROTO_TCP = 6


def _v6_offsets() -> tuple[int, int]:
    """Offsets in struct sock of the IPv6 remote and local addresses."""
    from pybpf.btf import kernel_btf

    btf = kernel_btf()
    common = btf.member(btf.struct("sock"), "__sk_common", follow_pointers=False).offset
    t = btf.struct("sock_common")
    d6 = btf.member(t, "skc_v6_daddr", follow_pointers=False).offset
    s6 = btf.member(t, "skc_v6_rcv_saddr", follow_pointers=False).offset
    return common + d6, common + s6


def _event_type() -> Any:
    from pybpf import bpf, u32, u64

    class Event(bpf.Struct):
        pid: u32
        family: u32
        lport: u32
        dport: u32
        saddr: u32
        daddr: u32
        s6hi: u64
        s6lo: u64
        d6hi: u64
        d6lo: u64
        comm: "char[16]"  # noqa: F821, UP037

    return Event


def sock_event_ring(session: Session, family_only: int = 0) -> Any:
    """Give `session` the ring buffer of socket events, and return the `@bpf.inline`
    `submit_sock(sk)` that sends one for the socket `sk` (a `struct sock` pointer) and the
    current task: addresses and ports, the destination port in host order. With
    `family_only` (AF_INET or AF_INET6) sockets of the other family are skipped."""
    from pybpf import bpf, cast, comm, pid, u32, u64

    d6_off, s6_off = _v6_offsets()
    Event = _event_type()  # noqa: N806 - a class
    events = session.ringbuf(Event, 1 << 18)

    @bpf.inline
    def submit_sock(sk) -> u64:
        fam = u32(sk.__sk_common.skc_family)
        if family_only and fam != family_only:
            return 0
        dport = u32(sk.__sk_common.skc_dport)
        ev = Event(pid=pid(), family=fam, lport=u32(sk.__sk_common.skc_num),
                   dport=((dport & 255) << 8) | (dport >> 8), comm=comm(),
                   saddr=sk.__sk_common.skc_rcv_saddr, daddr=sk.__sk_common.skc_daddr)
        if fam == AF_INET6:
            # each 16-byte address as two u64 words in memory order (addresses() decodes
            # them), read as the first pointer of a struct llist_node at that offset
            base = u64(sk)
            ev.d6hi = u64(cast(base + d6_off, "struct llist_node").next)
            ev.d6lo = u64(cast(base + d6_off + 8, "struct llist_node").next)
            ev.s6hi = u64(cast(base + s6_off, "struct llist_node").next)
            ev.s6lo = u64(cast(base + s6_off + 8, "struct llist_node").next)
        events.submit(ev)
        return 0

    return submit_sock


def addresses(ev: Any) -> tuple[str, str]:
    """(local, remote) text; the IPv6 words were read in memory order (little-endian u64)."""
    if ev.family == socket.AF_INET6:
        def v6(hi: int, lo: int) -> str:
            raw = hi.to_bytes(8, "little") + lo.to_bytes(8, "little")
            return str(ipaddress.IPv6Address(raw))

        return v6(ev.s6hi, ev.s6lo), v6(ev.d6hi, ev.d6lo)
    return (str(ipaddress.IPv4Address(ev.saddr.to_bytes(4, "little"))),
            str(ipaddress.IPv4Address(ev.daddr.to_bytes(4, "little"))))
