"""bitesize: block I/O size as a log2 histogram (Kbytes) per process name, from
block:block_rq_issue, as bcc's bitesize prints it."""

from __future__ import annotations

import argparse
from typing import Any

from pybpf.cli_support.clock import hms
from pybpf.session import Session
from pybpf.tools import runner

HELP = "summarize block I/O size as a histogram per process"
NEEDS = ("tp:block:block_rq_issue",)


def add_arguments(p: argparse.ArgumentParser) -> None:
    runner.add_interval_count(p)
    runner.add_duration(p)


def build() -> tuple[Session, Any]:
    """The program and `dist` {(comm, log2 bucket of Kbytes): count}."""
    from pybpf import bpf, comm, hist, maps, u64

    s = Session()
    dist = s.map(maps.Hash(key=("char[16]", u64), value=u64, max_entries=10240,
                           name="bite_dist"))

    @bpf.tracepoint("block:block_rq_issue")
    def bitesize_issue(ctx):
        hist.log2(dist, comm(), ctx.bytes // 1024)
        return 0

    s.program(bitesize_issue)
    return s, dist


def run(args: argparse.Namespace) -> int:
    from pybpf.output import hist, jsonl

    session, dist = build()

    def ready() -> None:
        if args.json:
            runner.json_ready(args)
        else:
            print("Tracing block I/O... Hit Ctrl-C to end.", flush=True)

    def tick(last: bool) -> None:
        counts = dict(dist.items())
        dist.clear()
        per = hist.split_keyed({(runner.text(k[0]), k[1]): v for k, v in counts.items()})
        if args.json:
            for name, buckets in sorted(per.items()):
                jsonl.emit({"time": hms(), "comm": name,
                            **hist.log2_json(buckets, "Kbytes")})
            return
        for name, buckets in sorted(per.items()):
            print(f"\nProcess Name = {name}")
            for line in hist.log2_lines(buckets, "Kbytes"):
                print(line)
        print(end="", flush=True)

    runner.run_intervals(session, tick, args.interval, args.count, args.duration, ready)
    return 0
