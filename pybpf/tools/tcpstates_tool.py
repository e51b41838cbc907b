"""tcpstates (`pybpf tcpstates`): every TCP state change (sock:inet_sock_set_state, the BPF
side shared in pybpf.tools.tcpstates) with the time since the socket's previous change, as
bcc's tcpstates prints it."""

from __future__ import annotations

import argparse
import socket
from typing import Any

from pybpf.cli_support.clock import hms
from pybpf.session import Session
from pybpf.tools import runner, tcp_options, tcpstates

HELP = "trace TCP session state changes and durations"
NEEDS = ("tp:sock:inet_sock_set_state",)
STATE_NAMES = {tcpstates.ESTABLISHED: "ESTABLISHED", tcpstates.SYN_SENT: "SYN_SENT",
               tcpstates.SYN_RECV: "SYN_RECV", tcpstates.FIN_WAIT1: "FIN_WAIT1",
               tcpstates.FIN_WAIT2: "FIN_WAIT2", tcpstates.TIME_WAIT: "TIME_WAIT",
               tcpstates.CLOSE: "CLOSE", tcpstates.CLOSE_WAIT: "CLOSE_WAIT",
               tcpstates.LAST_ACK: "LAST_ACK", tcpstates.LISTEN: "LISTEN",
               tcpstates.CLOSING: "CLOSING", tcpstates.NEW_SYN_RECV: "NEW_SYN_RECV"}


def state_name(n: int) -> str:
    return STATE_NAMES.get(n, str(n))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-T", "--time", action="store_true",
                   help="include time column on output (HH:MM:SS)")
    p.add_argument("-t", "--timestamp", action="store_true",
                   help="include timestamp on output (seconds)")
    p.add_argument("-w", "--wide", action="store_true",
                   help="wide column output (fits IPv6 addresses)")
    p.add_argument("-s", "--csv", action="store_true", help="comma separated values output")
    p.add_argument("-L", "--localport", type=tcp_options.ports,
                   help="comma-separated list of local ports to trace.")
    p.add_argument("-D", "--remoteport", type=tcp_options.ports,
                   help="comma-separated list of remote ports to trace.")
    tcp_options.add_family_arguments(p)
    runner.add_duration(p)


def run(args: argparse.Namespace) -> int:
    from pybpf.output import jsonl

    session: Session = tcpstates.build(family_only=tcp_options.family_of(args))
    last: dict[int, int] = {}
    first = [0]
    addr_w = 26 if args.wide else 15
    comm_w = 16 if args.wide else 10
    ip_col = "%-2s " if args.wide else "%.0s"  # bcc shows the IP version only when wide

    def header() -> None:
        if args.json:
            runner.json_ready(args)
            return
        head = ""
        if args.csv:
            cols = (["TIME"] if args.time else []) + (["TIMESTAMP"] if args.timestamp else [])
            cols += ["SKADDR", "C-PID", "C-COMM", "IP", "LADDR", "LPORT", "RADDR", "RPORT",
                     "OLDSTATE", "NEWSTATE", "MS"]
            print(",".join(cols), flush=True)
            return
        if args.time:
            head += runner.cols("%-8s ", "TIME")
        if args.timestamp:
            head += runner.cols("%-9s ", "TIME(s)")
        head += runner.cols(f"%-16s %-5s %-{comm_w}s {ip_col}%-{addr_w}s %-5s %-{addr_w}s %-5s "
                            "%-11s -> %-11s %s", "SKADDR", "C-PID", "C-COMM", "IP", "LADDR",
                            "LPORT", "RADDR", "RPORT", "OLDSTATE", "NEWSTATE", "MS")
        print(head, flush=True)

    def handle(ev: Any) -> None:
        prev = last.get(ev.skaddr, ev.ts)
        if ev.newstate == tcpstates.CLOSE:
            last.pop(ev.skaddr, None)
        else:
            last[ev.skaddr] = ev.ts
        if args.localport and ev.sport not in args.localport:
            return
        if args.remoteport and ev.dport not in args.remoteport:
            return
        if not first[0]:
            first[0] = ev.ts
        ms = (ev.ts - prev) / 1e6
        laddr, raddr = tcpstates.addresses(ev)
        ip = 6 if ev.family == socket.AF_INET6 else 4
        comm = runner.text(ev.comm)
        old, new = state_name(ev.oldstate), state_name(ev.newstate)
        ts = (ev.ts - first[0]) / 1e9
        if args.json:
            jsonl.emit({"time": hms(), "ts": round(ts, 6), "skaddr": f"{ev.skaddr:x}",
                        "pid": ev.pid, "comm": comm, "ip": ip, "laddr": laddr,
                        "lport": ev.sport, "raddr": raddr, "rport": ev.dport,
                        "oldstate": old, "newstate": new, "ms": round(ms, 3)})
            return
        if args.csv:
            cols = ([hms()] if args.time else []) + \
                ([f"{ts:.6f}"] if args.timestamp else [])
            cols += [f"{ev.skaddr:x}", str(ev.pid), comm, str(ip), laddr, str(ev.sport), raddr,
                     str(ev.dport), old, new, f"{ms:.3f}"]
            print(",".join(cols), flush=True)
            return
        line = ""
        if args.time:
            line += runner.cols("%-8s ", hms())
        if args.timestamp:
            line += runner.cols("%-9.6f ", ts)
        line += runner.cols(f"%-16x %-5d %-{comm_w}.{comm_w}s {ip_col}%-{addr_w}s %-5d "
                            f"%-{addr_w}s %-5d %-11s -> %-11s %.3f", ev.skaddr, ev.pid, comm,
                            ip, laddr, ev.sport, raddr, ev.dport, old, new, ms)
        print(line, flush=True)

    runner.run_events(session, handle, args.duration, header)
    return 0
