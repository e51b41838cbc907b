"""killsnoop: trace signals sent by the kill() syscall (syscalls:sys_enter/exit_kill), with
bcc's options and columns. sigsnoop (every signal the kernel generates) shares the signal
names and the filters."""

from __future__ import annotations

import argparse
import signal
import time
from typing import Any

from pybpf.cli_support.clock import hms
from pybpf.session import Session
from pybpf.tools import runner
from pybpf.tools.task_filter import ANY_TASK, TaskTarget, task_filter

HELP = "trace signals issued by the kill() syscall"
NEEDS = ("tp:syscalls:sys_enter_kill", "tp:syscalls:sys_exit_kill")


def signal_number(text: str) -> int:
    """"9", "KILL" or "SIGKILL" -> 9 (an argparse type)."""
    if text.isdigit():
        return int(text)
    name = text.upper()
    name = name if name.startswith("SIG") else "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a signal name or number") from None


def signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return str(sig)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-x", "--failed", action="store_true", help="only show failed kill syscalls")
    p.add_argument("-p", "--pid", type=int, help="trace this PID only which is the sender")
    p.add_argument("-s", "--signal", type=signal_number,
                   help="trace this signal only (number or name)")
    p.add_argument("-T", "--tpid", type=int, help="trace this target PID only")
    runner.add_duration(p)


def build(target: TaskTarget = ANY_TASK, only_signal: int = 0, only_tpid: int = 0) -> Session:
    from pybpf import bpf, comm, pid, s32, s64, tid, u32

    class Event(bpf.Struct):
        kind: u32
        pid: u32
        tid: u32
        sig: u32
        tpid: s32
        ret: s64
        comm: "char[16]"  # noqa: F821, UP037

    s = Session()
    events = s.ringbuf(Event, 1 << 18)
    wanted = task_filter(target)

    @bpf.tracepoint("syscalls:sys_enter_kill")
    def killsnoop_enter(ctx):
        if target.given:
            if not wanted():
                return 0
        if only_signal and u32(ctx.sig) != only_signal:
            return 0
        if only_tpid and s32(ctx.pid) != only_tpid:
            return 0
        events.submit(Event(kind=0, pid=pid(), tid=tid(), sig=u32(ctx.sig),
                            tpid=s32(ctx.pid), comm=comm()))
        return 0

    @bpf.tracepoint("syscalls:sys_exit_kill")
    def killsnoop_exit(ctx):
        if target.given:
            if not wanted():
                return 0
        events.submit(Event(kind=1, pid=pid(), tid=tid(), ret=s64(ctx.ret)))
        return 0

    s.program(killsnoop_enter)
    s.program(killsnoop_exit)
    return s


def run(args: argparse.Namespace) -> int:
    from pybpf.output import jsonl

    session = build(TaskTarget.from_args(args), args.signal or 0, args.tpid or 0)
    calls = runner.CallPairs()
    start = time.monotonic()

    def header() -> None:
        if args.json:
            runner.json_ready(args)
            return
        print(runner.cols("%-9s %-7s %-16s %-4s %-7s %s", "TIME", "PID", "COMM", "SIG", "TPID",
                          "RESULT"), flush=True)

    def handle(ev: Any) -> None:
        entry = calls.entry_of(ev)
        if entry is None or (args.failed and ev.ret >= 0):
            return
        comm = runner.text(entry.comm)
        if args.json:
            jsonl.emit({"time": hms(), "ts": round(time.monotonic() - start, 6),
                        "pid": entry.pid, "comm": comm, "sig": entry.sig,
                        "signal": signal_name(entry.sig), "tpid": entry.tpid,
                        "result": ev.ret})
            return
        print(runner.cols("%-9s %-7d %-16s %-4d %-7d %d", hms(), entry.pid, comm,
                          entry.sig, entry.tpid, ev.ret), flush=True)

    runner.run_events(session, handle, args.duration, header)
    return 0
