"""tcpaccept: passive TCP connections (accept()). Where the kernel has fexit or kretprobes,
as bcc does: the sockets inet_csk_accept returns (BPF side in pybpf.tools.tcp_kfunc). Else
from the exits of accept() and accept4(): the returned descriptor's socket is found through
the task's file table in BPF, so the process, its addresses and ports are those of the
accepting call. Columns and options as bcc's tcpaccept; -v says which hook is used."""

from __future__ import annotations

import argparse
import socket
import time
from typing import Any

from pybpf.cli_support import argtypes
from pybpf.cli_support.clock import hms
from pybpf.session import Session
from pybpf.tools import kfunc, runner, tcp_options
from pybpf.tools.sock_events import IPPROTO_TCP, addresses, sock_event_ring
from pybpf.tools.task_filter import ANY_TASK, TaskTarget, task_filter

HELP = "trace TCP passive connections (accept())"
# the tracepoint version's hook (kernel functions are used where this kernel has them)
NEEDS = ("tp:syscalls:sys_exit_accept4",)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-T", "--time", action="store_true",
                   help="include time column on output (HH:MM:SS)")
    p.add_argument("-t", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-p", "--pid", type=argtypes.pid, help="trace this PID only")
    p.add_argument("-P", "--port", type=tcp_options.ports,
                   help="comma-separated list of local ports to trace")
    tcp_options.add_family_arguments(p)
    runner.add_duration(p)
    kfunc.add_arguments(p)


def build(target: TaskTarget = ANY_TASK, family_only: int = 0) -> Session:
    from pybpf import bpf, cast, current_task, u64

    s = Session()
    submit_sock = sock_event_ring(s, family_only)
    wanted = task_filter(target)

    def on_exit(name: str) -> Any:
        @bpf.tracepoint(f"syscalls:sys_exit_{name}")
        def tcpaccept_exit(ctx):
            if ctx.ret < 0:
                return 0
            if target.given:
                if not wanted():
                    return 0
            # the new descriptor's struct file: task->files->fdt->fd[ret] (read as the first
            # pointer of a struct llist_node: indexing a struct file ** is not compiled yet)
            slot = u64(current_task().files.fdt.fd) + 8 * u64(ctx.ret)
            f = cast(cast(slot, "struct llist_node").next, "struct file")
            sk = cast(f.private_data, "struct socket").sk
            if sk.sk_protocol != IPPROTO_TCP:
                return 0
            submit_sock(sk)
            return 0

        return tcpaccept_exit

    for name in ("accept", "accept4"):
        s.program(on_exit(name))
    return s


def run(args: argparse.Namespace) -> int:
    from pybpf.output import jsonl
    from pybpf.tools import tcp_kfunc

    hook = kfunc.choose(args, "tcpaccept", tcp_kfunc.ACCEPT, entry=False, ret=True)
    if hook is None:
        return 1
    target, family = TaskTarget.from_args(args), tcp_options.family_of(args)
    if hook == kfunc.TRACEPOINT:
        session = build(target, family)
    else:
        session = tcp_kfunc.build_accept(hook, target, family)
    using = kfunc.describe("fexit" if hook == kfunc.FENTRY else "kretprobe" if
                           hook == kfunc.KPROBE else hook, tcp_kfunc.ACCEPT,
                           "tracepoints syscalls:sys_exit_accept/sys_exit_accept4")
    start = time.monotonic()

    def header() -> None:
        kfunc.announce(args, "tcpaccept", using)
        if args.json:
            runner.json_ready(args)
            return
        head = runner.cols("%-9s", "TIME") if args.time else ""
        if args.timestamp:
            head += runner.cols("%-9s", "TIME(s)")
        print(head + runner.cols("%-7s %-12s %-2s %-16s %-5s %-16s %-5s", "PID", "COMM", "IP",
                                 "RADDR", "RPORT", "LADDR", "LPORT"), flush=True)

    def handle(ev: Any) -> None:
        if args.port and ev.lport not in args.port:
            return
        laddr, raddr = addresses(ev)
        ip = 6 if ev.family == socket.AF_INET6 else 4
        comm = runner.text(ev.comm)
        if args.json:
            jsonl.emit({"time": hms(), "ts": round(time.monotonic() - start, 6),
                        "pid": ev.pid, "comm": comm, "ip": ip, "raddr": raddr,
                        "rport": ev.dport, "laddr": laddr, "lport": ev.lport})
            return
        line = runner.cols("%-9s", hms()) if args.time else ""
        if args.timestamp:
            line += runner.cols("%-9.3f", time.monotonic() - start)
        print(line + runner.cols("%-7d %-12.12s %-2d %-16s %-5d %-16s %-5d", ev.pid, comm, ip,
                                 raddr, ev.dport, laddr, ev.lport), flush=True)

    runner.run_events(session, handle, args.duration, header)
    return 0
