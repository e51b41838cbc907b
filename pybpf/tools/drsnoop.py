"""drsnoop: trace direct reclaim, the allocations that stall to free memory themselves
(vmscan:mm_vmscan_direct_reclaim_begin/end, and the same inside a memory cgroup over its
limit: mm_vmscan_memcg_reclaim_begin/end), with bcc's columns: latency and pages reclaimed."""

from __future__ import annotations

import argparse
import time
from typing import Any

from pybpf.cli_support import argtypes
from pybpf.cli_support.argtypes import positive_float
from pybpf.session import Session
from pybpf.tools import runner
from pybpf.tools.task_filter import ANY_TASK, TaskTarget, task_filter

HELP = "trace direct reclaim latency"
NEEDS = ("tp:vmscan:mm_vmscan_direct_reclaim_begin|"
         "vmscan:mm_vmscan_memcg_reclaim_begin",)
KINDS = ("direct", "memcg")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-U", "--print-uid", action="store_true", help="print UID column")
    p.add_argument("-p", "--pid", type=argtypes.pid, help="trace this PID only")
    p.add_argument("-t", "--tid", type=argtypes.tid, help="trace this TID only")
    p.add_argument("-u", "--uid", type=argtypes.user, metavar="USER",
                   help="trace this UID (or user name) only")
    p.add_argument("-d", "--duration", type=positive_float,
                   help="total duration of trace in seconds")
    p.add_argument("-n", "--name", help="only print process names containing this name")
    p.add_argument("--no-memcg", action="store_true",
                   help="only global direct reclaim (not reclaim by a cgroup over its limit)")


def build(target: TaskTarget = ANY_TASK, memcg: bool = True) -> Session:
    from pybpf import bpf, comm, ktime_ns, maps, pid, tid, u32, u64, uid
    from pybpf.btf.tracefs import tracepoint_exists

    class Event(bpf.Struct):
        pid: u32
        tid: u32
        uid: u32
        kind: u32
        delta_ns: u64
        pages: u64
        comm: "char[16]"  # noqa: F821, UP037

    s = Session()
    events = s.ringbuf(Event, 1 << 18)
    start = s.map(maps.Hash(key=u32, value=u64, max_entries=10240, name="dr_start"))
    wanted = task_filter(target)

    def pair(kind: str, index: int) -> tuple[Any, Any]:
        @bpf.tracepoint(f"vmscan:mm_vmscan_{kind}_reclaim_begin")
        def drsnoop_begin(ctx):
            if target.given:
                if not wanted():
                    return 0
            start[tid()] = ktime_ns()
            return 0

        @bpf.tracepoint(f"vmscan:mm_vmscan_{kind}_reclaim_end")
        def drsnoop_end(ctx):
            t = tid()
            ts = start.get(t, 0)
            if ts == 0:
                return 0
            del start[t]
            events.submit(Event(pid=pid(), tid=t, uid=uid(), kind=index,
                                delta_ns=ktime_ns() - ts, pages=ctx.nr_reclaimed,
                                comm=comm()))
            return 0

        return drsnoop_begin, drsnoop_end

    for i, kind in enumerate(KINDS):
        if kind == "memcg" and not memcg:
            continue
        if tracepoint_exists("vmscan", f"mm_vmscan_{kind}_reclaim_begin"):
            for prog in pair(kind, i):
                s.program(prog)
    if not s.programs:
        from pybpf.sys import NotSupportedError

        raise NotSupportedError("this kernel has no vmscan reclaim tracepoints "
                                "(vmscan:mm_vmscan_direct_reclaim_begin), which drsnoop needs")
    return s


def run(args: argparse.Namespace) -> int:
    from pybpf.output import jsonl

    session = build(TaskTarget.from_args(args), not args.no_memcg)
    start = time.monotonic()

    def header() -> None:
        if args.json:
            runner.json_ready(args)
            return
        head = runner.cols("%-14s", "TIME(s)") if args.timestamp else ""
        if args.print_uid:
            head += runner.cols("%-6s", "UID")
        print(head + runner.cols("%-14s %-6s %8s %5s", "COMM", "TID" if args.tid else "PID",
                                 "LAT(ms)", "PAGES"), flush=True)

    def handle(ev: Any) -> None:
        comm = runner.text(ev.comm)
        if args.name and args.name not in comm:
            return
        ms = ev.delta_ns / 1e6
        if args.json:
            jsonl.emit({"ts": round(time.monotonic() - start, 6), "uid": ev.uid,
                        "comm": comm, "pid": ev.pid, "tid": ev.tid, "kind": KINDS[ev.kind],
                        "lat_ms": round(ms, 3), "pages": ev.pages})
            return
        line = runner.cols("%-14.6f", time.monotonic() - start) if args.timestamp else ""
        if args.print_uid:
            line += runner.cols("%-6d", ev.uid)
        print(line + runner.cols("%-14.14s %-6d %8.2f %5d", comm,
                                 ev.tid if args.tid else ev.pid, ms, ev.pages), flush=True)

    runner.run_events(session, handle, args.duration, header)
    return 0
