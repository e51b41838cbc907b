"""The BPF sides that only `pybpf snapshot` uses: system calls counted so that the total is
exact, execs with their kernel timestamps, signals sent, OOM kills and TCP retransmits."""

from __future__ import annotations

from typing import Any

from pybpf.session import Session


def signals() -> Session:
    """Raw tracepoint signal_generate: one event per signal (sender = current task). (The
    classic tracepoint's comm array cannot be copied into an event yet: see the report.)"""
    from pybpf import bpf, comm, pid, s32, u32

    class Signal(bpf.Struct):
        sig: u32
        target: u32
        sender: u32
        result: s32
        target_comm: "char[16]"  # noqa: F821, UP037
        sender_comm: "char[16]"  # noqa: F821, UP037

    s = Session()
    events = s.ringbuf(Signal, 1 << 18)

    @bpf.raw_tracepoint("signal_generate")
    def snap_signal(ctx):
        task = ctx.task
        events.submit(Signal(sig=u32(ctx.sig), target=task.tgid, sender=pid(),
                             result=s32(ctx.result), target_comm=task.comm,
                             sender_comm=comm()))
        return 0

    s.program(snap_signal)
    return s


def oom_kills() -> Session:
    """Raw tracepoint mark_victim: the task the OOM killer chose."""
    from pybpf import bpf, u32

    class Victim(bpf.Struct):
        pid: u32
        uid: u32
        comm: "char[16]"  # noqa: F821, UP037

    s = Session()
    events = s.ringbuf(Victim, 1 << 16)

    @bpf.raw_tracepoint("mark_victim")
    def snap_oom(ctx):
        task = ctx.task
        events.submit(Victim(pid=task.tgid, uid=ctx.uid, comm=task.comm))
        return 0

    s.program(snap_oom)
    return s


def retransmits() -> tuple[Session, Any]:
    """tcp:tcp_retransmit_skb counted by (family, IPv4 destination, destination port)."""
    from pybpf import bpf, maps, u32, u64

    s = Session()
    counts = s.map(maps.Hash(key=(u32, u32, u32), value=u64, max_entries=4096,
                             name="snap_retrans"))

    @bpf.tracepoint("tcp:tcp_retransmit_skb")
    def snap_retransmit(ctx):
        daddr = u32(ctx.daddr[0]) | (u32(ctx.daddr[1]) << 8) | (u32(ctx.daddr[2]) << 16) | \
            (u32(ctx.daddr[3]) << 24)
        counts[u32(ctx.family), daddr, u32(ctx.dport)] += 1
        return 0

    s.program(snap_retransmit)
    return s, counts


# Ring buffer sizes: a snapshot drains every POLL_S seconds, and in between a busy host's
# execs (one record per argument) or opens must fit, or they are lost
EXEC_RING = 1 << 23
OPEN_RING = 1 << 24
EXEC_ARGS = 12


def syscalls(exclude_pid: int) -> tuple[Session, Any, Any, Any]:
    """raw_syscalls:sys_enter counted three ways: by syscall number (a map that cannot fill:
    numbers are below 1024, so the total is exact), by process and by (process, number). At
    sys_enter, not sys_exit: exit reports the number -1 for rt_sigreturn (it clears orig_ax so
    that no restart happens) and never fires for exit/exit_group or a successful execve of a
    multi-threaded process. The per-process maps can fill on a host that starts very many
    processes: their refused inserts are reported next to the per-process table."""
    from pybpf import bpf, maps, pid, u32, u64

    s = Session(unit="syscalls")
    by_nr = s.map(maps.Hash(key=u32, value=u64, max_entries=1024, name="snap_sc_nr"))
    by_proc = s.map(maps.Hash(key=u32, value=u64, max_entries=65536, name="snap_sc_pid"))
    by_proc_nr = s.map(maps.Hash(key=(u32, u32), value=u64, max_entries=131072,
                                 name="snap_sc_pid_nr"))

    @bpf.tracepoint("raw_syscalls:sys_enter")
    def snap_syscall(ctx):
        p = pid()
        if p == exclude_pid:
            return 0
        nr = u32(ctx.id)
        by_nr[nr] += 1
        by_proc[p] += 1
        by_proc_nr[p, nr] += 1
        return 0

    s.program(snap_syscall)
    return s, by_nr, by_proc, by_proc_nr


def execs(max_args: int = EXEC_ARGS) -> Session:
    """execsnoop's two programs, whose records carry the kernel's time (CLOCK_MONOTONIC ns):
    ARG records (kind 0: the file name, then argv[1..]) at sys_enter_execve and the RET
    record (kind 1: the result and the new comm) at sys_exit_execve."""
    from pybpf.tools import execsnoop

    return execsnoop.build(max_args, ring_size=EXEC_RING, unit="exec records")
