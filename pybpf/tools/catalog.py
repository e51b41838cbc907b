"""`pybpf tools`: every tool with its one-line description and whether this kernel has the
hooks it needs (probed: tracefs for tracepoints, BTF for raw tracepoints, the program types
for perf events and uprobes)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from pybpf.tools import TOOLS, load

HELP = "list the tools, one line each, and whether this kernel supports them"
# what each tool attaches to: "tp:group:name" (any of a|b), "raw:name", "perf", "uprobe",
# "kfunc" (fentry or kprobes); tools that prefer kernel functions but fall back to
# tracepoints (tcpconnect, tcpaccept, oomkill) list their tracepoints
NEEDS: dict[str, tuple[str, ...]] = {
    "execsnoop": ("tp:syscalls:sys_enter_execve", "tp:syscalls:sys_exit_execve"),
    "exitsnoop": ("tp:sched:sched_process_exit",),
    "opensnoop": ("tp:syscalls:sys_enter_openat",),
    "syscount": ("tp:raw_syscalls:sys_enter", "tp:raw_syscalls:sys_exit"),
    "biolatency": ("tp:block:block_rq_issue", "tp:block:block_rq_complete"),
    "biosnoop": ("tp:block:block_rq_issue", "tp:block:block_rq_complete"),
    "bitesize": ("tp:block:block_rq_issue",),
    "runqlat": ("raw:sched_wakeup", "raw:sched_wakeup_new", "raw:sched_switch"),
    "offcputime": ("raw:sched_switch",),
    "profile": ("perf",),
    "tcplife": ("tp:sock:inet_sock_set_state",),
    "tcptracer": ("tp:sock:inet_sock_set_state",),
    "statsnoop": ("tp:syscalls:sys_enter_newfstatat|syscalls:sys_enter_statx",),
    "killsnoop": ("tp:syscalls:sys_enter_kill", "tp:syscalls:sys_exit_kill"),
    "sigsnoop": ("tp:signal:signal_generate",),
    "mountsnoop": ("tp:syscalls:sys_enter_mount", "tp:syscalls:sys_enter_umount"),
    "cpudist": ("raw:sched_switch",),
    "runqlen": ("perf",),
    "softirqs": ("tp:irq:softirq_entry", "tp:irq:softirq_exit"),
    "hardirqs": ("raw:irq_handler_entry", "raw:irq_handler_exit"),
    "tcpstates": ("tp:sock:inet_sock_set_state",),
    "tcpconnect": ("tp:sock:inet_sock_set_state",),
    "tcpaccept": ("tp:syscalls:sys_exit_accept4",),
    "tcpretrans": ("tp:tcp:tcp_retransmit_skb",),
    "oomkill": ("raw:mark_victim",),
    "drsnoop": ("tp:vmscan:mm_vmscan_direct_reclaim_begin|"
                "vmscan:mm_vmscan_memcg_reclaim_begin",),
    "funclatency": ("uprobe",),
    "bashreadline": ("uprobe",),
    "biostat": ("tp:block:block_rq_issue", "tp:block:block_rq_complete"),
    "filelife": ("kfunc",),
    "vfsstat": ("kfunc",),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="one JSON object per line")


def _tracefs_events() -> str | None:
    try:
        from pybpf.btf.tracefs import tracefs_root

        tracefs_root()  # mounts tracefs when it can
    except Exception:  # noqa: BLE001 - then tracepoints are reported missing
        pass
    for root in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
        if os.path.isdir(f"{root}/events"):
            return f"{root}/events"
    return None


class Checker:
    """Answers "is this hook here?" with a reason when not; cached per hook."""

    def __init__(self) -> None:
        from pybpf import features

        self.hooks = features.hooks()
        self.events = _tracefs_events()
        self._btf: Any = None

    def _raw(self, name: str) -> bool:
        if self._btf is None:
            from pybpf.btf import kernel_btf

            self._btf = kernel_btf()
        try:
            self._btf.find(f"btf_trace_{name}", kind="typedef")
            return True
        except Exception:  # noqa: BLE001 - not in BTF
            return False

    def missing(self, need: str) -> str | None:
        kind, _, what = need.partition(":")
        if kind == "tp":
            if not self.hooks.get("tracepoint") or self.events is None:
                return "no tracepoints"
            if any(os.path.isdir(f"{self.events}/{alt.replace(':', '/')}")
                   for alt in what.split("|")):
                return None
            return f"no tracepoint {what.split('|')[0]}"
        if kind == "raw":
            if not self.hooks.get("raw_tracepoint"):
                return "no raw tracepoints"
            return None if self._raw(what) else f"no raw tracepoint {what}"
        if kind == "perf":
            return None if self.hooks.get("perf_event") else "no perf events"
        if kind == "uprobe":
            return None if self.hooks.get("uprobe") else "no uprobes"
        if kind == "kfunc":
            return None if self.hooks.get("fentry") or self.hooks.get("kprobe") else \
                "no fentry or kprobes"
        return f"unknown need {need}"


def rows() -> list[dict[str, Any]]:
    checker = Checker()
    out = []
    for name in TOOLS:
        reasons = [r for need in NEEDS.get(name, ()) if (r := checker.missing(need))]
        out.append({"tool": name, "description": load(name).HELP, "supported": not reasons,
                    "missing": reasons})
    return out


def run(args: argparse.Namespace) -> int:
    from pybpf.output import jsonl

    table = rows()
    if args.json:
        for r in table:
            jsonl.emit(r)
        return 0
    width = max(len(r["tool"]) for r in table)
    print(f"{'TOOL':<{width}}  {'HERE':<4} DESCRIPTION")
    for r in table:
        line = f"{r['tool']:<{width}}  {'yes' if r['supported'] else 'no':<4} {r['description']}"
        if r["missing"]:
            line += f" ({'; '.join(r['missing'])})"
        print(line)
    return 0
