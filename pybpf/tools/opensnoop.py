"""opensnoop: trace open() syscalls (syscalls:sys_enter/exit_open, openat, openat2) with bcc's
options and columns. Joined in the kernel as bcc does: the entry keeps the arguments by thread,
the exit adds the result and sends one event per open, so that losses count opens."""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from pybpf.cli_support import argtypes
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
    p.add_argument("-p", "--pid", type=argtypes.pid, help="trace this PID only")
    p.add_argument("-t", "--tid", type=argtypes.tid, help="trace this TID only")
    p.add_argument("-u", "--uid", type=argtypes.user, metavar="USER",
                   help="trace this UID (or user name) only")
    p.add_argument("-d", "--duration", type=positive_float,
                   help="total duration of trace in seconds")
    p.add_argument("-n", "--name", help="only print process names containing this name")
    p.add_argument("-e", "--extended_fields", action="store_true", help="show extended fields")
    p.add_argument("-f", "--flag_filter", action="append", type=argtypes.open_flag,
                   metavar="FLAG", help="filter on flags argument (e.g., O_WRONLY)")
    p.add_argument("-F", "--full-path", action="store_true",
                   help="show full path for an open file with relative path")
    # bcc's 64 pages are per CPU (perf buffers); the ring buffer here is one for all CPUs
    p.add_argument("-b", "--buffer-pages", type=argtypes.buffer_pages,
                   help="size of the ring buffer, in pages (a power of two; default 1 MiB)")


def build(target: TaskTarget = ANY_TASK, syscalls: tuple[str, ...] = SYSCALLS,
          failed: bool = False, ring_size: int = 1 << 20, max_calls: int = 10240,
          flag_mask: int = 0) -> Session:
    """Per open syscall an entry program, which keeps the arguments in `start` by thread (only
    the target's: -p/-t/-u apply here, and with `flag_mask` only opens whose flags have one of
    its bits), and an exit program, which takes them out and submits one event with the
    result (with `failed`, only for failed opens). `ring_size` and
    `max_calls` (the ring buffer's size and how many opens may be in progress at once) let
    tests make them overflow."""
    from pybpf import bpf, comm, maps, pid, s64, tid, u32, u64, uid

    class Event(bpf.Struct):
        ret: s64
        flags: u64
        mode: u64
        pid: u32
        tid: u32
        uid: u32
        comm: "char[16]"  # noqa: F821, UP037
        path: "char[256]"  # noqa: F821, UP037

    class Start(bpf.Struct):
        # the user's pointer: the path is read at exit, as bcc does; the kernel has read it by
        # then, so its page is present (a tracepoint cannot fault a page in)
        fname: u64
        flags: u64
        mode: u64

    s = Session(unit="opens")
    events = s.ringbuf(Event, ring_size)
    start = s.map(maps.Hash(key=u32, value=Start, max_entries=max_calls, name="open_start"),
                  loses="start")
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
                if flag_mask:  # its flags are in the user's struct open_how, not read here
                    return 0
                start[tid()] = Start(fname=u64(ctx.filename))
                return 0

            return opensnoop_enter2

        @bpf.tracepoint(f"syscalls:sys_enter_{name}")
        def opensnoop_enter(ctx):
            if target.given:
                if not wanted():
                    return 0
            if flag_mask and not (ctx.flags & flag_mask):
                return 0
            start[tid()] = Start(fname=u64(ctx.filename), flags=ctx.flags, mode=ctx.mode)
            return 0

        return opensnoop_enter

    def leave(name: str) -> Any:
        @bpf.tracepoint(f"syscalls:sys_exit_{name}")
        def opensnoop_exit(ctx):
            t = tid()
            if t not in start:  # not the target's, or begun before tracing
                return 0
            a = start[t]
            del start[t]
            ret = s64(ctx.ret)
            if failed and ret >= 0:
                return 0
            events.submit(Event(ret=ret, flags=a.flags, mode=a.mode, pid=pid(), tid=t,
                                uid=uid(), comm=comm(), path=user_str(a.fname, 256)))  # noqa: F821
            return 0

        return opensnoop_exit

    for name in runner.syscalls_traceable(syscalls):
        # exits first: an entry kept before its exit is attached would stay in `start`
        s.program(leave(name))
        s.program(enter(name))
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

    flag_mask = 0
    for flag in args.flag_filter or ():
        flag_mask |= flag
    # the ring's size only when -b gives one: build()'s default stays the one place for it
    sized = {"ring_size": args.buffer_pages * os.sysconf("SC_PAGE_SIZE")} \
        if args.buffer_pages else {}
    session = build(TaskTarget.from_args(args), failed=args.failed, flag_mask=flag_mask,
                    **sized)
    extended = args.extended_fields or bool(flag_mask)  # as bcc: -f shows the flags
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
        if extended:
            head += runner.cols("%-8s %-4s ", "FLAGS", "MODE")
        print(head + "PATH", flush=True)

    def handle(ev: Any) -> None:
        fd, err = (-1, -ev.ret) if ev.ret < 0 else (ev.ret, 0)
        comm = runner.text(ev.comm)
        if args.name and args.name not in comm:
            return
        path = runner.text(ev.path)
        if args.full_path:
            path = _full_path(ev.pid, path)
        ident = ev.tid if args.tid else ev.pid
        if args.json:
            jsonl.emit({"ts": round(time.monotonic() - start, 9), "uid": ev.uid,
                        "pid": ev.pid, "tid": ev.tid, "comm": comm, "fd": fd,
                        "err": err, "flags": ev.flags, "mode": ev.mode, "path": path})
            return
        line = ""
        if args.timestamp:
            line += runner.cols("%-14.9f", time.monotonic() - start)
        if args.print_uid:
            line += runner.cols("%-6d", ev.uid)
        line += runner.cols("%-6d %-16s %4d %3d ", ident, comm, fd, err)
        if extended:
            line += runner.cols("%08o %04o ", ev.flags, ev.mode)
        print(line + path, flush=True)

    runner.run_events(session, handle, args.duration, header)
    return 0
