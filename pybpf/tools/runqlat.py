"""runqlat: run queue (scheduler) latency as a log2 histogram, from wakeup (raw tracepoints
sched_wakeup/sched_wakeup_new, or preemption seen at sched_switch) to running (sched_switch),
as bcc's runqlat prints it."""

from __future__ import annotations

import argparse
from typing import Any

from pybpf.cli_support import argtypes
from pybpf.session import Session
from pybpf.tools import histograms, runner

HELP = "summarize run queue (scheduler) latency as a histogram"
NEEDS = ("raw:sched_wakeup", "raw:sched_wakeup_new", "raw:sched_switch")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-m", "--milliseconds", action="store_true", help="millisecond histogram")
    p.add_argument("-P", "--pids", action="store_true", help="print a histogram per process ID")
    p.add_argument("-L", "--tids", action="store_true", help="print a histogram per thread ID")
    p.add_argument("-p", "--pid", type=argtypes.pid, help="trace this PID only")
    runner.add_interval_count(p)
    runner.add_duration(p)


def build(key_by: str = "", milliseconds: bool = False, target_pid: int = 0
          ) -> tuple[Session, Any]:
    """Programs and `dist` {(0 | tgid | tid, log2 bucket): count} in usecs or msecs."""
    from pybpf import bpf, hist, ktime_ns, maps, u32, u64

    s = Session()
    start = s.map(maps.Hash(key=u32, value=u64, max_entries=10240, name="rq_start"))
    dist = s.map(maps.Hash(key=(u32, u64), value=u64, max_entries=10240, name="rq_dist"))
    div = 1000000 if milliseconds else 1000
    by_pid = key_by == "pid"
    by_tid = key_by == "tid"

    @bpf.raw_tracepoint("sched_wakeup")
    def runqlat_wakeup(ctx):
        if target_pid and ctx.p.tgid != target_pid:
            return 0
        start[u32(ctx.p.pid)] = ktime_ns()
        return 0

    @bpf.raw_tracepoint("sched_wakeup_new")
    def runqlat_wakeup_new(ctx):
        if target_pid and ctx.p.tgid != target_pid:
            return 0
        start[u32(ctx.p.pid)] = ktime_ns()
        return 0

    @bpf.raw_tracepoint("sched_switch")
    def runqlat_switch(ctx):
        prev = ctx.prev
        if ctx.prev_state == 0:  # TASK_RUNNING: preempted, back on the run queue
            if target_pid == 0 or prev.tgid == target_pid:
                start[u32(prev.pid)] = ktime_ns()
        nxt = ctx.next
        tid = u32(nxt.pid)
        ts = start.get(tid, 0)
        if ts == 0:
            return 0
        del start[tid]
        delta = (ktime_ns() - ts) // div
        key = u32(nxt.tgid) if by_pid else (tid if by_tid else u32(0))
        hist.log2(dist, key, delta)
        return 0

    s.program(runqlat_wakeup)
    s.program(runqlat_wakeup_new)
    s.program(runqlat_switch)
    return s, dist


def run(args: argparse.Namespace) -> int:
    key_by = "pid" if args.pids else "tid" if args.tids else ""
    session, dist = build(key_by, args.milliseconds, args.pid or 0)
    unit = "msecs" if args.milliseconds else "usecs"
    section = "pid" if args.pids else "tid"

    def ready() -> None:
        if args.json:
            runner.json_ready(args)
        else:
            print("Tracing run queue latency... Hit Ctrl-C to end.", flush=True)

    def tick(last: bool) -> None:
        per = histograms.read_keyed(dist)
        if args.json:
            histograms.emit_keyed(per, unit, (lambda k: {section: k}) if key_by else None)
            return
        histograms.print_keyed(per, unit, (lambda k: f"{section} = {k}") if key_by else None,
                               args.timestamp)

    runner.run_intervals(session, tick, args.interval, args.count, args.duration, ready)
    return 0
