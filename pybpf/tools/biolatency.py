"""biolatency: block device I/O latency as a log2 histogram (block:block_rq_issue or
block_rq_insert with -Q, to block:block_rq_complete), as bcc's biolatency prints it."""

from __future__ import annotations

import argparse
import sys
import time
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
    p.add_argument("-F", "--flags", action="store_true",
                   help="print a histogram per set of I/O flags (those the block "
                        "tracepoints' rwbs shows: operation, Sync, Metadata, "
                        "ForcedUnitAccess, ReadAhead)")
    p.add_argument("-e", "--extension", action="store_true",
                   help="summarize average/total value")
    p.add_argument("-j", dest="bcc_json", action="store_true",
                   help="json output in bcc's layout (one object per histogram)")
    p.add_argument("-d", "--disk", type=str, help="trace this disk only")
    runner.add_interval_count(p)
    runner.add_duration(p)


def build(per_disk: bool = False, milliseconds: bool = False, queued: bool = False,
          disk_dev: int = 0, per_flags: bool = False) -> tuple[Session, Any, Any]:
    """Programs and maps: `dist` {(dev, or rwbs packed in a u64 with `per_flags`, or 0; log2
    bucket): count} of latencies in usecs (or msecs), `totals` {the same key: (count, total)}
    in the same unit."""
    from pybpf import bpf, hist, ktime_ns, maps, u32, u64

    class Total(bpf.Struct):
        count: u64
        total: u64

    s = Session()
    start = s.map(maps.Hash(key=(u32, u64), value=u64, max_entries=10240, name="bio_start"))
    dist = s.map(maps.Hash(key=(u64, u64), value=u64, max_entries=4096, name="bio_dist"))
    totals = s.map(maps.Hash(key=u64, value=Total, max_entries=1024, name="bio_total"))
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
        key: u64 = 0
        if per_disk:
            key = u64(ctx.dev)
        if per_flags:  # the request's "RWBS" letters, as they are: decoded in user space
            # (context arrays take constant indices: a loop's index would not do)
            r = ctx.rwbs
            key = u64(u32(r[0]) & 255) | (u64(u32(r[1]) & 255) << 8) | \
                (u64(u32(r[2]) & 255) << 16) | (u64(u32(r[3]) & 255) << 24) | \
                (u64(u32(r[4]) & 255) << 32) | (u64(u32(r[5]) & 255) << 40) | \
                (u64(u32(r[6]) & 255) << 48) | (u64(u32(r[7]) & 255) << 56)
        hist.log2(dist, key, delta)
        totals[key].count += 1
        totals[key].total += delta
        return 0

    s.program(biolat_done)
    return s, dist, totals


# the operation letter of a block tracepoint's rwbs (blk_fill_rwbs), as bcc names the ops
_OPS = {"R": "Read", "W": "Write", "F": "Flush", "D": "Discard", "N": "Unknown"}
# the flag letters after it, in the order bcc prefixes their names (the last one first)
_FLAGS = (("S", "Sync"), ("M", "Metadata"), ("F", "ForcedUnitAccess"), ("A", "ReadAhead"))


def flags_name(packed: int) -> str:
    """bcc's -F heading ("Sync-Write") from rwbs packed in a u64 (first letter lowest). A
    leading F before the operation is a preflush, which bcc's names leave out."""
    rwbs = packed.to_bytes(8, "little").split(b"\0", 1)[0].decode("ascii", "replace")
    if len(rwbs) >= 2 and rwbs[0] == "F" and rwbs[1] in _OPS:
        rwbs = rwbs[1:]
    if not rwbs:
        return "Unknown"
    op, rest = rwbs[0], rwbs[1:]
    desc = _OPS.get(op, "Unknown")
    if op == "D" and rest.startswith("E"):
        desc, rest = "SecureErase", rest[1:]
    for letter, name in _FLAGS:
        if letter in rest:
            desc = f"{name}-{desc}"
    return desc


def bcc_json(buckets: dict[int, int], unit: str, section: tuple[str, str] | None) -> dict:
    """One histogram as bcc's biolatency -j prints it (there as a Python dict; valid JSON
    here): "ts", "val_type", "data" with "interval-start"/"interval-end"/"count" from the
    first bucket (0-1) up to the last non-empty one, then the section ("disk"/"flags")."""
    from pybpf.output.hist import bcc_log2_values

    vals = bcc_log2_values(buckets)
    last = max((i for i, v in enumerate(vals) if v), default=0)
    data = [{"interval-start": 0 if i == 1 else 1 << (i - 1), "interval-end": (1 << i) - 1,
             "count": vals[i]} for i in range(1, last + 1)]
    obj: dict[str, Any] = {"ts": time.strftime("%Y-%m-%d %H:%M:%S"), "val_type": unit,
                           "data": data}
    if section is not None:
        obj[section[0]] = section[1]
    return obj


def run(args: argparse.Namespace) -> int:
    if args.flags and args.disks:
        print("pybpf biolatency: -D and -F cannot be combined: give one.", file=sys.stderr)
        return 1
    disk_dev = 0
    if args.disk:
        dev = disks.dev_of(args.disk)
        if dev is None:
            known = ", ".join(sorted(disks.disk_names().values())) or "none"
            print(f"pybpf biolatency: no such disk '{args.disk}'; the block devices here: "
                  f"{known}", file=sys.stderr)
            return 1
        disk_dev = dev
    session, dist, totals = build(args.disks, args.milliseconds, args.queued, disk_dev,
                                  args.flags)
    unit = "msecs" if args.milliseconds else "usecs"

    def ready() -> None:
        if args.json or args.bcc_json:
            print("pybpf biolatency: tracing... Hit Ctrl-C to end.", file=sys.stderr,
                  flush=True)
        else:
            print("Tracing block device I/O... Hit Ctrl-C to end.", flush=True)

    def tick(last: bool) -> None:
        per = histograms.read_keyed(dist)
        sums = {k: (v.count, v.total) for k, v in totals.items()}
        totals.clear()
        names = disks.disk_names()

        def section(key: int) -> tuple[str, str] | None:
            if args.disks:
                return "disk", disks.disk_name(key, names)
            if args.flags:
                return "flags", flags_name(key)
            return None

        def fields(key: int) -> dict[str, Any]:
            named = section(key)
            return {named[0]: named[1]} if named else {}

        def summary(key: int) -> dict[str, Any]:
            n, total = sums.get(key, (0, 0))
            return {"count": n, "total": total}

        def extension(key: int) -> None:
            if args.extension:
                n, total = sums.get(key, (0, 0))
                print(f"\navg = {total // n if n else 0} {unit}, total: {total} {unit}, "
                      f"count: {n}\n")

        if args.bcc_json:
            from pybpf.output import jsonl

            for key, buckets in sorted(per.items()):
                jsonl.emit(bcc_json(buckets, unit, section(key)))
            return
        if args.json:
            histograms.emit_keyed(per, unit, fields, summary)
            return
        def heading(key: int) -> str:
            name, value = section(key) or ("", "")
            return f"{name} = {value}"

        histograms.print_keyed(per, unit, heading if args.disks or args.flags else None,
                               args.timestamp, extension)

    runner.run_intervals(session, tick, args.interval, args.count, args.duration, ready)
    return 0
