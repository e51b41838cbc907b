"""execsnoop: trace new processes through exec() (syscalls:sys_enter/exit_execve), with bcc's
options and columns."""

from __future__ import annotations

import argparse
import re
import time
from typing import Any

from pybpf.cli_support import argtypes
from pybpf.cli_support.clock import hms
from pybpf.session import Session
from pybpf.tools import procfs, runner
from pybpf.tools.task_filter import ANY_TASK, TaskTarget, task_filter

HELP = "trace new processes via exec() syscalls"
NEEDS = ("tp:syscalls:sys_enter_execve", "tp:syscalls:sys_exit_execve")
EVENT_ARG, EVENT_RET = 0, 1

# --max-args is the bound of an unrolled loop in the program: the verifier follows every
# iteration, and a few thousand are more than it checks (the compiler refuses them), so the
# option stops well before that rather than failing as an internal error
_max_args = argtypes.ranged("an argument count the program can follow", 1, 1024)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-T", "--time", action="store_true",
                   help="include time column on output (HH:MM:SS)")
    p.add_argument("-t", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-x", "--fails", action="store_true", help="include failed exec()s")
    p.add_argument("-u", "--uid", type=argtypes.user, metavar="USER",
                   help="trace this UID (or user name) only")
    p.add_argument("-q", "--quote", action="store_true",
                   help='add quotemarks (") around arguments')
    p.add_argument("-n", "--name", help="only print commands matching this name (regex), any arg")
    p.add_argument("-l", "--line", help="only print commands where arg contains this line (regex)")
    p.add_argument("-U", "--print-uid", action="store_true", help="print UID column")
    p.add_argument("-C", "--print-cpu", action="store_true", help="print CPU column")
    p.add_argument("-M", "--print-pcomm", action="store_true", help="print parent command")
    p.add_argument("--max-args", type=_max_args, default=20,
                   help="maximum number of arguments parsed and displayed, defaults to 20")
    p.add_argument("-P", "--ppid", type=argtypes.pid, help="trace this parent PID only")
    runner.add_duration(p)


def build(max_args: int = 20, target: TaskTarget = ANY_TASK, ppid_only: int = 0,
          ring_size: int = 1 << 20, unit: str = "events") -> Session:
    """Programs on sys_enter_execve (one ARG event per argument) and sys_exit_execve (the RET
    event with the result and the new comm). Every record has the kernel's time (`ts`,
    CLOCK_MONOTONIC ns), which pybpf snapshot shows; `ring_size` and `unit` (what the loss
    report counts) are for it too."""
    from pybpf import bpf, comm, cpu, current_task, ktime_ns, pid, s32, u32, u64, uid

    class Event(bpf.Struct):
        ts: u64
        kind: u32
        pid: u32
        ppid: u32
        uid: u32
        retval: s32
        cpu: u32
        comm: "char[16]"  # noqa: F821, UP037
        arg: "char[128]"  # noqa: F821, UP037

    s = Session(unit=unit)
    events = s.ringbuf(Event, ring_size)
    wanted = task_filter(target)

    @bpf.tracepoint("syscalls:sys_enter_execve")
    def execsnoop_enter(ctx):
        if target.given:
            if not wanted():
                return 0
        ppid = current_task().real_parent.tgid
        if ppid_only and ppid != ppid_only:
            return 0
        events.submit(Event(ts=ktime_ns(), kind=0, pid=pid(), ppid=ppid, uid=uid(),
                            comm=comm(), arg=str(ctx.filename, 128)))
        argv = ctx.argv
        for i in range(1, max_args):
            # argv[i]: a user-space pointer, read byte by byte (no u64 user read in the
            # language yet); a zero byte reads as an empty string
            p: u64 = 0
            for j in range(6):
                b = str(argv + i * 8 + j, 2)
                p = p | (u64(u32(b[0]) & 255) << (8 * j))
            if p == 0:
                break
            up = ctx.filename
            up = p
            events.submit(Event(ts=ktime_ns(), kind=0, pid=pid(), ppid=ppid, uid=uid(),
                                comm=comm(), arg=str(up, 128)))
        return 0

    @bpf.tracepoint("syscalls:sys_exit_execve")
    def execsnoop_exit(ctx):
        if target.given:
            if not wanted():
                return 0
        ppid = current_task().real_parent.tgid
        if ppid_only and ppid != ppid_only:
            return 0
        events.submit(Event(ts=ktime_ns(), kind=1, pid=pid(), ppid=ppid, uid=uid(),
                            retval=s32(ctx.ret), cpu=cpu(), comm=comm()))
        return 0

    s.program(execsnoop_enter)
    s.program(execsnoop_exit)
    return s


def run(args: argparse.Namespace) -> int:
    from pybpf.output import jsonl

    session = build(args.max_args, TaskTarget.from_args(args), args.ppid or 0)
    pending: dict[int, list[str]] = {}
    start = time.monotonic()
    name_re = re.compile(args.name) if args.name else None
    line_re = re.compile(args.line) if args.line else None

    def header() -> None:
        if args.json:
            runner.json_ready(args)
            return
        head = ""
        if args.time:
            head += runner.cols("%-9s", "TIME")
        if args.timestamp:
            head += runner.cols("%-8s", "TIME(s)")
        if args.print_uid:
            head += runner.cols("%-6s", "UID")
        head += runner.cols("%-16s %-7s ", "PCOMM", "PID")  # bcc's name for the comm column
        if args.print_pcomm:
            head += runner.cols("%-16s ", "PARENT")
        head += runner.cols("%-7s ", "PPID")
        if args.print_cpu:
            head += runner.cols("%-4s ", "CPU")
        head += runner.cols("%3s %s", "RET", "ARGS")
        print(head, flush=True)

    def handle(ev: Any) -> None:
        if ev.kind == EVENT_ARG:
            pending.setdefault(ev.pid, []).append(runner.text(ev.arg))
            return
        argv = pending.pop(ev.pid, [])
        if ev.retval != 0 and not args.fails:
            return
        comm = runner.text(ev.comm)
        if args.quote:
            argv = ['"' + a.replace('"', '\\"') + '"' for a in argv]
        argv_text = " ".join(argv)
        if name_re and not name_re.search(comm) and not name_re.search(argv_text):
            return
        if line_re and not line_re.search(argv_text):
            return
        if args.json:
            jsonl.emit({"time": hms(), "ts": round(time.monotonic() - start, 6),
                        "uid": ev.uid, "comm": comm, "pid": ev.pid, "ppid": ev.ppid,
                        "cpu": ev.cpu, "ret": ev.retval, "args": argv})
            return
        line = ""
        if args.time:
            line += runner.cols("%-9s", hms())
        if args.timestamp:
            line += runner.cols("%-8.3f", time.monotonic() - start)
        if args.print_uid:
            line += runner.cols("%-6d", ev.uid)
        line += runner.cols("%-16s %-7d ", comm, ev.pid)
        if args.print_pcomm:
            line += runner.cols("%-16s ", procfs.comm(ev.ppid, "?"))
        line += runner.cols("%-7s ", ev.ppid)
        if args.print_cpu:
            line += runner.cols("%-4d ", ev.cpu)
        line += runner.cols("%3d %s", ev.retval, argv_text)
        print(line, flush=True)

    runner.run_events(session, handle, args.duration, header)
    return 0
