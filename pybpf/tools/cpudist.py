"""cpudist: on-CPU time per scheduling (or off-CPU time with -O) as a log2 histogram, from
the raw tracepoint sched_switch, as bcc's cpudist prints it."""

from __future__ import annotations

import argparse
from typing import Any

from pybpf.cli_support import argtypes
from pybpf.session import Session
from pybpf.tools import histograms, runner

HELP = "summarize on- and off-CPU time per task as a histogram"
NEEDS = ("raw:sched_switch",)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-O", "--offcpu", action="store_true", help="measure off-CPU time")
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-m", "--milliseconds", action="store_true", help="millisecond histogram")
    p.add_argument("-P", "--pids", action="store_true", help="print a histogram per process ID")
    p.add_argument("-L", "--tids", action="store_true", help="print a histogram per thread ID")
    p.add_argument("-p", "--pid", type=argtypes.pid, help="trace this PID only")
    p.add_argument("-I", "--include-idle", action="store_true",
                   help="include CPU idle (the idle task, pid 0)")
    p.add_argument("-e", "--extension", action="store_true",
                   help="show extension summary (average/total/count)")
    runner.add_interval_count(p)
    runner.add_duration(p)


def build(offcpu: bool = False, key_by: str = "", milliseconds: bool = False,
          target_pid: int = 0, idle: bool = False) -> tuple[Session, Any, Any]:
    """The sched_switch program, `dist` {(0 | tgid | tid, log2 bucket): count} and `totals`
    {the same key: (count, total)} in the histogram's unit."""
    from pybpf import bpf, hist, ktime_ns, maps, u32, u64

    class Total(bpf.Struct):
        count: u64
        total: u64

    s = Session()
    totals = s.map(maps.Hash(key=u32, value=Total, max_entries=10240, name="cd_total"))
    start = s.map(maps.Hash(key=u32, value=u64, max_entries=10240, name="cd_start"))
    dist = s.map(maps.Hash(key=(u32, u64), value=u64, max_entries=10240, name="cd_dist"))
    div = 1000000 if milliseconds else 1000
    by_pid = key_by == "pid"
    by_tid = key_by == "tid"

    @bpf.raw_tracepoint("sched_switch")
    def cpudist_switch(ctx):
        now = ktime_ns()
        prev = ctx.prev
        nxt = ctx.next
        # the task whose interval ends now, and the one whose interval starts
        if offcpu:
            ending = nxt
            starting = prev
        else:
            ending = prev
            starting = nxt
        if (idle or starting.pid != 0) and (target_pid == 0 or starting.tgid == target_pid):
            start[u32(starting.pid)] = now
        tid = u32(ending.pid)
        ts = start.get(tid, 0)
        if ts == 0:
            return 0
        del start[tid]
        key = u32(ending.tgid) if by_pid else (tid if by_tid else u32(0))
        delta = (now - ts) // div
        hist.log2(dist, key, delta)
        totals[key].count += 1
        totals[key].total += delta
        return 0

    s.program(cpudist_switch)
    return s, dist, totals


def run(args: argparse.Namespace) -> int:
    key_by = "pid" if args.pids else "tid" if args.tids else ""
    session, dist, totals = build(args.offcpu, key_by, args.milliseconds, args.pid or 0,
                                  args.include_idle)
    unit = "msecs" if args.milliseconds else "usecs"
    section = "pid" if args.pids else "tid"

    def ready() -> None:
        if args.json:
            runner.json_ready(args)
        else:
            print(f"Tracing {'off' if args.offcpu else 'on'}-CPU time... Hit Ctrl-C to end.",
                  flush=True)

    def fields(k: int) -> dict[str, Any]:
        obj: dict[str, Any] = {"what": "off-cpu" if args.offcpu else "on-cpu"}
        if key_by:
            obj[section] = k
        return obj

    def tick(last: bool) -> None:
        per = histograms.read_keyed(dist)
        sums = {k: (v.count, v.total) for k, v in totals.items()}
        totals.clear()

        def summary(k: int) -> dict[str, Any]:
            n, total = sums.get(k, (0, 0))
            return {"count": n, "total": total} if args.extension else {}

        if args.json:
            histograms.emit_keyed(per, unit, fields, summary)
            return
        histograms.print_keyed(per, unit, (lambda k: f"{section} = {k}") if key_by else None,
                               args.timestamp)
        n = sum(c for c, _ in sums.values())
        if args.extension and n:  # as bcc: one summary of all the histograms
            total = sum(t for _, t in sums.values())
            print(f"\navg = {total // n} {unit}, total: {total} {unit}, count: {n}\n",
                  flush=True)

    runner.run_intervals(session, tick, args.interval, args.count, args.duration, ready)
    return 0
