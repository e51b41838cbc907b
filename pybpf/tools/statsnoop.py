"""statsnoop: trace stat() syscalls (syscalls:sys_enter/exit_ of statfs, newstat, newlstat,
newfstatat, statx), with bcc's options and columns. Joined in the kernel as bcc does: the entry
keeps the path's address by thread, the exit reads the path and sends one event per call, so
that losses count calls."""

from __future__ import annotations

import argparse
import time
from typing import Any

from pybpf.cli_support import argtypes
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
    p.add_argument("-p", "--pid", type=argtypes.pid, help="trace this PID only")
    p.add_argument("-s", "--sys", action="store_true", help="show the syscall name")
    runner.add_duration(p)


def available() -> list[str]:
    return runner.syscalls_traceable(SYSCALLS)


def build(target: TaskTarget = ANY_TASK, failed: bool = False, ring_size: int = 1 << 20,
          max_calls: int = 10240) -> Session:
    """Per stat syscall an entry program, which keeps the path's address in `start` by thread
    (only the target's: -p applies here), and an exit program, which takes it out and submits
    one event with the result (with `failed`, only for failed calls), tagged with the
    syscall's index in SYSCALLS. `ring_size` and `max_calls` (the ring buffer's size and how
    many calls may be in progress at once) let tests make them overflow."""
    from pybpf import bpf, comm, maps, pid, s64, tid, u32, u64

    class Event(bpf.Struct):
        ret: s64
        call: u32
        pid: u32
        tid: u32
        comm: "char[16]"  # noqa: F821, UP037
        path: "char[256]"  # noqa: F821, UP037

    s = Session(unit="stat calls")
    events = s.ringbuf(Event, ring_size)
    # the user's pointer: the path is read at exit, as bcc does; the kernel has read it by then,
    # so its page is present (a tracepoint cannot fault a page in)
    start = s.map(maps.Hash(key=u32, value=u64, max_entries=max_calls, name="stat_start"),
                  loses="start")
    wanted = task_filter(target)

    def enter(name: str) -> Any:
        if SYSCALLS[name] == "pathname":
            @bpf.tracepoint(f"syscalls:sys_enter_{name}")
            def statsnoop_enter_p(ctx):
                if target.given:
                    if not wanted():
                        return 0
                start[tid()] = u64(ctx.pathname)
                return 0

            return statsnoop_enter_p

        @bpf.tracepoint(f"syscalls:sys_enter_{name}")
        def statsnoop_enter(ctx):
            if target.given:
                if not wanted():
                    return 0
            start[tid()] = u64(ctx.filename)
            return 0

        return statsnoop_enter

    def leave(name: str, index: int) -> Any:
        @bpf.tracepoint(f"syscalls:sys_exit_{name}")
        def statsnoop_exit(ctx):
            t = tid()
            if t not in start:  # not the target's, or begun before tracing
                return 0
            fname = start[t]
            del start[t]
            ret = s64(ctx.ret)
            if failed and ret >= 0:
                return 0
            events.submit(Event(ret=ret, call=index, pid=pid(), tid=t, comm=comm(),
                                path=user_str(fname, 256)))  # noqa: F821 - a pybpf builtin
            return 0

        return statsnoop_exit

    names = list(SYSCALLS)
    for name in available():
        # exits first: an entry kept before its exit is attached would stay in `start`
        s.program(leave(name, names.index(name)))
        s.program(enter(name))
    return s


def run(args: argparse.Namespace) -> int:
    from pybpf.output import jsonl

    session = build(TaskTarget.from_args(args), failed=args.failed)
    names = list(SYSCALLS)
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
        ret, err = (-1, -ev.ret) if ev.ret < 0 else (ev.ret, 0)
        now = time.monotonic()
        if not start[0]:
            start[0] = now
        call, comm, path = names[ev.call], runner.text(ev.comm), runner.text(ev.path)
        if args.json:
            jsonl.emit({"ts": round(now - start[0], 6), "syscall": call, "pid": ev.pid,
                        "tid": ev.tid, "comm": comm, "ret": ret, "err": err, "path": path})
            return
        line = runner.cols("%-14.9f ", now - start[0]) if args.timestamp else ""
        if args.sys:
            line += runner.cols("%-12s ", call)
        print(line + runner.cols("%-6d %-16s %4d %3d %s", ev.pid, comm, ret, err, path),
              flush=True)

    runner.run_events(session, handle, args.duration, header)
    return 0
