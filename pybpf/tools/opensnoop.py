"""opensnoop: trace open() syscalls (syscalls:sys_enter/exit_open, openat, openat2) with bcc's
options and columns. The path is read at entry, the result at exit; user space pairs them by
thread."""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from pybpf.cli_support.argtypes import positive_float
from pybpf.session import Session
from pybpf.tools import runner
from pybpf.tools.task_filter import ANY_TASK, TaskTarget, task_filter

HELP = "trace open() syscalls"
NEEDS = ("tp:syscalls:sys_enter_openat",)
SYSCALLS = ("open", "openat", "openat2")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-U", "--print-uid", action="store_true", help="print UID column")
    p.add_argument("-x", "--failed", action="store_true", help="only show failed opens")
    p.add_argument("-p", "--pid", type=int, help="trace this PID only")
    p.add_argument("-t", "--tid", type=int, help="trace this TID only")
    p.add_argument("-u", "--uid", type=int, help="trace this UID only")
    p.add_argument("-d", "--duration", type=positive_float,
                   help="total duration of trace in seconds")
    p.add_argument("-n", "--name", help="only print process names containing this name")
    p.add_argument("-e", "--extended_fields", action="store_true", help="show extended fields")
    p.add_argument("-F", "--full-path", action="store_true",
                   help="show full path for an open file with relative path")


def build(target: TaskTarget = ANY_TASK, syscalls: tuple[str, ...] = SYSCALLS) -> Session:
    from pybpf import bpf, comm, pid, s64, tid, u32, u64, uid
    from pybpf.btf.tracefs import tracepoint_exists

    class Event(bpf.Struct):
        kind: u32
        pid: u32
        tid: u32
        uid: u32
        ret: s64
        flags: u64
        mode: u64
        comm: "char[16]"  # noqa: F821, UP037
        path: "char[256]"  # noqa: F821, UP037

    s = Session()
    events = s.ringbuf(Event)
    wanted = task_filter(target)

    def enter(name: str) -> Any:
        # (a constant-false `if` is still type-checked by the compiler: openat2, which has no
        # flags field, gets its own function)
        if name == "openat2":
            @bpf.tracepoint("syscalls:sys_enter_openat2")
            def opensnoop_enter2(ctx):
                if target.given:
                    if not wanted():
                        return 0
                events.submit(Event(kind=0, pid=pid(), tid=tid(), uid=uid(), comm=comm(),
                                    path=str(ctx.filename, 256)))
                return 0

            return opensnoop_enter2

        @bpf.tracepoint(f"syscalls:sys_enter_{name}")
        def opensnoop_enter(ctx):
            if target.given:
                if not wanted():
                    return 0
            events.submit(Event(kind=0, pid=pid(), tid=tid(), uid=uid(), comm=comm(),
                                flags=ctx.flags, mode=ctx.mode, path=str(ctx.filename, 256)))
            return 0

        return opensnoop_enter

    def leave(name: str) -> Any:
        @bpf.tracepoint(f"syscalls:sys_exit_{name}")
        def opensnoop_exit(ctx):
            if target.given:
                if not wanted():
                    return 0
            events.submit(Event(kind=1, pid=pid(), tid=tid(), uid=uid(), ret=s64(ctx.ret)))
            return 0

        return opensnoop_exit

    for name in syscalls:
        if tracepoint_exists("syscalls", f"sys_enter_{name}"):
            s.program(enter(name))
            s.program(leave(name))
    return s


def _full_path(pid: int, path: str) -> str:
    if path.startswith("/"):
        return path
    try:
        return os.path.join(os.readlink(f"/proc/{pid}/cwd"), path)
    except OSError:
        return path


def run(args: argparse.Namespace) -> int:
    from pybpf.output import jsonl

    session = build(TaskTarget.from_args(args))
    calls = runner.CallPairs()
    start = time.monotonic()

    def header() -> None:
        if args.json:
            runner.json_ready(args)
            return
        head = ""
        if args.timestamp:
            head += runner.cols("%-14s", "TIME(s)")
        if args.print_uid:
            head += runner.cols("%-6s", "UID")
        head += runner.cols("%-6s %-16s %4s %3s ", "TID" if args.tid else "PID", "COMM", "FD",
                            "ERR")
        if args.extended_fields:
            head += runner.cols("%-8s %-4s ", "FLAGS", "MODE")
        print(head + "PATH", flush=True)

    def handle(ev: Any) -> None:
        entry = calls.entry_of(ev)
        if entry is None:
            return
        fd, err = (-1, -ev.ret) if ev.ret < 0 else (ev.ret, 0)
        if args.failed and ev.ret >= 0:
            return
        comm = runner.text(entry.comm)
        if args.name and args.name not in comm:
            return
        path = runner.text(entry.path)
        if args.full_path:
            path = _full_path(entry.pid, path)
        ident = entry.tid if args.tid else entry.pid
        if args.json:
            jsonl.emit({"ts": round(time.monotonic() - start, 9), "uid": entry.uid,
                        "pid": entry.pid, "tid": entry.tid, "comm": comm, "fd": fd,
                        "err": err, "flags": entry.flags, "mode": entry.mode, "path": path})
            return
        line = ""
        if args.timestamp:
            line += runner.cols("%-14.9f", time.monotonic() - start)
        if args.print_uid:
            line += runner.cols("%-6d", entry.uid)
        line += runner.cols("%-6d %-16s %4d %3d ", ident, comm, fd, err)
        if args.extended_fields:
            line += runner.cols("%08o %04o ", entry.flags, entry.mode)
        print(line + path, flush=True)

    runner.run_events(session, handle, args.duration, header)
    return 0
