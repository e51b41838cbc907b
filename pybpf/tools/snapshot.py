"""pybpf snapshot: the first 60 seconds on a Linux host in one command. For a few seconds it
reads /proc and /sys as uptime, dmesg, vmstat, mpstat, pidstat, iostat -x and sar -n
DEV,EDEV,TCP,ETCP would (pybpf.hoststats), and runs the tools' BPF sides together (on-CPU
sampling, syscalls, execs, exits, opens, block I/O latency per disk, run-queue latency, TCP
sessions, retransmits, signals, OOM kills: snapshot_collect), then prints one report with a
summary of what looks wrong on top (snapshot_findings). --json gives the same as one object
(schema in snapshot_schema), --html a standalone page with tables, heat maps and a flame
graph."""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime
from typing import Any

from pybpf.cli_support.argtypes import positive_float, positive_int
from pybpf.cli_support.signals import Stop, install_signals
from pybpf.tools import runner

POLL_S = 0.05  # how often the ring buffers are drained
HEAT_S = 1.0  # one heat map column per this many seconds
PROCS_S = 0.5  # /proc/PID/stat read again: a process that ends loses at most this much CPU

HELP = ("the first 60 seconds on this host: load, CPU, memory, disks, network, kernel "
        "errors, on-CPU processes, syscalls, execs, files, I/O and run-queue latency, TCP")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-d", "--duration", type=positive_float, default=10.0,
                   metavar="SECONDS", help="how long to collect (default 10)")
    p.add_argument("--html", metavar="FILE",
                   help="also write an HTML report with the SVGs embedded")
    p.add_argument("--top", type=positive_int, default=15,
                   help="rows per list in every format (the top ones by the section's "
                   "measure; default 15)")


class Progress:
    """A one-line progress bar on stderr while collecting (only on a terminal)."""

    def __init__(self, total: float, enabled: bool) -> None:
        self.total, self.enabled = total, enabled
        self.start = time.monotonic()

    def update(self) -> None:
        if not self.enabled:
            return
        done = min(time.monotonic() - self.start, self.total)
        width = 30
        filled = int(width * done / self.total) if self.total else width
        sys.stderr.write(f"\rpybpf snapshot: collecting [{'#' * filled}{'.' * (width - filled)}]"
                         f" {done:4.1f}/{self.total:g} s")
        sys.stderr.flush()

    def finish(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 70 + "\r")
            sys.stderr.flush()


def collect(args: argparse.Namespace, progress: Progress) -> tuple[dict[str, Any],
                                                                dict[str, int], list[Any]]:
    """Attach, sample /proc, drain until the duration ends (or SIGINT/SIGTERM), stop, and
    build the report."""
    from pybpf.hoststats.sample import Sample
    from pybpf.tools import snapshot_findings, snapshot_schema
    from pybpf.tools.snapshot_collect import Collector

    started = datetime.now().astimezone().isoformat(timespec="seconds")
    col = Collector()
    try:
        col.attach()
        host = Sample.take()
        if not sys.stderr.isatty() and not args.json:
            print(f"pybpf snapshot: collecting for {args.duration:g} s...", file=sys.stderr,
                  flush=True)
        if args.json:
            runner.json_ready(args)
        end = col.start + args.duration
        next_sample = col.start + HEAT_S
        next_procs = col.start + PROCS_S
        try:
            while True:
                now = time.monotonic()
                if now >= end:
                    break
                time.sleep(min(POLL_S, end - now))
                col.drain()
                if time.monotonic() >= next_sample:
                    col.sample_bio()
                    next_sample += HEAT_S
                if time.monotonic() >= next_procs:
                    host.tick()
                    next_procs += PROCS_S
                progress.update()
        except (KeyboardInterrupt, Stop):
            pass
        # the interval ends here for both sides; detaching takes a while (a grace period per
        # tracepoint), and what the programs count meanwhile is still counted in the totals
        duration = time.monotonic() - col.start
        hoststats = host.finish(args.top)
        col.stop()
        col.drain()
        col.sample_bio()
        progress.finish()
        bpf, folded = col.report(duration, args.top)
        heat = col.heatmaps()
    finally:
        col.close()
    uname = os.uname()
    data = {"schema": snapshot_schema.NAME, "version": snapshot_schema.VERSION,
            "host": uname.nodename, "kernel": uname.release, "started": started,
            "duration": round(duration, 3), "cpus": os.cpu_count() or 1, "top": args.top,
            "summary": [], "host_stats": hoststats, **bpf}
    data["summary"] = snapshot_findings.findings(data)
    return data, folded, heat


def run(args: argparse.Namespace) -> int:
    from pybpf.output import html, jsonl, report

    install_signals()
    progress = Progress(args.duration, sys.stderr.isatty() and not args.json)
    data, folded, heat = collect(args, progress)
    if args.json:
        jsonl.emit(data)
    else:
        print(report.render_text(data), end="", flush=True)
    if args.html:
        with open(args.html, "w") as f:
            f.write(html.render_snapshot(data, heat, folded))
        if not args.json:
            print(f"HTML report written to {args.html}", file=sys.stderr)
    return 0
