"""Our kernel syntax against the kernel's own printing: the verifier log and bpftool."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from pybpf import asm
from pybpf.asm import Instruction

try:
    from pybpf.program import Program
except ImportError as exc:
    pytest.skip(f"pybpf.program is not importable: {exc}", allow_module_level=True)

if os.geteuid() != 0:
    pytest.skip("loading BPF programs needs root (CAP_BPF)", allow_module_level=True)

# a program the verifier accepts that uses most instruction forms
PROGRAM = """
    r6 = r1
    r7 = *(u32 *)(r6 +0)
    call bpf_ktime_get_ns
    r1 = 0
    *(u64 *)(r10 -8) = r1
    *(u32 *)(r10 -16) = -1
    *(u16 *)(r10 -14) = 7
    *(u8 *)(r10 -12) = 1
    r2 = 0x8182838485868788
    *(u64 *)(r10 -24) = r2
    r3 = *(s8 *)(r10 -24)
    r3 = *(s16 *)(r10 -24)
    r3 = *(s32 *)(r10 -24)
    r3 = *(u16 *)(r10 -22)
    r1 = 5
    lock *(u64 *)(r10 -8) += r1
    lock *(u32 *)(r10 -8) |= r1
    lock *(u64 *)(r10 -8) &= r1
    lock *(u32 *)(r10 -8) ^= r1
    r1 = atomic64_fetch_add((u64 *)(r10 -8), r1)
    r1 = atomic_fetch_xor((u32 *)(r10 -8), r1)
    r1 = atomic64_xchg((u64 *)(r10 -8), r1)
    r0 = 3
    r0 = atomic64_cmpxchg((u64 *)(r10 -8), r0, r1)
    r0 = atomic_cmpxchg((u32 *)(r10 -8), r0, r1)
    w1 = 12
    w1 += w7
    r1 -= r7
    w1 *= 3
    r1 /= 3
    w1 s/= -2
    r1 %= 5
    r1 s%= 5
    w1 |= 8
    r1 &= 255
    w1 ^= w7
    r1 <<= 3
    w1 >>= 1
    r1 s>>= 2
    r1 = -r1
    w1 = -w1
    r1 = (s8)r7
    w1 = (s16)w7
    r1 = (s32)r7
    r1 = be16 r1
    r1 = le32 r1
    r1 = be64 r1
    r1 = bswap16 r1
    r1 = bswap32 r1
    r1 = bswap64 r1
    r0 = *(u8 *)skb[0]
    r0 = *(u32 *)skb[r7 + 0]
    r1 = 3
    call sub
    r1 = 2
    if r7 == 0x0 goto out
    if r7 != r1 goto pc+0
    if w7 > 0x5 goto pc+0
    if r7 >= r1 goto pc+0
    if w7 < w1 goto pc+0
    if r7 <= 0x3 goto pc+0
    if r7 s> 0xfffffffe goto pc+0
    if w7 s>= w1 goto pc+0
    if r7 s< 0x2 goto pc+0
    if w7 s<= 0x2 goto pc+0
    if r7 & 0x1 goto pc+0
    gotol out
out:
    r0 = 0
    exit
sub:
    r0 = r1
    exit
"""

LOG_LINE = re.compile(r"^\s*(\d+): (?:[.0-9]{10,12} )?\(([0-9a-f]{2})\) (.*?)\s*(?:;.*)?$")


@pytest.fixture(scope="module")
def loaded() -> tuple[list[Instruction], str, int]:
    insns = asm.assemble(PROGRAM)
    prog = Program.load("socket_filter", insns, license="GPL", log_level=2)
    yield insns, prog.log, prog.id
    prog.close()


def _by_slot(insns: list[Instruction]) -> dict[int, Instruction]:
    return dict(zip(asm.slot_offsets(insns), insns, strict=True))


def test_we_print_exactly_what_the_verifier_prints(loaded: tuple) -> None:
    insns, log, _ = loaded
    by_slot = _by_slot(insns)
    seen = set()
    for line in log.splitlines():
        m = LOG_LINE.match(line)
        if not m:
            continue
        slot, code, text = int(m.group(1)), int(m.group(2), 16), m.group(3)
        insn = by_slot[slot]
        assert insn.code == code, line
        assert asm.format_instruction(insn) == text, line
        seen.add(slot)
    assert seen == set(by_slot)  # level 2 lists every instruction


def test_every_verifier_log_line_parses_back(loaded: tuple) -> None:
    insns, log, _ = loaded
    by_slot = _by_slot(insns)
    for line in log.splitlines():
        m = LOG_LINE.match(line)
        if m:
            assert asm.assemble(line) == [by_slot[int(m.group(1))]], line


def test_whole_liveness_listing_pastes_in(loaded: tuple) -> None:
    insns, log, _ = loaded
    listing = log.split("Live regs before insn:\n", 1)[1]
    listing = listing[: listing.index("\n0: ")]
    assert asm.assemble(listing) == insns


@pytest.mark.skipif(shutil.which("bpftool") is None, reason="bpftool is not installed")
def test_bpftool_xlated_dump_pastes_in() -> None:
    """bpftool prints the kernel's rewritten program; parsing it gives those instructions.
    (Only instructions this bpftool can print: older ones lack the cpu v4 forms.)"""
    from pybpf import maps

    cfg = maps.Array(key="u32", value="u64", max_entries=1, name="cfg")
    text = """
        r2 = map[cfg][0]+4 ll
        r1 = map[cfg] ll
        call bpf_ktime_get_ns
        r1 = 1
        *(u64 *)(r10 -8) = r1
        lock *(u64 *)(r10 -8) += r1
        if r0 s> 0x5 goto pc+1
        r0 = 0
        exit
    """
    try:
        prog = Program.load("socket_filter", asm.assemble(text, {"cfg": cfg}), license="GPL")
    finally:
        cfg.close()  # the program holds its own reference
    try:
        out = subprocess.run(["bpftool", "prog", "dump", "xlated", "id", str(prog.id)],
                             capture_output=True, text=True, check=True).stdout
        assert "map[id:" in out and "][0]+4" in out
        assert asm.assemble(out) == asm.decode(prog.xlated())
    finally:
        prog.close()
