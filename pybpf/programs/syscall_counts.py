"""System calls counted in the kernel (raw_syscalls:sys_exit), optionally with their latency
from raw_syscalls:sys_enter: the BPF side of `pybpf syscount`, of `pybpf snapshot`'s syscall
table and of the exporter's pybpf_syscalls_total."""

from __future__ import annotations

from typing import Any

from pybpf.session import Session


def build(by: str = "syscall", latency: bool = False, target_pid: int = 0,
          target_tid: int = 0, failures: bool = False, only_errno: int = 0,
          only_syscall: int = -1, exclude_pid: int = 0) -> tuple[Session, Any]:
    """The programs and the counts map: key (pid, syscall number), with the pid 0 unless
    by="process" or "both" and the number 0 when by="process"; value (count, total_ns)."""
    from pybpf import bpf, ktime_ns, maps, pid, tid, u32, u64

    class Stat(bpf.Struct):
        count: u64
        total_ns: u64

    s = Session()
    counts = s.map(maps.Hash(key=(u32, u32), value=Stat, max_entries=10240, name="syscount"))
    starts = s.map(maps.Hash(key=u32, value=u64, max_entries=10240, name="sc_start"))
    key_pid = by in ("process", "both")
    key_nr = by != "process"
    filter_result = failures or only_errno > 0

    if latency:
        @bpf.tracepoint("raw_syscalls:sys_enter")
        def syscount_enter(ctx):
            if target_pid and pid() != target_pid:
                return 0
            if target_tid and tid() != target_tid:
                return 0
            starts[tid()] = ktime_ns()
            return 0

        s.program(syscount_enter)

    @bpf.tracepoint("raw_syscalls:sys_exit")
    def syscount_exit(ctx):
        # (the pid and tid are kept: the key and the start time need them after the filters)
        p = pid()
        if target_pid and p != target_pid:
            return 0
        if exclude_pid and p == exclude_pid:
            return 0
        t = tid()
        if target_tid and t != target_tid:
            return 0
        nr = u32(ctx.id)
        if only_syscall >= 0 and nr != only_syscall:
            return 0
        if filter_result:
            if ctx.ret >= 0:
                return 0
            if only_errno and ctx.ret != -only_errno:
                return 0
        delta = u64(0)
        if latency:
            begin = starts.get(t, 0)
            if begin == 0:
                return 0
            del starts[t]
            delta = ktime_ns() - begin
        kp = p if key_pid else 0
        kn = nr if key_nr else 0
        counts[kp, kn].count += 1
        counts[kp, kn].total_ns += delta
        return 0

    s.program(syscount_exit)
    return s, counts
