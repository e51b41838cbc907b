"""Compiled programs used by tests/test_compiled_programs.py (module-level maps are created
when the test imports this module)."""

from pybpf import bpf, char, comm, current_task, ktime_ns, maps, pid, submit, tid, u32, u64

exec_counts = maps.Hash(key=u32, value=u64, max_entries=1024, name="exec_counts")
syscalls = maps.Hash(key=(u32, u64), value=u64, max_entries=10240, name="syscalls")
by_comm = maps.PerCPUHash(key="char[16]", value=u64, max_entries=1024, name="by_comm")
switch_seen = maps.Hash(key=u32, value=char[16], max_entries=10240, name="switch_seen")
parents = maps.Hash(key=u32, value=u32, max_entries=1024, name="parents")


class Exec(bpf.Struct):
    pid: u32
    ppid: u32
    comm: char[16]
    filename: char[64]
    ts: u64


@bpf.tracepoint("sched:sched_process_exec")
def count_exec(ctx):
    exec_counts[ctx.pid] += 1


@bpf.tracepoint("raw_syscalls:sys_enter")
def count_syscalls(ctx):
    syscalls[pid(), ctx.id] += 1
    by_comm[comm()] += 1


@bpf.raw_tracepoint("sched_switch")
def remember_next(ctx):
    switch_seen[ctx.next.pid] = ctx.next.comm


@bpf.tracepoint("syscalls:sys_enter_execve")
def exec_events(ctx):
    task = current_task()
    submit(Exec(pid=pid(), ppid=task.real_parent.tgid, comm=comm(),
                filename=str(ctx.filename), ts=ktime_ns()))


@bpf.tracepoint("syscalls:sys_enter_getppid")
def parent_of(ctx):
    if tid() == pid():
        parents[pid()] = current_task().real_parent.tgid


@bpf.kprobe("do_sys_openat2")
def kprobe_open(ctx):
    exec_counts[0] += 1
