"""The kernel-knowledge layer (`compiler.intrinsics`) from both languages: one entry of
SCALARS is a builtin of compiled Python and of the one-liners; the histogram buckets agree
with their Python definitions in the kernel; comm() in a map key is zeroed where the kernel
does not pad it; the hook table loads and attaches what both front ends compile."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.util import requires_root

pytestmark = requires_root


def _cpu_nodes() -> dict[int, int]:
    """CPU -> NUMA node, from sysfs (every CPU is on node 0 without NUMA)."""
    out: dict[int, int] = {}
    base = "/sys/devices/system/cpu"
    for name in os.listdir(base):
        if name.startswith("cpu") and name[3:].isdigit():
            nodes = [n for n in os.listdir(f"{base}/{name}") if n.startswith("node")]
            out[int(name[3:])] = int(nodes[0][4:]) if nodes else 0
    return out


def test_every_scalar_is_a_builtin_of_both_languages() -> None:
    import pybpf
    from pybpf.compiler import intrinsics
    from pybpf.compiler.pyfront.calls import BUILTINS

    for name, scalar in intrinsics.SCALARS.items():
        assert name in BUILTINS, name  # compiled Python
        assert getattr(pybpf, name).__bpf_builtin__ == name  # `from pybpf import NAME`
        if scalar.oneliner:
            assert intrinsics.ONELINER_SCALARS[scalar.oneliner] is scalar


def test_numa_node_in_the_kernel_matches_sysfs(no_leaks) -> None:
    """numa_node() and cpu() in one program, on the CPUs this process runs on."""
    from pybpf import bpf, cpu, maps, numa_node, pid, u32

    seen = maps.Hash(key=u32, value=u32, max_entries=64)
    me = os.getpid()

    @bpf.tracepoint("syscalls:sys_enter_getppid")
    def on_getppid(ctx):
        if pid() == me:
            seen[cpu()] = numa_node() + 1000

    try:
        with on_getppid.attach():
            for c in sorted(os.sched_getaffinity(0)):
                os.sched_setaffinity(0, {c})
                os.getppid()
        found = dict(seen.items())
    finally:
        os.sched_setaffinity(0, set(_cpu_nodes()))
        seen.close()
    nodes = _cpu_nodes()
    assert found and all(found[c] - 1000 == nodes[c] for c in found), (found, nodes)


def test_numaid_one_liner_prints_the_node() -> None:
    res = subprocess.run([sys.executable, "-m", "pybpf.cli", "trace",
                          'BEGIN { printf("%d %d\\n", numaid, cpu); exit(); }'],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    node, cpu = map(int, res.stdout.split()[-2:])
    assert node == _cpu_nodes()[cpu]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1), st.integers(0, 5000),
       st.integers(1, 300))
def test_buckets_in_the_kernel_are_their_python_definitions(v, lo, span, step) -> None:
    from pybpf.compiler.runtime import linear_bucket, log2_bucket
    from tests.compiler.corpus_buckets import buckets

    lo = lo % (2**64 - span - 1)
    hi = lo + span
    want_log2 = log2_bucket(v)
    assert want_log2 == (0 if v == 0 else v.bit_length())
    assert buckets.run(v, lo, hi, step) == buckets.py(v, lo, hi, step) == \
        (want_log2 << 32) | linear_bucket(v, lo, hi, step)


def test_comm_key_is_zeroed_where_the_kernel_does_not_pad(no_leaks) -> None:
    """With a Target saying bpf_get_current_comm leaves the bytes after the name alone
    (Linux 6.1), a comm() key is zeroed first: the key holds nothing but the name."""
    from pybpf import bpf, comm, maps, pid, u64
    from pybpf.compiler.api import compile_function
    from pybpf.compiler.target import Target

    counts = maps.Hash(key="char[16]", value=u64, max_entries=16)
    me = os.getpid()

    @bpf.tracepoint("syscalls:sys_enter_getppid")
    def count_comm(ctx):
        if pid() == me:
            counts[comm()] += 1

    padded = compile_function(count_comm.pyfunc, count_comm.context(), Target(True, True))
    unpadded = compile_function(count_comm.pyfunc, count_comm.context(), Target(True, False))
    assert sum(i.size for i in unpadded.insns) == sum(i.size for i in padded.insns) + 2
    count_comm._compiled = unpadded
    try:
        with count_comm.attach():
            os.getppid()
            time.sleep(0.01)
        keys = list(counts.raw_keys())
    finally:
        counts.close()
    with open("/proc/self/comm", "rb") as f:
        name = f.read().strip()
    assert keys == [name.ljust(16, b"\0")]  # one key, nothing after the name's NUL


@pytest.mark.parametrize("kind", ["tracepoint", "raw_tracepoint", "perf_event", "uprobe",
                                  "uretprobe", "kprobe", "kretprobe", "fentry", "fexit",
                                  "xdp", "tc", "socket_filter", "function"])
def test_hook_table_covers_both_front_ends(kind) -> None:
    from pybpf.compiler import hooks
    from pybpf.lang import probes

    h = hooks.hook(kind)
    assert h.prog_type and (h.attach is None) == (kind == "function")
    assert set(probes.HOOK_KIND.values()) <= set(hooks.HOOKS)
