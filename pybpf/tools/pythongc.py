"""pythongc: the garbage collections of a Python process, each with its generation, how many
objects it collected and how long it took, from CPython's USDT probes gc__start(generation)
and gc__done(collected), in bcc's ugc layout (`ugc -l python PID`, bcc's pythongc)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from pybpf.session import Session
from pybpf.tools import runner

HELP = "summarize garbage collections of a Python process (CPython's USDT probes)"
NEEDS = ("uprobe",)
PROVIDER = "python"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("pid", type=int, help="process id to attach to")
    p.add_argument("-m", "--milliseconds", action="store_true",
                   help="report times in milliseconds (default is microseconds)")
    p.add_argument("-M", "--minimum", type=int, default=0,
                   help="display only GCs longer than this many milliseconds")
    p.add_argument("-F", "--filter", type=str,
                   help="display only GCs whose description contains this text")
    runner.add_duration(p)


class NoProbes(LookupError):
    """The process runs no Python build with the gc probes (the message says why)."""


def python_binary(pid: int) -> str:
    """The file of process `pid` that holds CPython's gc__start probe: the executable, or a
    libpython it maps (a Python embedded or built --enable-shared)."""
    from pybpf.usdt import UsdtError, probes

    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError as e:
        if e.errno == 2:
            raise NoProbes(f"no process {pid}") from None
        from pybpf.sys.errors import PRIVILEGE_HINT

        # another user's process: reading its executable and probes needs the privilege
        # that tracing it needs anyway
        raise NoProbes(f"cannot read process {pid}: {e.strerror}; {PRIVILEGE_HINT}") from None
    candidates = [exe]
    try:
        with open(f"/proc/{pid}/maps") as f:
            for line in f:
                parts = line.split(None, 5)
                if len(parts) == 6 and "libpython" in parts[5]:
                    candidates.append(parts[5].strip())
    except OSError:
        pass
    for path in dict.fromkeys(candidates):
        try:
            if any(p.provider == PROVIDER and p.name == "gc__start" for p in probes(path)):
                return path
        except UsdtError:
            continue
    raise NoProbes(f"process {pid} ({exe}) has no USDT probe python:gc__start: it is not "
                   "a Python built with --with-dtrace (Debian's /usr/bin/python3.* are)")


def build(binary: str, pid: int, minimum_ns: int) -> Session:
    from pybpf import bpf, ktime_ns, maps, s32, s64, tid, u32, u64

    class Event(bpf.Struct):
        elapsed_ns: u64
        collected: s64
        generation: s32
        tid: u32

    s = Session(unit="collections")
    events = s.ringbuf(Event, 1 << 16)
    start = s.map(maps.Hash(key=u32, value=u64, max_entries=1024, name="start"),
                  loses="start")
    gen = s.map(maps.Hash(key=u32, value=s64, max_entries=1024, name="gen"))

    @bpf.usdt(binary, PROVIDER, "gc__start", pid=pid)
    def gc_start(ctx, generation):
        t = tid()
        start[t] = ktime_ns()
        gen[t] = generation
        return 0

    @bpf.usdt(binary, PROVIDER, "gc__done", pid=pid)
    def gc_done(ctx, collected):
        t = tid()
        if t not in start:
            return 0  # missed the start (attached in the middle of a collection)
        elapsed = ktime_ns() - start[t]
        generation = gen[t]
        del start[t]
        del gen[t]
        if elapsed < minimum_ns:
            return 0
        events.submit(Event(elapsed_ns=elapsed, collected=collected,
                            generation=generation, tid=t))
        return 0

    s.program(gc_start)
    s.program(gc_done)
    return s


def describe(generation: int, collected: int) -> str:
    return f"gen {generation} GC collected {collected} objects"


def run(args: argparse.Namespace) -> int:
    from pybpf.output import jsonl

    try:
        binary = python_binary(args.pid)
    except NoProbes as e:
        print(f"pybpf pythongc: {e}", file=sys.stderr)
        return 1
    session = build(binary, args.pid, args.minimum * 1_000_000)
    started = time.time()

    def header() -> None:
        runner.note(args, f"Tracing garbage collections in python process {args.pid}... "
                          "Ctrl-C to quit.")
        if args.json:
            runner.json_ready(args)
            return
        unit = "TIME (ms)" if args.milliseconds else "TIME (us)"
        print(runner.cols("%-8s %-8s %-40s", "START", unit, "DESCRIPTION"), flush=True)

    def handle(ev: Any) -> None:
        text = describe(ev.generation, ev.collected)
        if args.filter and args.filter not in text:
            return
        elapsed = ev.elapsed_ns / (1e6 if args.milliseconds else 1e3)
        since = time.time() - started
        if args.json:
            jsonl.emit({"start": round(since, 3), "elapsed_ns": ev.elapsed_ns,
                        "generation": ev.generation, "collected": ev.collected,
                        "tid": ev.tid, "description": text})
            return
        print(runner.cols("%-8.3f %-8.2f %s", since, elapsed, text), flush=True)

    runner.run_events(session, handle, args.duration, header)
    return 0
