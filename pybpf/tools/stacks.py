"""Stack output shared by profile, offcputime and snapshot: bcc's multi-line layout, the
folded format (for flame graphs) and JSON, from {(pid, tid, kernel stack id, user stack id,
comm): value}."""

from __future__ import annotations

import errno
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# leaf frames of a stack taken inside a tracepoint program: dropped from kernel stacks
BPF_FRAMES = ("bpf_prog_", "bpf_trace_run", "__traceiter_", "__bpf_trace_", "bpf_get_stack",
              "perf_trace_", "trace_call_bpf", "__perf_event_overflow", "bpf_overflow_handler")


@dataclass
class StackKey:
    pid: int
    tid: int
    kernel_id: int
    user_id: int
    comm: str


def missing(stack_id: int) -> bool:
    """bcc's stack_id_err: a failed capture (EFAULT only means "no user stack")."""
    return stack_id < 0 and stack_id != -errno.EFAULT


class Symbolizer:
    """Stack ids to symbol names (kernel from /proc/kallsyms, user from the process's
    mappings; addresses when a name is unknown)."""

    def __init__(self, stack_map: Any, offsets: bool = False, addresses: bool = False) -> None:
        self.stack_map = stack_map
        self.offsets = offsets
        self.addresses = addresses
        # each stack is symbolised once per print (merging and printing both ask)
        self._kernel: dict[int, list[str]] = {}
        self._user: dict[tuple[int, int], list[str]] = {}

    def frames(self, stack_id: int) -> list[int]:
        if stack_id < 0 or self.stack_map is None:
            return []
        try:
            return self.stack_map.stack(stack_id)
        except (KeyError, OSError):
            return []

    def kernel(self, stack_id: int) -> list[str]:
        if stack_id not in self._kernel:
            self._kernel[stack_id] = self._kernel_frames(stack_id)
        return self._kernel[stack_id]

    def user(self, stack_id: int, pid: int) -> list[str]:
        key = (stack_id, pid)
        if key not in self._user:
            self._user[key] = self._user_frames(stack_id, pid)
        return self._user[key]

    def _kernel_frames(self, stack_id: int) -> list[str]:
        from pybpf.symbols import ksym

        out = []
        leaf = True
        for addr in self.frames(stack_id):
            try:
                name = ksym(addr, self.offsets)
            except Exception:  # noqa: BLE001 - unreadable kallsyms: show the address
                name = f"0x{addr:x}"
            if leaf and name.startswith(BPF_FRAMES):
                continue  # the tracing machinery itself (our program, its trampoline)
            leaf = False
            out.append(f"0x{addr:016x} {name}" if self.addresses else name)
        return out

    def _user_frames(self, stack_id: int, pid: int) -> list[str]:
        from pybpf.symbols import usym

        out = []
        for addr in self.frames(stack_id):
            try:
                name = usym(pid, addr, self.offsets)
            except Exception:  # noqa: BLE001 - the process is gone
                name = "[unknown]"
            out.append(f"0x{addr:016x} {name}" if self.addresses else name)
        return out


def folded_line(k: StackKey, value: int, sym: Symbolizer, user: bool = True,
                kernel: bool = True, delimited: bool = False, annotate: bool = False) -> str:
    """comm;user frames root first;[-;]kernel frames root first value."""
    parts = [k.comm]
    ustack = list(reversed(sym.user(k.user_id, k.pid))) if user else []
    kstack = list(reversed(sym.kernel(k.kernel_id))) if kernel else []
    if user:
        parts += ["[Missed User Stack]"] if missing(k.user_id) else ustack
    if delimited and user and kernel and k.user_id >= 0 and k.kernel_id >= 0:
        parts.append("-")
    if kernel:
        parts += ["[Missed Kernel Stack]"] if missing(k.kernel_id) else [
            f"{f}_[k]" if annotate else f for f in kstack]
    text = ";".join(p.replace(";", ":").replace(" ", "_") for p in parts)
    return f"{text} {value}"


def multiline(k: StackKey, value: int, sym: Symbolizer, user: bool = True,
              kernel: bool = True, delimited: bool = False) -> list[str]:
    """bcc's default layout: kernel frames (leaf first), '--', user frames, the task, the
    value, a blank line."""
    out: list[str] = []
    if kernel:
        if missing(k.kernel_id):
            out.append("    [Missed Kernel Stack]")
        else:
            out += [f"    {f}" for f in sym.kernel(k.kernel_id)]
    if user:
        if delimited and k.user_id >= 0 and k.kernel_id >= 0:
            out.append("    --")
        if missing(k.user_id):
            out.append("    [Missed User Stack]")
        else:
            out += [f"    {f}" for f in sym.user(k.user_id, k.pid)]
    out.append(f"    {'-':<16} {k.comm} ({k.pid})")
    out.append(f"        {value}\n")
    return out


def keyed(items: Iterable[tuple[Any, int]]) -> list[tuple[StackKey, int]]:
    """Map items ((pid, tid, kid, uid, comm), value) as StackKeys, smallest value first (as
    bcc prints them, so the hottest stack ends up last)."""
    out = []
    for key, value in items:
        pid, tid, kid, uid, comm = key
        name = comm.decode("utf-8", "replace") if isinstance(comm, bytes) else comm
        out.append((StackKey(pid, tid, kid, uid, name), value))
    out.sort(key=lambda kv: kv[1])
    return out


def as_json(k: StackKey, value: int, sym: Symbolizer, user: bool, kernel: bool
            ) -> dict[str, Any]:
    return {"pid": k.pid, "tid": k.tid, "comm": k.comm,
            "kernel_stack": sym.kernel(k.kernel_id) if kernel else [],
            "user_stack": sym.user(k.user_id, k.pid) if user else [], "value": value}


def merged(items: Iterable[tuple[Any, int]], sym: Symbolizer, user: bool = True,
           kernel: bool = True) -> list[tuple[StackKey, int]]:
    """The map items keyed, with entries whose stacks read the same after symbolisation
    (different stack ids, same functions: offsets are not shown, or frames that resolve
    alike) merged into one and their values summed; smallest value first."""
    out: dict[tuple[Any, ...], list[Any]] = {}
    for k, v in keyed(items):
        ident = (k.pid, k.comm,
                 (missing(k.kernel_id), tuple(sym.kernel(k.kernel_id))) if kernel else (),
                 (missing(k.user_id), tuple(sym.user(k.user_id, k.pid))) if user else ())
        entry = out.get(ident)
        if entry is None:
            out[ident] = [k, v]
        else:
            entry[1] += v
    return sorted(((k, v) for k, v in out.values()), key=lambda kv: kv[1])


def print_stacks(items: Iterable[tuple[Any, int]], sym: Symbolizer, style: str | None,
                 user: bool = True, kernel: bool = True, delimited: bool = False,
                 annotate: bool = False) -> dict[str, int]:
    """Print every stack of the map `items`, smallest value first, as `style`: "json" (one
    object each), "folded" (one line each), "multiline" (bcc's default) or None (nothing);
    return them folded ({"comm;frame;...": value}) for a flame graph. Stacks identical
    after symbolisation are printed once with their values summed."""
    from pybpf.output import jsonl

    folded: dict[str, int] = {}
    entries = merged(items, sym, user, kernel)
    for k, v in entries:
        line = folded_line(k, v, sym, user, kernel, delimited, annotate)
        stack, _, n = line.rpartition(" ")
        folded[stack] = folded.get(stack, 0) + int(n)
        if style == "json":
            jsonl.emit(as_json(k, v, sym, user, kernel))
        elif style == "multiline":
            print("\n".join(multiline(k, v, sym, user, kernel, delimited)))
    if style == "folded":
        # the folded format has no pid: stacks of different processes with one comm are
        # one line (as flamegraph.pl would add them up anyway)
        for stack, n in sorted(folded.items(), key=lambda kv: kv[1]):
            print(f"{stack} {n}")
    return folded


def output_style(args: Any) -> str:
    """The style of --json, -f/--folded or neither."""
    return "json" if args.json else "folded" if args.folded else "multiline"


def write_flamegraph(path: str, folded: dict[str, int], title: str,
                     unit: str = "samples") -> None:
    """The flame graph SVG of `folded` (--svg FILE)."""
    from pybpf.output.flamegraph import flamegraph_svg

    with open(path, "w") as f:
        f.write(flamegraph_svg(folded, title, unit))
