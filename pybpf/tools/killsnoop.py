"""killsnoop: trace signals sent by the kill() syscall (syscalls:sys_enter/exit_kill), with
bcc's options and columns. Joined in the kernel as bcc does: the entry keeps the arguments by
thread, the exit adds the result and sends one event per call, so that losses count calls.
sigsnoop (every signal the kernel generates) shares the signal names and the filters."""

from __future__ import annotations

import argparse
import signal
import time
from typing import Any

from pybpf.cli_support import argtypes
from pybpf.cli_support.clock import hms
from pybpf.session import Session
from pybpf.tools import runner
from pybpf.tools.task_filter import ANY_TASK, TaskTarget, task_filter

HELP = "trace signals issued by the kill() syscall"
NEEDS = ("tp:syscalls:sys_enter_kill", "tp:syscalls:sys_exit_kill")


#: "9", "KILL" or "SIGKILL" -> 9 (an argparse type; 1..SIGRTMAX, as the kernel's signals)
signal_number = argtypes.signal_number


def signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return str(sig)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-x", "--failed", action="store_true", help="only show failed kill syscalls")
    p.add_argument("-p", "--pid", type=argtypes.pid,
                   help="trace this PID only which is the sender")
    p.add_argument("-s", "--signal", type=signal_number,
                   help="trace this signal only (number or name)")
    p.add_argument("-T", "--tpid", type=argtypes.kill_target,
                   help="trace this target PID only")
    runner.add_duration(p)


def build(target: TaskTarget = ANY_TASK, only_signal: int = 0, only_tpid: int = 0,
          failed: bool = False, ring_size: int = 1 << 18, max_calls: int = 10240) -> Session:
    """An entry program, which keeps the signal and target in `start` by thread (only the
    calls the filters want: -p, -s and -T apply here), and an exit program, which takes them
    out and submits one event with the result (with `failed`, only for failed calls).
    `ring_size` and `max_calls` (the ring buffer's size and how many calls may be in progress
    at once) let tests make them overflow."""
    from pybpf import bpf, comm, maps, pid, s32, s64, tid, u32

    class Event(bpf.Struct):
        pid: u32
        tid: u32
        sig: u32
        tpid: s32
        ret: s64
        comm: "char[16]"  # noqa: F821, UP037

    class Start(bpf.Struct):
        sig: u32
        tpid: s32

    s = Session(unit="kill calls")
    events = s.ringbuf(Event, ring_size)
    start = s.map(maps.Hash(key=u32, value=Start, max_entries=max_calls, name="kill_start"),
                  loses="start")
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
        start[tid()] = Start(sig=u32(ctx.sig), tpid=s32(ctx.pid))
        return 0

    @bpf.tracepoint("syscalls:sys_exit_kill")
    def killsnoop_exit(ctx):
        t = tid()
        if t not in start:  # not wanted, or begun before tracing
            return 0
        a = start[t]
        del start[t]
        ret = s64(ctx.ret)
        if failed and ret >= 0:
            return 0
        events.submit(Event(pid=pid(), tid=t, sig=a.sig, tpid=a.tpid, ret=ret, comm=comm()))
        return 0

    # the exit first: an entry kept before its exit is attached would stay in `start`
    s.program(killsnoop_exit)
    s.program(killsnoop_enter)
    return s


def run(args: argparse.Namespace) -> int:
    from pybpf.output import jsonl

    session = build(TaskTarget.from_args(args), args.signal or 0, args.tpid or 0, args.failed)
    start = time.monotonic()

    def header() -> None:
        if args.json:
            runner.json_ready(args)
            return
        print(runner.cols("%-9s %-7s %-16s %-4s %-7s %s", "TIME", "PID", "COMM", "SIG", "TPID",
                          "RESULT"), flush=True)

    def handle(ev: Any) -> None:
        comm = runner.text(ev.comm)
        if args.json:
            jsonl.emit({"time": hms(), "ts": round(time.monotonic() - start, 6),
                        "pid": ev.pid, "comm": comm, "sig": ev.sig,
                        "signal": signal_name(ev.sig), "tpid": ev.tpid,
                        "result": ev.ret})
            return
        print(runner.cols("%-9s %-7d %-16s %-4d %-7d %d", hms(), ev.pid, comm,
                          ev.sig, ev.tpid, ev.ret), flush=True)

    runner.run_events(session, handle, args.duration, header)
    return 0
