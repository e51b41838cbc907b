"""Systematic lists of instructions for the asm tests: every form of the eBPF ISA."""

from __future__ import annotations

from collections.abc import Iterator

from pybpf.asm import Instruction
from pybpf.asm.opcodes import (
    BPF_ABS,
    BPF_ADDR_SPACE_CAST,
    BPF_ALU,
    BPF_ALU64,
    BPF_ATOMIC,
    BPF_B,
    BPF_CALL,
    BPF_CMPXCHG,
    BPF_DIV,
    BPF_DW,
    BPF_END,
    BPF_EXIT,
    BPF_H,
    BPF_IND,
    BPF_JA,
    BPF_JCOND,
    BPF_JMP,
    BPF_JMP32,
    BPF_K,
    BPF_LD,
    BPF_LDX,
    BPF_LOAD_ACQ,
    BPF_MEM,
    BPF_MEMSX,
    BPF_MOD,
    BPF_MOV,
    BPF_NEG,
    BPF_PSEUDO_BTF_ID,
    BPF_PSEUDO_CALL,
    BPF_PSEUDO_FUNC,
    BPF_PSEUDO_KFUNC_CALL,
    BPF_PSEUDO_MAP_FD,
    BPF_PSEUDO_MAP_IDX,
    BPF_PSEUDO_MAP_IDX_VALUE,
    BPF_PSEUDO_MAP_VALUE,
    BPF_ST,
    BPF_STORE_REL,
    BPF_STX,
    BPF_TO_BE,
    BPF_TO_LE,
    BPF_W,
    BPF_X,
    BPF_XCHG,
    LD_IMM64,
)

ALU_OPS = [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xA0, 0xB0, 0xC0]
JMP_COND_OPS = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xA0, 0xB0, 0xC0, 0xD0]
SIZES = [BPF_B, BPF_H, BPF_W, BPF_DW]
IMMS = [0, 1, -1, 42, 0x7FFF_FFFF, -0x8000_0000]
OFFS = [0, 1, -1, 8, -8, 0x7FFF, -0x8000]
REG_PAIRS = [(0, 0), (1, 2), (10, 9), (5, 10)]
ATOMIC_IMMS = [0x00, 0x40, 0x50, 0xA0, 0x01, 0x41, 0x51, 0xA1, BPF_XCHG, BPF_CMPXCHG]


def alu() -> Iterator[Instruction]:
    for cls in (BPF_ALU, BPF_ALU64):
        for op in ALU_OPS:
            signed_offs = (0, 1) if op in (BPF_DIV, BPF_MOD) else (0,)
            for off in signed_offs:
                for dst, src in REG_PAIRS:
                    yield Instruction(cls | op | BPF_X, dst, src, off)
                for imm in IMMS:
                    yield Instruction(cls | op | BPF_K, 3, 0, off, imm)
        yield Instruction(cls | BPF_NEG | BPF_K, 7)
        for bits in (8, 16) if cls == BPF_ALU else (8, 16, 32):
            yield Instruction(cls | BPF_MOV | BPF_X, 1, 2, bits)  # movsx
        for bits in (16, 32, 64):
            if cls == BPF_ALU:
                yield Instruction(cls | BPF_END | BPF_TO_LE, 4, imm=bits)
                yield Instruction(cls | BPF_END | BPF_TO_BE, 4, imm=bits)
            else:
                yield Instruction(cls | BPF_END | BPF_TO_LE, 4, imm=bits)  # bswap
    yield Instruction(BPF_ALU64 | BPF_MOV | BPF_X, 1, 2, BPF_ADDR_SPACE_CAST, 0x10000)
    yield Instruction(BPF_ALU64 | BPF_MOV | BPF_X, 1, 2, BPF_ADDR_SPACE_CAST, 1)


def jumps() -> Iterator[Instruction]:
    for cls in (BPF_JMP, BPF_JMP32):
        for op in JMP_COND_OPS:
            for off in OFFS:
                yield Instruction(cls | op | BPF_X, 1, 2, off)
            for imm in IMMS:
                yield Instruction(cls | op | BPF_K, 3, 0, 5, imm)
    for off in OFFS:
        yield Instruction(BPF_JMP | BPF_JA, off=off)
        yield Instruction(BPF_JMP | BPF_JCOND, off=off)  # may_goto
    for imm in IMMS:
        yield Instruction(BPF_JMP32 | BPF_JA, imm=imm)  # gotol
    yield Instruction(BPF_JMP | BPF_EXIT)
    for helper in (1, 5, 14, 211, 0, 999, -7):
        yield Instruction(BPF_JMP | BPF_CALL, imm=helper)
    for rel in (-5, 0, 3):
        yield Instruction(BPF_JMP | BPF_CALL, src=BPF_PSEUDO_CALL, imm=rel)
    yield Instruction(BPF_JMP | BPF_CALL, src=BPF_PSEUDO_KFUNC_CALL, imm=12345)
    yield Instruction(BPF_JMP | BPF_CALL, src=BPF_PSEUDO_KFUNC_CALL, imm=12345, off=2)


def loads_stores() -> Iterator[Instruction]:
    for size in SIZES:
        for off in OFFS:
            yield Instruction(BPF_LDX | BPF_MEM | size, 1, 2, off)
            yield Instruction(BPF_STX | BPF_MEM | size, 10, 1, off)
            yield Instruction(BPF_ST | BPF_MEM | size, 10, 0, off, -3)
            yield Instruction(BPF_STX | BPF_ATOMIC | size, 1, 2, off, BPF_LOAD_ACQ)
            yield Instruction(BPF_STX | BPF_ATOMIC | size, 1, 2, off, BPF_STORE_REL)
        for imm in IMMS:
            yield Instruction(BPF_ST | BPF_MEM | size, 10, 0, -8, imm)
    for size in (BPF_B, BPF_H, BPF_W):
        for off in OFFS:
            yield Instruction(BPF_LDX | BPF_MEMSX | size, 0, 1, off)
        yield Instruction(BPF_LD | BPF_ABS | size, imm=14)
        yield Instruction(BPF_LD | BPF_IND | size, src=6, imm=0)
        yield Instruction(BPF_LD | BPF_IND | size, src=6, imm=-4)
    for size in (BPF_W, BPF_DW):
        for op in ATOMIC_IMMS:
            for off in (0, -8, 16):
                yield Instruction(BPF_STX | BPF_ATOMIC | size, 1, 3, off, op)


def ld_imm64() -> Iterator[Instruction]:
    for value in (0, 1, 0x123456789, 0xFFFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 42):
        yield Instruction(LD_IMM64, 1, imm=value)
    yield Instruction(LD_IMM64, 1, BPF_PSEUDO_MAP_FD, imm=5)
    yield Instruction(LD_IMM64, 2, BPF_PSEUDO_MAP_VALUE, imm=(16 << 32) | 7)
    yield Instruction(LD_IMM64, 3, BPF_PSEUDO_BTF_ID, imm=4242)
    yield Instruction(LD_IMM64, 2, BPF_PSEUDO_FUNC, imm=3)
    yield Instruction(LD_IMM64, 2, BPF_PSEUDO_FUNC, imm=(-4) & 0xFFFF_FFFF)
    yield Instruction(LD_IMM64, 1, BPF_PSEUDO_MAP_IDX, imm=0)
    yield Instruction(LD_IMM64, 1, BPF_PSEUDO_MAP_IDX_VALUE, imm=(8 << 32) | 1)


def all_canonical() -> list[Instruction]:
    return [*alu(), *jumps(), *loads_stores(), *ld_imm64()]
