"""Which instruction is this? Classify an Instruction into one ISA form, or None.

A form is only returned for a canonical encoding: every field the form does not use is
zero and every used field is in range. The disassemblers print canonical forms in their
syntax and anything else as a raw ``.insn`` line, so text round trips stay exact.
"""

from __future__ import annotations

from .instruction import Instruction
from .opcodes import (
    BPF_ABS,
    BPF_ADD,
    BPF_ADDR_SPACE_CAST,
    BPF_ALU,
    BPF_ALU64,
    BPF_AND,
    BPF_ARSH,
    BPF_ATOMIC,
    BPF_B,
    BPF_CALL,
    BPF_CLASS,
    BPF_CMPXCHG,
    BPF_DIV,
    BPF_DW,
    BPF_END,
    BPF_EXIT,
    BPF_FETCH,
    BPF_H,
    BPF_IMM,
    BPF_IND,
    BPF_JA,
    BPF_JCOND,
    BPF_JEQ,
    BPF_JGE,
    BPF_JGT,
    BPF_JLE,
    BPF_JLT,
    BPF_JMP,
    BPF_JMP32,
    BPF_JNE,
    BPF_JSET,
    BPF_JSGE,
    BPF_JSGT,
    BPF_JSLE,
    BPF_JSLT,
    BPF_LD,
    BPF_LDX,
    BPF_LOAD_ACQ,
    BPF_LSH,
    BPF_MEM,
    BPF_MEMSX,
    BPF_MOD,
    BPF_MODE,
    BPF_MOV,
    BPF_MUL,
    BPF_NEG,
    BPF_OP,
    BPF_OR,
    BPF_PSEUDO_BTF_ID,
    BPF_PSEUDO_CALL,
    BPF_PSEUDO_FUNC,
    BPF_PSEUDO_KFUNC_CALL,
    BPF_PSEUDO_MAP_FD,
    BPF_PSEUDO_MAP_IDX,
    BPF_PSEUDO_MAP_IDX_VALUE,
    BPF_PSEUDO_MAP_VALUE,
    BPF_RSH,
    BPF_SIZE,
    BPF_SRC,
    BPF_ST,
    BPF_STORE_REL,
    BPF_STX,
    BPF_SUB,
    BPF_W,
    BPF_X,
    BPF_XCHG,
    BPF_XOR,
    MAX_REG,
)

ALU_OPS = (
    BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_MOD, BPF_XOR,
    BPF_MOV, BPF_ARSH,
)
COND_JMP_OPS = (
    BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET, BPF_JNE, BPF_JSGT, BPF_JSGE, BPF_JLT, BPF_JLE,
    BPF_JSLT, BPF_JSLE,
)
ATOMIC_RMW_OPS = (BPF_ADD, BPF_OR, BPF_AND, BPF_XOR)
ATOMIC_IMMS = (
    *ATOMIC_RMW_OPS,
    *(op | BPF_FETCH for op in ATOMIC_RMW_OPS),
    BPF_XCHG,
    BPF_CMPXCHG,
)
LD_IMM64_SRCS = (
    0,
    BPF_PSEUDO_MAP_FD,
    BPF_PSEUDO_MAP_VALUE,
    BPF_PSEUDO_BTF_ID,
    BPF_PSEUDO_FUNC,
    BPF_PSEUDO_MAP_IDX,
    BPF_PSEUDO_MAP_IDX_VALUE,
)
# ld_imm64 sources whose high 32 bits must be zero
LD_IMM64_LOW_ONLY = (BPF_PSEUDO_MAP_FD, BPF_PSEUDO_BTF_ID, BPF_PSEUDO_FUNC, BPF_PSEUDO_MAP_IDX)
MOVSX_OFFS = {BPF_ALU: (8, 16), BPF_ALU64: (8, 16, 32)}
ENDIAN_BITS = (16, 32, 64)


def _regs_ok(*regs: int) -> bool:
    return all(r < MAX_REG for r in regs)


def classify(insn: Instruction) -> str | None:
    """Return the form name of a canonical instruction, else None.

    Forms: alu, neg, end, bswap, movsx, addr_space_cast, ld_imm64, ld_abs, ld_ind, ldx,
    ldsx, st, stx, atomic, load_acq, store_rel, ja, gotol, may_goto, jcc, call, exit.
    """
    cls = BPF_CLASS(insn.code)
    if cls in (BPF_ALU, BPF_ALU64):
        return _alu(insn, cls)
    if cls in (BPF_JMP, BPF_JMP32):
        return _jmp(insn, cls)
    if cls == BPF_LD:
        return _ld(insn)
    return _ldst(insn, cls)


def _alu(insn: Instruction, cls: int) -> str | None:
    op, x = BPF_OP(insn.code), BPF_SRC(insn.code) == BPF_X
    if not _regs_ok(insn.dst, insn.src):
        return None
    if op == BPF_NEG:
        ok = not x and insn.src == 0 and insn.off == 0 and insn.imm == 0
        return "neg" if ok else None
    if op == BPF_END:
        ok = insn.src == 0 and insn.off == 0 and insn.imm in ENDIAN_BITS
        if cls == BPF_ALU64:
            return "bswap" if ok and not x else None
        return "end" if ok else None
    if op not in ALU_OPS:
        return None
    if not x and insn.src != 0:
        return None
    if op == BPF_MOV and x and insn.off in MOVSX_OFFS[cls]:
        return "movsx" if insn.imm == 0 else None
    if op == BPF_MOV and x and cls == BPF_ALU64 and insn.off == BPF_ADDR_SPACE_CAST:
        return "addr_space_cast"
    if x and insn.imm != 0:
        return None
    if insn.off == 0 or (op in (BPF_DIV, BPF_MOD) and insn.off == 1):
        return "alu"
    return None


def _jmp(insn: Instruction, cls: int) -> str | None:
    op, x = BPF_OP(insn.code), BPF_SRC(insn.code) == BPF_X
    if not _regs_ok(insn.dst, insn.src):
        return None
    if op == BPF_JA:
        if x or insn.dst or insn.src:
            return None
        if cls == BPF_JMP:
            return "ja" if insn.imm == 0 else None
        return "gotol" if insn.off == 0 else None
    if op == BPF_CALL:
        ok = cls == BPF_JMP and not x and insn.dst == 0 and insn.src in (
            0, BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL)
        if ok and insn.src != BPF_PSEUDO_KFUNC_CALL and insn.off != 0:
            ok = False
        return "call" if ok else None
    if op == BPF_EXIT:
        ok = cls == BPF_JMP and not x and not (insn.dst or insn.src or insn.off or insn.imm)
        return "exit" if ok else None
    if op == BPF_JCOND:
        ok = cls == BPF_JMP and not x and not (insn.dst or insn.src or insn.imm)
        return "may_goto" if ok else None
    if op not in COND_JMP_OPS:
        return None
    if (x and insn.imm != 0) or (not x and insn.src != 0):
        return None
    return "jcc"


def _ld(insn: Instruction) -> str | None:
    mode, size = BPF_MODE(insn.code), BPF_SIZE(insn.code)
    if mode == BPF_IMM and size == BPF_DW:
        ok = insn.src in LD_IMM64_SRCS and insn.off == 0 and _regs_ok(insn.dst)
        if ok and insn.src in LD_IMM64_LOW_ONLY and insn.imm >> 32:
            ok = False
        return "ld_imm64" if ok else None
    if size == BPF_DW or insn.dst != 0 or insn.off != 0:
        return None
    if mode == BPF_ABS:
        return "ld_abs" if insn.src == 0 else None
    if mode == BPF_IND:
        return "ld_ind" if _regs_ok(insn.src) else None
    return None


def _ldst(insn: Instruction, cls: int) -> str | None:
    mode, size = BPF_MODE(insn.code), BPF_SIZE(insn.code)
    if not _regs_ok(insn.dst, insn.src):
        return None
    if cls == BPF_LDX:
        if insn.imm != 0:
            return None
        if mode == BPF_MEM:
            return "ldx"
        if mode == BPF_MEMSX and size in (BPF_B, BPF_H, BPF_W):
            return "ldsx"
        return None
    if cls == BPF_ST:
        return "st" if mode == BPF_MEM and insn.src == 0 else None
    assert cls == BPF_STX
    if mode == BPF_MEM:
        return "stx" if insn.imm == 0 else None
    if mode != BPF_ATOMIC:
        return None
    if insn.imm in ATOMIC_IMMS and size in (BPF_W, BPF_DW):
        return "atomic"
    if insn.imm == BPF_LOAD_ACQ:
        return "load_acq"
    if insn.imm == BPF_STORE_REL:
        return "store_rel"
    return None


def is_canonical(insn: Instruction) -> bool:
    return classify(insn) is not None


