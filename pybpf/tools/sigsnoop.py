"""sigsnoop: trace every signal the kernel generates (signal:signal_generate: kill(),
tgkill(), faults, timers, child exits...), with the columns and options of bcc's
libbpf-tools sigsnoop."""

from __future__ import annotations

import argparse
import time
from typing import Any

from pybpf.cli_support import argtypes
from pybpf.cli_support.clock import hms
from pybpf.session import Session
from pybpf.tools import runner
from pybpf.tools.killsnoop import signal_name, signal_number
from pybpf.tools.task_filter import ANY_TASK, TaskTarget, task_filter

HELP = "trace standard and real-time signals"
NEEDS = ("tp:signal:signal_generate",)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-x", "--failed", action="store_true", help="trace failed signals only")
    p.add_argument("-k", "--kill", action="store_true", help="trace signals issued by kill "
                   "syscall only (see killsnoop)")
    p.add_argument("-p", "--pid", type=argtypes.pid, help="process ID to trace (the sender)")
    p.add_argument("-s", "--signal", type=signal_number, help="signal to trace")
    p.add_argument("-n", "--name", action="store_true", help="output signal name instead of "
                   "signal number")
    runner.add_duration(p)


def build(target: TaskTarget = ANY_TASK, only_signal: int = 0, failed: bool = False) -> Session:
    from pybpf import bpf, comm, pid, s32, u32

    class Event(bpf.Struct):
        pid: u32
        tpid: s32
        sig: u32
        result: s32
        comm: "char[16]"  # noqa: F821, UP037
        tcomm: "char[16]"  # noqa: F821, UP037

    s = Session()
    events = s.ringbuf(Event, 1 << 18)
    wanted = task_filter(target)

    @bpf.tracepoint("signal:signal_generate")
    def sigsnoop_generate(ctx):
        if target.given:
            if not wanted():
                return 0
        if only_signal and u32(ctx.sig) != only_signal:
            return 0
        if failed and ctx.result == 0:
            return 0
        events.submit(Event(pid=pid(), tpid=s32(ctx.pid), sig=u32(ctx.sig),
                            result=s32(ctx.result), comm=comm(), tcomm=ctx.comm))
        return 0

    s.program(sigsnoop_generate)
    return s


# include/trace/events/signal.h: TRACE_SIGNAL_DELIVERED, IGNORED, ALREADY_PENDING,
# OVERFLOW_FAIL, LOSE_INFO
RESULTS = ("delivered", "ignored", "already pending", "overflow", "info lost")


def run(args: argparse.Namespace) -> int:
    from pybpf.output import jsonl

    target = TaskTarget.from_args(args)
    if args.kill:
        from pybpf.tools import killsnoop

        session = killsnoop.build(target, args.signal or 0, failed=args.failed)
    else:
        session = build(target, args.signal or 0, args.failed)
    start = time.monotonic()

    def header() -> None:
        if args.json:
            runner.json_ready(args)
            return
        print(runner.cols("%-8s %-7s %-16s %-9s %-7s %-6s", "TIME", "PID", "COMM", "SIG",
                          "TPID", "RESULT"), flush=True)

    def show(pid: int, comm: str, sig: int, tpid: int, result: int, tcomm: str = "") -> None:
        if args.failed and result == 0:
            return
        sig_text = signal_name(sig) if args.name else str(sig)
        if args.json:
            obj = {"time": hms(), "ts": round(time.monotonic() - start, 6), "pid": pid,
                   "comm": comm, "sig": sig, "signal": signal_name(sig), "tpid": tpid,
                   "result": result}
            if tcomm:
                obj["tcomm"] = tcomm
            jsonl.emit(obj)
            return
        print(runner.cols("%-8s %-7d %-16s %-9s %-7d %-6d", hms(), pid, comm, sig_text,
                          tpid, result), flush=True)

    def handle(ev: Any) -> None:
        if args.kill:  # killsnoop's events: the syscall's result
            show(ev.pid, runner.text(ev.comm), ev.sig, ev.tpid, ev.ret)
            return
        show(ev.pid, runner.text(ev.comm), ev.sig, ev.tpid, ev.result, runner.text(ev.tcomm))

    runner.run_events(session, handle, args.duration, header)
    return 0
