"""profile: sample stack traces at a timed interval (perf_event software cpu-clock, kernel
and user stacks), printed as bcc's profile does, or folded for flame graphs (-f)."""

from __future__ import annotations

import argparse
from typing import Any

from pybpf.cli_support import argtypes
from pybpf.cli_support.argtypes import positive_float
from pybpf.session import Session
from pybpf.tools import runner, stacks

HELP = "profile CPU usage by sampling stack traces at a timed interval"
NEEDS = ("perf",)

# perf_event_attr's sample_freq and sample_period are u64 (ctypes would truncate larger numbers)
_sample_rate = argtypes.ranged("a sampling rate (u64)", 1, argtypes.U64_MAX)


def add_arguments(p: argparse.ArgumentParser) -> None:
    threads = p.add_mutually_exclusive_group()
    threads.add_argument("-p", "--pid", type=argtypes.pid_list,
                         help="profile processes with one or more comma-separated PIDs only")
    threads.add_argument("-L", "--tid", type=argtypes.pid_list,
                         help="profile threads with one or more comma-separated TIDs only")
    which = p.add_mutually_exclusive_group()
    which.add_argument("-U", "--user-stacks-only", action="store_true",
                       help="show stacks from user space only (no kernel space stacks)")
    which.add_argument("-K", "--kernel-stacks-only", action="store_true",
                       help="show stacks from kernel space only (no user space stacks)")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("-F", "--frequency", type=_sample_rate,
                      help="sample frequency, Hertz")
    rate.add_argument("-c", "--count", type=_sample_rate,
                      help="sample period, number of events")
    p.add_argument("-d", "--delimited", action="store_true",
                   help="insert delimiter between kernel/user stacks")
    p.add_argument("-a", "--annotations", action="store_true",
                   help="add _[k] annotations to kernel frames")
    p.add_argument("-I", "--include-idle", action="store_true", help="include CPU idle stacks")
    p.add_argument("-f", "--folded", action="store_true",
                   help="output folded format, one line per stack (for flame graphs)")
    p.add_argument("--stack-storage-size", type=argtypes.map_entries, default=16384,
                   help="the number of unique stack traces that can be stored and displayed")
    p.add_argument("duration", nargs="?", type=positive_float, default=runner.FOREVER,
                   help="duration of trace, in seconds")
    p.add_argument("-C", "--cpu", type=argtypes.cpu, default=-1, help="cpu number to run profile on")
    p.add_argument("-A", "--address", action="store_true", help="show raw addresses")
    p.add_argument("--svg", metavar="FILE", help="also write a flame graph SVG to FILE")


def build(frequency: int | None = 49, period: int | None = None, pids: list[int] | None = None,
          tids: list[int] | None = None, user: bool = True, kernel: bool = True,
          idle: bool = False, cpu: int = -1) -> tuple[Session, Any]:
    """The sampler and `counts` {(pid, tid, kernel stack id, user stack id, comm): samples}."""
    from pybpf import bpf, comm, kstack, maps, pid, s64, tid, u32, u64, ustack

    s = Session()
    counts = s.map(maps.Hash(key=(u32, u32, s64, s64, "char[16]"), value=u64,
                             max_entries=40960, name="prof_counts"))
    p1, p2, p3, p4 = ((pids or []) + [0, 0, 0, 0])[:4]
    t1, t2, t3, t4 = ((tids or []) + [0, 0, 0, 0])[:4]
    by_pid = bool(pids)
    by_tid = bool(tids)
    options: dict[str, Any] = {"sample_period": period} if period else {
        "sample_freq": frequency or 49}
    if cpu >= 0:
        options["cpus"] = [cpu]

    @bpf.perf_event("software", "cpu-clock", **options)
    def profile_sample(ctx):
        p = pid()
        t = tid()
        if not idle and t == 0:
            return 0
        if by_pid and p != p1 and p != p2 and p != p3 and p != p4:
            return 0
        if by_tid and t != t1 and t != t2 and t != t3 and t != t4:
            return 0
        k = s64(kstack()) if kernel else s64(-1)
        u = s64(ustack()) if user else s64(-1)
        counts[p, t, k, u, comm()] += 1
        return 0

    s.program(profile_sample)
    return s, counts


def run(args: argparse.Namespace) -> int:
    if args.pid and len(args.pid) > 4 or args.tid and len(args.tid) > 4:
        print("pybpf profile: give at most four PIDs or TIDs")
        return 1
    user, kernel = not args.kernel_stacks_only, not args.user_stacks_only
    session, counts = build(args.frequency or (None if args.count else 49), args.count,
                            args.pid, args.tid, user, kernel, args.include_idle, args.cpu)
    duration = None if args.duration >= runner.FOREVER else args.duration

    def ready() -> None:
        if args.json:
            runner.json_ready(args)
            return
        if args.folded:
            return
        rate = f"{args.frequency or 49} Hertz" if not args.count else f"every {args.count} events"
        who = f"PID {args.pid}" if args.pid else f"TID {args.tid}" if args.tid else "all threads"
        how = "user + kernel" if user and kernel else "user" if user else "kernel"
        tail = f" for {args.duration:g} secs." if duration else "... Hit Ctrl-C to end."
        print(f"Sampling at {rate} of {who} by {how} stack{tail}", flush=True)

    def tick(last: bool) -> None:
        sym = stacks.Symbolizer(session.stacks(), offsets=False, addresses=args.address)
        folded = stacks.print_stacks(counts.items(), sym, stacks.output_style(args), user,
                                     kernel, args.delimited, args.annotations)
        if args.svg:
            stacks.write_flamegraph(args.svg, folded, "CPU profile (pybpf profile)")

    runner.run_intervals(session, tick, duration or runner.FOREVER, 1, duration, ready)
    return 0
