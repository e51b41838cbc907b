"""runqlen: scheduler run queue length, sampled 99 times a second on every CPU (perf event
cpu-clock; the length is the CFS queue of the task on the CPU, minus that task), as bcc's
runqlen prints it: a linear histogram, per CPU with -C, or run queue occupancy with -O."""

from __future__ import annotations

import argparse
from typing import Any

from pybpf.cli_support.clock import hms
from pybpf.session import Session
from pybpf.tools import histograms, runner

HELP = "summarize scheduler run queue length as a histogram"
NEEDS = ("perf",)
FREQUENCY = 99


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-O", "--runqocc", action="store_true", help="report run queue occupancy")
    p.add_argument("-C", "--cpus", action="store_true", help="print output for each CPU "
                   "separately")
    runner.add_interval_count(p)
    runner.add_duration(p)


def _queued_field() -> str:
    """The cfs_rq member counting queued entities (nr_running before 6.13, nr_queued after)."""
    from pybpf.btf import kernel_btf

    names = {m.name for m in kernel_btf().struct("cfs_rq").members}
    return "nr_queued" if "nr_queued" in names else "nr_running"


def build(per_cpu: bool = False) -> tuple[Session, Any]:
    """The sampler and `dist` {(cpu or 0, run queue length): samples}."""
    from pybpf import bpf, cpu, current_task, maps, u32, u64

    s = Session()
    dist = s.map(maps.Hash(key=(u32, u64), value=u64, max_entries=4096, name="rql_dist"))

    if _queued_field() == "nr_queued":
        @bpf.perf_event("software", "cpu-clock", sample_freq=FREQUENCY)
        def runqlen_sample(ctx):
            task = current_task()
            n = u64(0)
            if task.pid != 0:  # the idle task: nothing runs, nothing waits
                n = u64(task.se.cfs_rq.nr_queued)
                if n > 0:
                    n = n - 1
            dist[u32(cpu()) if per_cpu else u32(0), n] += 1
            return 0
    else:
        @bpf.perf_event("software", "cpu-clock", sample_freq=FREQUENCY)
        def runqlen_sample(ctx):
            task = current_task()
            n = u64(0)
            if task.pid != 0:
                n = u64(task.se.cfs_rq.nr_running)
                if n > 0:
                    n = n - 1
            dist[u32(cpu()) if per_cpu else u32(0), n] += 1
            return 0

    s.program(runqlen_sample)
    return s, dist


def occupancy(buckets: dict[int, int]) -> float:
    total = sum(buckets.values())
    return 100.0 * sum(v for k, v in buckets.items() if k > 0) / total if total else 0.0


def run(args: argparse.Namespace) -> int:
    from pybpf.output import hist, jsonl

    session, dist = build(args.cpus)

    def ready() -> None:
        if args.json:
            runner.json_ready(args)
        else:
            print("Sampling run queue length... Hit Ctrl-C to end.", flush=True)

    def tick(last: bool) -> None:
        per = histograms.read_keyed(dist)
        if args.json:
            for k, buckets in sorted(per.items()):
                obj: dict[str, Any] = {"time": hms()}
                if args.cpus:
                    obj["cpu"] = k
                obj["runqocc"] = round(occupancy(buckets), 2)
                obj["samples"] = sum(buckets.values())
                obj["buckets"] = [{"runqlen": n, "count": c} for n, c in sorted(buckets.items())]
                jsonl.emit(obj)
            return
        runner.interval_start(args.timestamp)
        for k, buckets in sorted(per.items()):
            if args.runqocc:
                prefix = runner.cols("cpu %-2d ", k) if args.cpus else ""
                print(runner.cols("%srunqocc: %0.2f%%", prefix, occupancy(buckets)))
                continue
            if args.cpus:
                print(f"\ncpu = {k}")
            for line in hist.linear_lines(buckets, "runqlen"):
                print(line)
        print(end="", flush=True)

    runner.run_intervals(session, tick, args.interval, args.count, args.duration, ready)
    return 0
