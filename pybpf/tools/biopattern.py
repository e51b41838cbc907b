"""biopattern: per disk, how much of its block I/O was random and how much sequential, every
interval (block:block_rq_complete), as bcc's libbpf-tools biopattern prints it. A completed
request is sequential when it starts at the sector where the disk's previous one ended."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pybpf.cli_support.clock import hms
from pybpf.names import disks
from pybpf.session import Session
from pybpf.tools import runner

HELP = "show block device I/O pattern: random vs sequential, per disk"
NEEDS = ("tp:block:block_rq_complete",)
EXAMPLES = (
    ("", "show block I/O pattern"),
    ("1 10", "print 1 second summaries, 10 times"),
    ("-T 1", "1s summaries with timestamps"),
    ("-d sdc", "trace sdc only"),
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-T", "--timestamp", action="store_true",
                   help="include timestamp on output")
    p.add_argument("-d", "--disk", type=str, metavar="DISK", help="trace this disk only")
    runner.add_interval_count(p)
    runner.add_duration(p)


def build(disk_dev: int = 0) -> tuple[Session, Any]:
    """The program and `counters` {dev: (bytes, sequential, random)}; the sector where each
    disk's last request ended stays in the kernel (`last`), across intervals."""
    from pybpf import bpf, maps, u32, u64

    class Counter(bpf.Struct):
        bytes: u64
        sequential: u64
        random: u64

    s = Session()
    last = s.map(maps.Hash(key=u32, value=u64, max_entries=64, name="bp_last"))
    counters = s.map(maps.Hash(key=u32, value=Counter, max_entries=64, name="bp_counters"))

    @bpf.tracepoint("block:block_rq_complete")
    def biopattern_complete(ctx):
        dev = u32(ctx.dev)
        if disk_dev and dev != disk_dev:
            return 0
        sector = u64(ctx.sector)
        n = u64(ctx.nr_sector)
        prev = last.get(dev, 0)
        if prev != 0:  # the disk's first request has nothing to follow
            if prev == sector:
                counters[dev].sequential += 1
            else:
                counters[dev].random += 1
            counters[dev].bytes += n * 512
        last[dev] = sector + n
        return 0

    s.program(biopattern_complete)
    return s, counters


def run(args: argparse.Namespace) -> int:
    from pybpf.output import jsonl

    disk_dev = 0
    if args.disk:
        dev = disks.dev_of(args.disk)
        if dev is None:
            print(f"pybpf biopattern: no such disk '{args.disk}'", file=sys.stderr)
            return 1
        disk_dev = dev
    session, counters = build(disk_dev)

    def ready() -> None:
        if args.json:
            runner.json_ready(args)
            return
        print("Tracing block device I/O requested seeks... Hit Ctrl-C to end.")
        head = runner.cols("%-9s ", "TIME") if args.timestamp else ""
        print(head + runner.cols("%-7s %5s %5s %8s %10s", "DISK", "%RND", "%SEQ", "COUNT",
                                 "KBYTES"), flush=True)

    def tick(_last: bool) -> None:
        got = [(int(dev), v.random, v.sequential, v.bytes) for dev, v in counters.items()]
        counters.clear()
        names = disks.disk_names()
        now = hms()
        for dev, rnd, seq, nbytes in got:
            total = rnd + seq
            if not total:
                continue
            name = names.get(dev, "Unknown")
            if args.json:
                major, minor = disks.major_minor(dev)
                jsonl.emit({"time": now, "disk": name, "maj": major, "min": minor,
                            "rnd_pct": rnd * 100 // total, "seq_pct": seq * 100 // total,
                            "random": rnd, "sequential": seq, "count": total,
                            "kbytes": nbytes // 1024})
                continue
            line = runner.cols("%-9s ", now) if args.timestamp else ""
            print(line + runner.cols("%-7s %5d %5d %8d %10d", name, rnd * 100 // total,
                                     seq * 100 // total, total, nbytes // 1024))
        print(end="", flush=True)

    runner.run_intervals(session, tick, args.interval, args.count, args.duration, ready)
    return 0
