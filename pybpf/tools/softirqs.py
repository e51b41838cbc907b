"""softirqs: time spent in soft interrupts (irq:softirq_entry/exit), per softirq type as a
total or (-d) a log2 histogram, and hardirqs: the same for hard interrupt handlers
(irq_handler_entry/exit raw tracepoints, named by their irqaction), as bcc prints them."""

from __future__ import annotations

import argparse
from typing import Any

from pybpf.cli_support import argtypes
from pybpf.cli_support.clock import hms
from pybpf.session import Session
from pybpf.tools import histograms, runner

HELP = "summarize soft irq event time"
NEEDS = ("tp:irq:softirq_entry", "tp:irq:softirq_exit")
# include/linux/interrupt.h, the order of the softirq vectors
VECTORS = ("hi", "timer", "net_tx", "net_rx", "block", "irq_poll", "tasklet", "sched",
           "hrtimer", "rcu")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-N", "--nanoseconds", action="store_true", help="output in nanoseconds")
    p.add_argument("-d", "--dist", action="store_true", help="show distributions as histograms")
    p.add_argument("-c", "--cpu", type=argtypes.cpu, help="trace this CPU only")
    p.add_argument("-C", "--events", action="store_true", help="show the number of events "
                   "instead of time")
    runner.add_interval_count(p)
    runner.add_duration(p)


def build(dist: bool = False, nanoseconds: bool = False, only_cpu: int = -1
          ) -> tuple[Session, Any]:
    """Programs and `stats` {(vector, bucket or 0): value}: with dist a log2 histogram of
    durations, otherwise bucket 0 = total time and bucket 1 = count."""
    from pybpf import bpf, cpu, hist, ktime_ns, maps, u32, u64

    s = Session()
    start = s.map(maps.Hash(key=u32, value=u64, max_entries=1024, name="si_start"))
    stats = s.map(maps.Hash(key=(u32, u64), value=u64, max_entries=1024, name="si_stats"))
    div = 1 if nanoseconds else 1000

    @bpf.tracepoint("irq:softirq_entry")
    def softirq_entry(ctx):
        c = u32(cpu())
        if only_cpu >= 0 and c != only_cpu:
            return 0
        start[c] = ktime_ns()
        return 0

    @bpf.tracepoint("irq:softirq_exit")
    def softirq_exit(ctx):
        c = u32(cpu())
        ts = start.get(c, 0)
        if ts == 0:
            return 0
        del start[c]
        delta = (ktime_ns() - ts) // div
        if dist:
            hist.log2(stats, u32(ctx.vec), delta)
        else:
            stats[u32(ctx.vec), u64(0)] += delta
            stats[u32(ctx.vec), u64(1)] += 1
        return 0

    s.program(softirq_entry)
    s.program(softirq_exit)
    return s, stats


def report(args: argparse.Namespace, per: dict[Any, dict[int, int]], kind: str,
           width: int) -> None:
    """Print (or emit as JSON) one interval of softirqs/hardirqs."""
    from pybpf.output import jsonl

    unit = "nsecs" if args.nanoseconds else "usecs"
    if args.dist:
        if args.json:
            histograms.emit_keyed(per, unit, lambda name: {kind: name})
        else:
            histograms.print_keyed(per, unit, lambda name: f"{kind} = {name}", args.timestamp)
        return
    if args.json:
        for name, b in sorted(per.items()):
            jsonl.emit({"time": hms(), kind: name, "count": b.get(1, 0),
                        f"total_{unit}": b.get(0, 0)})
        return
    runner.interval_start(args.timestamp)
    column = "TOTAL_count" if args.events else f"TOTAL_{unit}"
    print(runner.cols(f"%-{width}s %11s", kind.upper(), column))
    rows = sorted(per.items(), key=lambda kv: -(kv[1].get(1 if args.events else 0, 0)))
    for name, b in rows:
        print(runner.cols(f"%-{width}s %11d", name, b.get(1 if args.events else 0, 0)))
    print(end="", flush=True)


def run(args: argparse.Namespace) -> int:
    session, stats = build(args.dist, args.nanoseconds,
                           -1 if args.cpu is None else args.cpu)

    def ready() -> None:
        if args.json:
            runner.json_ready(args)
        else:
            print(f"Tracing soft irq event {'count' if args.events else 'time'}... "
                  "Hit Ctrl-C to end.", flush=True)

    def tick(last: bool) -> None:
        per = histograms.read_keyed(stats)
        named = {VECTORS[v] if v < len(VECTORS) else str(v): b for v, b in per.items()}
        report(args, named, "softirq", 16)

    runner.run_intervals(session, tick, args.interval, args.count, args.duration, ready)
    return 0
