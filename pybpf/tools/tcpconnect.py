"""tcpconnect: active TCP connections (connect()). Where the kernel has fentry/fexit or
kprobes, as bcc does: the successful returns of tcp_v4_connect/tcp_v6_connect (BPF side in
pybpf.tools.tcp_kfunc). Else from sock:inet_sock_set_state (shared BPF side in
pybpf.tools.tcpstates): a socket entering SYN_SENT is a connect() by the current task, and
with -L the row waits for the socket's next state change, which has the local port.
Columns and options as bcc's tcpconnect; -v says which hook is used."""

from __future__ import annotations

import argparse
import socket
import time
from collections import Counter
from typing import Any

from pybpf.cli_support import argtypes
from pybpf.session import Session
from pybpf.tools import kfunc, procfs, runner, tcp_kfunc, tcp_options, tcpstates
from pybpf.tools.sock_events import addresses
from pybpf.tools.task_filter import TaskTarget

HELP = "trace TCP active connections (connect())"
# the tracepoint version's hook (kernel functions are used where this kernel has them)
NEEDS = ("tp:sock:inet_sock_set_state",)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-t", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-p", "--pid", type=argtypes.pid, help="trace this PID only")
    p.add_argument("-P", "--port", type=tcp_options.ports,
                   help="comma-separated list of destination ports to trace.")
    tcp_options.add_family_arguments(p)
    p.add_argument("-L", "--lport", action="store_true", help="include LPORT on output")
    p.add_argument("-U", "--print-uid", action="store_true", help="include UID on output")
    p.add_argument("-u", "--uid", type=argtypes.user, metavar="USER",
                   help="trace this UID (or user name) only")
    p.add_argument("-c", "--count", action="store_true", help="count connects per src ip and "
                   "dest ip/port")
    runner.add_duration(p)
    kfunc.add_arguments(p)


def run(args: argparse.Namespace) -> int:
    from pybpf.output import jsonl

    family = tcp_options.family_of(args)
    functions = tcp_kfunc.connect_functions(family)
    hook = kfunc.choose(args, "tcpconnect", functions, ret=True)
    if hook is None:
        return 1
    # -p and -u are tested in the kernel, where connect() runs in the caller's context
    target = TaskTarget(pid=args.pid or 0, uid=-1 if args.uid is None else args.uid)
    if hook == kfunc.TRACEPOINT:
        session: Session = tcpstates.build(family_only=family, connects_only=True,
                                           target=target)
    else:
        session = tcp_kfunc.build_connect(hook, target, family)
    using = kfunc.describe("fexit" if hook == kfunc.FENTRY else hook, functions,
                           "tracepoint sock:inet_sock_set_state")
    waiting: dict[int, tuple[Any, float]] = {}  # skaddr -> (SYN_SENT event, time) for -L
    counts: Counter[tuple[str, str, int]] = Counter()
    start = time.monotonic()

    def header() -> None:
        kfunc.announce(args, "tcpconnect", using)
        if args.json:
            runner.json_ready(args)
            return
        if args.count:
            print("Tracing connect ... Hit Ctrl-C to end", flush=True)
            return
        head = runner.cols("%-9s", "TIME(s)") if args.timestamp else ""
        if args.print_uid:
            head += runner.cols("%-6s", "UID")
        head += runner.cols("%-7s %-12s %-2s %-16s ", "PID", "COMM", "IP", "SADDR")
        if args.lport:
            head += runner.cols("%-6s ", "LPORT")
        print(head + runner.cols("%-16s %-6s", "DADDR", "DPORT"), flush=True)

    def show(ev: Any, sport: int, saddr: str, when: float, daddr: str = "") -> None:
        daddr = daddr or tcpstates.addresses(ev)[1]
        ip = 6 if ev.family == socket.AF_INET6 else 4
        comm = runner.text(ev.comm)
        uid = getattr(ev, "uid", None)  # the tracepoint's events carry it
        if uid is None:
            uid = procfs.uid(ev.pid) if args.print_uid else -1
        if args.count:
            counts[(saddr, daddr, ev.dport)] += 1
            return
        if args.json:
            obj: dict[str, Any] = {"ts": round(when - start, 6), "pid": ev.pid, "comm": comm,
                                   "ip": ip, "saddr": saddr, "daddr": daddr,
                                   "dport": ev.dport, "lport": sport}
            if uid >= 0:
                obj["uid"] = uid
            jsonl.emit(obj)
            return
        line = runner.cols("%-9.3f", when - start) if args.timestamp else ""
        if args.print_uid:
            line += runner.cols("%-6d", uid)
        line += runner.cols("%-7d %-12.12s %-2d %-16s ", ev.pid, comm, ip, saddr)
        if args.lport:
            line += runner.cols("%-6d ", sport)
        print(line + runner.cols("%-16s %-6d", daddr, ev.dport), flush=True)

    def handle_kfunc(ev: Any) -> None:  # one event per successful connect()
        if args.port and ev.dport not in args.port:
            return
        saddr, daddr = addresses(ev)
        show(ev, ev.lport, saddr, time.monotonic(), daddr)

    def handle(ev: Any) -> None:
        if ev.newstate == tcpstates.SYN_SENT:
            if args.port and ev.dport not in args.port:
                return
            if args.lport:
                waiting[ev.skaddr] = (ev, time.monotonic())
            else:
                show(ev, 0, tcpstates.addresses(ev)[0], time.monotonic())
            return
        entry = waiting.pop(ev.skaddr, None)
        if entry is not None:  # the next state change carries the local port
            syn, when = entry
            show(syn, ev.sport, tcpstates.addresses(ev)[0], when)

    def summary() -> None:
        if not args.count:
            return
        if args.json:
            for (s, d, port), n in counts.most_common():
                jsonl.emit({"saddr": s, "daddr": d, "dport": port, "connects": n})
            return
        print()
        print(runner.cols("%-25s %-25s %-20s %-10s", "LADDR", "RADDR", "RPORT", "CONNECTS"))
        for (s, d, port), n in counts.most_common():
            print(runner.cols("%-25s %-25s %-20d %-10d", s, d, port, n))

    runner.run_events(session, handle if hook == kfunc.TRACEPOINT else handle_kfunc,
                      args.duration, header)
    summary()
    return 0
