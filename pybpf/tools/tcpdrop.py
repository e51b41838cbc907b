"""tcpdrop: TCP packets the kernel dropped (tracepoint skb:kfree_skb, with its drop reason),
with the packet's addresses, ports and flags, the socket's state and the kernel stack of
the drop, as bcc's tcpdrop prints them. Only IPv4/IPv6 packets whose protocol is TCP are
kept (the IP header says so), and only real drops (a reason past NOT_SPECIFIED, as bcc).
Unlike bcc, drops with no socket (NO_SOCKET) are shown too, their state as "-"."""

from __future__ import annotations

import argparse
import ipaddress
import socket
from typing import Any

from pybpf.cli_support.clock import hms
from pybpf.session import Session
from pybpf.tools import runner, stacks, tcp_options
from pybpf.tools.tcpstates_tool import state_name

HELP = "trace TCP packets dropped by the kernel"
NEEDS = ("tp:skb:kfree_skb",)
EXAMPLES = (
    ("", "trace kernel TCP drops"),
    ("-4", "trace IPv4 family only"),
    ("-6", "trace IPv6 family only"),
    ("--duration 10", "trace for 10 seconds only"),
    ("--json", "one JSON object per drop"),
)

ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
IPPROTO_TCP = 6
NOT_SPECIFIED = 2  # SKB_DROP_REASON_NOT_SPECIFIED: reasons up to it are frees, not drops
FLAG_NAMES = ("FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR")


def add_arguments(p: argparse.ArgumentParser) -> None:
    tcp_options.add_family_arguments(p)
    runner.add_duration(p)


def flags_text(flags: int) -> str:
    """"SYN|ACK", as bcc's tcp.flags2str."""
    return "|".join(n for i, n in enumerate(FLAG_NAMES) if flags & (1 << i))


_reasons: dict[int, str] | None = None


def reason_name(code: int) -> str:
    """The enum skb_drop_reason name without its prefix ("NO_SOCKET"), from kernel BTF."""
    global _reasons
    if _reasons is None:
        _reasons = {}
        try:
            from pybpf.btf import kernel_btf

            for name, value in kernel_btf().enum("skb_drop_reason").values.items():
                _reasons[value] = name.removeprefix("SKB_DROP_REASON_")
        except Exception:  # noqa: BLE001 - no BTF enum: the number alone
            pass
    return _reasons.get(code, "UNKNOWN")


def build(family_only: int = 0) -> Session:
    """The skb:kfree_skb program: one event per dropped TCP packet, with its IP and TCP
    header fields (read from the skb's head at its network and transport offsets), the
    socket's state (the tracepoint's rx_sk, else the skb's owner; none is state 0) and the
    kernel stack id."""
    from pybpf import bpf, cast, kstack, pid, s64, u32, u64

    class Event(bpf.Struct):
        pid: u32
        family: u32
        state: u32
        flags: u32
        reason: u32
        sport: u32
        dport: u32
        has_sk: u32
        s_hi: u64
        s_lo: u64
        d_hi: u64
        d_lo: u64
        kstack: s64

    s = Session(unit="drops")
    events = s.ringbuf(Event, 1 << 18)

    @bpf.inline
    def word(addr: u64) -> u64:
        # 8 bytes of kernel memory at addr, in memory order (the first pointer of a struct
        # llist_node there)
        return u64(cast(addr, "struct llist_node").next)

    @bpf.tracepoint("skb:kfree_skb")
    def tcpdrop_kfree_skb(ctx):
        reason = u32(ctx.reason)
        if reason <= NOT_SPECIFIED:
            return 0
        proto = u32(ctx.protocol)
        fam = u32(0)
        if proto == ETH_P_IP:
            fam = 2
        elif proto == ETH_P_IPV6:
            fam = 10
        else:
            return 0
        if family_only and fam != family_only:
            return 0
        skb = cast(ctx.skbaddr, "struct sk_buff")
        thoff = u32(skb.transport_header)
        if thoff == 0xFFFF:  # no transport header: not a TCP segment yet
            return 0
        head = u64(skb.head)
        nh = head + u32(skb.network_header)
        th = head + thoff
        ev = Event(pid=pid(), family=fam, reason=reason)
        if fam == 2:
            w = word(nh + 8)  # ttl, protocol, check, saddr
            if ((w >> 8) & 255) != IPPROTO_TCP:
                return 0
            ev.s_hi = w >> 32
            ev.d_hi = word(nh + 16) & 0xFFFFFFFF
        else:
            w = word(nh)  # version/class/flow, payload length, next header, hop limit
            if ((w >> 48) & 255) != IPPROTO_TCP:
                return 0
            ev.s_hi = word(nh + 8)
            ev.s_lo = word(nh + 16)
            ev.d_hi = word(nh + 24)
            ev.d_lo = word(nh + 32)
        ports = word(th) & 0xFFFFFFFF
        ev.sport = u32(((ports & 255) << 8) | ((ports >> 8) & 255))
        ev.dport = u32(((ports >> 8) & 0xFF00) | ((ports >> 24) & 255))
        ev.flags = u32((word(th + 8) >> 40) & 255)  # byte 13: the flags
        sk = u64(ctx.rx_sk)
        if sk == 0:
            sk = u64(skb.sk)
        if sk != 0:
            ev.has_sk = 1
            ev.state = u32(cast(sk, "struct sock").__sk_common.skc_state)
        ev.kstack = s64(kstack())
        events.submit(ev)
        return 0

    s.program(tcpdrop_kfree_skb)
    return s


def addresses(ev: Any) -> tuple[str, str]:
    """The packet's source and destination addresses as text."""
    if ev.family == socket.AF_INET6:
        def v6(hi: int, lo: int) -> str:
            return str(ipaddress.IPv6Address(hi.to_bytes(8, "little") + lo.to_bytes(8, "little")))

        return v6(ev.s_hi, ev.s_lo), v6(ev.d_hi, ev.d_lo)
    return (str(ipaddress.IPv4Address(ev.s_hi.to_bytes(4, "little"))),
            str(ipaddress.IPv4Address(ev.d_hi.to_bytes(4, "little"))))


def run(args: argparse.Namespace) -> int:
    from pybpf.output import jsonl

    session = build(tcp_options.family_of(args))
    sym: list[stacks.Symbolizer] = []

    def header() -> None:
        sym.append(stacks.Symbolizer(session.stacks(), offsets=True))
        if args.json:
            runner.json_ready(args)
            return
        print(runner.cols("%-8s %-7s %-2s %-20s > %-20s %-20s %s", "TIME", "PID", "IP",
                          "SADDR:SPORT", "DADDR:DPORT", "STATE (FLAGS)", "REASON (CODE)"),
              flush=True)

    def handle(ev: Any) -> None:
        ip = 6 if ev.family == socket.AF_INET6 else 4
        saddr, daddr = addresses(ev)
        state = state_name(ev.state) if ev.has_sk else "-"
        frames = [] if stacks.missing(ev.kstack) else sym[0].kernel(ev.kstack)
        if args.json:
            jsonl.emit({"time": hms(), "pid": ev.pid, "ip": ip, "saddr": saddr,
                        "sport": ev.sport, "daddr": daddr, "dport": ev.dport,
                        "state": state, "flags": flags_text(ev.flags),
                        "reason": reason_name(ev.reason), "code": ev.reason,
                        "kernel_stack": frames})
            return
        src, dst = f"{saddr}:{ev.sport}", f"{daddr}:{ev.dport}"  # as bcc: no brackets
        print(runner.cols("%-8s %-7d %-2d %-20s > %-20s %-20s %s (%d)", hms(), ev.pid, ip,
                          src, dst, f"{state} ({flags_text(ev.flags)})",
                          reason_name(ev.reason), ev.reason))
        for f in frames:
            print(f"\t{f}")
        print("", flush=True)

    runner.run_events(session, handle, args.duration, header)
    return 0
