"""compactsnoop: trace memory compaction of a zone (compaction:mm_compaction_begin/end, as
raw tracepoints for their compact_control), with bcc's columns: the task, its zone's node and
type, the order asked for, the mode, the latency and the result.

bcc takes the zone and order from mm_compaction_suitable, which a compaction of the whole
zone (`echo 1 > /proc/sys/vm/compact_memory`, order -1) never passes; here they come from
the compact_control that mm_compaction_begin carries, so that compaction is shown too. The
zone's type is named from the kernel's zone name ("Normal" -> ZONE_NORMAL), which is bcc's
x86_64 table there and right on other machines. -e's FRAGIDX (a kretprobe in bcc) needs
kprobes, which this tool does not use: it is printed as "-"."""

from __future__ import annotations

import argparse
from typing import Any

from pybpf.cli_support import argtypes
from pybpf.cli_support.argtypes import positive_float
from pybpf.session import Session
from pybpf.tools import runner
from pybpf.tools.task_filter import ANY_TASK, TaskTarget, task_filter

HELP = "trace compact zone"
BEGIN, END = "mm_compaction_begin", "mm_compaction_end"
NEEDS = (f"raw:{BEGIN}", f"raw:{END}")
EXAMPLES = (
    ("", "trace all compact stall"),
    ("-T", "include timestamps"),
    ("-d 10", "trace for 10 seconds only"),
    ("-K", "output kernel stack trace"),
    ("-e", "show extended fields"),
    ("-p 181", "only trace PID 181"),
)
# enum compact_result (include/linux/compaction.h), as bcc names its values
STATUS = ("not_suitable_zone", "skipped", "deferred", "no_suitable_page", "continue",
          "complete", "partial_skipped", "contended", "success")
WMARK_MIN, WMARK_LOW, WMARK_HIGH = 0, 1, 2
NR_FREE_PAGES = 0


def status_name(status: int) -> str:
    return STATUS[status] if 0 <= status < len(STATUS) else str(status)


def zone_type(name: str) -> str:
    """bcc's zone column from the kernel's zone name: "DMA32" -> "ZONE_DMA32"."""
    return f"ZONE_{name.upper()}" if name else "?"


def _free_pages_offset() -> int:
    """Offset in struct zone of vm_stat[NR_FREE_PAGES] (an array the compiler cannot index
    yet: read as a word at that address)."""
    from pybpf.btf import kernel_btf

    btf = kernel_btf()
    return btf.offsetof(btf.struct("zone"), "vm_stat") + 8 * NR_FREE_PAGES


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-p", "--pid", type=argtypes.pid, help="trace this PID only")
    p.add_argument("-d", "--duration", type=positive_float,
                   help="total duration of trace in seconds")
    p.add_argument("-K", "--kernel-stack", action="store_true",
                   help="output kernel stack trace")
    p.add_argument("-e", "--extended_fields", action="store_true",
                   help="show system memory state")


def build(target: TaskTarget = ANY_TASK, extended: bool = False,
          kernel_stack: bool = False) -> Session:
    """A begin program, which keeps the zone, order, mode and time by thread (-p applies
    here; with `extended`, the zone's watermarks and free pages too), and an end program,
    which sends one event with the latency, the result and (with `kernel_stack`) the stack."""
    from pybpf import (
        bpf,
        cast,
        comm,
        kernel_str,
        kstack,
        ktime_ns,
        maps,
        pid,
        s32,
        s64,
        tid,
        u32,
        u64,
    )

    free_off = _free_pages_offset() if extended else 0

    class Start(bpf.Struct):
        ts: u64
        nid: s32
        order: s32
        sync: u32
        min: u64
        low: u64
        high: u64
        free: s64
        zone: "char[16]"  # noqa: F821, UP037

    class Event(bpf.Struct):
        pid: u32
        tid: u32
        nid: s32
        order: s32
        sync: u32
        status: s32
        delta_ns: u64
        ts: u64
        min: u64
        low: u64
        high: u64
        free: s64
        stack_id: s64
        zone: "char[16]"  # noqa: F821, UP037
        comm: "char[16]"  # noqa: F821, UP037

    s = Session(unit="compactions")
    events = s.ringbuf(Event, 1 << 18)
    start = s.map(maps.Hash(key=u32, value=Start, max_entries=10240, name="cs_start"),
                  loses="start")
    wanted = task_filter(target)

    @bpf.raw_tracepoint(BEGIN)
    def compactsnoop_begin(ctx):
        if target.given:
            if not wanted():
                return 0
        zone = ctx.cc.zone
        a = Start(ts=ktime_ns(), nid=s32(zone.node), order=s32(ctx.cc.order),
                  sync=u32(ctx.sync), zone=kernel_str(zone.name, 16))
        if extended:
            boost = zone.watermark_boost
            a.min = zone._watermark[WMARK_MIN] + boost
            a.low = zone._watermark[WMARK_LOW] + boost
            a.high = zone._watermark[WMARK_HIGH] + boost
            # zone->vm_stat[NR_FREE_PAGES], an atomic_long_t: the first word at its offset
            a.free = s64(cast(u64(zone) + free_off, "struct llist_node").next)
        start[tid()] = a
        return 0

    @bpf.raw_tracepoint(END)
    def compactsnoop_end(ctx):
        t = tid()
        if t not in start:  # not wanted, or begun before tracing
            return 0
        a = start[t]
        del start[t]
        now = ktime_ns()
        sid = s64(-1)
        if kernel_stack:
            sid = s64(kstack())
        events.submit(Event(pid=pid(), tid=t, nid=a.nid, order=a.order, sync=a.sync,
                            status=s32(ctx.status), delta_ns=now - a.ts, ts=now, min=a.min,
                            low=a.low, high=a.high, free=a.free, stack_id=sid, zone=a.zone,
                            comm=comm()))
        return 0

    # the end first: a begin kept before its end is attached would stay in `start`
    s.program(compactsnoop_end)
    s.program(compactsnoop_begin)
    return s


def run(args: argparse.Namespace) -> int:
    from pybpf.output import jsonl
    from pybpf.tools import stacks

    session = build(TaskTarget.from_args(args), args.extended_fields, args.kernel_stack)
    first_ts = [0]
    sym: list[Any] = []

    def header() -> None:
        if args.kernel_stack:
            sym.append(stacks.Symbolizer(session.stacks(), offsets=True))
        if args.json:
            runner.json_ready(args)
            return
        head = runner.cols("%-14s ", "TIME(s)") if args.timestamp else ""
        head += runner.cols("%-14s %-6s %-4s %-12s %-5s %-7s ", "COMM", "PID", "NODE", "ZONE",
                            "ORDER", "MODE")
        if args.extended_fields:
            head += runner.cols("%-8s %-8s %-8s %-8s %-8s ", "FRAGIDX", "MIN", "LOW", "HIGH",
                                "FREE")
        print(head + runner.cols("%9s %16s", "LAT(ms)", "STATUS"), flush=True)

    def handle(ev: Any) -> None:
        if not first_ts[0]:
            first_ts[0] = ev.ts
        secs = (ev.ts - first_ts[0]) / 1e9
        comm, zone = runner.text(ev.comm), zone_type(runner.text(ev.zone))
        mode = "SYNC" if ev.sync else "ASYNC"
        ms = ev.delta_ns / 1e6
        frames = sym[0].kernel(ev.stack_id) if sym and ev.stack_id >= 0 else []
        if args.json:
            obj: dict[str, Any] = {"time": round(secs, 9), "comm": comm, "pid": ev.pid,
                                   "tid": ev.tid, "node": ev.nid, "zone": zone,
                                   "order": ev.order, "mode": mode}
            if args.extended_fields:
                obj.update({"fragidx": None, "min": ev.min, "low": ev.low, "high": ev.high,
                            "free": ev.free})
            obj.update({"lat_ms": round(ms, 6), "status": status_name(ev.status)})
            if args.kernel_stack:
                obj["kernel_stack"] = frames
            jsonl.emit(obj)
            return
        line = runner.cols("%-14.9f ", secs) if args.timestamp else ""
        line += runner.cols("%-14.14s %-6s %-4s %-12s %-5s %-7s ", comm, ev.pid, ev.nid, zone,
                            ev.order, mode)
        if args.extended_fields:
            line += runner.cols("%-8s %-8s %-8s %-8s %-8s ", "-", ev.min, ev.low, ev.high,
                                ev.free)
        print(line + runner.cols("%9.3f %16s", ms, status_name(ev.status)), flush=True)
        if args.kernel_stack:
            for frame in frames:
                print(f"\t{frame}")
            print("", flush=True)

    runner.run_events(session, handle, args.duration, header)
    return 0
