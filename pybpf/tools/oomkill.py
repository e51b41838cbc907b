"""oomkill: trace the OOM killer (raw tracepoint mark_victim: the task chosen, with the task
that ran out of memory as the current one), as bcc's oomkill prints it. "pages" is the
victim's total virtual memory in pages (bcc shows the constraint's size, which the
tracepoint does not carry)."""

from __future__ import annotations

import argparse
from typing import Any

from pybpf.tools import runner
from pybpf.tools.session import Session

HELP = "trace the OOM killer"


def add_arguments(p: argparse.ArgumentParser) -> None:
    runner.add_duration(p)


def build() -> Session:
    from pybpf import bpf, comm, pid, u32, u64

    class Event(bpf.Struct):
        fpid: u32
        tpid: u32
        uid: u32
        pages: u64
        rss: u64
        fcomm: "char[16]"  # noqa: F821, UP037
        tcomm: "char[16]"  # noqa: F821, UP037

    s = Session()
    events = s.ringbuf(Event, 1 << 16)

    @bpf.raw_tracepoint("mark_victim")
    def oomkill_victim(ctx):
        task = ctx.task
        ev = Event(fpid=pid(), tpid=task.tgid, uid=u32(ctx.uid), fcomm=comm(),
                   tcomm=task.comm)
        mm = task.mm
        if mm != 0:
            ev.pages = mm.total_vm
        events.submit(ev)
        return 0

    s.program(oomkill_victim)
    return s


def loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return f.read().strip()
    except OSError:
        return ""


def run(args: argparse.Namespace) -> int:
    from pybpf.output import jsonl

    session = build()

    def header() -> None:
        if args.json:
            runner.json_ready(args)
        else:
            print("Tracing OOM kills... Ctrl-C to stop.", flush=True)

    def handle(ev: Any) -> None:
        fcomm, tcomm = runner.text(ev.fcomm), runner.text(ev.tcomm)
        if args.json:
            jsonl.emit({"time": runner.hms(), "triggered_pid": ev.fpid, "triggered_comm": fcomm,
                        "pid": ev.tpid, "comm": tcomm, "uid": ev.uid, "pages": ev.pages,
                        "loadavg": loadavg()})
            return
        print(f'{runner.hms()} Triggered by PID {ev.fpid} ("{fcomm}"), OOM kill of PID '
              f'{ev.tpid} ("{tcomm}"), {ev.pages} pages, loadavg: {loadavg()}', flush=True)

    runner.run_events(session, handle, args.duration, header)
    return 0
