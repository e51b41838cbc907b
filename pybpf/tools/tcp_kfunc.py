"""The kernel-function side of tcpconnect and tcpaccept (as bcc traces them): the return of
tcp_v4_connect/tcp_v6_connect (fexit, or kprobe + kretprobe keeping the socket per thread)
and the return of inet_csk_accept (fexit or kretprobe), one event per connection with the
socket's addresses and ports. Events decode with tcpaccept.addresses()."""

from __future__ import annotations

from typing import Any

from pybpf.tools.kfunc import FENTRY
from pybpf.tools.session import Session

CONNECT = ("tcp_v4_connect", "tcp_v6_connect")
ACCEPT = "inet_csk_accept"


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


def _functions(family_only: int) -> list[str]:
    return [f for f, fam in zip(CONNECT, (2, 10), strict=True)
            if not family_only or fam == family_only]


def build_connect(hook: str, target_pid: int = 0, family_only: int = 0) -> Session:
    """Successful connect() calls: fexit (hook FENTRY) or kprobe + kretprobe."""
    from pybpf import bpf, cast, comm, maps, pid, tid, u32, u64
    from pybpf.tools.tcpaccept import _offsets

    d6_off, s6_off = _offsets()
    Event = _event_type()  # noqa: N806 - a class
    s = Session()
    events = s.ringbuf(Event, 1 << 18)
    socks = s.map(maps.Hash(key=u32, value=u64, max_entries=10240, name="tc_socks"))

    def fexit(function: str) -> Any:
        @bpf.fexit(function)
        def tcpconnect_ret(ctx, sk):
            if ctx.retval != 0:
                return 0
            if target_pid and pid() != target_pid:
                return 0
            fam = u32(sk.__sk_common.skc_family)
            dport = u32(sk.__sk_common.skc_dport)
            ev = Event(pid=pid(), family=fam, lport=u32(sk.__sk_common.skc_num),
                       dport=((dport & 255) << 8) | (dport >> 8), comm=comm(),
                       saddr=sk.__sk_common.skc_rcv_saddr, daddr=sk.__sk_common.skc_daddr)
            if fam == 10:
                base = u64(sk)
                ev.d6hi = u64(cast(base + d6_off, "struct llist_node").next)
                ev.d6lo = u64(cast(base + d6_off + 8, "struct llist_node").next)
                ev.s6hi = u64(cast(base + s6_off, "struct llist_node").next)
                ev.s6lo = u64(cast(base + s6_off + 8, "struct llist_node").next)
            events.submit(ev)
            return 0

        return tcpconnect_ret

    def kprobes(function: str) -> tuple[Any, Any]:
        @bpf.kprobe(function)
        def tcpconnect_entry(ctx, sk):
            if target_pid and pid() != target_pid:
                return 0
            socks[tid()] = u64(sk)
            return 0

        @bpf.kretprobe(function)
        def tcpconnect_return(ctx):
            t = tid()
            skp = socks.get(t, 0)
            if skp == 0:
                return 0
            del socks[t]
            if ctx.retval != 0:
                return 0
            sk = cast(skp, "struct sock")
            fam = u32(sk.__sk_common.skc_family)
            dport = u32(sk.__sk_common.skc_dport)
            ev = Event(pid=pid(), family=fam, lport=u32(sk.__sk_common.skc_num),
                       dport=((dport & 255) << 8) | (dport >> 8), comm=comm(),
                       saddr=sk.__sk_common.skc_rcv_saddr, daddr=sk.__sk_common.skc_daddr)
            if fam == 10:
                ev.d6hi = u64(cast(skp + d6_off, "struct llist_node").next)
                ev.d6lo = u64(cast(skp + d6_off + 8, "struct llist_node").next)
                ev.s6hi = u64(cast(skp + s6_off, "struct llist_node").next)
                ev.s6lo = u64(cast(skp + s6_off + 8, "struct llist_node").next)
            events.submit(ev)
            return 0

        return tcpconnect_entry, tcpconnect_return

    for function in _functions(family_only):
        for prog in ((fexit(function),) if hook == FENTRY else kprobes(function)):
            s.program(prog)
    return s


def connect_functions(family_only: int = 0) -> str:
    return "/".join(_functions(family_only))


def build_accept(hook: str, target_pid: int = 0, family_only: int = 0) -> Session:
    """Sockets returned by inet_csk_accept (fexit, or kretprobe)."""
    from pybpf import bpf, cast, comm, pid, u32, u64
    from pybpf.tools.tcpaccept import _offsets

    d6_off, s6_off = _offsets()
    Event = _event_type()  # noqa: N806 - a class
    s = Session()
    events = s.ringbuf(Event, 1 << 18)

    if hook == FENTRY:
        @bpf.fexit(ACCEPT)
        def tcpaccept_ret(ctx):
            sk = ctx.retval
            if u64(sk) == 0:
                return 0
            if target_pid and pid() != target_pid:
                return 0
            if sk.sk_protocol != 6:
                return 0
            fam = u32(sk.__sk_common.skc_family)
            if family_only and fam != family_only:
                return 0
            dport = u32(sk.__sk_common.skc_dport)
            ev = Event(pid=pid(), family=fam, lport=u32(sk.__sk_common.skc_num),
                       dport=((dport & 255) << 8) | (dport >> 8), comm=comm(),
                       saddr=sk.__sk_common.skc_rcv_saddr, daddr=sk.__sk_common.skc_daddr)
            if fam == 10:
                base = u64(sk)
                ev.d6hi = u64(cast(base + d6_off, "struct llist_node").next)
                ev.d6lo = u64(cast(base + d6_off + 8, "struct llist_node").next)
                ev.s6hi = u64(cast(base + s6_off, "struct llist_node").next)
                ev.s6lo = u64(cast(base + s6_off + 8, "struct llist_node").next)
            events.submit(ev)
            return 0

        s.program(tcpaccept_ret)
        return s

    @bpf.kretprobe(ACCEPT)
    def tcpaccept_return(ctx):
        skp = u64(ctx.retval)
        if skp == 0:
            return 0
        if target_pid and pid() != target_pid:
            return 0
        sk = cast(skp, "struct sock")
        if sk.sk_protocol != 6:
            return 0
        fam = u32(sk.__sk_common.skc_family)
        if family_only and fam != family_only:
            return 0
        dport = u32(sk.__sk_common.skc_dport)
        ev = Event(pid=pid(), family=fam, lport=u32(sk.__sk_common.skc_num),
                   dport=((dport & 255) << 8) | (dport >> 8), comm=comm(),
                   saddr=sk.__sk_common.skc_rcv_saddr, daddr=sk.__sk_common.skc_daddr)
        if fam == 10:
            ev.d6hi = u64(cast(skp + d6_off, "struct llist_node").next)
            ev.d6lo = u64(cast(skp + d6_off + 8, "struct llist_node").next)
            ev.s6hi = u64(cast(skp + s6_off, "struct llist_node").next)
            ev.s6lo = u64(cast(skp + s6_off + 8, "struct llist_node").next)
        events.submit(ev)
        return 0

    s.program(tcpaccept_return)
    return s
