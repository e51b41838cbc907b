"""bashreadline: the command lines typed into bash, system wide (a uretprobe on bash's
readline(), whose return value is the line), as bcc's bashreadline prints them."""

from __future__ import annotations

import argparse
from typing import Any

from pybpf.cli_support.clock import hms
from pybpf.session import Session
from pybpf.tools import runner

HELP = "print entered bash commands from all running shells"
NEEDS = ("uprobe",)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-s", "--shared", nargs="?", const="/lib/libreadline.so", type=str,
                   help="specify the location of libreadline.so library. "
                   "Default is /lib/libreadline.so")
    p.add_argument("-b", "--bash", default="bash", help="the bash binary (default: the one "
                   "on PATH)")
    runner.add_duration(p)


def build(binary: str) -> Session:
    from pybpf import bpf, comm, pid, u32

    class Event(bpf.Struct):
        pid: u32
        comm: "char[16]"  # noqa: F821, UP037
        line: "char[128]"  # noqa: F821, UP037

    s = Session()
    events = s.ringbuf(Event, 1 << 18)

    @bpf.uretprobe(binary, "readline")
    def bashreadline_ret(ctx):
        if ctx.retval == 0:
            return 0
        events.submit(Event(pid=pid(), comm=comm(),
                            line=user_str(ctx.retval, 128)))  # noqa: F821 - pybpf builtin
        return 0

    s.program(bashreadline_ret)
    return s


def run(args: argparse.Namespace) -> int:
    import sys

    from pybpf import symbols
    from pybpf.output import jsonl

    try:
        binary = symbols.resolve_binary(args.shared or args.bash)
        symbols.elf_symbol(binary, "readline")
    except symbols.SymbolNotFoundError as e:
        print(f"pybpf bashreadline: {str(e).splitlines()[0]}", file=sys.stderr)
        return 1
    session = build(binary)

    def header() -> None:
        if args.json:
            runner.json_ready(args)
            return
        print(runner.cols("%-9s %-7s %s", "TIME", "PID", "COMMAND"), flush=True)

    def handle(ev: Any) -> None:
        if runner.text(ev.comm) != "bash" and not args.shared:
            return  # readline() of another program linked into the same library
        line = runner.text(ev.line)
        if args.json:
            jsonl.emit({"time": hms(), "pid": ev.pid, "command": line})
            return
        print(runner.cols("%-9s %-7d %s", hms(), ev.pid, line), flush=True)

    runner.run_events(session, handle, args.duration, header)
    return 0
