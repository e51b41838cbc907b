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
    p.add_argument("-l", "--lossprobe", action="store_true", help="include tail loss probe "
                   "attempts (needs kprobes)")
    p.add_argument("-c", "--count", action="store_true", help="count occurred retransmits per "
                   "flow")
    tcp_options.add_family_arguments(p)
    runner.add_duration(p)


def build(family_only: int = 0) -> Session:
    from pybpf import bpf, pid, u32

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

    s = Session()
    events = s.ringbuf(Event, 1 << 18)

    @bpf.tracepoint("tcp:tcp_retransmit_skb")
    def tcpretrans_skb(ctx):
        if family_only and ctx.family != family_only:
            return 0
        events.submit(Event(pid=pid(), family=ctx.family, state=u32(ctx.state),
                            sport=ctx.sport, dport=ctx.dport, saddr=ctx.saddr,
                            daddr=ctx.daddr, saddr6=ctx.saddr_v6, daddr6=ctx.daddr_v6))
        return 0

    s.program(tcpretrans_skb)
    return s


def endpoints(ev: Any) -> tuple[str, str]:
    if ev.family == socket.AF_INET6:
        return (f"[{ipaddress.IPv6Address(bytes(ev.saddr6))}]:{ev.sport}",
                f"[{ipaddress.IPv6Address(bytes(ev.daddr6))}]:{ev.dport}")
    return (f"{ipaddress.IPv4Address(bytes(ev.saddr))}:{ev.sport}",
            f"{ipaddress.IPv4Address(bytes(ev.daddr))}:{ev.dport}")


def run(args: argparse.Namespace) -> int:
    from pybpf.output import jsonl
    from pybpf.sys import NotSupportedError

    if args.lossprobe:
        raise NotSupportedError("tail loss probes (-l) are traced with a kprobe on "
                                "tcp_send_loss_probe, and this kernel has no tracepoint for "
                                "them; run without -l")
    session = build(tcp_options.family_of(args))
    counts: Counter[tuple[int, str, str]] = Counter()

    def header() -> None:
        if args.json:
            runner.json_ready(args)
            return
        if args.count:
            print("Tracing retransmits ... Hit Ctrl-C to end", flush=True)
            return
        print("Tracing retransmits ... Hit Ctrl-C to end")
        print(runner.cols("%-8s %-7s %-2s %-20s %1s> %-20s %s", "TIME", "PID", "IP",
                          "LADDR:LPORT", "T", "RADDR:RPORT", "STATE"), flush=True)

    def handle(ev: Any) -> None:
        local, remote = endpoints(ev)
        ip = 6 if ev.family == socket.AF_INET6 else 4
        if args.count:
            counts[(ip, local, remote)] += 1
            return
        if args.json:
            jsonl.emit({"time": hms(), "pid": ev.pid, "ip": ip, "laddr": local,
                        "raddr": remote, "type": "R", "state": state_name(ev.state)})
            return
        print(runner.cols("%-8s %-7d %-2d %-20s %1s> %-20s %s", hms(), ev.pid, ip, local,
                          "R", remote, state_name(ev.state)), flush=True)

    runner.run_events(session, handle, args.duration, header)
    if args.count:
        if args.json:
            for (ip, local, remote), n in counts.most_common():
                jsonl.emit({"ip": ip, "laddr": local, "raddr": remote, "retransmits": n})
        else:
            print()
            print(runner.cols("%-25s %-25s %-10s", "LADDR:LPORT", "RADDR:RPORT", "RETRANSMITS"))
            for (_, local, remote), n in counts.most_common():
                print(runner.cols("%-25s %-25s %-10d", local, remote, n))
    return 0
