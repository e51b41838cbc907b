"""biosnoop: trace block device I/O with its latency (block:block_rq_insert/issue/complete),
one line per I/O, as bcc's biosnoop prints it. The issuing task is what was current at
block_rq_issue (often a kernel worker for buffered writes)."""

from __future__ import annotations

import argparse
from typing import Any

from pybpf.names import disks
from pybpf.session import Session
from pybpf.tools import runner

HELP = "trace block device I/O with PID and latency"
NEEDS = ("tp:block:block_rq_issue", "tp:block:block_rq_complete")
ISSUE, DONE = 0, 1


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-Q", "--queue", action="store_true", help="include OS queued time")
    p.add_argument("-d", "--disk", type=str, help="trace this disk only")
    p.add_argument("-P", "--pattern", action="store_true",
                   help="display block I/O pattern (sequential or random)")
    runner.add_duration(p)


def build(queued: bool = False, disk_dev: int = 0) -> Session:
    from pybpf import bpf, comm, ktime_ns, maps, pid, u32, u64

    class Event(bpf.Struct):
        kind: u32
        dev: u32
        sector: u64
        ts: u64
        qdelta: u64
        pid: u32
        bytes: u32
        rwbs: u64
        comm: "char[16]"  # noqa: F821, UP037

    s = Session()
    events = s.ringbuf(Event)
    inserted = s.map(maps.Hash(key=(u32, u64), value=u64, max_entries=10240, name="bs_insert"))

    if queued:
        @bpf.tracepoint("block:block_rq_insert")
        def biosnoop_insert(ctx):
            if disk_dev and ctx.dev != disk_dev:
                return 0
            inserted[ctx.dev, ctx.sector] = ktime_ns()
            return 0

        s.program(biosnoop_insert)

    @bpf.tracepoint("block:block_rq_issue")
    def biosnoop_issue(ctx):
        if disk_dev and ctx.dev != disk_dev:
            return 0
        now = ktime_ns()
        q = u64(0)
        if queued:
            t0 = inserted.get((ctx.dev, ctx.sector), 0)
            if t0 != 0:
                q = now - t0
                del inserted[ctx.dev, ctx.sector]
        # rwbs: its first bytes packed in an integer (R, W, D, F, ...)
        rw = u64(u32(ctx.rwbs[0]) & 255) | (u64(u32(ctx.rwbs[1]) & 255) << 8) | \
            (u64(u32(ctx.rwbs[2]) & 255) << 16)
        events.submit(Event(kind=0, dev=ctx.dev, sector=ctx.sector, ts=now, qdelta=q,
                            pid=pid(), bytes=ctx.bytes, rwbs=rw, comm=comm()))
        return 0

    @bpf.tracepoint("block:block_rq_complete")
    def biosnoop_done(ctx):
        if disk_dev and ctx.dev != disk_dev:
            return 0
        events.submit(Event(kind=1, dev=ctx.dev, sector=ctx.sector, ts=ktime_ns(),
                            bytes=ctx.nr_sector * 512))
        return 0

    s.program(biosnoop_issue)
    s.program(biosnoop_done)
    return s


def rwbs_text(packed: int) -> str:
    return bytes(b for b in packed.to_bytes(8, "little") if b).decode("ascii", "replace")


def run(args: argparse.Namespace) -> int:
    from pybpf.output import jsonl

    disk_dev = 0
    if args.disk:
        dev = disks.dev_of(args.disk)
        if dev is None:
            print(f"no such disk '{args.disk}'")
            return 1
        disk_dev = dev
    session = build(args.queue, disk_dev)
    names = disks.disk_names()
    issued: dict[tuple[int, int], Any] = {}
    last_end: dict[int, int] = {}
    start_ts = [0]

    def header() -> None:
        if args.json:
            runner.json_ready(args)
            return
        head = runner.cols("%-11s %-14s %-7s %-9s %-1s %-10s %-7s", "TIME(s)", "COMM", "PID",
                           "DISK", "T", "SECTOR", "BYTES")
        if args.pattern:
            head += runner.cols("%-1s ", "P")
        if args.queue:
            head += runner.cols("%7s ", "QUE(ms)")
        print(head + runner.cols("%7s", "LAT(ms)"), flush=True)

    def handle(ev: Any) -> None:
        if ev.kind == ISSUE:
            issued[(ev.dev, ev.sector)] = ev
            return
        io = issued.pop((ev.dev, ev.sector), None)
        if io is None:
            return
        if not start_ts[0]:
            start_ts[0] = io.ts
        delta = ev.ts - io.ts
        rwbs = rwbs_text(io.rwbs)
        rw = "W" if "W" in rwbs else "R"
        disk = disks.disk_name(ev.dev, names)
        pattern = "S" if last_end.get(ev.dev) == io.sector else "R"
        last_end[ev.dev] = io.sector + io.bytes // 512
        ts = (ev.ts - start_ts[0]) / 1e9
        comm = runner.text(io.comm)
        if args.json:
            obj = {"ts": round(ts, 6), "comm": comm, "pid": io.pid, "disk": disk, "type": rw,
                   "rwbs": rwbs, "sector": io.sector, "bytes": io.bytes,
                   "lat_ms": round(delta / 1e6, 3)}
            if args.queue:
                obj["que_ms"] = round(io.qdelta / 1e6, 3)
            if args.pattern:
                obj["pattern"] = pattern
            jsonl.emit(obj)
            return
        line = runner.cols("%-11.6f %-14.14s %-7s %-9s %-1s %-10s %-7s", ts, comm, io.pid,
                           disk, rw, io.sector, io.bytes)
        if args.pattern:
            line += runner.cols("%-1s ", pattern)
        if args.queue:
            line += runner.cols("%7.2f ", io.qdelta / 1e6)
        print(line + runner.cols("%7.2f", delta / 1e6), flush=True)

    runner.run_events(session, handle, args.duration, header)
    return 0
