"""biolatency: block device I/O latency as a log2 histogram (block:block_rq_issue or
block_rq_insert with -Q, to block:block_rq_complete), as bcc's biolatency prints it."""

from __future__ import annotations

import argparse
from typing import Any

from pybpf.names import disks
from pybpf.session import Session
from pybpf.tools import histograms, runner

HELP = "summarize block device I/O latency as a histogram"
NEEDS = ("tp:block:block_rq_issue", "tp:block:block_rq_complete")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-Q", "--queued", action="store_true",
                   help="include OS queued time in I/O time")
    p.add_argument("-m", "--milliseconds", action="store_true", help="millisecond histogram")
    p.add_argument("-D", "--disks", action="store_true",
                   help="print a histogram per disk device")
    p.add_argument("-e", "--extension", action="store_true",
                   help="summarize average/total value")
    p.add_argument("-d", "--disk", type=str, help="trace this disk only")
    runner.add_interval_count(p)
    runner.add_duration(p)


def build(per_disk: bool = False, milliseconds: bool = False, queued: bool = False,
          disk_dev: int = 0) -> tuple[Session, Any, Any]:
    """Programs and maps: `dist` {(dev or 0, log2 bucket): count} of latencies in usecs (or
    msecs), `totals` {dev or 0: (count, total)} in the same unit."""
    from pybpf import bpf, hist, ktime_ns, maps, u32, u64

    class Total(bpf.Struct):
        count: u64
        total: u64

    s = Session()
    start = s.map(maps.Hash(key=(u32, u64), value=u64, max_entries=10240, name="bio_start"))
    dist = s.map(maps.Hash(key=(u32, u64), value=u64, max_entries=4096, name="bio_dist"))
    totals = s.map(maps.Hash(key=u32, value=Total, max_entries=1024, name="bio_total"))
    div = 1000000 if milliseconds else 1000

    @bpf.tracepoint("block:block_rq_issue")
    def biolat_issue(ctx):
        if disk_dev and ctx.dev != disk_dev:
            return 0
        if queued and start.get((ctx.dev, ctx.sector), 0) != 0:
            return 0  # already stamped at insert
        start[ctx.dev, ctx.sector] = ktime_ns()
        return 0

    s.program(biolat_issue)
    if queued:
        @bpf.tracepoint("block:block_rq_insert")
        def biolat_insert(ctx):
            if disk_dev and ctx.dev != disk_dev:
                return 0
            start[ctx.dev, ctx.sector] = ktime_ns()
            return 0

        s.program(biolat_insert)

    @bpf.tracepoint("block:block_rq_complete")
    def biolat_done(ctx):
        ts = start.get((ctx.dev, ctx.sector), 0)
        if ts == 0:
            return 0
        del start[ctx.dev, ctx.sector]
        delta = (ktime_ns() - ts) // div
        key = u32(ctx.dev) if per_disk else u32(0)
        hist.log2(dist, key, delta)
        totals[key].count += 1
        totals[key].total += delta
        return 0

    s.program(biolat_done)
    return s, dist, totals


def run(args: argparse.Namespace) -> int:
    disk_dev = 0
    if args.disk:
        dev = disks.dev_of(args.disk)
        if dev is None:
            print(f"no such disk '{args.disk}'")
            return 1
        disk_dev = dev
    session, dist, totals = build(args.disks, args.milliseconds, args.queued, disk_dev)
    unit = "msecs" if args.milliseconds else "usecs"

    def ready() -> None:
        if args.json:
            runner.json_ready(args)
        else:
            print("Tracing block device I/O... Hit Ctrl-C to end.", flush=True)

    def tick(last: bool) -> None:
        per = histograms.read_keyed(dist)
        sums = {k: (v.count, v.total) for k, v in totals.items()}
        totals.clear()
        names = disks.disk_names()

        def disk(dev: int) -> dict[str, Any]:
            return {"disk": disks.disk_name(dev, names)} if args.disks else {}

        def summary(dev: int) -> dict[str, Any]:
            n, total = sums.get(dev, (0, 0))
            return {"count": n, "total": total}

        def extension(dev: int) -> None:
            if args.extension:
                n, total = sums.get(dev, (0, 0))
                print(f"\navg = {total // n if n else 0} {unit}, total: {total} {unit}, "
                      f"count: {n}\n")

        if args.json:
            histograms.emit_keyed(per, unit, disk, summary)
            return
        heading = (lambda dev: f"disk = {disks.disk_name(dev, names)}") if args.disks else None
        histograms.print_keyed(per, unit, heading, args.timestamp, extension)

    runner.run_intervals(session, tick, args.interval, args.count, args.duration, ready)
    return 0
