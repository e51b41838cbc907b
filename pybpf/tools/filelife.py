"""filelife: the lifespan of short-lived files, files created and deleted while tracing, as
bcc's filelife prints them. The creation time of a dentry is kept from vfs_create and
security_inode_create (which open(O_CREAT) reaches without vfs_create); vfs_unlink of that
dentry prints its age. Needs fentry or kprobes (no tracepoint marks these); -v says which."""

from __future__ import annotations

import argparse
from typing import Any

from pybpf.cli_support import argtypes
from pybpf.cli_support.clock import hms
from pybpf.session import Session
from pybpf.tools import kfunc, runner
from pybpf.tools.task_filter import ANY_TASK, TaskTarget, task_filter

HELP = "trace the lifespan of short-lived files"
NEEDS = ("kfunc",)
CREATE = ("vfs_create", "security_inode_create")
UNLINK = "vfs_unlink"
FUNCTIONS = "/".join((*CREATE, UNLINK))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-p", "--pid", type=argtypes.pid, help="trace this PID only")
    runner.add_duration(p)
    kfunc.add_arguments(p, tracepoint=False)


def build(hook: str, target: TaskTarget = ANY_TASK) -> Session:
    from pybpf import bpf, cast, comm, ktime_ns, maps, pid, u64

    class Event(bpf.Struct):
        pid: u64
        delta_ms: u64
        comm: "char[16]"  # noqa: F821, UP037
        fname: "char[64]"  # noqa: F821, UP037

    s = Session()
    events = s.ringbuf(Event, 1 << 18)
    birth = s.map(maps.Hash(key=u64, value=u64, max_entries=8192, name="fl_birth"))
    entry = bpf.fentry if hook == kfunc.FENTRY else bpf.kprobe
    wanted = task_filter(target)

    def on_create(function: str) -> Any:
        second = kfunc.dentry_index(function) == 2  # else the dentry is the second argument

        def filelife_create(ctx):
            if target.given:
                if not wanted():
                    return 0
            if second:
                dp = u64(ctx.arg2)
            else:
                dp = u64(ctx.arg1)
            birth[dp] = ktime_ns()
            return 0

        return entry(function)(filelife_create)

    second_unlink = kfunc.dentry_index(UNLINK) == 2

    def filelife_unlink(ctx):
        if second_unlink:
            dp = u64(ctx.arg2)
        else:
            dp = u64(ctx.arg1)
        ts = birth.get(dp, 0)
        if ts == 0:
            return 0
        del birth[dp]
        d = cast(dp, "struct dentry")
        events.submit(Event(pid=pid(), delta_ms=(ktime_ns() - ts) // 1000000, comm=comm(),
                            fname=str(d.d_name.name, 64)))
        return 0

    for function in CREATE:
        if kfunc.exists(function):
            s.program(on_create(function))
    s.program(entry(UNLINK)(filelife_unlink))
    return s


def run(args: argparse.Namespace) -> int:
    from pybpf.output import jsonl

    hook = kfunc.choose(args, "filelife", FUNCTIONS, tracepoint=False)
    if hook is None:
        return 1
    session = build(hook, TaskTarget.from_args(args))

    def header() -> None:
        kfunc.announce(args, "filelife", kfunc.describe(hook, FUNCTIONS, ""))
        if args.json:
            runner.json_ready(args)
            return
        print(runner.cols("%-8s %-6s %-16s %-7s %s", "TIME", "PID", "COMM", "AGE(s)", "FILE"),
              flush=True)

    def handle(ev: Any) -> None:
        comm, name = runner.text(ev.comm), runner.text(ev.fname)
        age = ev.delta_ms / 1000
        if args.json:
            jsonl.emit({"time": hms(), "pid": ev.pid, "comm": comm,
                        "age": round(age, 3), "file": name})
            return
        print(runner.cols("%-8s %-6d %-16s %-7.2f %s", hms(), ev.pid, comm, age, name),
              flush=True)

    runner.run_events(session, handle, args.duration, header)
    return 0
