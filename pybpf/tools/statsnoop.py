"""statsnoop: trace stat() syscalls (syscalls:sys_enter/exit_ of statfs, newstat, newlstat,
newfstatat, statx), with bcc's options and columns. The path is read at entry, the result
at exit; user space pairs them by thread."""

from __future__ import annotations

import argparse
import time
from typing import Any

from pybpf.session import Session
from pybpf.tools import runner
from pybpf.tools.task_filter import ANY_TASK, TaskTarget, task_filter

HELP = "trace stat() syscalls"
NEEDS = ("tp:syscalls:sys_enter_newfstatat|syscalls:sys_enter_statx",)
# syscall -> the entry tracepoint's path field
SYSCALLS = {"statfs": "pathname", "newstat": "filename", "newlstat": "filename",
            "newfstatat": "filename", "statx": "filename"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-t", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-x", "--failed", action="store_true", help="only show failed stats")
    p.add_argument("-p", "--pid", type=int, help="trace this PID only")
    p.add_argument("-s", "--sys", action="store_true", help="show the syscall name")
    runner.add_duration(p)


def available() -> list[str]:
    from pybpf.btf.tracefs import tracepoint_exists

    return [n for n in SYSCALLS if tracepoint_exists("syscalls", f"sys_enter_{n}")]


def build(target: TaskTarget = ANY_TASK) -> Session:
    """Per stat syscall: an entry program (kind 0: path) and an exit program (kind 1:
    result), both tagged with the syscall's index in SYSCALLS."""
    from pybpf import bpf, comm, pid, s64, tid, u32

    class Event(bpf.Struct):
        kind: u32
        call: u32
        pid: u32
        tid: u32
        ret: s64
        comm: "char[16]"  # noqa: F821, UP037
        path: "char[256]"  # noqa: F821, UP037

    s = Session()
    events = s.ringbuf(Event)
    wanted = task_filter(target)

    def enter(name: str, index: int) -> Any:
        if SYSCALLS[name] == "pathname":
            @bpf.tracepoint(f"syscalls:sys_enter_{name}")
            def statsnoop_enter_p(ctx):
                if target.given:
                    if not wanted():
                        return 0
                events.submit(Event(kind=0, call=index, pid=pid(), tid=tid(), comm=comm(),
                                    path=str(ctx.pathname, 256)))
                return 0

            return statsnoop_enter_p

        @bpf.tracepoint(f"syscalls:sys_enter_{name}")
        def statsnoop_enter(ctx):
            if target.given:
                if not wanted():
                    return 0
            events.submit(Event(kind=0, call=index, pid=pid(), tid=tid(), comm=comm(),
                                path=str(ctx.filename, 256)))
            return 0

        return statsnoop_enter

    def leave(name: str, index: int) -> Any:
        @bpf.tracepoint(f"syscalls:sys_exit_{name}")
        def statsnoop_exit(ctx):
            if target.given:
                if not wanted():
                    return 0
            events.submit(Event(kind=1, call=index, pid=pid(), tid=tid(), ret=s64(ctx.ret)))
            return 0

        return statsnoop_exit

    names = list(SYSCALLS)
    for name in available():
        s.program(enter(name, names.index(name)))
        s.program(leave(name, names.index(name)))
    return s


def run(args: argparse.Namespace) -> int:
    from pybpf.output import jsonl

    session = build(TaskTarget.from_args(args))
    names = list(SYSCALLS)
    calls = runner.CallPairs()
    start = [0.0]

    def header() -> None:
        if args.json:
            runner.json_ready(args)
            return
        head = runner.cols("%-14s ", "TIME(s)") if args.timestamp else ""
        if args.sys:
            head += runner.cols("%-12s ", "SYSCALL")
        print(head + runner.cols("%-6s %-16s %4s %3s %s", "PID", "COMM", "FD", "ERR", "PATH"),
              flush=True)

    def handle(ev: Any) -> None:
        entry = calls.entry_of(ev)
        if entry is None:
            return
        if args.failed and ev.ret >= 0:
            return
        ret, err = (-1, -ev.ret) if ev.ret < 0 else (ev.ret, 0)
        now = time.monotonic()
        if not start[0]:
            start[0] = now
        call, comm, path = names[ev.call], runner.text(entry.comm), runner.text(entry.path)
        if args.json:
            jsonl.emit({"ts": round(now - start[0], 6), "syscall": call, "pid": entry.pid,
                        "tid": entry.tid, "comm": comm, "ret": ret, "err": err, "path": path})
            return
        line = runner.cols("%-14.9f ", now - start[0]) if args.timestamp else ""
        if args.sys:
            line += runner.cols("%-12s ", call)
        print(line + runner.cols("%-6d %-16s %4d %3d %s", entry.pid, comm, ret, err, path),
              flush=True)

    runner.run_events(session, handle, args.duration, header)
    return 0
