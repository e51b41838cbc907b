"""pidpersec: new processes (forks, threads included, as bcc's sched_fork kprobe counts them)
per second, from the sched:sched_process_fork tracepoint, printed every second as bcc's
pidpersec prints them ("HH:MM:SS: PIDs/sec: N"). The kernel keeps one running total; each
interval prints its growth, so nothing counted between two reads is lost."""

from __future__ import annotations

import argparse
from typing import Any

from pybpf.cli_support.argtypes import positive_float, positive_int
from pybpf.cli_support.clock import hms
from pybpf.session import Session
from pybpf.tools import runner

HELP = "count new processes (via fork) per second"
NEEDS = ("tp:sched:sched_process_fork",)
EXAMPLES = (
    ("", "print new processes per second, every second"),
    ("1 10", "1 second summaries, 10 times"),
    ("--duration 5", "trace for 5 seconds only"),
    ("--json", "one JSON object per second"),
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("interval", nargs="?", type=positive_float, default=1.0,
                   help="output interval, in seconds (default 1)")
    p.add_argument("count", nargs="?", type=positive_int, default=runner.FOREVER,
                   help="number of outputs")
    runner.add_duration(p)


def build() -> tuple[Session, Any]:
    """The program and `total` (an array of one u64: forks since attaching)."""
    from pybpf import bpf, maps, u64

    s = Session()
    total = s.map(maps.Array(value=u64, max_entries=1, name="pps_total"))

    @bpf.tracepoint("sched:sched_process_fork")
    def pidpersec_fork(ctx):
        total[0] += 1
        return 0

    s.program(pidpersec_fork)
    return s, total


def run(args: argparse.Namespace) -> int:
    from pybpf.output import jsonl

    session, total = build()
    seen = [0]

    def ready() -> None:
        if args.json:
            runner.json_ready(args)
            return
        print("Tracing... Ctrl-C to end.", flush=True)

    def tick(_last: bool) -> None:
        now = int(total[0])
        forks, seen[0] = now - seen[0], now
        rate = int(forks / args.interval)  # per second of the interval asked for
        if args.json:
            jsonl.emit({"time": hms(), "pids_per_sec": rate, "pids": forks})
            return
        print(runner.cols("%s: PIDs/sec: %d", hms(), rate), flush=True)

    runner.run_intervals(session, tick, args.interval, args.count, args.duration, ready)
    return 0
