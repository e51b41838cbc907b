"""biostat: block device I/O by process and disk, refreshed every interval (the table of
bcc's biotop): the process is the one that started the request (block:block_io_start, or
block_rq_insert on kernels without it), the time from block_rq_issue to block_rq_complete."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pybpf.cli_support import argtypes
from pybpf.cli_support.argtypes import positive_float, positive_int
from pybpf.cli_support.clock import hms
from pybpf.names.disks import disk_name, disk_names, major_minor
from pybpf.session import Session
from pybpf.tools import procfs, runner

HELP = "block device I/O top: per process and disk, every interval"
NEEDS = ("tp:block:block_rq_issue", "tp:block:block_rq_complete")
W = 87  # "W" in rwbs


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-C", "--noclear", action="store_true", help="don't clear the screen")
    p.add_argument("-r", "--maxrows", type=positive_int, default=20,
                   help="maximum rows to print, default 20")
    p.add_argument("-p", "--pid", type=argtypes.pid, help="trace this PID only")
    p.add_argument("interval", nargs="?", type=positive_float, default=1,
                   help="output interval, in seconds")
    p.add_argument("count", nargs="?", type=positive_int, default=runner.FOREVER,
                   help="number of outputs")
    runner.add_duration(p)


def build(target_pid: int = 0) -> tuple[Session, Any, Any]:
    """Programs and maps: `stats` {(pid, dev, write): (io, bytes, total_ns)}, `comms`
    {pid: comm}."""
    from pybpf import bpf, comm, ktime_ns, maps, pid, u32, u64
    from pybpf.btf.tracefs import tracepoint_exists

    class Start(bpf.Struct):
        ts: u64
        bytes: u64
        pid: u32

    class Stat(bpf.Struct):
        io: u64
        bytes: u64
        total_ns: u64

    s = Session()
    # the starting process of each request, and each such process's comm (read by user
    # space: copying a char array between struct values is not compiled yet)
    who = s.map(maps.Hash(key=(u32, u64), value=u32, max_entries=10240, name="bt_who"))
    comms = s.map(maps.Hash(key=u32, value="char[16]", max_entries=10240, name="bt_comm"))
    start = s.map(maps.Hash(key=(u32, u64), value=Start, max_entries=10240, name="bt_start"))
    stats = s.map(maps.Hash(key=(u32, u32, u32), value=Stat, max_entries=10240,
                            name="bt_stats"))
    origin = "block_io_start" if tracepoint_exists("block", "block_io_start") else \
        "block_rq_insert"

    @bpf.tracepoint(f"block:{origin}")
    def biostat_start(ctx):
        p = pid()
        who[ctx.dev, ctx.sector] = p
        comms[p] = comm()
        return 0

    @bpf.tracepoint("block:block_rq_issue")
    def biostat_issue(ctx):
        p = who.get((ctx.dev, ctx.sector), 0)
        if p != 0:
            del who[ctx.dev, ctx.sector]
        else:
            p = pid()
            comms[p] = comm()
        if target_pid and p != target_pid:
            return 0
        start[ctx.dev, ctx.sector] = Start(ts=ktime_ns(), bytes=ctx.bytes, pid=p)
        return 0

    @bpf.tracepoint("block:block_rq_complete")
    def biostat_complete(ctx):
        if (ctx.dev, ctx.sector) not in start:
            return 0
        st = start[ctx.dev, ctx.sector]
        del start[ctx.dev, ctx.sector]
        write = u32(1) if ctx.rwbs[0] == W or ctx.rwbs[1] == W else u32(0)
        nbytes = st.bytes
        if nbytes == 0:
            nbytes = u64(ctx.nr_sector) * 512
        stats[st.pid, ctx.dev, write].io += 1
        stats[st.pid, ctx.dev, write].bytes += nbytes
        stats[st.pid, ctx.dev, write].total_ns += ktime_ns() - st.ts
        return 0

    for prog in (biostat_start, biostat_issue, biostat_complete):
        s.program(prog)
    return s, stats, comms


def run(args: argparse.Namespace) -> int:
    from pybpf.output import jsonl

    session, stats, comms = build(args.pid or 0)
    clear = not args.noclear and not args.json and sys.stdout.isatty()

    def ready() -> None:
        if args.json:
            runner.json_ready(args)
        else:
            print(f"Tracing... Output every {args.interval:g} secs. Hit Ctrl-C to end",
                  flush=True)

    def tick(last: bool) -> None:
        rows = []
        names_by_pid = {k: runner.text(v) for k, v in comms.items()}
        for (pid, dev, write), v in stats.items():
            rows.append((pid, names_by_pid.get(pid, "?"), "W" if write else "R", dev, v.io,
                         v.bytes, v.total_ns))
        stats.clear()
        if len(names_by_pid) > 8192:
            comms.clear()
        rows.sort(key=lambda r: -r[5])
        rows = rows[:args.maxrows]
        names = disk_names()
        if args.json:
            for pid, comm, d, dev, io, nbytes, ns in rows:
                major, minor = major_minor(dev)
                jsonl.emit({"time": hms(), "pid": pid, "comm": comm, "d": d,
                            "maj": major, "min": minor,
                            "disk": disk_name(dev, names), "io": io, "kbytes": nbytes // 1024,
                            "avg_ms": round(ns / io / 1e6, 3) if io else 0.0})
            return
        if clear:
            print("\033[H\033[J", end="")
        else:
            print()
        print(f"{hms()} loadavg: {procfs.loadavg()}\n")
        print(runner.cols("%-7s %-16s %1s %-3s %-3s %-8s %5s %7s %6s", "PID", "COMM", "D",
                          "MAJ", "MIN", "DISK", "I/O", "Kbytes", "AVGms"))
        for pid, comm, d, dev, io, nbytes, ns in rows:
            print(runner.cols("%-7d %-16s %1s %-3d %-3d %-8s %5d %7d %6.2f", pid, comm, d,
                              *major_minor(dev), disk_name(dev, names), io, nbytes // 1024,
                              ns / io / 1e6 if io else 0.0))
        print(end="", flush=True)

    runner.run_intervals(session, tick, args.interval, args.count, args.duration, ready)
    return 0
