"""offcputime: time threads spent blocked (off CPU), summed by stack trace, from the raw
tracepoint sched_switch: the stacks are taken when a thread leaves the CPU, the time when it
comes back. Printed as bcc's offcputime does, or folded (-f)."""

from __future__ import annotations

import argparse
from typing import Any

from pybpf.cli_support import argtypes
from pybpf.cli_support.argtypes import positive_float
from pybpf.session import Session
from pybpf.tools import runner, stacks

HELP = "summarize off-CPU time by stack trace"
NEEDS = ("raw:sched_switch",)
PF_KTHREAD = 0x00200000
# the block time is compared with a u64 of microseconds, the state with sched_switch's
# `unsigned int prev_state`: constants that do not fit would not compile (or, negative,
# silently disable the filter)
_block_time = argtypes.ranged("a time in microseconds (u64)", 0, argtypes.U64_MAX)
_task_state = argtypes.ranged("a task state bitmask (u32)", 0, argtypes.U32_MAX)


def add_arguments(p: argparse.ArgumentParser) -> None:
    threads = p.add_mutually_exclusive_group()
    threads.add_argument("-p", "--pid", metavar="PID", dest="tgids", type=argtypes.pid_list,
                         help="trace these PIDs only, comma separated list")
    threads.add_argument("-t", "--tid", metavar="TID", dest="pids", type=argtypes.pid_list,
                         help="trace these TIDs only, comma separated list")
    threads.add_argument("-u", "--user-threads-only", action="store_true",
                         help="user threads only (no kernel threads)")
    threads.add_argument("-k", "--kernel-threads-only", action="store_true",
                         help="kernel threads only (no user threads)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("-U", "--user-stacks-only", action="store_true",
                       help="show stacks from user space only (no kernel space stacks)")
    which.add_argument("-K", "--kernel-stacks-only", action="store_true",
                       help="show stacks from kernel space only (no user space stacks)")
    p.add_argument("-d", "--delimited", action="store_true",
                   help="insert delimiter between kernel/user stacks")
    p.add_argument("-f", "--folded", action="store_true", help="output folded format")
    p.add_argument("-s", "--offset", action="store_true", help="show address offsets")
    p.add_argument("--stack-storage-size", type=argtypes.map_entries, default=16384,
                   help="the number of unique stack traces that can be stored and displayed")
    p.add_argument("duration", nargs="?", type=positive_float, default=runner.FOREVER,
                   help="duration of trace, in seconds")
    p.add_argument("-m", "--min-block-time", type=_block_time, default=1,
                   help="the amount of time in microseconds over which we store traces")
    p.add_argument("-M", "--max-block-time", type=_block_time, default=(1 << 64) - 1,
                   help="the amount of time in microseconds under which we store traces")
    p.add_argument("--state", type=_task_state,
                   help="filter on this thread state bitmask (eg, 2 == TASK_UNINTERRUPTIBLE)")
    p.add_argument("--svg", metavar="FILE", help="also write a flame graph SVG to FILE")


def build(tgids: list[int] | None = None, tids: list[int] | None = None,
          thread_kind: str = "", user: bool = True, kernel: bool = True, min_us: int = 1,
          max_us: int = (1 << 64) - 1, state: int = -1) -> tuple[Session, Any]:
    """The program and `counts` {(pid, tid, kernel stack id, user stack id, comm): usecs}."""
    from pybpf import bpf, kstack, ktime_ns, maps, s64, u32, u64, ustack

    class Start(bpf.Struct):
        ts: u64
        kid: s64
        uid: s64

    s = Session()
    starts = s.map(maps.Hash(key=u32, value=Start, max_entries=10240, name="off_start"))
    counts = s.map(maps.Hash(key=(u32, u32, s64, s64, "char[16]"), value=u64,
                             max_entries=40960, name="off_counts"))
    p1, p2, p3, p4 = ((tgids or []) + [0, 0, 0, 0])[:4]
    t1, t2, t3, t4 = ((tids or []) + [0, 0, 0, 0])[:4]
    by_pid = bool(tgids)
    by_tid = bool(tids)
    user_only = thread_kind == "user"
    kernel_only = thread_kind == "kernel"
    max_us = min(max_us, (1 << 63) - 1)

    @bpf.raw_tracepoint("sched_switch")
    def offcpu_switch(ctx):
        prev = ctx.prev
        pp = u32(prev.tgid)
        pt = u32(prev.pid)
        record = pt != 0
        if by_pid and pp != p1 and pp != p2 and pp != p3 and pp != p4:
            record = False
        if by_tid and pt != t1 and pt != t2 and pt != t3 and pt != t4:
            record = False
        if user_only and (prev.flags & PF_KTHREAD) != 0:
            record = False
        if kernel_only and (prev.flags & PF_KTHREAD) == 0:
            record = False
        if state >= 0 and (ctx.prev_state & state) == 0:
            record = False
        if record:
            k = s64(kstack()) if kernel else s64(-1)
            us = s64(ustack()) if user else s64(-1)
            starts[pt] = Start(ts=ktime_ns(), kid=k, uid=us)
        nxt = ctx.next
        nt = u32(nxt.pid)
        ts = starts[nt].ts
        if ts == 0:
            return 0
        kid = starts[nt].kid
        uid = starts[nt].uid
        del starts[nt]
        delta = (ktime_ns() - ts) // 1000
        if delta < min_us or delta > max_us:
            return 0
        counts[u32(nxt.tgid), nt, kid, uid, nxt.comm] += delta
        return 0

    s.program(offcpu_switch)
    return s, counts


def run(args: argparse.Namespace) -> int:
    user, kernel = not args.kernel_stacks_only, not args.user_stacks_only
    kind = "user" if args.user_threads_only else "kernel" if args.kernel_threads_only else ""
    if (args.tgids and len(args.tgids) > 4) or (args.pids and len(args.pids) > 4):
        print("pybpf offcputime: give at most four PIDs or TIDs")
        return 1
    session, counts = build(args.tgids, args.pids, kind, user, kernel, args.min_block_time,
                            args.max_block_time, -1 if args.state is None else args.state)
    duration = None if args.duration >= runner.FOREVER else args.duration

    def ready() -> None:
        if args.json:
            runner.json_ready(args)
            return
        if args.folded:
            return
        who = f"PIDs {args.tgids}" if args.tgids else f"TIDs {args.pids}" if args.pids else \
            "user threads" if kind == "user" else "kernel threads" if kind == "kernel" else \
            "all threads"
        how = "user + kernel" if user and kernel else "user" if user else "kernel"
        tail = f" for {args.duration:g} secs." if duration else "... Hit Ctrl-C to end."
        print(f"Tracing off-CPU time (us) of {who} by {how} stack{tail}", flush=True)

    def tick(last: bool) -> None:
        sym = stacks.Symbolizer(session.stacks(), offsets=args.offset)
        folded = stacks.print_stacks(counts.items(), sym, stacks.output_style(args), user,
                                     kernel, args.delimited)
        if args.svg:
            stacks.write_flamegraph(args.svg, folded, "Off-CPU time (pybpf offcputime)", "us")

    runner.run_intervals(session, tick, duration or runner.FOREVER, 1, duration, ready)
    return 0
