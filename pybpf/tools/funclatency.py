"""funclatency: time user-space functions (uprobe at entry, uretprobe at return) and print a
log2 histogram of their latency, as bcc's funclatency prints it. Targets are "lib:func"
("c:malloc", "/usr/lib/x86_64-linux-gnu/libc.so.6:getppid", "/bin/bash:readline"); with
-r the function is a regular expression. Kernel functions need kprobes, which this kernel
may lack."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from pybpf.tools import runner
from pybpf.tools.session import Session

HELP = "time functions and print latency as a histogram"
MAX_FUNCTIONS = 50


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-p", "--pid", type=int, help="trace this PID only")
    p.add_argument("-i", "--interval", type=runner.positive_float,
                   help="summary interval, in seconds")
    p.add_argument("-d", "--duration", type=runner.positive_float,
                   help="total duration of trace, in seconds")
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    unit = p.add_mutually_exclusive_group()
    unit.add_argument("-u", "--microseconds", action="store_true",
                      help="microsecond histogram")
    unit.add_argument("-m", "--milliseconds", action="store_true",
                      help="millisecond histogram")
    p.add_argument("-F", "--function", action="store_true",
                   help="show a separate histogram per function")
    p.add_argument("-r", "--regexp", action="store_true",
                   help="use regular expressions. Default is \"*\" wildcards only.")
    p.add_argument("pattern", nargs="?", help="search expression for functions (lib:func)")


def resolve(pattern: str, regexp: bool) -> tuple[str, list[str]]:
    """(binary path, function names) of "lib:func"; raises ValueError with a sentence."""
    from pybpf import symbols

    if ":" not in pattern:
        from pybpf.sys import NotSupportedError

        raise NotSupportedError(f"{pattern!r} is a kernel function, which funclatency times "
                                "with kprobes; give a user-space target as lib:func (c:malloc)")
    lib, func = pattern.rsplit(":", 1)
    path = symbols.resolve_binary(lib)
    if not regexp and "*" not in func:
        symbols.elf_symbol(path, func)  # raises SymbolNotFoundError
        return path, [func]
    rx = re.compile(func if regexp else "^" + re.escape(func).replace(r"\*", ".*") + "$")
    table = symbols.elf_symbols(path)
    names = sorted(n for n in set(table.names())
                   if rx.search(n) and table.symbol(n).kind == "func")
    if not names:
        raise ValueError(f"no function in {path} matches {func!r}")
    if len(names) > MAX_FUNCTIONS:
        raise ValueError(f"{len(names)} functions match {func!r}: at most {MAX_FUNCTIONS}")
    return path, names


def build(path: str, functions: list[str], target_pid: int = 0, divisor: int = 1
          ) -> tuple[Session, Any, Any]:
    """Probes and maps: `dist` {(function index, log2 bucket): count}, `totals`
    {function index: (count, total)} in the chosen unit."""
    from pybpf import bpf, hist, ktime_ns, maps, pid, tid, u32, u64

    class Total(bpf.Struct):
        count: u64
        total: u64

    s = Session()
    start = s.map(maps.Hash(key=u32, value=u64, max_entries=10240, name="fl_start"))
    dist = s.map(maps.Hash(key=(u32, u64), value=u64, max_entries=4096, name="fl_dist"))
    totals = s.map(maps.Hash(key=u32, value=Total, max_entries=1024, name="fl_total"))
    options = {"pid": target_pid} if target_pid else {}

    def probes(name: str, index: int) -> tuple[Any, Any]:
        @bpf.uprobe(path, name, **options)
        def funclatency_entry(ctx):
            if target_pid and pid() != target_pid:
                return 0
            start[tid()] = ktime_ns()
            return 0

        @bpf.uretprobe(path, name, **options)
        def funclatency_return(ctx):
            t = tid()
            ts = start.get(t, 0)
            if ts == 0:
                return 0
            del start[t]
            delta = (ktime_ns() - ts) // divisor
            hist.log2(dist, u32(index), delta)
            totals[u32(index)].count += 1
            totals[u32(index)].total += delta
            return 0

        return funclatency_entry, funclatency_return

    for i, name in enumerate(functions):
        for prog in probes(name, i):
            s.program(prog)
    return s, dist, totals


def run(args: argparse.Namespace) -> int:
    from pybpf import symbols
    from pybpf.output import hist, jsonl
    from pybpf.tools.biolatency import read_dist

    if not args.pattern:
        from pybpf.sys.errors import PRIVILEGE_HINT, BPFPermissionError, has_bpf_privilege

        if not has_bpf_privilege():  # the first thing a user without privilege should hear
            raise BPFPermissionError(PRIVILEGE_HINT)
        print("pybpf funclatency: give the functions to time, as lib:func (c:malloc, "
              "/path/to/binary:function)", file=sys.stderr)
        return 2
    try:
        path, functions = resolve(args.pattern, args.regexp)
    except (ValueError, symbols.SymbolNotFoundError) as e:
        print(f"pybpf funclatency: {str(e).splitlines()[0]}", file=sys.stderr)
        return 1
    unit, div = ("msecs", 1000000) if args.milliseconds else \
        ("usecs", 1000) if args.microseconds else ("nsecs", 1)
    session, dist, totals = build(path, functions, args.pid or 0, div)
    per_function = args.function or len(functions) > 1

    def ready() -> None:
        if args.json:
            runner.json_ready(args)
            return
        print(f'Tracing {len(functions)} functions for "{args.pattern}"... '  # bcc's words
              "Hit Ctrl-C to end.", flush=True)

    def tick(last: bool) -> None:
        per = read_dist(dist)
        tot = {k: (v.count, v.total) for k, v in totals.items()}
        totals.clear()
        if not per_function:  # one histogram for all the functions
            merged: dict[int, int] = {}
            for b in per.values():
                for k, v in b.items():
                    merged[k] = merged.get(k, 0) + v
            per = {0: merged} if merged else {}
            count = sum(c for c, _ in tot.values())
            tot = {0: (count, sum(t for _, t in tot.values()))} if count else {}
        if args.json:
            for k, b in sorted(per.items()):
                count, total = tot.get(k, (0, 0))
                obj: dict[str, Any] = {"time": runner.hms(), "binary": path}
                obj["function"] = functions[k] if per_function else args.pattern
                obj.update(hist.log2_json(b, unit))
                obj.update(count=count, total=total, avg=total // count if count else 0)
                jsonl.emit(obj)
            return
        print()
        if args.timestamp:
            print(runner.cols("%-8s\n", runner.hms()), end="")
        for k, b in sorted(per.items()):
            if per_function:
                print(f"\nFunction = {functions[k]}")
            for line in hist.log2_lines(b, unit):
                print(line)
            count, total = tot.get(k, (0, 0))
            if count:
                print(f"\navg = {total // count} {unit}, total: {total} {unit}, "
                      f"count: {count}\n")
        if last:
            print("Detaching...")
        print(end="", flush=True)

    runner.run_intervals(session, tick, args.interval or runner.FOREVER, runner.FOREVER,
                         args.duration, ready)
    return 0
