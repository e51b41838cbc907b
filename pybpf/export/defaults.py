"""The metrics `pybpf export` serves with no configuration, by group:

    syscalls  pybpf_syscalls_total{syscall}            syscount's own program and map
    block     pybpf_block_io_latency_seconds{device,operation}   histogram, issue -> complete
    runqueue  pybpf_runqueue_latency_seconds           histogram, wakeup/preemption -> running
    tcp       pybpf_tcp_connections_opened_total{direction}, pybpf_tcp_connections_closed_total,
              pybpf_tcp_retransmits_total{family}
    exec      pybpf_process_execs_total
    oom       pybpf_oom_kills_total

The syscall counts are syscount's program (`pybpf.programs.syscall_counts`). The latency
histograms are biolatency's and runqlat's hooks, but their buckets are the exporter's
(`buckets.observe`: le=2^k includes 2^k) over nanoseconds, with the operation as a label; the TCP
counters are summed in the kernel on tcpstates' tracepoint instead of sending every state
change to user space.
"""

from __future__ import annotations

from collections.abc import Callable

from pybpf.export.collector import Source
from pybpf.export.metrics import Counter, Histogram
from pybpf.session import Session

# include/net/tcp_states.h
ESTABLISHED, SYN_SENT, SYN_RECV, FIN_WAIT1, FIN_WAIT2, TIME_WAIT, CLOSE, CLOSE_WAIT, \
    LAST_ACK, LISTEN, CLOSING = range(1, 12)
IPPROTO_TCP = 6
OPERATIONS = {0: "read", 1: "write", 2: "discard", 3: "flush", 4: "other"}


def syscalls() -> Source:
    from pybpf.programs import syscall_counts

    session, counts = syscall_counts.build("syscall")
    return Source("syscalls", session, [
        Counter("pybpf_syscalls_total", "System calls completed, by name (raw_syscalls:"
                "sys_exit)", counts, labels=[("_", "int"), ("syscall", "syscall")],
                field="count", limit=1000),
    ])


def block() -> Source:
    from pybpf import bpf, ktime_ns, maps, u32, u64
    from pybpf.export.buckets import observe2

    s = Session()
    start = s.map(maps.Hash(key=(u32, u64), value=u64, max_entries=10240, name="exp_bio_st"))
    lat = s.map(maps.Hash(key=(u32, u32, u64), value=u64, max_entries=4096,
                          name="exp_bio_lat"))

    @bpf.tracepoint("block:block_rq_issue")
    def export_bio_issue(ctx):
        start[ctx.dev, ctx.sector] = ktime_ns()
        return 0

    @bpf.tracepoint("block:block_rq_complete")
    def export_bio_done(ctx):
        ts = start.get((ctx.dev, ctx.sector), 0)
        if ts == 0:
            return 0
        del start[ctx.dev, ctx.sector]
        # rwbs: optional F (preflush) then R/W/D, or F alone for a flush, N for none
        c = u32(ctx.rwbs[0])
        if c == 70:  # F: a flush, alone or before the write
            c = u32(ctx.rwbs[1])
            if c != 82 and c != 87 and c != 68:
                c = 70
        op = u32(4)
        if c == 82:  # R
            op = 0
        elif c == 87:  # W
            op = 1
        elif c == 68:  # D
            op = 2
        elif c == 70:  # F
            op = 3
        observe2(lat, u32(ctx.dev), op, ktime_ns() - ts)
        return 0

    s.program(export_bio_issue)
    s.program(export_bio_done)
    return Source("block", s, [
        Histogram("pybpf_block_io_latency_seconds", "Block I/O latency from issue to "
                  "completion (block:block_rq_issue -> block_rq_complete)", lat,
                  labels=[("device", "disk"), ("operation", OPERATIONS)], scale=1e-9,
                  max_bucket=36, limit=500),
    ])


def runqueue() -> Source:
    from pybpf import bpf, ktime_ns, maps, u32, u64
    from pybpf.export.buckets import observe0

    s = Session()
    start = s.map(maps.Hash(key=u32, value=u64, max_entries=10240, name="exp_rq_start"))
    lat = s.map(maps.Hash(key=u64, value=u64, max_entries=128, name="exp_rq_lat"))

    @bpf.raw_tracepoint("sched_wakeup")
    def export_rq_wakeup(ctx):
        start[u32(ctx.p.pid)] = ktime_ns()
        return 0

    @bpf.raw_tracepoint("sched_wakeup_new")
    def export_rq_wakeup_new(ctx):
        start[u32(ctx.p.pid)] = ktime_ns()
        return 0

    @bpf.raw_tracepoint("sched_switch")
    def export_rq_switch(ctx):
        if ctx.prev_state == 0:  # TASK_RUNNING: preempted, back on the run queue
            start[u32(ctx.prev.pid)] = ktime_ns()
        tid = u32(ctx.next.pid)
        ts = start.get(tid, 0)
        if ts == 0:
            return 0
        del start[tid]
        observe0(lat, ktime_ns() - ts)
        return 0

    s.program(export_rq_wakeup)
    s.program(export_rq_wakeup_new)
    s.program(export_rq_switch)
    return Source("runqueue", s, [
        Histogram("pybpf_runqueue_latency_seconds", "Time tasks waited on a run queue "
                  "(wakeup or preemption to running)", lat, scale=1e-9, max_bucket=36),
    ])


def tcp() -> Source:
    from pybpf import bpf, maps, u32, u64

    s = Session()
    opened = s.map(maps.Hash(key=u32, value=u64, max_entries=4, name="exp_tcp_open"))
    closed = s.map(maps.Hash(key=u32, value=u64, max_entries=4, name="exp_tcp_close"))
    retrans = s.map(maps.Hash(key=u32, value=u64, max_entries=4, name="exp_tcp_retr"))

    @bpf.tracepoint("sock:inet_sock_set_state")
    def export_tcp_state(ctx):
        if ctx.protocol != IPPROTO_TCP:
            return 0
        if ctx.newstate == ESTABLISHED:
            if ctx.oldstate == SYN_SENT:
                opened[u32(0)] += 1
            elif ctx.oldstate == SYN_RECV:
                opened[u32(1)] += 1
        elif ctx.newstate == CLOSE:
            if ctx.oldstate != LISTEN and ctx.oldstate != SYN_SENT and \
                    ctx.oldstate != SYN_RECV and ctx.oldstate != CLOSE:
                closed[u32(0)] += 1
        return 0

    @bpf.tracepoint("tcp:tcp_retransmit_skb")
    def export_tcp_retrans(ctx):
        retrans[u32(ctx.family)] += 1
        return 0

    s.program(export_tcp_state)
    s.program(export_tcp_retrans)
    return Source("tcp", s, [
        Counter("pybpf_tcp_connections_opened_total", "TCP connections established: active "
                "(connect) or passive (accept)", opened,
                labels=[("direction", {0: "active", 1: "passive"})]),
        Counter("pybpf_tcp_connections_closed_total", "Established TCP connections closed",
                closed, labels=[("_", "int")]),
        Counter("pybpf_tcp_retransmits_total", "TCP segments retransmitted", retrans,
                labels=[("family", {2: "ipv4", 10: "ipv6"})]),
    ])


def execs() -> Source:
    from pybpf import bpf, maps, u32, u64

    s = Session()
    n = s.map(maps.Hash(key=u32, value=u64, max_entries=1, name="exp_exec"))

    @bpf.tracepoint("sched:sched_process_exec")
    def export_exec(ctx):
        n[u32(0)] += 1
        return 0

    s.program(export_exec)
    return Source("exec", s, [
        Counter("pybpf_process_execs_total", "Successful exec() calls", n,
                labels=[("_", "int")]),
    ])


def oom() -> Source:
    from pybpf import bpf, maps, u32, u64

    s = Session()
    n = s.map(maps.Hash(key=u32, value=u64, max_entries=1, name="exp_oom"))

    @bpf.tracepoint("oom:mark_victim")
    def export_oom(ctx):
        n[u32(0)] += 1
        return 0

    s.program(export_oom)
    return Source("oom", s, [
        Counter("pybpf_oom_kills_total", "Processes chosen by the OOM killer", n,
                labels=[("_", "int")]),
    ])


GROUPS: dict[str, Callable[[], Source]] = {
    "syscalls": syscalls, "block": block, "runqueue": runqueue, "tcp": tcp, "exec": execs,
    "oom": oom,
}
