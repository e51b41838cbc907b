"""funclatency: time functions (at entry and return) and print a log2 histogram of their
latency, as bcc's funclatency prints it. User-space targets are "lib:func" ("c:malloc",
"/usr/lib/x86_64-linux-gnu/libc.so.6:getppid", "/bin/bash:readline"; uprobes); kernel
functions are plain names or "*" patterns ("do_sys_openat2", "vfs_*"), timed with
fentry/fexit where the kernel has them, else kprobes/kretprobes (one program pair per
function); with -r the function is a regular expression. -v says which hook is used."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from pybpf.cli_support import argtypes
from pybpf.cli_support.argtypes import positive_float
from pybpf.session import Session
from pybpf.tools import histograms, kfunc, runner
from pybpf.tools.task_filter import ANY_TASK, TaskTarget, task_filter

HELP = "time functions and print latency as a histogram"
NEEDS = ("uprobe",)
MAX_FUNCTIONS = 50


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-p", "--pid", type=argtypes.pid, help="trace this PID only")
    p.add_argument("-i", "--interval", type=positive_float,
                   help="summary interval, in seconds")
    p.add_argument("-d", "--duration", type=positive_float,
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
    p.add_argument("pattern", nargs="?", help="search expression for functions: a kernel "
                   "function (do_sys_openat2, vfs_*) or lib:func")
    kfunc.add_arguments(p, tracepoint=False)


def resolve(pattern: str, regexp: bool) -> tuple[str, list[str]]:
    """(binary path, function names) of "lib:func"; raises ValueError with a sentence."""
    from pybpf import symbols

    if ":" not in pattern:
        return "", kernel_functions(pattern, regexp)
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


def kernel_functions(pattern: str, regexp: bool) -> list[str]:
    """The traceable kernel functions `pattern` names (one name, a "*" pattern, or with
    regexp a regular expression); raises ValueError with a sentence."""
    if not regexp and not any(ch in pattern for ch in "*?["):
        return [pattern]
    from pybpf.link.kprobe_multi import traceable_functions

    rx = re.compile(pattern if regexp else "^" + re.escape(pattern).replace(r"\*", ".*")
                    .replace(r"\?", ".") + "$")
    names = sorted({n for n in traceable_functions() if rx.search(n)})
    if not names:
        raise ValueError(f"no traceable kernel function matches {pattern!r}")
    if len(names) > MAX_FUNCTIONS:
        raise ValueError(f"{len(names)} kernel functions match {pattern!r}: at most "
                         f"{MAX_FUNCTIONS}")
    return names


def build(path: str, functions: list[str], target: TaskTarget = ANY_TASK, divisor: int = 1,
          hook: str = "uprobe") -> tuple[Session, Any, Any]:
    """Probes and maps: `dist` {(function index, log2 bucket): count}, `totals`
    {function index: (count, total)} in the chosen unit. `hook`: "uprobe" (functions of
    `path`), kfunc.FENTRY or kfunc.KPROBE (kernel functions)."""
    from pybpf import bpf, hist, ktime_ns, maps, tid, u32, u64

    class Total(bpf.Struct):
        count: u64
        total: u64

    s = Session()
    start = s.map(maps.Hash(key=u32, value=u64, max_entries=10240, name="fl_start"))
    dist = s.map(maps.Hash(key=(u32, u64), value=u64, max_entries=4096, name="fl_dist"))
    totals = s.map(maps.Hash(key=u32, value=Total, max_entries=1024, name="fl_total"))
    options = {"pid": target.pid} if target.pid else {}
    wanted = task_filter(target)

    def probes(name: str, index: int) -> tuple[Any, Any]:
        def funclatency_entry(ctx):
            if target.given:
                if not wanted():
                    return 0
            start[tid()] = ktime_ns()
            return 0

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

        if hook == kfunc.FENTRY:
            return bpf.fentry(name)(funclatency_entry), bpf.fexit(name)(funclatency_return)
        if hook == kfunc.KPROBE:
            return bpf.kprobe(name)(funclatency_entry), bpf.kretprobe(name)(funclatency_return)
        return (bpf.uprobe(path, name, **options)(funclatency_entry),
                bpf.uretprobe(path, name, **options)(funclatency_return))

    for i, name in enumerate(functions):
        for prog in probes(name, i):
            s.program(prog)
    return s, dist, totals


def run(args: argparse.Namespace) -> int:
    from pybpf import symbols
    from pybpf.sys import NotSupportedError

    if not args.pattern:
        from pybpf.sys.errors import PRIVILEGE_HINT, BPFPermissionError, has_bpf_privilege

        if not has_bpf_privilege():  # the first thing a user without privilege should hear
            raise BPFPermissionError(PRIVILEGE_HINT)
        print("pybpf funclatency: give the functions to time: a kernel function "
              "(do_sys_openat2, vfs_*) or lib:func (c:malloc, /path/to/binary:function)",
              file=sys.stderr)
        return 2
    hook = "uprobe"
    if ":" not in args.pattern:  # kernel functions: which hook this kernel offers, first
        found = kfunc.choose(args, "funclatency", args.pattern, tracepoint=False, ret=True)
        if found is None:
            return 1
        hook = found
    try:
        path, functions = resolve(args.pattern, args.regexp)
    except (ValueError, symbols.SymbolNotFoundError, NotSupportedError) as e:
        print(f"pybpf funclatency: {str(e).splitlines()[0]}", file=sys.stderr)
        return 1
    unit, div = ("msecs", 1000000) if args.milliseconds else \
        ("usecs", 1000) if args.microseconds else ("nsecs", 1)
    session, dist, totals = build(path, functions, TaskTarget.from_args(args), div, hook)
    using = f"{hook} {path}:{args.pattern.rsplit(':', 1)[1]}" if hook == "uprobe" else \
        f"{'fentry/fexit' if hook == kfunc.FENTRY else 'kprobe/kretprobe'} {args.pattern}"
    per_function = args.function or len(functions) > 1

    def ready() -> None:
        kfunc.announce(args, "funclatency", using)
        if args.json:
            runner.json_ready(args)
            return
        print(f'Tracing {len(functions)} functions for "{args.pattern}"... '  # bcc's words
              "Hit Ctrl-C to end.", flush=True)

    def tick(last: bool) -> None:
        per = histograms.read_keyed(dist)
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

        def names(k: int) -> dict[str, Any]:
            obj: dict[str, Any] = {"binary": path} if path else {}
            obj["function"] = functions[k] if per_function else args.pattern
            return obj

        def summary(k: int) -> dict[str, Any]:
            count, total = tot.get(k, (0, 0))
            return {"count": count, "total": total, "avg": total // count if count else 0}

        def average(k: int) -> None:
            count, total = tot.get(k, (0, 0))
            if count:
                print(f"\navg = {total // count} {unit}, total: {total} {unit}, "
                      f"count: {count}\n")

        if args.json:
            histograms.emit_keyed(per, unit, names, summary)
            return
        heading = (lambda k: f"Function = {functions[k]}") if per_function else None
        histograms.print_keyed(per, unit, heading, args.timestamp, average)
        if last:
            print("Detaching...", flush=True)

    runner.run_intervals(session, tick, args.interval or runner.FOREVER, runner.FOREVER,
                         args.duration, ready)
    return 0
