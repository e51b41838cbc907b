"""Kernel structs through typed pointers in restricted Python, on the shared kmembers layer:
a tracepoint's struct pointer in user memory (`ctx.rqtp.tv_sec`) and bitfields past the
first byte of a struct (task_struct's in_execve is bit 3 of a byte about 1,200 bytes in:
it used to be read at its offset from the struct's start and refused as "wider than 64
bits")."""

from __future__ import annotations

import ctypes
import os
import struct
import subprocess

from pybpf import bpf, current_task, maps, pid, u64
from tests.util import requires_root

pytestmark = requires_root


def test_tracepoint_pointer_to_a_user_struct() -> None:
    seen = maps.Hash(u64, u64, max_entries=16)
    me = os.getpid()

    @bpf.tracepoint("syscalls:sys_enter_nanosleep")
    def on_sleep(ctx):
        if pid() == me:
            seen[ctx.rqtp.tv_sec] = ctx.rqtp.tv_nsec

    try:
        libc = ctypes.CDLL(None)
        with on_sleep.attach():
            libc.syscall(35, ctypes.create_string_buffer(struct.pack("qq", 0, 12345)), None)
        assert dict(seen.items()) == {0: 12345}
    finally:
        on_sleep.close()
        seen.close()


def test_a_bitfield_deep_in_task_struct() -> None:
    """in_execve is 1 while the kernel runs an exec (sched_process_exec fires inside it) and
    0 at a plain system call."""
    flags = maps.Hash(u64, u64, max_entries=16)

    @bpf.tracepoint("sched:sched_process_exec")
    def on_exec(ctx):
        flags[1] = current_task().in_execve + 10 * current_task().user_dumpable

    @bpf.tracepoint("syscalls:sys_enter_getppid")
    def on_getppid(ctx):
        flags[2] = current_task().in_execve + 2

    try:
        with on_exec.attach(), on_getppid.attach():
            subprocess.run(["/bin/true"], check=True)
            os.getppid()
        got = dict(flags.items())
        assert got[1] % 10 == 1 and got[2] == 2, got
    finally:
        on_exec.close()
        on_getppid.close()
        flags.close()
