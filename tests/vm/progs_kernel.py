"""Compiled kprobe/kretprobe/fentry/fexit programs for tests/vm/test_compiled_vm.py."""

from pybpf import bpf, maps, pid, u32, u64

opens = maps.Hash(key=(u32, u32), value=u64, max_entries=1024, name="opens")


@bpf.kprobe("do_sys_openat2")
def kprobe_open(ctx, dfd, filename, how):
    opens[pid(), 1] += 1
    if how.flags & 0o100:  # O_CREAT, read through the BTF-typed struct open_how pointer
        opens[pid(), 2] += 1


@bpf.kretprobe("do_sys_openat2")
def kretprobe_open(ctx):
    if ctx.retval < 0:
        opens[pid(), 3] += 1


@bpf.fentry("do_sys_openat2")
def fentry_open(ctx, dfd, filename, how):
    opens[pid(), 4] += 1
    if how.flags & 0o100:
        opens[pid(), 5] += 1


@bpf.fexit("do_sys_openat2")
def fexit_open(ctx, dfd, filename, how):
    if ctx.retval < 0:
        opens[pid(), 6] += 1
