"""threadsnoop: new threads, system wide, through a uprobe on pthread_create() (in
libpthread before glibc 2.34, in libc since), as bcc's threadsnoop prints them: the time since
the first event, the creating process, and the thread's start routine (its symbol in that
process, else its address)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pybpf.cli_support import argtypes
from pybpf.session import Session
from pybpf.tools import runner
from pybpf.tools.task_filter import ANY_TASK, TaskTarget, task_filter

HELP = "list new thread creation"
NEEDS = ("uprobe",)
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("", "trace all pthread_create() calls, system wide"),
    ("-p 181", "only trace threads created by PID 181"),
    ("--duration 10", "trace for 10 seconds only"),
    ("--json", "one JSON object per new thread"),
)
#: where pthread_create() may be, in bcc's order: libpthread (glibc < 2.34), then libc
LIBRARIES = ("pthread", "c")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-p", "--pid", type=argtypes.pid,
                   help="trace this PID only (the process that creates the threads)")
    p.add_argument("-l", "--library", metavar="PATH",
                   help="the library with pthread_create() (default: libpthread, else libc)")
    runner.add_duration(p)


def find_pthread_create(library: str | None = None) -> str:
    """The library that defines pthread_create(): `library` if given, else libpthread when
    it has the function (glibc before 2.34), else libc. Raises SymbolNotFoundError."""
    from pybpf import symbols

    if library:
        path = symbols.resolve_binary(library)
        symbols.elf_symbol(path, "pthread_create")
        return path
    for name in LIBRARIES:
        try:
            path = symbols.resolve_binary(name)
            symbols.elf_symbol(path, "pthread_create")
            return path
        except symbols.SymbolNotFoundError:
            continue
    raise symbols.SymbolNotFoundError("no pthread_create() in libpthread or libc (give the "
                                      "library with -l)")

def build(path: str, target: TaskTarget = ANY_TASK, ring_size: int = 1 << 18) -> Session:
    """One uprobe at pthread_create() in `path`, sending the time, the caller and the start
    routine (its third argument); -p applies in the kernel."""
    from pybpf import bpf, comm, ktime_ns, pid, u32, u64

    class Event(bpf.Struct):
        ts: u64
        start: u64
        pid: u32
        comm: "char[16]"  # noqa: F821, UP037

    s = Session(unit="new threads")
    events = s.ringbuf(Event, ring_size)
    wanted = task_filter(target)

    @bpf.uprobe(path, "pthread_create")
    def threadsnoop_entry(ctx):
        if target.given:
            if not wanted():
                return 0
        events.submit(Event(ts=ktime_ns(), start=u64(ctx.arg2), pid=pid(), comm=comm()))
        return 0

    s.program(threadsnoop_entry)
    return s


def start_routine(pid: int, addr: int) -> str:
    """bcc's FUNC: the symbol at `addr` in process `pid` (no offset, no module), else the
    address in hex (a process that is gone, a stripped binary, JIT code)."""
    from pybpf import symbols

    try:
        name = symbols.usym(pid, addr, with_offset=False)
    except (symbols.SymbolNotFoundError, OSError):
        return hex(addr)
    if name.startswith(("0x", "[")):
        return hex(addr)
    return name.split(" [", 1)[0]


def run(args: argparse.Namespace) -> int:
    from pybpf import symbols
    from pybpf.output import jsonl

    try:
        path = find_pthread_create(args.library)
    except symbols.SymbolNotFoundError as e:
        print(f"pybpf threadsnoop: {str(e).splitlines()[0]}", file=sys.stderr)
        return 1
    session = build(path, TaskTarget.from_args(args))
    first_ts = 0

    def header() -> None:
        if args.json:
            runner.json_ready(args)
            return
        print(runner.cols("%-10s %-6s %-16s %s", "TIME(ms)", "PID", "COMM", "FUNC"),
              flush=True)

    def handle(ev: Any) -> None:
        nonlocal first_ts
        if first_ts == 0:
            first_ts = ev.ts
        ms = (ev.ts - first_ts) // 1000000
        comm = runner.text(ev.comm)
        func = start_routine(ev.pid, ev.start)
        if args.json:
            jsonl.emit({"time_ms": ms, "pid": ev.pid, "comm": comm, "func": func,
                        "start": hex(ev.start)})
            return
        print(runner.cols("%-10d %-6d %-16s %s", ms, ev.pid, comm, func), flush=True)

    runner.run_events(session, handle, args.duration, header)
    return 0
