"""uprobes name their arguments like kprobes (issue 17 item 7): `def f(ctx, fd, buf, count)`,
u64 unless annotated; the seventh and later come from the process's stack (a user read).
Checked on libc's write() called by this process and on a C function of eight arguments."""

from __future__ import annotations

import os
import subprocess

import pytest

from pybpf import bpf, maps, pid, s32, u32, u64
from pybpf.compiler.errors import CompileError
from tests.util import LIBC, requires_root

pytestmark = requires_root

if os.geteuid() != 0:  # the maps are created at import
    pytest.skip("needs root to create BPF maps", allow_module_level=True)

ME = os.getpid()
seen = maps.Hash(key=u32, value=u64, max_entries=16, name="uparams_seen")

EIGHT = r"""
#include <stdio.h>
__attribute__((noinline)) long eight(long a, long b, long c, long d, long e, long f,
                                     long g, long h) {
    __asm__ volatile("" ::: "memory");
    return a + b + c + d + e + f + g + h;
}
int main(void) {
    char line[8];
    if (!fgets(line, sizeof line, stdin)) return 1;
    printf("%ld\n", eight(1, 2, 3, 4, 5, 6, 70000000000, -8));
    return 0;
}
"""


@bpf.uprobe(LIBC, "write")
def on_write(ctx, fd: s32, buf, count):
    if pid() == ME and count == 11:
        seen[0] = fd
        seen[1] = count
        seen[2] = buf != 0


def test_libc_write_arguments_by_name() -> None:
    seen.clear()
    r, w = os.pipe()
    try:
        with on_write.attach():
            os.write(w, b"hello world")
        assert os.read(r, 64) == b"hello world"
    finally:
        os.close(r)
        os.close(w)
    assert (seen[0], seen[1], seen[2]) == (w, 11, 1)


def test_seventh_and_eighth_arguments_come_from_the_user_stack(tmp_path) -> None:
    src = tmp_path / "eight.c"
    src.write_text(EIGHT)
    exe = str(tmp_path / "eight")
    subprocess.run(["gcc", "-O1", "-fno-omit-frame-pointer", "-o", exe, str(src)], check=True)

    @bpf.uprobe(exe, "eight")
    def on_eight(ctx, a, b, c, d, e, f, g, h: s32):
        seen[10] = a + f
        seen[11] = g
        seen[12] = h + 100  # s32 -8: 92

    seen.clear()
    with on_eight.attach():
        p = subprocess.run([exe], input="go\n", capture_output=True, text=True, check=True)
    assert int(p.stdout) == 1 + 2 + 3 + 4 + 5 + 6 + 70000000000 - 8
    assert (seen[10], seen[11], seen[12]) == (7, 70000000000, 92)


def test_wrong_parameters_are_positioned_errors() -> None:
    @bpf.uretprobe(LIBC, "write")
    def ret_with_args(ctx, fd):
        seen[0] = fd

    @bpf.uprobe(LIBC, "write")
    def struct_arg(ctx, fd: "char[16]"):  # noqa: F821, UP037
        seen[0] = 1

    for prog, text in [(ret_with_args, "only ctx.retval is left"),
                       (struct_arg, "must be an integer type")]:
        with pytest.raises(CompileError) as e:
            prog.insns  # noqa: B018 - compiling is the point
        assert text in str(e.value) and "test_uprobe_params.py:" in str(e.value), str(e.value)


