"""funccount: count calls of functions, tracepoints and uprobes matching a pattern, and print
the counts (every interval, or once at the end) as bcc's funccount does. Patterns:
"t:group:name" (tracepoints), "lib:func", "p:lib:func" or "u:lib:func" (uprobes on a library
or binary), and kernel functions, "func", "p::func" or "k:func" (fentry where the kernel has
BPF trampolines, else kprobes). "*" wildcards, or regular expressions with -r. The
expansion is the one-liner front end's (pybpf.lang.probes.expand) and, for kernel functions,
funclatency's; stackcount parses and resolves its patterns here too. One small program per
matched probe counts into an array slot (bcc's design); -p and -c are tested in the kernel."""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from typing import Any

from pybpf.cli_support import argtypes
from pybpf.cli_support.argtypes import positive_float
from pybpf.cli_support.clock import hms
from pybpf.session import Session
from pybpf.tools import kfunc, runner
from pybpf.tools.task_filter import ANY_TASK, TaskTarget, task_filter

HELP = "count functions, tracepoints and uprobes matching a pattern"
NEEDS = ("uprobe",)
MAX_PROBES = 1000  # bcc's limit
TRACEPOINT, UPROBE, KERNEL = "tracepoint", "uprobe", "kernel"

EXAMPLES = (
    ("'vfs_*'", 'count kernel fns starting with "vfs"'),
    ("-r '^vfs.*'", "same as above, using regular expressions"),
    ("-Ti 5 'vfs_*'", "output every 5 seconds, with timestamps"),
    ("-d 10 'vfs_*'", "trace for 10 seconds only"),
    ("-p 185 'vfs_*'", "count vfs calls for PID 185 only"),
    ("t:sched:sched_fork", "count calls to the sched_fork tracepoint"),
    ("'t:syscalls:sys_enter_*'", "count every system call entry tracepoint"),
    ("c:malloc", "count all malloc() calls in libc"),
    ("-p 185 'u:c:str*'", 'count all "str*" calls in libc, PID 185'),
    ("./test:read*", 'count "read*" calls in the ./test binary'),
    ("-c 1 'vfs_*'", "count vfs calls on CPU 1 only"),
)


@dataclass(frozen=True)
class Probes:
    """What a pattern matched: `kind` TRACEPOINT ("group:name" names), UPROBE (function names
    of the binary `path`) or KERNEL (kernel function names)."""

    kind: str
    names: tuple[str, ...]
    path: str = ""


class PatternError(ValueError):
    """A pattern that is malformed or matches nothing: the message is one sentence."""


def split(pattern: str) -> tuple[str, str, str]:
    """bcc's pattern forms as (kind, library, function): "func", "lib:func", "p::func",
    "p:lib:func", "t:cat:event", "u:lib:func" (a uprobe here; bcc's u: is USDT) and "k:func"."""
    parts = pattern.split(":")
    if len(parts) == 1:
        return KERNEL, "", parts[0]
    if len(parts) == 2:
        if parts[0] == "k":
            return KERNEL, "", parts[1]
        return (UPROBE if parts[0] else KERNEL), parts[0], parts[1]
    if len(parts) == 3:
        kind, lib, func = parts
        if kind == "t":
            return TRACEPOINT, "", f"{lib}:{func}"
        if kind in ("p", "u"):
            return (UPROBE if lib else KERNEL), lib, func
        raise PatternError(f"Type must be 'p', 't', 'u' or 'k', but got {kind}")
    raise PatternError(f"Too many ':'-separated components in pattern {pattern}")


def _matcher(expr: str, regexp: bool) -> Any:
    """re.match of `expr` (-r), else None: the "*" pattern is expanded by probes.expand."""
    if not regexp:
        return None
    try:
        return re.compile(expr)
    except re.error as e:
        raise PatternError(f"invalid regular expression {expr!r}: {e}") from None


def _expand(spec: str) -> list[Any]:
    """pybpf.lang.probes.expand (what `pybpf trace` attaches), its errors as one sentence."""
    from pybpf.compiler.errors import NO_LOC
    from pybpf.lang.errors import LangError
    from pybpf.lang.probes import expand

    try:
        return expand(spec, NO_LOC)
    except LangError as e:
        raise PatternError(e.message.splitlines()[0]) from None


def resolve(pattern: str, regexp: bool = False) -> Probes:
    """The probes `pattern` names (wildcards or, with `regexp`, a regular expression matched
    from the start as bcc does); PatternError when it is malformed or matches nothing."""
    kind, lib, func = split(pattern)
    if not func:
        raise PatternError(f"no function or event in pattern {pattern!r}")
    rx = _matcher(func, regexp)
    if kind == TRACEPOINT:
        found = _expand(f"tracepoint:{'*:*' if rx else func}")
        names = [f"{p.target}:{p.name}" for p in found]
        if rx is not None:
            names = [n for n in names if rx.match(n)]
        return _checked(Probes(kind, tuple(names)), pattern)
    if kind == UPROBE:
        return _checked(_uprobes(lib, func, rx), pattern)
    from pybpf.tools.funclatency import kernel_functions

    try:
        names = kernel_functions(func, regexp)
    except (ValueError, OSError) as e:
        raise PatternError(str(e).splitlines()[0]) from None
    return _checked(Probes(kind, tuple(names)), pattern)


def _uprobes(lib: str, func: str, rx: Any) -> Probes:
    """The functions of `lib` that `func` names. Of a wildcard's matches only functions are
    kept, and one name per address (libc's getppid and __getppid are one function: bcc, too,
    puts one uprobe on an address)."""
    from pybpf import symbols

    wild = rx is not None or any(c in func for c in "*?[")
    found = _expand(f"uprobe:{lib}:{'*' if rx else func}")
    if not found:
        return Probes(UPROBE, ())
    path = found[0].target
    names = [p.name for p in found]
    if rx is not None:
        names = [n for n in names if rx.match(n)]
    if not wild:
        return Probes(UPROBE, tuple(names), path)
    table = symbols.elf_symbols(path)
    by_addr: dict[int, str] = {}
    # the public name of an address: fewest leading underscores, then alphabetical
    for n in sorted(names, key=lambda n: (len(n) - len(n.lstrip("_")), n)):
        try:
            sym = table.symbol(n)
        except (LookupError, symbols.SymbolNotFoundError):
            continue
        if sym.kind != "func" or not sym.addr:
            continue
        by_addr.setdefault(sym.addr, n)
    return Probes(UPROBE, tuple(sorted(by_addr.values())), path)


def _checked(found: Probes, pattern: str) -> Probes:
    if not found.names:
        raise PatternError(f"No functions matched by pattern {pattern}")
    if len(found.names) > MAX_PROBES:
        raise PatternError(f"maximum of {MAX_PROBES} probes allowed, attempted "
                           f"{len(found.names)}")
    return found


def kernel_hook(args: argparse.Namespace, tool: str, pattern: str) -> str | None:
    """For kernel-function patterns, the hook this kernel offers (kfunc.FENTRY or KPROBE);
    None after one sentence on stderr when it has neither."""
    return kfunc.choose(args, tool, pattern, tracepoint=False)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-p", "--pid", type=argtypes.pid, help="trace this PID only")
    p.add_argument("-i", "--interval", type=positive_float,
                   help="summary interval, seconds")
    p.add_argument("-d", "--duration", type=positive_float,
                   help="total duration of trace, seconds")
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-r", "--regexp", action="store_true",
                   help="use regular expressions. Default is \"*\" wildcards only.")
    p.add_argument("-c", "--cpu", type=argtypes.cpu, help="trace this CPU only")
    p.add_argument("pattern", help="search expression for events")


def build(found: Probes, target: TaskTarget = ANY_TASK, on_cpu: int = -1,
          hook: str = "") -> tuple[Session, Any]:
    """One program per probe, each adding 1 to `counts[its index]` (-p's process and -c's CPU
    only). `hook`: found.kind (UPROBE, TRACEPOINT) by default, or for kernel functions
    kfunc.FENTRY or kfunc.KPROBE."""
    from pybpf import bpf, cpu, maps, u32, u64

    hook = hook or found.kind

    s = Session()
    counts = s.map(maps.Hash(key=u32, value=u64, max_entries=len(found.names),
                             name="fc_counts"))
    options = {"pid": target.pid} if target.pid else {}
    wanted = task_filter(target)

    def program(index: int, name: str) -> Any:
        def funccount_hit(ctx):
            if target.given:
                if not wanted():
                    return 0
            if on_cpu >= 0 and cpu() != on_cpu:
                return 0
            counts[u32(index)] += 1
            return 0

        if hook == TRACEPOINT:
            return bpf.tracepoint(name)(funccount_hit)
        if hook == kfunc.FENTRY:
            return bpf.fentry(name)(funccount_hit)
        if hook == kfunc.KPROBE:
            return bpf.kprobe(name)(funccount_hit)
        return bpf.uprobe(found.path, name, **options)(funccount_hit)

    for i, name in enumerate(found.names):
        s.program(program(i, name))
    return s, counts


def run(args: argparse.Namespace) -> int:
    from pybpf.output import jsonl

    hook = ""
    try:
        kind = split(args.pattern)[0]
        if kind == KERNEL:  # first: whether this kernel can probe its functions at all
            hook = kernel_hook(args, "funccount", args.pattern) or ""
            if not hook:
                return 1
        found = resolve(args.pattern, args.regexp)
    except PatternError as e:
        print(f"pybpf funccount: {e}", file=sys.stderr)
        return 1
    session, counts = build(found, TaskTarget.from_args(args),
                            -1 if args.cpu is None else args.cpu, hook)
    interval = args.interval or args.duration or runner.FOREVER  # bcc: -d alone is one summary

    def ready() -> None:
        if args.json:
            runner.json_ready(args)
            return
        print(f'Tracing {len(found.names)} functions for "{args.pattern}"... '
              "Hit Ctrl-C to end.", flush=True)

    def tick(last: bool) -> None:
        rows = sorted(((found.names[k], v) for k, v in counts.items() if v),
                      key=lambda r: r[1])
        counts.clear()
        if args.json:
            now = hms()
            for name, n in rows:
                obj: dict[str, Any] = {"time": now, "func": name, "count": n}
                if found.path:
                    obj["binary"] = found.path
                jsonl.emit(obj)
            return
        runner.interval_start(args.timestamp)
        print(runner.cols("%-36s %8s", "FUNC", "COUNT"))
        for name, n in rows:
            print(runner.cols("%-36s %8d", name, n))
        if last:
            print("Detaching...")
        sys.stdout.flush()

    runner.run_intervals(session, tick, interval, runner.FOREVER, args.duration, ready)
    return 0
