"""Compiled programs that exercise the compiler's reach into the kernel (used by
tests/test_compiler_features.py)."""

from __future__ import annotations

from pybpf import bpf, cast, char, maps, pid, u32, u64, user_str

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
