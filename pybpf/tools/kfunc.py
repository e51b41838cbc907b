"""Which hook a tool puts on kernel functions: fentry/fexit where the kernel has BPF
trampolines, else kprobes/kretprobes, else the tool's tracepoint version (or, for tools that
only work on kernel functions, one sentence saying what is missing). `-v` prints the choice
to stderr; `--hook` forces one."""

from __future__ import annotations

import argparse
import sys

FENTRY, KPROBE, TRACEPOINT = "fentry", "kprobe", "tracepoint"


def add_arguments(p: argparse.ArgumentParser, tracepoint: bool = True,
                  verbose: bool = True) -> None:
    """`-v` (print the hook used) and `--hook` (force one)."""
    if verbose:
        p.add_argument("-v", "--verbose", action="store_true",
                       help="print the hook used (fentry, kprobe or tracepoint) to stderr")
    choices = ["auto", FENTRY, KPROBE] + ([TRACEPOINT] if tracepoint else [])
    p.add_argument("--hook", choices=choices, default="auto",
                   help="the hook to trace with (default: the best this kernel has: fentry, "
                   "then kprobe" + (", then tracepoint)" if tracepoint else ")"))


def _works(hook: str, entry: bool, ret: bool) -> bool:
    from pybpf import features

    if hook == FENTRY:
        return bool((not entry or features.has("fentry")) and (not ret or features.has("fexit")))
    return bool((not entry or features.has("kprobe")) and (not ret or features.has("kretprobe")))


def _why(hook: str, entry: bool, ret: bool) -> str:
    from pybpf import features

    names = (("fentry", "fexit") if hook == FENTRY else ("kprobe", "kretprobe"))
    for name, used in zip(names, (entry, ret), strict=True):
        why = features.why_missing(name) if used else None
        if why:
            return why
    return f"{hook} is not available on this kernel"


def choose(args: argparse.Namespace, tool: str, functions: str, tracepoint: bool = True,
           entry: bool = True, ret: bool = False) -> str | None:
    """FENTRY, KPROBE or TRACEPOINT (when the tool has a tracepoint version) for `tool`, which
    traces kernel `functions` (text for messages) at their entry and/or return. None after
    printing one sentence on stderr when none works here (the tool exits 1)."""
    wanted = getattr(args, "hook", "auto") or "auto"
    if wanted == TRACEPOINT:
        return TRACEPOINT
    if wanted != "auto":
        if _works(wanted, entry, ret):
            return wanted
        print(f"pybpf {tool}: cannot use --hook {wanted} for {functions}: "
              f"{_first(_why(wanted, entry, ret))}", file=sys.stderr)
        return None
    for hook in (FENTRY, KPROBE):
        if _works(hook, entry, ret):
            return hook
    if tracepoint:
        return TRACEPOINT
    print(missing_sentence(tool, functions, entry, ret), file=sys.stderr)
    return None


def missing_sentence(tool: str, functions: str, entry: bool = True, ret: bool = False) -> str:
    """"pybpf filelife: needs fentry or kprobes on the kernel functions vfs_create/..., and
    this kernel has neither: <why kprobes are missing>; <why fentry is missing>."."""
    reasons = [_first(_why(h, entry, ret)).split("; ")[0] for h in (KPROBE, FENTRY)]
    return (f"pybpf {tool}: needs fentry or kprobes on the kernel functions {functions}, and "
            f"this kernel has neither: {'; '.join(reasons)}.")


def _first(text: str) -> str:
    return text.strip().splitlines()[0].rstrip(".") if text.strip() else text


def describe(hook: str, functions: str, tracepoints: str) -> str:
    """"kprobe tcp_v4_connect/tcp_v6_connect", or `tracepoints` ("tracepoint
    sock:inet_sock_set_state") for the tracepoint version."""
    return f"{hook} {functions}" if hook != TRACEPOINT else tracepoints


def announce(args: argparse.Namespace, tool: str, text: str) -> None:
    """With -v, "tcpconnect: using kprobe tcp_v4_connect/tcp_v6_connect" on stderr."""
    if getattr(args, "verbose", False):
        print(f"{tool}: using {text}", file=sys.stderr, flush=True)


def dentry_index(function: str) -> int:
    """The position of the `struct dentry *` argument of kernel `function` (it moved when
    vfs_* functions gained their idmap/user namespace argument)."""
    from pybpf.btf import kernel_btf

    for i, (name, t) in enumerate(tuple(p) for p in kernel_btf().func(function).proto.params):
        if name == "dentry" or "dentry" in str(t):
            return i
    raise LookupError(f"{function}() has no struct dentry argument on this kernel")


def exists(function: str) -> bool:
    from pybpf.btf import BTFError, kernel_btf

    try:
        kernel_btf().func(function)
    except (BTFError, KeyError, LookupError, OSError):
        return False
    return True
