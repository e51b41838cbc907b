# ruff: noqa: F821, UP037  (a local array is declared as `xs: "u8[300]"`, a compiler form)
"""Values too big for the 512-byte stack (issue 17 item 5): the biggest variables move to a
per-CPU scratch value, as bpftrace does with big strings, and the program still compiles,
loads and computes what plain Python does. Programs that fit the stack are unchanged."""

from __future__ import annotations

import os
import uuid

import pytest

from pybpf import bpf, maps, u32, u64
from pybpf.compiler.errors import CompileError
from pybpf.compiler.structs import Struct
from tests.util import requires_root

pytestmark = requires_root

if os.geteuid() != 0:  # the maps are created at import
    pytest.skip("needs root to create BPF maps", allow_module_level=True)


class BigEvent(Struct):
    pid: u32
    a: "char[200]"
    b: "char[200]"
    c: "char[200]"


big_events = maps.RingBuf(1 << 16, name="scratch_ev")


@bpf.tracepoint("syscalls:sys_enter_openat")
def three_paths(ctx) -> int:
    e = BigEvent()  # 604 bytes: more than the whole stack
    e.pid = 7
    e.a = str(ctx.filename, 200)
    e.b = "second"
    e.c = e.a
    big_events.submit(e)
    return 0


@bpf.function
def big_locals(n: u64) -> u64:
    xs: "u8[300]"
    ys: "u8[300]"
    for i in range(300):
        xs[i] = (i * n) & 0xFF
    for i in range(300):
        ys[i] = xs[299 - i] ^ 0x5A
    total = u64(0)
    for i in range(300):
        total += ys[i] * (i + 1)
    return total + xs[n % 300]


def _big_locals(n: int) -> int:
    xs = [(i * n) & 0xFF for i in range(300)]
    ys = [xs[299 - i] ^ 0x5A for i in range(300)]
    return sum(y * (i + 1) for i, y in enumerate(ys)) + xs[n % 300]


@bpf.function
def small(n: u64) -> u64:
    xs: "u8[16]"
    xs[n % 16] = 3
    return xs[n % 16] + n


@pytest.mark.parametrize("n", [0, 1, 7, 255, 1000])
def test_locals_bigger_than_the_stack_compute_as_python(n: int, program_closed) -> None:
    program_closed(big_locals)
    assert big_locals.run(n) == big_locals.py(n) == _big_locals(n)
    objects = big_locals._compiled.objects
    assert len(objects.scratch) == 1 and objects.scratch[0].value_codec.size >= 300


def test_a_program_that_fits_has_no_scratch(program_closed) -> None:
    program_closed(small)
    assert small.run(5) == small.py(5) == 8
    assert small._compiled.objects.scratch == []


def test_an_event_bigger_than_the_stack_reaches_user_space() -> None:
    path = f"/tmp/pybpf-scratch-{uuid.uuid4().hex}"
    with three_paths.attach():
        scratch = three_paths._compiled.objects.scratch
        try:
            os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            pass
        got = [BigEvent.from_bytes(r) for r in big_events.poll(1000)]
    mine = [e for e in got if e.a == path]
    assert mine, [e.a for e in got]
    assert mine[0].pid == 7 and mine[0].b == "second" and mine[0].c == path
    three_paths.close(maps=True)
    assert scratch and all(m.fd.closed for m in scratch)


def test_copies_of_wide_map_values_go_through_scratch(program_closed) -> None:
    wide = maps.Hash(key=u32, value="u8[600]", max_entries=4, name="scratch_wide")

    @bpf.function
    def copies_a_wide_value(k: u32) -> u64:
        wide[k + 1] = wide[k]  # a 600-byte value copied out, then in
        return 0

    try:
        wide[1] = bytes(range(200)) * 3
        program_closed(copies_a_wide_value)
        assert copies_a_wide_value.run(1) == 0
        assert wide[2] == wide[1] == bytes(range(200)) * 3
    finally:
        wide.close()


class Wide(Struct):
    count: u64
    pad: "u8[600]"


def test_too_big_even_with_scratch_is_a_positioned_error() -> None:
    from pybpf.sys import objects

    wide = maps.Hash(key=u32, value=Wide, max_entries=4, name="scratch_wide2")
    before = set(objects.ids("map"))

    @bpf.function
    def counts_into_a_wide_value(k: u32) -> u64:
        xs: "u8[64]"  # movable to scratch, but that is not enough
        xs[k % 64] = 1
        wide[k].count += xs[k % 64]  # a new value is built on the stack to insert
        return 0

    try:
        with pytest.raises(CompileError) as e:
            counts_into_a_wide_value.insns  # noqa: B018 - compiling is the point
        msg = str(e.value)
        assert "bytes of stack" in msg and "test_scratch.py:" in msg.splitlines()[0], msg
        left = []
        for i in set(objects.ids("map")) - before:
            with objects.fd_by_id("map", i) as fd:
                left.append(objects.map_info(fd.fileno()).name)
        assert b"scratch" not in left and "scratch" not in left, left  # none left behind
    finally:
        wide.close()


long_names = maps.Hash(key=u32, value="char[120]", max_entries=8, name="scratch_names")
WORDS = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta")


@bpf.function
def many_string_reads(k: u32) -> u64:
    # each statement copies a 120-byte value out and compares it: eight copies would need
    # 960 bytes if each kept its slot for the whole program; they share one instead
    total = u64(0)
    if long_names[k] == "alpha":
        total += 1
    if long_names[k + 1] == "beta":
        total += 2
    if long_names[k + 2] == "gamma":
        total += 4
    if long_names[k + 3] == "delta":
        total += 8
    if long_names[k] != "epsilon":
        total += 16
    if long_names[k + 1] == "zeta":
        total += 32
    if long_names[k + 2] == "eta":
        total += 64
    if long_names[k + 3] == "theta":
        total += 128
    return total


def test_string_reads_share_the_stack(program_closed) -> None:
    long_names.clear()
    for i, w in enumerate(("alpha", "beta", "x", "delta")):
        long_names[i] = w
    program_closed(many_string_reads)
    assert many_string_reads.run(0) == many_string_reads.py(0) == 1 + 2 + 8 + 16
    assert many_string_reads.run(5) == many_string_reads.py(5) == 16
    assert many_string_reads._compiled.objects.scratch == []  # it fits the stack itself
