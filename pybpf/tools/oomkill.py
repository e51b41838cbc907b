"""oomkill: trace the OOM killer, as bcc's oomkill prints it. Where the kernel has fentry or
kprobes, as bcc does: oom_kill_process(oc, message), the victim oc->chosen with the task that
ran out of memory as the current one, and "pages" the constraint's size (oc->totalpages).
Else the raw tracepoint mark_victim, where "pages" is the victim's total virtual memory in
pages (the tracepoint does not carry the constraint). -v says which hook is used."""

from __future__ import annotations

import argparse
from typing import Any

from pybpf.cli_support.clock import hms
from pybpf.session import Session
from pybpf.tools import kfunc, procfs, runner

HELP = "trace the OOM killer"
# the tracepoint version's hook (kernel functions are used where this kernel has them)
NEEDS = ("raw:mark_victim",)


def add_arguments(p: argparse.ArgumentParser) -> None:
    runner.add_duration(p)
    kfunc.add_arguments(p)


FUNCTION = "oom_kill_process"


def build(hook: str = kfunc.TRACEPOINT) -> Session:
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

    if hook == kfunc.FENTRY:
        @bpf.fentry(FUNCTION)
        def oomkill_fentry(ctx, oc):
            task = oc.chosen
            events.submit(Event(fpid=pid(), tpid=task.tgid, uid=u32(task.cred.uid.val),
                                pages=oc.totalpages, fcomm=comm(), tcomm=task.comm))
            return 0

        s.program(oomkill_fentry)
    elif hook == kfunc.KPROBE:
        @bpf.kprobe(FUNCTION)
        def oomkill_kprobe(ctx, oc):
            task = oc.chosen
            events.submit(Event(fpid=pid(), tpid=task.tgid, uid=u32(task.cred.uid.val),
                                pages=oc.totalpages, fcomm=comm(), tcomm=task.comm))
            return 0

        s.program(oomkill_kprobe)
    else:
        s.program(oomkill_victim)
    return s


def run(args: argparse.Namespace) -> int:
    from pybpf.output import jsonl

    hook = kfunc.choose(args, "oomkill", FUNCTION)
    if hook is None:
        return 1
    session = build(hook)
    using = kfunc.describe(hook, FUNCTION, "raw_tracepoint mark_victim")

    def header() -> None:
        kfunc.announce(args, "oomkill", using)
        if args.json:
            runner.json_ready(args)
        else:
            print("Tracing OOM kills... Ctrl-C to stop.", flush=True)

    def handle(ev: Any) -> None:
        fcomm, tcomm = runner.text(ev.fcomm), runner.text(ev.tcomm)
        if args.json:
            jsonl.emit({"time": hms(), "triggered_pid": ev.fpid, "triggered_comm": fcomm,
                        "pid": ev.tpid, "comm": tcomm, "uid": ev.uid, "pages": ev.pages,
                        "loadavg": procfs.loadavg()})
            return
        print(f'{hms()} Triggered by PID {ev.fpid} ("{fcomm}"), OOM kill of PID '
              f'{ev.tpid} ("{tcomm}"), {ev.pages} pages, loadavg: {procfs.loadavg()}', flush=True)

    runner.run_events(session, handle, args.duration, header)
    return 0
