"""hardirqs: time spent in hard interrupt handlers (raw tracepoints irq_handler_entry and
irq_handler_exit; the handler's name from its irqaction), per handler as a total, a count
(-C) or (-d) a log2 histogram, as bcc's hardirqs prints them."""

from __future__ import annotations

import argparse
from typing import Any

from pybpf.cli_support import argtypes
from pybpf.session import Session
from pybpf.tools import histograms, runner
from pybpf.tools.softirqs import report

HELP = "summarize hard irq event time"
NEEDS = ("raw:irq_handler_entry", "raw:irq_handler_exit")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-N", "--nanoseconds", action="store_true", help="output in nanoseconds")
    p.add_argument("-C", "--count", dest="events", action="store_true",
                   help="show event counts instead of timing")
    p.add_argument("-d", "--dist", action="store_true", help="show distributions as histograms")
    p.add_argument("-c", "--cpu", type=argtypes.cpu, help="trace this CPU only")
    runner.add_interval_count(p)
    runner.add_duration(p)


def build(dist: bool = False, nanoseconds: bool = False, only_cpu: int = -1
          ) -> tuple[Session, Any]:
    """Programs and `stats` {(handler name, bucket or 0): value} (as softirqs.build)."""
    from pybpf import bpf, cpu, hist, ktime_ns, maps, u32, u64

    s = Session()
    start = s.map(maps.Hash(key=u32, value=u64, max_entries=1024, name="hi_start"))
    stats = s.map(maps.Hash(key=("char[32]", u64), value=u64, max_entries=4096,
                            name="hi_stats"))
    div = 1 if nanoseconds else 1000

    @bpf.raw_tracepoint("irq_handler_entry")
    def hardirq_entry(ctx):
        c = u32(cpu())
        if only_cpu >= 0 and c != only_cpu:
            return 0
        start[c] = ktime_ns()
        return 0

    @bpf.raw_tracepoint("irq_handler_exit")
    def hardirq_exit(ctx):
        c = u32(cpu())
        ts = start.get(c, 0)
        if ts == 0:
            return 0
        del start[c]
        delta = (ktime_ns() - ts) // div
        name = kernel_str(ctx.action.name, 32)  # noqa: F821 - a pybpf builtin
        if dist:
            hist.log2(stats, name, delta)
        else:
            stats[name, u64(0)] += delta
            stats[name, u64(1)] += 1
        return 0

    s.program(hardirq_entry)
    s.program(hardirq_exit)
    return s, stats


def run(args: argparse.Namespace) -> int:
    session, stats = build(args.dist, args.nanoseconds, -1 if args.cpu is None else args.cpu)

    def ready() -> None:
        if args.json:
            runner.json_ready(args)
        else:
            print(f"Tracing hard irq event {'count' if args.events else 'time'}... "
                  "Hit Ctrl-C to end.", flush=True)

    def tick(last: bool) -> None:
        per: dict[Any, dict[int, int]] = {}
        for name, b in histograms.read_keyed(stats).items():
            per[runner.text(name)] = b
        report(args, per, "hardirq", 26)

    runner.run_intervals(session, tick, args.interval, args.count, args.duration, ready)
    return 0
