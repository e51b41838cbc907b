"""Compiled programs that exercise the compiler's reach into the kernel (used by
tests/test_compiler_features.py)."""

from __future__ import annotations

from pybpf import bpf, cast, char, comm, current_task, maps, pid, u32, u64, user_str

DEBUG = False
seen = maps.Hash(key=(u32, u32), value=u64, max_entries=64, name="f_seen")
names = maps.Hash(key=u32, value=char[16], max_entries=64, name="f_names")
copies = maps.Hash(key=u32, value=char[16], max_entries=64, name="f_copies")
args = maps.Hash(key=u32, value=char[32], max_entries=64, name="f_args")
tcp_bytes = maps.Hash(key=u32, value=u64, max_entries=64, name="f_tcp")


class Exit(bpf.Struct):
    pid: u32
    comm: char[16]


@bpf.tracepoint("sched:sched_process_exit")
def on_exit(ctx):
    if DEBUG:  # a constant-false branch is not compiled (ctx.nosuchfield would not compile)
        seen[0, 0] = ctx.nosuchfield
    ev = Exit(pid=ctx.pid, comm=ctx.comm)  # a tracepoint char array into a struct field
    names[ev.pid] = ctx.comm
    if (ctx.pid, 7) not in seen:
        seen[ctx.pid, 7] = 1
    copies[ctx.pid] = names[ctx.pid]  # a string map value read back in the program


@bpf.tracepoint("syscalls:sys_enter_execve")
def on_execve(ctx):
    second = ctx.argv[1]  # argv is `const char *const *`: a user pointer to user pointers
    args[pid()] = user_str(second, 32)


@bpf.raw_tracepoint("inet_sock_set_state")
def on_state(ctx):
    if ctx.oldstate == 1:  # leaving TCP_ESTABLISHED
        tp = cast(ctx.sk, "struct tcp_sock")
        tcp_bytes[ctx.sk.__sk_common.skc_num] = tp.bytes_received


exec_names = maps.Hash(key=u32, value=char[64], max_entries=64, name="f_execn")
fd0 = maps.Hash(key=u32, value=u64, max_entries=64, name="f_fd0")
v6 = maps.Hash(key=u32, value=u32, max_entries=64, name="f_v6")


class Who(bpf.Struct):
    pid: u32
    comm: char[16]


who = maps.Hash(key=u32, value=Who, max_entries=4, name="f_who")
pairs = maps.Hash(key=(u32, u64), value=u64, max_entries=64, name="f_pairs")


@bpf.tracepoint("sched:sched_process_exec")
def on_exec(ctx):
    exec_names[ctx.pid] = str(ctx.filename, 64)  # a __data_loc string of the record
    task = current_task()
    fd0[ctx.pid] = task.files.fdt.fd[0].f_flags + 1  # struct file **fd, indexed
    who[0] = Who(pid=ctx.pid, comm=comm())
    w = who[0]
    names[w.pid] = w.comm  # a string field of a struct copied out of a map
    key = (ctx.pid, 5)  # a tuple kept in a variable, then used as a key
    pairs[key] += 1


@bpf.raw_tracepoint("inet_sock_set_state")
def on_v6(ctx):
    if ctx.sk.__sk_common.skc_family == 10:  # AF_INET6: an array member, indexed
        v6[ctx.sk.__sk_common.skc_num] = ctx.sk.__sk_common.skc_v6_daddr.in6_u.u6_addr32[3]
