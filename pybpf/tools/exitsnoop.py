"""exitsnoop: trace process termination (sched:sched_process_exit) with its age and exit
code or signal, as bcc's exitsnoop prints it."""

from __future__ import annotations

import argparse
import signal
from datetime import UTC, datetime
from time import strftime
from typing import Any

from pybpf.cli_support import argtypes
from pybpf.session import Session
from pybpf.tools import runner

HELP = "trace process termination (exit and fatal signals)"
NEEDS = ("tp:sched:sched_process_exit",)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-t", "--timestamp", action="store_true",
                   help="include timestamp (local time default)")
    p.add_argument("--utc", action="store_true", help="include timestamp in UTC (-t implied)")
    p.add_argument("-p", "--pid", type=argtypes.pid, help="trace this PID only")
    p.add_argument("--label", help="label each line")
    p.add_argument("-x", "--failed", action="store_true",
                   help="trace only fails, exclude exit(0)")
    p.add_argument("--per-thread", action="store_true", help="trace per thread termination")
    runner.add_duration(p)


def build(target_pid: int = 0, failed_only: bool = False, per_thread: bool = False) -> Session:
    from pybpf import bpf, comm, current_task, ktime_ns, pid, tid, u32, u64

    class Event(bpf.Struct):
        start_time: u64
        exit_time: u64
        pid: u32
        tid: u32
        ppid: u32
        exit_code: u32
        comm: "char[16]"  # noqa: F821, UP037

    s = Session()
    events = s.ringbuf(Event)

    @bpf.tracepoint("sched:sched_process_exit")
    def exitsnoop_exit(ctx):
        p = pid()
        t = tid()
        if target_pid and p != target_pid:
            return 0
        if not per_thread and p != t:
            return 0
        task = current_task()
        code = u32(task.exit_code)
        if failed_only and code == 0:
            return 0
        events.submit(Event(start_time=task.start_time, exit_time=ktime_ns(), pid=p, tid=t,
                            ppid=task.real_parent.tgid, exit_code=code, comm=comm()))
        return 0

    s.program(exitsnoop_exit)
    return s


def describe(code: int) -> str:
    """bcc's EXIT_CODE column: "0", "code N", or "signal N (NAME)[, core dumped]"."""
    sig_info = code & 0xFF
    if sig_info == 0:
        return "0" if code == 0 else f"code {code >> 8}"
    out = ""
    sig = sig_info & 0x7F
    if sig:
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = "?"
        out = f"signal {sig} ({name})"
    if sig_info & 0x80:
        out += ", core dumped "
    return out


def run(args: argparse.Namespace) -> int:
    from pybpf.output import jsonl

    if args.utc:
        args.timestamp = True
    session = build(args.pid or 0, args.failed, args.per_thread)

    def header() -> None:
        if args.json:
            runner.json_ready(args)
            return
        head = ""
        if args.timestamp:
            head += runner.cols("%-13s", "TIME-" + ("UTC" if args.utc else strftime("%Z")))
        if args.label is not None:
            head += runner.cols("%-6s", "LABEL")
        head += runner.cols("%-16s %-7s %-7s %-7s %-7s %-10s", "PCOMM", "PID", "PPID", "TID",
                            "AGE(s)", "EXIT_CODE")
        print(head, flush=True)

    def handle(e: Any) -> None:
        age = (e.exit_time - e.start_time) / 1e9
        comm = runner.text(e.comm)
        if args.json:
            jsonl.emit({"time": datetime.now(UTC).isoformat(), "comm": comm, "pid": e.pid,
                        "ppid": e.ppid, "tid": e.tid, "age": round(age, 6),
                        "exit_code": e.exit_code >> 8, "signal": e.exit_code & 0x7F,
                        "core_dumped": bool(e.exit_code & 0x80),
                        "description": describe(e.exit_code)})
            return
        line = ""
        if args.timestamp:
            now = datetime.now(UTC) if args.utc else datetime.now()
            line += runner.cols("%-13s", now.strftime("%H:%M:%S.%f")[:-3])
        if args.label is not None:
            line += runner.cols("%-6s", args.label or "exit")
        line += runner.cols("%-16s %-7d %-7d %-7d %-7.2f ", comm, e.pid, e.ppid, e.tid, age)
        print(line + describe(e.exit_code), flush=True)

    runner.run_events(session, handle, args.duration, header)
    return 0
