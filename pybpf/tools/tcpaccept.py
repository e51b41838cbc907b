"""tcpaccept: passive TCP connections (accept()). Where the kernel has fexit or kretprobes,
as bcc does: the sockets inet_csk_accept returns (BPF side in pybpf.tools.tcp_kfunc). Else
from the exits of accept() and accept4(): the returned descriptor's socket is found through
the task's file table in BPF, so the process, its addresses and ports are those of the
accepting call. Columns and options as bcc's tcpaccept; -v says which hook is used."""

from __future__ import annotations

import argparse
import ipaddress
import socket
import time
from typing import Any

from pybpf.tools import kfunc, runner
from pybpf.tools.session import Session
from pybpf.tools.tcplife import _ports, family_of

HELP = "trace TCP passive connections (accept())"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-T", "--time", action="store_true",
                   help="include time column on output (HH:MM:SS)")
    p.add_argument("-t", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-p", "--pid", type=int, help="trace this PID only")
    p.add_argument("-P", "--port", type=_ports, help="comma-separated list of local ports to "
                   "trace")
    fam = p.add_mutually_exclusive_group()
    fam.add_argument("-4", "--ipv4", action="store_true", help="trace IPv4 family only")
    fam.add_argument("-6", "--ipv6", action="store_true", help="trace IPv6 family only")
    runner.add_duration(p)
    kfunc.add_arguments(p)


def _offsets() -> tuple[int, int]:
    """Offsets in struct sock of the IPv6 remote and local addresses."""
    from pybpf.btf import kernel_btf

    btf = kernel_btf()
    common = btf.member(btf.struct("sock"), "__sk_common", follow_pointers=False).offset
    t = btf.struct("sock_common")
    d6 = btf.member(t, "skc_v6_daddr", follow_pointers=False).offset
    s6 = btf.member(t, "skc_v6_rcv_saddr", follow_pointers=False).offset
    return common + d6, common + s6


def build(target_pid: int = 0, family_only: int = 0) -> Session:
    from pybpf import bpf, cast, comm, current_task, pid, u32, u64

    d6_off, s6_off = _offsets()

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

    s = Session()
    events = s.ringbuf(Event, 1 << 18)

    def on_exit(name: str) -> Any:
        @bpf.tracepoint(f"syscalls:sys_exit_{name}")
        def tcpaccept_exit(ctx):
            if ctx.ret < 0:
                return 0
            if target_pid and pid() != target_pid:
                return 0
            # the new descriptor's struct file: task->files->fdt->fd[ret] (read as the first
            # pointer of a struct llist_node: indexing a struct file ** is not compiled yet)
            slot = u64(current_task().files.fdt.fd) + 8 * u64(ctx.ret)
            f = cast(cast(slot, "struct llist_node").next, "struct file")
            sk = cast(f.private_data, "struct socket").sk
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

        return tcpaccept_exit

    for name in ("accept", "accept4"):
        s.program(on_exit(name))
    return s


def addresses(ev: Any) -> tuple[str, str]:
    """(local, remote) text; the IPv6 words were read in memory order (little-endian u64)."""
    if ev.family == socket.AF_INET6:
        def v6(hi: int, lo: int) -> str:
            raw = hi.to_bytes(8, "little") + lo.to_bytes(8, "little")
            return str(ipaddress.IPv6Address(raw))

        return v6(ev.s6hi, ev.s6lo), v6(ev.d6hi, ev.d6lo)
    return (str(ipaddress.IPv4Address(ev.saddr.to_bytes(4, "little"))),
            str(ipaddress.IPv4Address(ev.daddr.to_bytes(4, "little"))))


def run(args: argparse.Namespace) -> int:
    from pybpf.output import jsonl
    from pybpf.tools import tcp_kfunc

    hook = kfunc.choose(args, "tcpaccept", tcp_kfunc.ACCEPT, entry=False, ret=True)
    if hook is None:
        return 1
    if hook == kfunc.TRACEPOINT:
        session = build(args.pid or 0, family_of(args))
    else:
        session = tcp_kfunc.build_accept(hook, args.pid or 0, family_of(args))
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
            jsonl.emit({"time": runner.hms(), "ts": round(time.monotonic() - start, 6),
                        "pid": ev.pid, "comm": comm, "ip": ip, "raddr": raddr,
                        "rport": ev.dport, "laddr": laddr, "lport": ev.lport})
            return
        line = runner.cols("%-9s", runner.hms()) if args.time else ""
        if args.timestamp:
            line += runner.cols("%-9.3f", time.monotonic() - start)
        print(line + runner.cols("%-7d %-12.12s %-2d %-16s %-5d %-16s %-5d", ev.pid, comm, ip,
                                 raddr, ev.dport, laddr, ev.lport), flush=True)

    runner.run_events(session, handle, args.duration, header)
    return 0
