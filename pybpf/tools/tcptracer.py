"""tcptracer: TCP connect (C), accept (A) and close (X) of established connections, from
sock:inet_sock_set_state (shared BPF side in tcpstates), as bcc's tcptracer prints them. The
accepting process is the one listening on the local port (the tracepoint runs in softirq)."""

from __future__ import annotations

import argparse
import socket
from typing import Any

from pybpf.cli_support import argtypes
from pybpf.session import Session
from pybpf.tools import runner, tcp_options, tcpstates

HELP = "trace TCP established connections (connect, accept, close)"
NEEDS = ("tp:sock:inet_sock_set_state",)
VERBOSE = {"C": "connect", "A": "accept", "X": "close"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-t", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-p", "--pid", type=argtypes.pid, default=0, help="trace this PID only")
    tcp_options.add_family_arguments(p)
    p.add_argument("-v", "--verbose", action="store_true", help="long event type names")
    runner.add_duration(p)


class Connections:
    """State changes -> tcptracer events: (type, pid, comm, event) or None."""

    def __init__(self) -> None:
        self.tracker = tcpstates.Tracker()
        self.accepted: dict[int, tuple[int, str]] = {}

    def feed(self, ev: Any) -> tuple[str, int, str] | None:
        conn = self.tracker.feed(ev)
        if ev.newstate == tcpstates.ESTABLISHED and ev.oldstate == tcpstates.SYN_SENT:
            return "C", conn.pid or ev.pid, conn.comm or runner.text(ev.comm)
        if ev.newstate == tcpstates.ESTABLISHED and ev.oldstate == tcpstates.SYN_RECV:
            pid, comm = tcpstates.listener_owner(ev.sport, ev.family)
            self.accepted[ev.skaddr] = (pid, comm)
            if pid and not conn.pid:
                conn.pid, conn.comm = pid, comm
            return "A", pid, comm or "[unknown]"
        if ev.newstate == tcpstates.CLOSE and conn.established:
            self.accepted.pop(ev.skaddr, None)
            return "X", conn.pid or ev.pid, conn.comm or runner.text(ev.comm)
        return None


def run(args: argparse.Namespace) -> int:
    from pybpf.output import jsonl

    session: Session = tcpstates.build(family_only=tcp_options.family_of(args))
    conns = Connections()
    first = [0]

    def header() -> None:
        if args.json:
            runner.json_ready(args)
            return
        print("Tracing TCP established connections. Ctrl-C to end.")
        head = runner.cols("%-9s", "TIME(s)") if args.timestamp else ""
        if args.verbose:
            head += runner.cols("%-12s %-6s %-16s %-2s %-16s %-16s %-6s %-7s", "TYPE", "PID",
                                "COMM", "IP", "SADDR", "DADDR", "SPORT", "DPORT")
        else:
            head += runner.cols("%-2s %-6s %-16s %-2s %-16s %-16s %-6s %-6s", "T", "PID",
                                "COMM", "IP", "SADDR", "DADDR", "SPORT", "DPORT")
        print(head, flush=True)

    def handle(ev: Any) -> None:
        out = conns.feed(ev)
        if out is None:
            return
        kind, pid, comm = out
        if args.pid and pid != args.pid:
            return
        saddr, daddr = tcpstates.addresses(ev)
        ip = 6 if ev.family == socket.AF_INET6 else 4
        if not first[0]:
            first[0] = ev.ts
        if args.json:
            jsonl.emit({"ts": round((ev.ts - first[0]) / 1e9, 6), "type": kind,
                        "event": VERBOSE[kind], "pid": pid, "comm": comm, "ip": ip,
                        "saddr": saddr, "daddr": daddr, "sport": ev.sport, "dport": ev.dport})
            return
        line = runner.cols("%-9.3f", (ev.ts - first[0]) / 1e9) if args.timestamp else ""
        line += runner.cols("%-12s " if args.verbose else "%-2s ",
                            VERBOSE[kind] if args.verbose else kind)
        line += runner.cols("%-6d %-16s %-2d %-16s %-16s %-6d %-6d", pid, comm, ip, saddr,
                            daddr, ev.sport, ev.dport)
        print(line, flush=True)

    runner.run_events(session, handle, args.duration, header)
    return 0
