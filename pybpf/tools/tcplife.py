"""tcplife: TCP sessions with their lifespan and bytes, one line when each closes, from
sock:inet_sock_set_state (shared BPF side in tcpstates), as bcc's tcplife prints them."""

from __future__ import annotations

import argparse
import socket
import time
from typing import Any

from pybpf.cli_support import argtypes
from pybpf.session import Session
from pybpf.tools import runner, tcp_options, tcpstates

HELP = "trace the lifespan of TCP sessions and summarize"
NEEDS = ("tp:sock:inet_sock_set_state",)
SESSION_STATES = (tcpstates.ESTABLISHED, tcpstates.SYN_SENT, tcpstates.SYN_RECV)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-T", "--time", action="store_true",
                   help="include time column on output (HH:MM:SS)")
    p.add_argument("-t", "--timestamp", action="store_true",
                   help="include timestamp on output (seconds)")
    p.add_argument("-w", "--wide", action="store_true",
                   help="wide column output (fits IPv6 addresses)")
    p.add_argument("-s", "--csv", action="store_true", help="comma separated values output")
    p.add_argument("-p", "--pid", type=argtypes.pid, help="trace this PID only")
    p.add_argument("-L", "--localport", type=tcp_options.ports,
                   help="comma-separated list of local ports to trace.")
    p.add_argument("-D", "--remoteport", type=tcp_options.ports,
                   help="comma-separated list of remote ports to trace.")
    tcp_options.add_family_arguments(p)
    runner.add_duration(p)


class Lives:
    """Sessions (sockets that reached SYN_SENT, SYN_RECV or ESTABLISHED) ending at
    TCP_CLOSE: `feed(ev)` returns a finished session's record, or None."""

    def __init__(self) -> None:
        self.tracker = tcpstates.Tracker()
        self.births: dict[int, int] = {}

    def feed(self, ev: Any) -> dict[str, Any] | None:
        conn = self.tracker.feed(ev)
        if ev.newstate in SESSION_STATES:
            self.births.setdefault(ev.skaddr, ev.ts)
        if ev.newstate != tcpstates.CLOSE:
            return None
        born = self.births.pop(ev.skaddr, None)
        if born is None:
            return None
        laddr, raddr = tcpstates.addresses(ev)
        pid, comm = conn.pid, conn.comm
        if not pid:
            pid, comm = ev.pid, runner.text(ev.comm)
        return {"pid": pid, "comm": comm, "ip": 6 if ev.family == socket.AF_INET6 else 4,
                "laddr": laddr, "lport": ev.sport, "raddr": raddr, "rport": ev.dport,
                "tx_kb": ev.tx // 1024, "rx_kb": ev.rx // 1024, "tx_bytes": ev.tx,
                "rx_bytes": ev.rx, "ms": (ev.ts - born) / 1e6, "active": conn.active,
                "ts": ev.ts}


def run(args: argparse.Namespace) -> int:
    from pybpf.output import jsonl

    session: Session = tcpstates.build(family_only=tcp_options.family_of(args))
    lives = Lives()
    first = [0]
    if args.csv:
        head_fmt = "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s"
        row_fmt = "%d,%s,%s,%s,%s,%s,%d,%d,%d,%.2f"
    elif args.wide:
        head_fmt = "%-5s %-16.16s %-2s %-39s %-5s %-39s %-5s %6s %6s %s"
        row_fmt = "%-5d %-16.16s %-2s %-39s %-5s %-39s %-5d %6d %6d %.2f"
    else:
        head_fmt = "%-5s %-10.10s %s%-15s %-5s %-15s %-5s %5s %5s %s"
        row_fmt = "%-5d %-10.10s %s%-15s %-5d %-15s %-5d %5d %5d %.2f"

    def prefix(ts_ns: int | None) -> str:
        out = ""
        if args.time:
            out += runner.cols("%s," if args.csv else "%-8s ",
                               "TIME" if ts_ns is None else time.strftime("%H:%M:%S"))
        if args.timestamp:
            if ts_ns is None:
                out += runner.cols("%s," if args.csv else "%-9s ", "TIME(s)")
            else:
                if not first[0]:
                    first[0] = ts_ns
                out += runner.cols("%.6f," if args.csv else "%-9.6f ",
                                   (ts_ns - first[0]) / 1e9)
        return out

    def header() -> None:
        if args.json:
            runner.json_ready(args)
            return
        print(prefix(None) + runner.cols(head_fmt, "PID", "COMM",
                                         "IP" if args.wide or args.csv else "", "LADDR",
                                         "LPORT", "RADDR", "RPORT", "TX_KB", "RX_KB", "MS"),
              flush=True)

    def handle(ev: Any) -> None:
        rec = lives.feed(ev)
        if rec is None:
            return
        if args.pid and rec["pid"] != args.pid:
            return
        if args.localport and rec["lport"] not in args.localport:
            return
        if args.remoteport and rec["rport"] not in args.remoteport:
            return
        if args.json:
            obj: dict[str, Any] = {}
            if args.time:
                obj["time"] = time.strftime("%H:%M:%S")
            if args.timestamp:  # seconds since the first session, as the text column
                first[0] = first[0] or rec["ts"]
                obj["ts"] = round((rec["ts"] - first[0]) / 1e9, 6)
            obj.update((k, v) for k, v in rec.items() if k != "ts")
            jsonl.emit(obj)
            return
        ip = str(rec["ip"]) if args.wide or args.csv else ""
        print(prefix(rec["ts"]) + runner.cols(row_fmt, rec["pid"], rec["comm"], ip,
                                              rec["laddr"], rec["lport"], rec["raddr"],
                                              rec["rport"], rec["tx_kb"], rec["rx_kb"],
                                              rec["ms"]), flush=True)

    runner.run_events(session, handle, args.duration, header)
    return 0
