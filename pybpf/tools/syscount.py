"""syscount: count system calls (raw_syscalls:sys_enter/sys_exit), by syscall or by process,
optionally with their total latency, as bcc's syscount prints them. The BPF side is
pybpf.programs.syscall_counts (the exporter and snapshot count with it too)."""

from __future__ import annotations

import argparse
from typing import Any

from pybpf.cli_support import argtypes
from pybpf.cli_support.argtypes import positive_float
from pybpf.cli_support.clock import hms
from pybpf.names.syscalls import X86_64, syscall_name, syscall_number
from pybpf.programs.syscall_counts import build
from pybpf.tools import procfs, runner

HELP = "summarize syscall counts and latencies"
NEEDS = ("tp:raw_syscalls:sys_enter", "tp:raw_syscalls:sys_exit")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-p", "--pid", type=argtypes.pid, help="trace only this pid")
    p.add_argument("-t", "--tid", type=argtypes.tid, help="trace only this tid")
    p.add_argument("-i", "--interval", type=positive_float,
                   help="print summary at this interval (seconds)")
    p.add_argument("-d", "--duration", type=positive_float,
                   help="total duration of trace, in seconds")
    p.add_argument("-T", "--top", type=argtypes.positive_int, default=10,
                   help="print only the top syscalls by count or latency")
    p.add_argument("-x", "--failures", action="store_true",
                   help="trace only failed syscalls (return < 0)")
    p.add_argument("-e", "--errno", type=argtypes.errno_value,
                   help="trace only syscalls that return this error (numeric or EPERM, etc.)")
    p.add_argument("-L", "--latency", action="store_true", help="collect syscall latency")
    p.add_argument("-m", "--milliseconds", action="store_true",
                   help="display latency in milliseconds (default: microseconds)")
    p.add_argument("-P", "--process", action="store_true",
                   help="count by process and not by syscall")
    p.add_argument("-l", "--list", action="store_true",
                   help="print list of recognized syscalls and exit")
    p.add_argument("--syscall", type=str,
                   help="trace this syscall only (use option -l to get all recognized syscalls)")


def run(args: argparse.Namespace) -> int:
    from pybpf.output import jsonl

    if args.list:
        names = [X86_64[n] for n in sorted(X86_64)]
        for i in range(0, len(names), 4):
            print("   ".join(runner.cols("%-22s", n) for n in names[i:i + 4]))
        return 0
    only = -1
    if args.syscall is not None:
        nr = syscall_number(args.syscall)
        if nr is None:
            print(f"Error: syscall '{args.syscall}' not found. Exiting.")
            return 1
        only = nr
    session, counts = build("process" if args.process else "syscall", args.latency,
                            args.pid or 0, args.tid or 0, args.failures, args.errno or 0, only)
    agg_colname = "PID    COMM" if args.process else "SYSCALL"
    time_colname = "TIME (ms)" if args.milliseconds else "TIME (us)"

    def label(k: int) -> str:
        return runner.cols("%-6d %-15s", k, procfs.comm(k)) if args.process else syscall_name(k)

    def ready() -> None:
        if args.json:
            runner.json_ready(args)
            return
        what = "failed " if args.failures else ""
        if args.syscall:
            print(f"Tracing {what}syscall '{args.syscall}'... Ctrl+C to quit.", flush=True)
        else:
            print(f"Tracing {what}syscalls, printing top {args.top}... Ctrl+C to quit.",
                  flush=True)

    def tick(last: bool) -> None:
        rows = [(k[0] if args.process else k[1], v.count, v.total_ns)
                for k, v in counts.items()]
        counts.clear()
        rows.sort(key=lambda r: -(r[2] if args.latency else r[1]))
        rows = rows[:args.top]
        if args.json:
            for k, n, ns in rows:
                obj: dict[str, Any] = {"time": hms()}
                if args.process:
                    obj.update(pid=k, comm=procfs.comm(k))
                else:
                    obj.update(syscall=syscall_name(k), nr=k)
                obj["count"] = n
                if args.latency:
                    obj["total_us"] = round(ns / 1e3, 3)
                jsonl.emit(obj)
            return
        if last and not args.interval:
            print("Detaching...")
        print(f"[{hms()}]")
        if args.latency:
            print(runner.cols("%-22s %8s %16s", agg_colname, "COUNT", time_colname))
            for k, n, ns in rows:
                t = ns / 1e6 if args.milliseconds else ns / 1e3
                print(runner.cols("%-22s %8d " + ("%16.6f" if args.milliseconds else "%16.3f"),
                                  label(k), n, t))
        else:
            print(runner.cols("%-22s %8s", agg_colname, "COUNT"))
            for k, n, _ in rows:
                print(runner.cols("%-22s %8d", label(k), n))
        print("", flush=True)

    interval = args.interval or runner.FOREVER
    runner.run_intervals(session, tick, interval, runner.FOREVER, args.duration, ready)
    return 0
