"""gethostlatency: host name lookups through libc's getaddrinfo(), gethostbyname() and
gethostbyname2(), system wide, with their latency, as bcc's gethostlatency prints them. A
uprobe at each function's entry keeps the host name and the time by thread; its uretprobe
sends one event per call with the time it took."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from pybpf.cli_support import argtypes
from pybpf.cli_support.clock import hms
from pybpf.session import Session
from pybpf.tools import runner
from pybpf.tools.task_filter import ANY_TASK, TaskTarget, task_filter

HELP = "show latency for getaddrinfo/gethostbyname[2] calls"
NEEDS = ("uprobe",)
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("", "time getaddrinfo/gethostbyname[2] calls, system wide"),
    ("-p 181", "only trace PID 181"),
    ("--duration 10", "trace for 10 seconds only"),
    ("--json", "one JSON object per lookup"),
)
FUNCTIONS = ("getaddrinfo", "gethostbyname", "gethostbyname2")
HOST_LEN = 80  # bcc's host[80]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-p", "--pid", type=argtypes.pid, help="trace this PID only")
    p.add_argument("-l", "--library", metavar="PATH",
                   help="the C library to trace (default: libc)")
    runner.add_duration(p)


def resolve(library: str | None = None) -> tuple[str, list[str]]:
    """(the C library's path, those of FUNCTIONS it defines); raises SymbolNotFoundError
    when it has none of them."""
    from pybpf import symbols

    path = symbols.resolve_binary(library or "c")
    found = [f for f in FUNCTIONS if f in symbols.elf_symbols(path)]
    if not found:
        raise symbols.SymbolNotFoundError(f"{path} has none of {', '.join(FUNCTIONS)}")
    return path, found


def build(path: str, functions: list[str], target: TaskTarget = ANY_TASK,
          ring_size: int = 1 << 18, max_calls: int = 10240) -> Session:
    """An entry uprobe and a uretprobe per function; the entry keeps (time, host, comm) in
    `start` by thread (only the wanted processes: -p applies here), the return takes it out
    and submits the event."""
    from pybpf import bpf, comm, ktime_ns, maps, pid, tid, u32, u64

    class Start(bpf.Struct):
        ts: u64
        comm: "char[16]"  # noqa: F821, UP037
        host: "char[80]"  # noqa: F821, UP037

    class Event(bpf.Struct):
        delta: u64
        pid: u32
        comm: "char[16]"  # noqa: F821, UP037
        host: "char[80]"  # noqa: F821, UP037

    s = Session(unit="lookups")
    events = s.ringbuf(Event, ring_size)
    start = s.map(maps.Hash(key=u32, value=Start, max_entries=max_calls, name="ghl_start"),
                  loses="start")
    wanted = task_filter(target)

    def gethostlatency_entry(ctx):
        if target.given:
            if not wanted():
                return 0
        name = u64(ctx.arg0)
        if name == 0:
            return 0
        start[tid()] = Start(ts=ktime_ns(), comm=comm(),
                             host=user_str(name, 80))  # noqa: F821 - pybpf builtin
        return 0

    def gethostlatency_return(ctx):
        t = tid()
        if t not in start:  # not wanted, or begun before tracing
            return 0
        a = start[t]
        del start[t]
        events.submit(Event(delta=ktime_ns() - a.ts, pid=pid(), comm=a.comm, host=a.host))
        return 0

    # the returns first: an entry kept before its return is attached would stay in `start`
    for f in functions:
        s.program(bpf.uretprobe(path, f)(gethostlatency_return))
    for f in functions:
        s.program(bpf.uprobe(path, f)(gethostlatency_entry))
    return s


def run(args: argparse.Namespace) -> int:
    from pybpf import symbols
    from pybpf.output import jsonl

    try:
        path, functions = resolve(args.library)
    except symbols.SymbolNotFoundError as e:
        print(f"pybpf gethostlatency: {str(e).splitlines()[0]}", file=sys.stderr)
        return 1
    session = build(path, functions, TaskTarget.from_args(args))
    begin = time.monotonic()

    def header() -> None:
        if args.json:
            runner.json_ready(args)
            return
        print(runner.cols("%-9s %-7s %-16s %10s %s", "TIME", "PID", "COMM", "LATms", "HOST"),
              flush=True)

    def handle(ev: Any) -> None:
        comm = runner.text(ev.comm)
        host = runner.text(ev.host)
        ms = ev.delta / 1e6
        if args.json:
            jsonl.emit({"time": hms(), "ts": round(time.monotonic() - begin, 6),
                        "pid": ev.pid, "comm": comm, "lat_ms": round(ms, 3), "host": host})
            return
        print(runner.cols("%-9s %-7d %-16s %10.2f %s", hms(), ev.pid, comm, ms, host),
              flush=True)

    runner.run_events(session, handle, args.duration, header)
    return 0
