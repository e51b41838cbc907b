"""tcpretrans: TCP retransmits (tcp:tcp_retransmit_skb), with addresses, ports and the
socket's state, or (-c) counted per connection, as bcc's tcpretrans prints them. Tail loss
probes (-l) need a kprobe on tcp_send_loss_probe, which this kernel may lack."""

from __future__ import annotations

import argparse
import ipaddress
import socket
from collections import Counter
from typing import Any

from pybpf.cli_support.clock import hms
from pybpf.session import Session
from pybpf.tools import runner, tcp_options
from pybpf.tools.tcpstates_tool import state_name

HELP = "trace TCP retransmits"
NEEDS = ("tp:tcp:tcp_retransmit_skb",)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-s", "--sequence", action="store_true",
                   help="display TCP sequence numbers")
    p.add_argument("-l", "--lossprobe", action="store_true", help="include tail loss probe "
                   "attempts (needs kprobes)")
    p.add_argument("-c", "--count", action="store_true", help="count occurred retransmits per "
                   "flow")
    tcp_options.add_family_arguments(p)
    runner.add_duration(p)


def build(family_only: int = 0, sequence: bool = False) -> Session:
    """The tcp_retransmit_skb program; with `sequence` it also reads the retransmitted
    segment's first sequence number (struct tcp_skb_cb, which starts the skb's cb[])."""
    from pybpf import bpf, cast, pid, u32, u64

    class Event(bpf.Struct):
        pid: u32
        family: u32
        state: u32
        sport: u32
        dport: u32
        saddr: "u8[4]"  # noqa: F821, UP037
        daddr: "u8[4]"  # noqa: F821, UP037
        saddr6: "u8[16]"  # noqa: F821, UP037
        daddr6: "u8[16]"  # noqa: F821, UP037
        seq: u32

    s = Session()
    events = s.ringbuf(Event, 1 << 18)

    @bpf.tracepoint("tcp:tcp_retransmit_skb")
    def tcpretrans_skb(ctx):
        if family_only and ctx.family != family_only:
            return 0
        seq: u64 = 0
        if sequence:
            # tcp_skb_cb.seq, host order, in cb[0..3] (a char array: read byte by byte)
            c = cast(ctx.skbaddr, "struct sk_buff").cb
            seq = u64(u32(c[0]) & 255) | (u64(u32(c[1]) & 255) << 8) | \
                (u64(u32(c[2]) & 255) << 16) | (u64(u32(c[3]) & 255) << 24)
        events.submit(Event(pid=pid(), family=ctx.family, state=u32(ctx.state),
                            sport=ctx.sport, dport=ctx.dport, saddr=ctx.saddr,
                            daddr=ctx.daddr, saddr6=ctx.saddr_v6, daddr6=ctx.daddr_v6,
                            seq=u32(seq)))
        return 0

    s.program(tcpretrans_skb)
    return s


def addresses(ev: Any) -> tuple[str, str]:
    """The local and remote addresses as text (no port)."""
    if ev.family == socket.AF_INET6:
        return (str(ipaddress.IPv6Address(bytes(ev.saddr6))),
                str(ipaddress.IPv6Address(bytes(ev.daddr6))))
    return (str(ipaddress.IPv4Address(bytes(ev.saddr))),
            str(ipaddress.IPv4Address(bytes(ev.daddr))))


def endpoints(ev: Any) -> tuple[str, str]:
    """"addr:port" for the local and remote ends ("[v6]:port" for IPv6)."""
    local, remote = addresses(ev)
    if ev.family == socket.AF_INET6:
        return f"[{local}]:{ev.sport}", f"[{remote}]:{ev.dport}"
    return f"{local}:{ev.sport}", f"{remote}:{ev.dport}"


def run(args: argparse.Namespace) -> int:
    from pybpf.output import jsonl
    from pybpf.sys import NotSupportedError

    if args.lossprobe:
        raise NotSupportedError("tail loss probes (-l) are traced with a kprobe on "
                                "tcp_send_loss_probe, and this kernel has no tracepoint for "
                                "them; run without -l")
    session = build(tcp_options.family_of(args), args.sequence)
    counts: Counter[tuple[int, str, int, str, int]] = Counter()

    def header() -> None:
        if args.json:
            runner.json_ready(args)
            return
        if args.count:
            print("Tracing retransmits ... Hit Ctrl-C to end", flush=True)
            return
        print("Tracing retransmits ... Hit Ctrl-C to end")
        head = runner.cols("%-8s %-7s %-2s %-20s %1s> %-20s", "TIME", "PID", "IP",
                           "LADDR:LPORT", "T", "RADDR:RPORT")
        tail = runner.cols(" %-12s %-10s", "STATE", "SEQ") if args.sequence else \
            runner.cols(" %-4s", "STATE")
        print(head + tail, flush=True)

    def handle(ev: Any) -> None:
        ip = 6 if ev.family == socket.AF_INET6 else 4
        if args.count:
            counts[(ip, *addresses(ev), ev.sport, ev.dport)] += 1
            return
        if args.json:
            laddr, raddr = addresses(ev)
            obj = {"time": hms(), "pid": ev.pid, "ip": ip, "laddr": laddr, "lport": ev.sport,
                   "raddr": raddr, "rport": ev.dport, "type": "R",
                   "state": state_name(ev.state)}
            if args.sequence:
                obj["seq"] = ev.seq
            jsonl.emit(obj)
            return
        local, remote = endpoints(ev)
        line = runner.cols("%-8s %-7d %-2d %-20s %1s> %-20s", hms(), ev.pid, ip, local, "R",
                           remote)
        tail = runner.cols(" %-12s %s", state_name(ev.state), ev.seq) if args.sequence else \
            runner.cols(" %s", state_name(ev.state))
        print(line + tail, flush=True)

    runner.run_events(session, handle, args.duration, header)
    if args.count:
        if args.json:
            for (ip, laddr, raddr, lport, rport), n in counts.most_common():
                jsonl.emit({"ip": ip, "laddr": laddr, "lport": lport, "raddr": raddr,
                            "rport": rport, "retransmits": n})
        else:
            print()
            print(runner.cols("%-25s %-25s %-10s", "LADDR:LPORT", "RADDR:RPORT", "RETRANSMITS"))
            # as bcc: fewest first, each end "[addr]#port"
            for (_, laddr, raddr, lport, rport), n in sorted(counts.items(),
                                                             key=lambda kv: kv[1]):
                print(runner.cols("%-20s <-> %-20s %10d", f"[{laddr}]#{lport}",
                                  f"[{raddr}]#{rport}", n))
    return 0
