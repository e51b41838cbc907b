"""wqlat: kernel workqueue latency, from the queueing of a work item
(workqueue:workqueue_queue_work) to the start of its execution by a worker
(workqueue:workqueue_execute_start), as a log2 histogram, overall or per workqueue (-W), as
bcc's wqlat prints it. The start is kept by work item address, as bcc keeps it."""

from __future__ import annotations

import argparse
from typing import Any

from pybpf.session import Session
from pybpf.tools import histograms, runner

HELP = "summarize workqueue request latency as a histogram"
NEEDS = ("tp:workqueue:workqueue_queue_work", "tp:workqueue:workqueue_execute_start")
WQ_NAME_LEN = 24
EXAMPLES = (
    ("", "summarize workqueue latency as a histogram"),
    ("1 10", "print 1 second summaries, 10 times"),
    ("-W 1 10", "print 1 second, 10 times per workqueue"),
    ("-NT 1", "1s summaries, nanoseconds, and timestamps"),
    ("-m 1", "1s summaries, milliseconds"),
    ("-w nvmet_tcp_wq 1", "1s summaries for workqueue nvmet_tcp_wq"),
)


def wq_name(value: str) -> str:
    """-w's argument: a workqueue name shorter than bcc's 24 bytes."""
    if not value or len(value.encode()) >= WQ_NAME_LEN:
        raise argparse.ArgumentTypeError(
            f"workqueue name must be 1 to {WQ_NAME_LEN - 1} bytes long: {value!r}")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    units = p.add_mutually_exclusive_group()
    units.add_argument("-N", "--nanoseconds", action="store_true", help="output in nanoseconds")
    units.add_argument("-m", "--milliseconds", action="store_true",
                       help="output in milliseconds")
    p.add_argument("-W", "--workqueues", action="store_true",
                   help="print a histogram per work queue")
    p.add_argument("-w", "--wqname", type=wq_name, help="print this workqueue only")
    runner.add_interval_count(p)
    runner.add_duration(p)


def build(per_wq: bool = False, divisor: int = 1000, only: str = "") -> tuple[Session, Any]:
    """The programs and `dist` {(workqueue name or "", log2 bucket): count}, latencies in
    nanoseconds // `divisor`; with `only`, the work of that workqueue alone."""
    from pybpf import bpf, hist, ktime_ns, maps, u64

    filtered = bool(only)

    class Start(bpf.Struct):
        ts: u64
        name: "char[24]"  # noqa: F821, UP037

    s = Session()
    start = s.map(maps.Hash(key=u64, value=Start, max_entries=10240, name="wq_start"),
                  loses="start")
    dist = s.map(maps.Hash(key=("char[24]", u64), value=u64, max_entries=10240,
                           name="wq_dist"))

    @bpf.tracepoint("workqueue:workqueue_queue_work")
    def wqlat_queue(ctx):
        name = str(ctx.workqueue, 24)
        if filtered:
            if name != only:
                return 0
        start[u64(ctx.work)] = Start(ts=ktime_ns(), name=name)
        return 0

    @bpf.tracepoint("workqueue:workqueue_execute_start")
    def wqlat_execute(ctx):
        work = u64(ctx.work)
        if work not in start:  # queued before tracing, or not wanted
            return 0
        a = start[work]
        del start[work]
        delta = (ktime_ns() - a.ts) // divisor
        if per_wq:
            hist.log2(dist, a.name, delta)
        else:
            hist.log2(dist, "", delta)
        return 0

    # the execution first: a start kept before its program is attached would stay in `start`
    s.program(wqlat_execute)
    s.program(wqlat_queue)
    return s, dist


def run(args: argparse.Namespace) -> int:
    if args.nanoseconds:
        divisor, unit = 1, "nsecs"
    elif args.milliseconds:
        divisor, unit = 1000000, "msecs"
    else:
        divisor, unit = 1000, "usecs"
    session, dist = build(args.workqueues, divisor, args.wqname or "")

    def ready() -> None:
        if args.json:
            runner.json_ready(args)
        else:
            print("Tracing work queue request latency time... Hit Ctrl-C to end.", flush=True)

    def tick(last: bool) -> None:
        per = {runner.text(k): v for k, v in histograms.read_keyed(dist).items()}
        if args.json:
            histograms.emit_keyed(per, unit, (lambda k: {"wqname": k}) if args.workqueues
                                  else None)
            return
        histograms.print_keyed(per, unit, (lambda k: f"wqname = {k}") if args.workqueues
                               else None, args.timestamp)

    runner.run_intervals(session, tick, args.interval, args.count, args.duration, ready)
    return 0
