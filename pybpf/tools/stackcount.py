"""stackcount: count the stack traces that led to events (tracepoints, uprobes, kernel
functions where kprobes exist) and print each stack with its count, as bcc's stackcount
does, or folded (-f). The patterns are funccount's (parsed and expanded there). As in bcc,
one program is attached to every match, so that all stacks go to one stack map; the
symbols are pybpf.tools.stacks'."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pybpf.cli_support import argtypes
from pybpf.cli_support.argtypes import positive_float
from pybpf.cli_support.clock import hms
from pybpf.session import Session, close_concurrently
from pybpf.tools import runner, stacks
from pybpf.tools.funccount import KERNEL, TRACEPOINT, UPROBE, PatternError, Probes, resolve, split
from pybpf.tools.task_filter import ANY_TASK, TaskTarget, task_filter

HELP = "count events and their stack traces"
NEEDS = ("uprobe",)

EXAMPLES = (
    ("submit_bio", "count kernel stack traces for submit_bio"),
    ("-d ip_output", "include a user/kernel stack delimiter"),
    ("-s ip_output", "show symbol offsets"),
    ("-sv ip_output", "show offsets and raw addresses (verbose)"),
    ("'tcp_send*'", "count stacks for funcs matching tcp_send*"),
    ("-r '^tcp_send.*'", "same as above, using regular expressions"),
    ("-Ti 5 ip_output", "output every 5 seconds, with timestamps"),
    ("-p 185 ip_output", "count ip_output stacks for PID 185 only"),
    ("-c 1 put_prev_entity", "count put_prev_entity stacks for CPU 1 only"),
    ("-p 185 c:malloc", "count stacks for malloc in PID 185"),
    ("t:sched:sched_fork", "count stacks for sched_fork tracepoint"),
    ("-P t:syscalls:sys_enter_getppid", "stacks of getppid() calls, by process"),
    ("-K t:sched:sched_switch", "kernel stacks only"),
    ("-U t:sched:sched_switch", "user stacks only"),
    ("-f -D 5 t:sched:sched_switch", "folded output for 5 seconds, for flame graphs"),
)
NO_PID = 0xFFFFFFFF  # bcc's tgid of a key when stacks are not split by process


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-p", "--pid", type=argtypes.pid, help="trace this PID only")
    p.add_argument("-c", "--cpu", type=argtypes.cpu, help="trace this CPU only")
    p.add_argument("-i", "--interval", type=positive_float, help="summary interval, seconds")
    p.add_argument("-D", "--duration", type=positive_float,
                   help="total duration of trace, seconds")
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-r", "--regexp", action="store_true",
                   help="use regular expressions. Default is \"*\" wildcards only.")
    p.add_argument("-s", "--offset", action="store_true", help="show address offsets")
    p.add_argument("-P", "--perpid", action="store_true",
                   help="display stacks separately for each process")
    which = p.add_mutually_exclusive_group()
    which.add_argument("-K", "--kernel-stacks-only", action="store_true",
                       help="kernel stack only")
    which.add_argument("-U", "--user-stacks-only", action="store_true", help="user stack only")
    p.add_argument("-v", "--verbose", action="store_true", help="show raw addresses")
    p.add_argument("-d", "--delimited", action="store_true",
                   help="insert delimiter between kernel/user stacks")
    p.add_argument("-f", "--folded", action="store_true", help="output folded format")
    p.add_argument("pattern", help="search expression for events")


class _Links:
    """The attachments of a shared program: closed together."""

    def __init__(self, links: list[Any]) -> None:
        self.links = links

    def close(self) -> None:
        links, self.links = self.links, []
        close_concurrently(links)


class SharedProgram:
    """One compiled program attached to several hooks of one kind (`wheres`: each hook's
    target, as pybpf.compiler.hooks takes it), as bcc attaches trace_count to every match:
    loaded once, with one stack map. Everything but attach() is the program's."""

    def __init__(self, prog: Any, kind: str, wheres: list[dict[str, Any]]) -> None:
        self.prog = prog
        self.kind = kind
        self.wheres = wheres

    def __getattr__(self, name: str) -> Any:
        return getattr(self.prog, name)

    def attach(self) -> _Links:
        from pybpf.compiler import hooks

        loaded = self.prog.load()
        links: list[Any] = []
        try:
            for where in self.wheres:
                links.append(hooks.attach(self.kind, loaded, **where))
        except BaseException:
            close_concurrently(links)
            raise
        return _Links(links)

    def close(self) -> None:
        self.prog.close()


def build(found: Probes, target: TaskTarget = ANY_TASK, on_cpu: int = -1, user: bool = True,
          kernel: bool = True) -> tuple[Session, Any]:
    """The program (on every probe of `found`) and `counts` {(pid, kernel stack id, user
    stack id, comm): events} (-p's process and -c's CPU only). The process is always kept:
    user stacks are symbolised in it; without -P the output merges processes, as bcc's."""
    from pybpf import bpf, comm, cpu, kstack, maps, pid, s64, u32, u64, ustack

    s = Session()
    counts = s.map(maps.Hash(key=(u32, s64, s64, "char[16]"), value=u64, max_entries=10240,
                             name="sc_counts"))
    wanted = task_filter(target)

    def stackcount_hit(ctx):
        if target.given:
            if not wanted():
                return 0
        if on_cpu >= 0 and cpu() != on_cpu:
            return 0
        k = s64(kstack()) if kernel else s64(-1)
        us = s64(ustack()) if user else s64(-1)
        counts[u32(pid()), k, us, comm()] += 1
        return 0

    first = found.names[0]
    if found.kind == TRACEPOINT:
        prog = bpf.tracepoint(first)(stackcount_hit)
        wheres = [dict(zip(("group", "name"), n.split(":", 1), strict=True))
                  for n in found.names]
        kind = "tracepoint"
    elif found.kind == UPROBE:
        options = {"pid": target.pid} if target.pid else {}
        prog = bpf.uprobe(found.path, first, **options)(stackcount_hit)
        wheres = [{"path": found.path, "symbol": n, **options} for n in found.names]
        kind = "uprobe"
    else:
        prog = bpf.kprobe(first)(stackcount_hit)
        wheres = [{"target": n} for n in found.names]
        kind = "kprobe"
    s.program(SharedProgram(prog, kind, wheres))
    return s, counts


def grouped(items: Any, sym: stacks.Symbolizer, per_pid: bool, user: bool, kernel: bool
            ) -> list[tuple[stacks.StackKey, int]]:
    """The map's items as StackKeys, those that read the same merged (without `per_pid`
    the process is dropped: pid NO_PID, no comm, as bcc keys them), smallest count first."""
    out: dict[tuple[Any, ...], list[Any]] = {}
    rows = (((pid, pid, kid, uid, comm), n) for (pid, kid, uid, comm), n in items)
    for k, v in stacks.keyed(rows):
        if not per_pid:
            k = stacks.StackKey(NO_PID, k.tid, k.kernel_id, k.user_id, "")
            # user frames are read in the process that had them (k.tid keeps it)
        ident = (k.pid, k.comm,
                 tuple(sym.kernel(k.kernel_id)) if kernel else (),
                 tuple(sym.user(k.user_id, k.tid)) if user else ())
        entry = out.get(ident)
        if entry is None:
            out[ident] = [k, v]
        else:
            entry[1] += v
    return sorted(((k, v) for k, v in out.values()), key=lambda kv: kv[1])


def run(args: argparse.Namespace) -> int:
    from pybpf import features
    from pybpf.output import jsonl

    try:
        kind = split(args.pattern)[0]
        if kind == KERNEL and not features.has("kprobe"):  # one program on every function
            why = (features.why_missing("kprobe") or "").strip().splitlines()
            print(f"pybpf stackcount: kernel functions ({args.pattern}) need kprobes, and "
                  f"this kernel has none: {why[0] if why else 'kprobes are not available'}",
                  file=sys.stderr)
            return 1
        found = resolve(args.pattern, args.regexp)
    except PatternError as e:
        print(f"pybpf stackcount: {e}", file=sys.stderr)
        return 1
    user, kernel = not args.kernel_stacks_only, not args.user_stacks_only
    per_pid = args.perpid or bool(args.pid)  # bcc: -p implies -P
    delimiter = args.delimited and user and kernel
    session, counts = build(found, TaskTarget.from_args(args),
                            -1 if args.cpu is None else args.cpu, user, kernel)
    interval = args.interval or args.duration or runner.FOREVER

    def ready() -> None:
        if args.json:
            runner.json_ready(args)
        elif not args.folded:
            print(f'Tracing {len(found.names)} functions for "{args.pattern}"... '
                  "Hit Ctrl-C to end.", flush=True)

    def tick(last: bool) -> None:
        sym = stacks.Symbolizer(session.stacks(), offsets=args.offset, addresses=args.verbose)
        entries = grouped(counts.items(), sym, per_pid, user, kernel)
        counts.clear()
        if args.json:
            now = hms()
            for k, v in entries:
                jsonl.emit({"time": now, "pid": k.pid if per_pid else None, "comm": k.comm,
                            "kernel_stack": sym.kernel(k.kernel_id) if kernel else [],
                            "user_stack": sym.user(k.user_id, k.tid) if user else [],
                            "count": v})
            return
        if not args.folded:
            print()
        if args.timestamp:
            print(runner.cols("%-8s\n", hms()), end="")
        for k, v in entries:
            if args.folded:
                # stacks.folded_line reads user frames in k.pid: the process that had them
                shown = stacks.StackKey(k.tid, k.tid, k.kernel_id, k.user_id, k.comm)
                print(stacks.folded_line(shown, v, sym, user, kernel, delimiter))
                continue
            lines = [f"  {f}" for f in sym.kernel(k.kernel_id)] if kernel else []
            if delimiter:
                lines.append("    --")
            if user:
                lines += [f"  {f}" for f in sym.user(k.user_id, k.tid)]
            if per_pid and not args.pid:
                lines.append(f"    {k.comm} [{k.pid}]")
            lines.append(f"    {v}\n")
            print("\n".join(lines))
        if last and not args.folded:
            print("Detaching...")
        sys.stdout.flush()

    runner.run_intervals(session, tick, interval, runner.FOREVER, args.duration, ready)
    return 0
