"""pybpf snapshot: a first look at a Linux host in one command. For a few seconds it runs
the tools' BPF sides together (syscount, execsnoop, exitsnoop, opensnoop, biolatency per
disk, runqlat, the TCP state tracker, plus signals, OOM kills and retransmits), then prints
one report; --json gives the same as one object, --html a page with heat maps (and an
on-CPU flame graph) embedded."""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from collections import Counter
from datetime import datetime
from typing import Any

from pybpf.cli_support.argtypes import positive_float, positive_int
from pybpf.cli_support.signals import Stop, install_signals
from pybpf.names import disks
from pybpf.tools import histograms, runner

HELP = "a first look at this host: syscalls, processes, files, disks, scheduler, TCP"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-d", "--duration", type=positive_float, default=10.0,
                   metavar="SECONDS", help="how long to collect (default 10)")
    p.add_argument("--html", metavar="FILE",
                   help="also write an HTML report with the SVGs embedded")
    p.add_argument("--top", type=positive_int, default=15,
                   help="rows per section in the text report (default 15)")


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


class Collector:
    """The sessions of one snapshot and what their events add up to."""

    def __init__(self, flame: bool) -> None:
        from pybpf.session import Group
        from pybpf.tools import (
            biolatency,
            execsnoop,
            exitsnoop,
            opensnoop,
            profile,
            runqlat,
            snapshot_probes,
            syscount,
            tcplife,
            tcpstates,
        )

        me = os.getpid()
        self.me = me
        self.group = Group()
        self.sys, self.sys_counts = syscount.build("both", exclude_pid=me)
        self.execs = execsnoop.build()
        self.exits = exitsnoop.build()
        self.opens = opensnoop.build()
        self.bio, self.bio_dist, self.bio_totals = biolatency.build(per_disk=True)
        self.rq, self.rq_dist = runqlat.build()
        self.tcp = tcpstates.build()
        self.sigs = snapshot_probes.signals()
        self.ooms = snapshot_probes.oom_kills()
        self.retr, self.retr_counts = snapshot_probes.retransmits()
        for s in (self.sys, self.execs, self.exits, self.opens, self.bio, self.rq, self.tcp,
                  self.sigs, self.ooms, self.retr):
            self.group.add(s)
        self.prof = self.prof_counts = None
        if flame:
            self.prof, self.prof_counts = profile.build(frequency=49)
            self.group.add(self.prof)
        self.lives = tcplife.Lives()
        self.tcp_opened = 0
        self.tcp_closed = 0
        self.sessions: list[dict[str, Any]] = []
        self.exec_args: dict[int, list[str]] = {}
        self.exec_rows: list[dict[str, Any]] = []
        self.exec_failures = 0
        self.comms: dict[int, str] = {}  # names of processes gone before the report
        self.exit_rows: list[dict[str, Any]] = []
        self.opens_by_thread = runner.CallPairs()
        self.file_opens: Counter[tuple[str, str]] = Counter()
        self.file_errors: Counter[tuple[str, str]] = Counter()
        self.signals: Counter[tuple[int, str, str]] = Counter()
        self.oom_rows: list[dict[str, Any]] = []
        self.heat: dict[int, list[tuple[float, dict[int, int]]]] = {}
        self.bio_sum: dict[int, dict[int, int]] = {}
        self.start = time.monotonic()

    # -- events ---------------------------------------------------------------------------
    def drain(self) -> None:
        from pybpf.tools import exitsnoop

        for session, events in self.group.poll_each(0):
            for ev in events:
                if session is self.execs:
                    self.on_exec(ev)
                elif session is self.exits:
                    self.comms[ev.pid] = runner.text(ev.comm)
                    self.exit_rows.append({
                        "comm": runner.text(ev.comm), "pid": ev.pid, "ppid": ev.ppid,
                        "age": round((ev.exit_time - ev.start_time) / 1e9, 3),
                        "exit_code": ev.exit_code >> 8, "signal": ev.exit_code & 0x7F,
                        "description": exitsnoop.describe(ev.exit_code)})
                elif session is self.opens:
                    self.on_open(ev)
                elif session is self.tcp:
                    self.on_tcp(ev)
                elif session is self.sigs:
                    self.signals[(ev.sig, runner.text(ev.sender_comm),
                                  runner.text(ev.target_comm))] += 1
                elif session is self.ooms:
                    self.oom_rows.append({"pid": ev.pid, "uid": ev.uid,
                                          "comm": runner.text(ev.comm)})

    def on_exec(self, ev: Any) -> None:
        if ev.kind == 0:
            self.exec_args.setdefault(ev.pid, []).append(runner.text(ev.arg))
            return
        args = self.exec_args.pop(ev.pid, [])
        self.comms[ev.pid] = runner.text(ev.comm)
        if ev.retval != 0:
            self.exec_failures += 1
            return
        self.exec_rows.append({"ts": round(time.monotonic() - self.start, 3),
                               "comm": runner.text(ev.comm), "pid": ev.pid, "ppid": ev.ppid,
                               "ret": ev.retval, "args": args})

    def on_open(self, ev: Any) -> None:
        if ev.pid == self.me:
            return
        entry = self.opens_by_thread.entry_of(ev)
        if entry is None:
            return
        key = (runner.text(entry.path) or "[path not readable]", runner.text(entry.comm))
        self.file_opens[key] += 1
        if ev.ret < 0:
            self.file_errors[key] += 1

    def on_tcp(self, ev: Any) -> None:
        from pybpf.tools import tcpstates

        if ev.newstate == tcpstates.ESTABLISHED:
            self.tcp_opened += 1
        rec = self.lives.feed(ev)
        if rec is not None:
            self.tcp_closed += 1
            rec.pop("ts", None)
            self.sessions.append(rec)

    def sample_bio(self) -> None:
        """One heat map column per disk: the latencies since the last sample."""
        t = time.monotonic() - self.start
        per = histograms.read_keyed(self.bio_dist)
        for dev in set(per) | set(self.heat):
            col = per.get(dev, {})
            self.heat.setdefault(dev, []).append((t, col))
            total = self.bio_sum.setdefault(dev, {})
            for k, v in col.items():
                total[k] = total.get(k, 0) + v

    # -- the report -----------------------------------------------------------------------
    def report(self, duration: float, started: str) -> dict[str, Any]:
        from pybpf.names.syscalls import syscall_name
        from pybpf.output.hist import log2_json
        from pybpf.tools import procfs

        per_proc: dict[int, Counter[int]] = {}
        total = 0
        for (p, nr), v in self.sys_counts.items():
            per_proc.setdefault(p, Counter())[nr] += v.count
            total += v.count
        procs = []
        for p, c in per_proc.items():
            name = procfs.comm(p)
            if name == "[unknown]":
                name = self.comms.get(p, name)
            procs.append({"pid": p, "comm": name, "count": sum(c.values()),
                          "top": [{"syscall": syscall_name(nr), "count": n}
                                  for nr, n in c.most_common(5)]})
        procs.sort(key=lambda x: -x["count"])
        files = [{"path": path, "comm": comm, "opens": n,
                  "errors": self.file_errors.get((path, comm), 0)}
                 for (path, comm), n in self.file_opens.most_common(50)]
        names = disks.disk_names()
        per_disk = []
        totals = {k: (v.count, v.total) for k, v in self.bio_totals.items()}
        for dev, buckets in sorted(self.bio_sum.items()):
            n, tot = totals.get(dev, (0, 0))
            per_disk.append({"disk": disks.disk_name(dev, names), "count": n,
                          "avg_usecs": tot / n if n else 0.0,
                          "hist": log2_json(buckets, "usecs")})
        rq = histograms.read_keyed(self.rq_dist).get(0, {})
        retrans = []
        for (fam, daddr, dport), n in self.retr_counts.items():
            addr = socket.inet_ntoa(daddr.to_bytes(4, "little")) if fam == socket.AF_INET \
                else "[IPv6]"
            retrans.append({"daddr": addr, "dport": dport, "count": n})
        retrans.sort(key=lambda x: -x["count"])
        from pybpf.tools.killsnoop import signal_name

        sigs = [{"signal": signal_name(sig), "sender": sender, "target": target, "count": n}
                for (sig, sender, target), n in self.signals.most_common()]
        sessions = sorted(self.sessions, key=lambda s: -(s["tx_bytes"] + s["rx_bytes"]))
        uname = os.uname()
        return {
            "host": uname.nodename, "kernel": uname.release, "started": started,
            "duration": round(duration, 3),
            "syscalls": {"total": total, "by_process": procs[:50]},
            "processes": {"execs": self.exec_rows, "exec_failures": self.exec_failures,
                          "exits": self.exit_rows},
            "files": files,
            "block_io": per_disk,
            "runqueue": log2_json(rq, "usecs"),
            "tcp": {"opened": self.tcp_opened, "closed": self.tcp_closed,
                    "sessions": sessions[:50],
                    "retransmits": sum(r["count"] for r in retrans),
                    "retransmit_targets": retrans[:20]},
            "signals": sigs,
            "oom_kills": self.oom_rows,
        }

    def figures(self) -> list[tuple[str, str]]:
        from pybpf.output.flamegraph import flamegraph_svg
        from pybpf.output.heatmap import heatmap_svg
        from pybpf.tools import stacks

        names = disks.disk_names()
        out = []
        for dev, cols in sorted(self.heat.items()):
            name = disks.disk_name(dev, names)
            out.append((f"Block I/O latency heat map: {name}",
                        heatmap_svg(cols, "usecs", f"Block I/O latency: {name}")))
        if self.prof is not None and self.prof_counts is not None:
            sym = stacks.Symbolizer(self.prof.stacks())
            folded = stacks.print_stacks(self.prof_counts.items(), sym, None)
            out.append(("On-CPU flame graph (49 Hz samples)",
                        flamegraph_svg(folded, "On-CPU stacks")))
        return out

    def close(self) -> None:
        self.group.close()


def run(args: argparse.Namespace) -> int:
    from pybpf.output import html, jsonl, report

    install_signals()
    started = datetime.now().astimezone().isoformat(timespec="seconds")
    col = Collector(flame=bool(args.html))
    progress = Progress(args.duration, sys.stderr.isatty() and not args.json)
    try:
        col.group.attach()
        if not sys.stderr.isatty() and not args.json:
            print(f"pybpf snapshot: collecting for {args.duration:g} s...", file=sys.stderr,
                  flush=True)
        if args.json:
            runner.json_ready(args)
        col.start = time.monotonic()
        end = col.start + args.duration
        next_sample = col.start + 1.0
        try:
            while True:
                now = time.monotonic()
                if now >= end:
                    break
                time.sleep(min(0.1, end - now))
                col.drain()
                if time.monotonic() >= next_sample:
                    col.sample_bio()
                    next_sample += 1.0
                progress.update()
        except (KeyboardInterrupt, Stop):
            pass
        duration = time.monotonic() - col.start
        col.drain()
        col.sample_bio()
        progress.finish()
        data = col.report(duration, started)
        figures = col.figures() if args.html else []
    finally:
        col.close()
    text = report.render_text(data, args.top)
    if args.json:
        jsonl.emit(data)
    else:
        print(text, end="", flush=True)
    if args.html:
        with open(args.html, "w") as f:
            f.write(html.render_html(f"pybpf snapshot of {data['host']}", text, figures))
        if not args.json:
            print(f"HTML report written to {args.html}", file=sys.stderr)
    return 0
