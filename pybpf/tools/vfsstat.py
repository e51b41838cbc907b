"""vfsstat: per-second counts of the common VFS calls (vfs_read, vfs_write, vfs_fsync,
vfs_open, vfs_create), one row per interval, as bcc's vfsstat prints them. Needs fentry or
kprobes (no tracepoint marks these); -v says which."""

from __future__ import annotations

import argparse
from typing import Any

from pybpf.cli_support.argtypes import positive_float, positive_int
from pybpf.cli_support.clock import hms
from pybpf.session import Session
from pybpf.tools import kfunc, runner

HELP = "count VFS calls (read, write, fsync, open, create) per second"
NEEDS = ("kfunc",)
STATS = (("READ", "vfs_read"), ("WRITE", "vfs_write"), ("FSYNC", "vfs_fsync"),
         ("OPEN", "vfs_open"), ("CREATE", "vfs_create"))
FUNCTIONS = "/".join(f for _, f in STATS)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("interval", nargs="?", type=positive_float, default=1.0,
                   help="output interval, in seconds (default 1)")
    p.add_argument("count", nargs="?", type=positive_int, default=runner.FOREVER,
                   help="number of outputs")
    runner.add_duration(p)
    kfunc.add_arguments(p, tracepoint=False)


def build(hook: str) -> tuple[Session, Any]:
    """The programs and `counts` {stat index: calls}."""
    from pybpf import bpf, maps, u32, u64

    s = Session()
    counts = s.map(maps.Hash(key=u32, value=u64, max_entries=16, name="vfs_counts"))
    entry = bpf.fentry if hook == kfunc.FENTRY else bpf.kprobe

    def counter(function: str, index: int) -> Any:
        def vfsstat_count(ctx):
            counts[u32(index)] += 1
            return 0

        return entry(function)(vfsstat_count)

    for i, (_, function) in enumerate(STATS):
        if kfunc.exists(function):
            s.program(counter(function, i))
    return s, counts


def run(args: argparse.Namespace) -> int:
    import time

    from pybpf.output import jsonl

    hook = kfunc.choose(args, "vfsstat", FUNCTIONS, tracepoint=False)
    if hook is None:
        return 1
    session, counts = build(hook)
    last = [time.monotonic()]

    def ready() -> None:
        kfunc.announce(args, "vfsstat", kfunc.describe(hook, FUNCTIONS, ""))
        last[0] = time.monotonic()
        if args.json:
            runner.json_ready(args)
            return
        print(runner.cols("%-8s  ", "TIME") + "".join(runner.cols(" %8s", f"{name}/s")
                                                       for name, _ in STATS), flush=True)

    def tick(_final: bool) -> None:
        now = time.monotonic()
        seconds = max(now - last[0], 1e-3)  # the interval as it ran (the last may be short)
        last[0] = now
        got = {int(k): int(v) for k, v in counts.items()}
        counts.clear()
        per_second = [int(got.get(i, 0) / seconds) for i in range(len(STATS))]
        if args.json:
            obj: dict[str, Any] = {"time": hms()}
            obj.update({f"{name.lower()}_s": v for (name, _), v in zip(STATS, per_second,
                                                                      strict=True)})
            obj.update({name.lower(): got.get(i, 0) for i, (name, _) in enumerate(STATS)})
            jsonl.emit(obj)
            return
        print(runner.cols("%-8s: ", hms()) + "".join(runner.cols(" %8d", v)
                                                             for v in per_second), flush=True)

    runner.run_intervals(session, tick, args.interval, args.count, args.duration, ready)
    return 0
