"""The small BPF sides that only `pybpf snapshot` uses: signals sent, OOM kills and TCP
retransmits."""

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
