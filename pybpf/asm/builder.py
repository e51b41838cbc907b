"""Build instructions from Python: ``mov(R0, 42)``, ``jeq(R1, 0, "out")``, ``exit()``.

Operands: a ``Reg`` (R0..R10) is a register, a plain ``int`` an immediate. Jump targets
are a label name (resolved by ``resolve``) or an ``int`` offset in slots. Sizes are
``"u8" "u16" "u32" "u64"`` (also ``"b" "h" "w" "dw"`` or a byte count 1/2/4/8); loads also
take ``"s8" "s16" "s32"`` for sign-extending loads (BPF_MEMSX).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import AsmError
from .helpers import helper_id, kfunc_id
from .instruction import Instruction, Reg, map_fd
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
    BPF_CMPXCHG,
    BPF_DIV,
    BPF_DW,
    BPF_END,
    BPF_EXIT,
    BPF_FETCH,
    BPF_H,
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
    BPF_K,
    BPF_LD,
    BPF_LDX,
    BPF_LOAD_ACQ,
    BPF_LSH,
    BPF_MEM,
    BPF_MEMSX,
    BPF_MOD,
    BPF_MOV,
    BPF_MUL,
    BPF_NEG,
    BPF_OR,
    BPF_PSEUDO_BTF_ID,
    BPF_PSEUDO_CALL,
    BPF_PSEUDO_FUNC,
    BPF_PSEUDO_KFUNC_CALL,
    BPF_PSEUDO_MAP_FD,
    BPF_PSEUDO_MAP_VALUE,
    BPF_RSH,
    BPF_ST,
    BPF_STORE_REL,
    BPF_STX,
    BPF_SUB,
    BPF_TO_BE,
    BPF_TO_LE,
    BPF_W,
    BPF_X,
    BPF_XCHG,
    BPF_XOR,
    LD_IMM64,
)

Operand = Reg | int
Target = str | int
Size = str | int

_SIZES: dict[str | int, tuple[int, bool]] = {
    "u8": (BPF_B, False), "b": (BPF_B, False), 1: (BPF_B, False),
    "u16": (BPF_H, False), "h": (BPF_H, False), 2: (BPF_H, False),
    "u32": (BPF_W, False), "w": (BPF_W, False), 4: (BPF_W, False),
    "u64": (BPF_DW, False), "dw": (BPF_DW, False), 8: (BPF_DW, False),
    "s8": (BPF_B, True), "s16": (BPF_H, True), "s32": (BPF_W, True),
}


def _size(size: Size, signed_ok: bool = False) -> tuple[int, bool]:
    key = size.lower() if isinstance(size, str) else size
    if key not in _SIZES or (_SIZES[key][1] and not signed_ok):
        raise AsmError(f"bad access size {size!r}")
    return _SIZES[key]


def _reg(reg: Operand, what: str = "register") -> int:
    if not isinstance(reg, int) or not 0 <= reg <= 10:
        raise AsmError(f"{what} must be R0..R10, not {reg!r}")
    return int(reg)


def _operand(src: Operand) -> tuple[int, int, int]:
    """(BPF_X or BPF_K, src register, imm)."""
    if isinstance(src, Reg):
        return BPF_X, int(src), 0
    if isinstance(src, int):
        return BPF_K, 0, src
    raise AsmError(f"operand must be a register (R0..R10) or an int, not {src!r}")


def _target(target: Target) -> tuple[int, str | None]:
    if isinstance(target, str):
        return 0, target
    if isinstance(target, int):
        return target, None
    raise AsmError(f"jump target must be a label name or an int offset, not {target!r}")


# ALU ---------------------------------------------------------------------------------


def _alu(cls: int, op: int, off: int = 0) -> Callable[[Operand, Operand], Instruction]:
    def build(dst: Operand, src: Operand) -> Instruction:
        x, sreg, imm = _operand(src)
        return Instruction(cls | op | x, _reg(dst), sreg, off, imm)

    width = "64" if cls == BPF_ALU64 else "32"
    build.__doc__ = f"{width}-bit ALU op {op:#04x}{' (signed)' if off else ''}: dst op= src."
    return build


add, add32 = _alu(BPF_ALU64, BPF_ADD), _alu(BPF_ALU, BPF_ADD)
sub, sub32 = _alu(BPF_ALU64, BPF_SUB), _alu(BPF_ALU, BPF_SUB)
mul, mul32 = _alu(BPF_ALU64, BPF_MUL), _alu(BPF_ALU, BPF_MUL)
div, div32 = _alu(BPF_ALU64, BPF_DIV), _alu(BPF_ALU, BPF_DIV)
sdiv, sdiv32 = _alu(BPF_ALU64, BPF_DIV, 1), _alu(BPF_ALU, BPF_DIV, 1)
mod, mod32 = _alu(BPF_ALU64, BPF_MOD), _alu(BPF_ALU, BPF_MOD)
smod, smod32 = _alu(BPF_ALU64, BPF_MOD, 1), _alu(BPF_ALU, BPF_MOD, 1)
or_, or32 = _alu(BPF_ALU64, BPF_OR), _alu(BPF_ALU, BPF_OR)
and_, and32 = _alu(BPF_ALU64, BPF_AND), _alu(BPF_ALU, BPF_AND)
xor, xor32 = _alu(BPF_ALU64, BPF_XOR), _alu(BPF_ALU, BPF_XOR)
lsh, lsh32 = _alu(BPF_ALU64, BPF_LSH), _alu(BPF_ALU, BPF_LSH)
rsh, rsh32 = _alu(BPF_ALU64, BPF_RSH), _alu(BPF_ALU, BPF_RSH)
arsh, arsh32 = _alu(BPF_ALU64, BPF_ARSH), _alu(BPF_ALU, BPF_ARSH)
mov, mov32 = _alu(BPF_ALU64, BPF_MOV), _alu(BPF_ALU, BPF_MOV)


def neg(dst: Operand) -> Instruction:
    return Instruction(BPF_ALU64 | BPF_NEG | BPF_K, _reg(dst))


def neg32(dst: Operand) -> Instruction:
    return Instruction(BPF_ALU | BPF_NEG | BPF_K, _reg(dst))


def movsx(dst: Operand, src: Operand, bits: int) -> Instruction:
    """dst = (s8/s16/s32) src, sign-extended to 64 bits."""
    if bits not in (8, 16, 32):
        raise AsmError("movsx sign-extends from 8, 16 or 32 bits")
    return Instruction(BPF_ALU64 | BPF_MOV | BPF_X, _reg(dst), _reg(src), bits)


def movsx32(dst: Operand, src: Operand, bits: int) -> Instruction:
    """w_dst = (s8/s16) w_src, sign-extended to 32 bits (upper half zeroed)."""
    if bits not in (8, 16):
        raise AsmError("movsx32 sign-extends from 8 or 16 bits")
    return Instruction(BPF_ALU | BPF_MOV | BPF_X, _reg(dst), _reg(src), bits)


def _swap_bits(bits: int) -> int:
    if bits not in (16, 32, 64):
        raise AsmError("byte swap width must be 16, 32 or 64")
    return bits


def le(dst: Operand, bits: int) -> Instruction:
    """dst = le<bits> dst (host to little endian; truncates to bits)."""
    return Instruction(BPF_ALU | BPF_END | BPF_TO_LE, _reg(dst), imm=_swap_bits(bits))


def be(dst: Operand, bits: int) -> Instruction:
    """dst = be<bits> dst (host to big endian; truncates to bits)."""
    return Instruction(BPF_ALU | BPF_END | BPF_TO_BE, _reg(dst), imm=_swap_bits(bits))


def bswap(dst: Operand, bits: int) -> Instruction:
    """dst = bswap<bits> dst (unconditional byte swap, BPF_ALU64 | BPF_END)."""
    return Instruction(BPF_ALU64 | BPF_END | BPF_TO_LE, _reg(dst), imm=_swap_bits(bits))


def addr_space_cast(dst: Operand, src: Operand, dst_as: int, src_as: int) -> Instruction:
    imm = ((dst_as & 0xFFFF) << 16) | (src_as & 0xFFFF)
    return Instruction(BPF_ALU64 | BPF_MOV | BPF_X, _reg(dst), _reg(src), BPF_ADDR_SPACE_CAST,
                       imm)


# loads and stores ----------------------------------------------------------------------


def ldx(size: Size, dst: Operand, src: Operand, off: int = 0) -> Instruction:
    """dst = *(size *)(src + off); signed sizes sign-extend (BPF_MEMSX)."""
    code, signed = _size(size, signed_ok=True)
    mode = BPF_MEMSX if signed else BPF_MEM
    return Instruction(BPF_LDX | mode | code, _reg(dst), _reg(src), off)


def stx(size: Size, dst: Operand, off: int, src: Operand) -> Instruction:
    """*(size *)(dst + off) = src (a register)."""
    return Instruction(BPF_STX | BPF_MEM | _size(size)[0], _reg(dst), _reg(src), off)


def st(size: Size, dst: Operand, off: int, imm: int) -> Instruction:
    """*(size *)(dst + off) = imm."""
    return Instruction(BPF_ST | BPF_MEM | _size(size)[0], _reg(dst), 0, off, imm)


def ld_abs(size: Size, imm: int) -> Instruction:
    """Legacy packet load: r0 = *(size *)skb[imm]."""
    code = _size(size)[0]
    if code == BPF_DW:
        raise AsmError("legacy packet loads are 8, 16 or 32 bits")
    return Instruction(BPF_LD | BPF_ABS | code, imm=imm)


def ld_ind(size: Size, src: Operand, imm: int = 0) -> Instruction:
    """Legacy packet load: r0 = *(size *)skb[src + imm]."""
    code = _size(size)[0]
    if code == BPF_DW:
        raise AsmError("legacy packet loads are 8, 16 or 32 bits")
    return Instruction(BPF_LD | BPF_IND | code, src=_reg(src), imm=imm)


def ld_imm64(dst: Operand, value: int) -> Instruction:
    """dst = value (full 64 bits, two slots)."""
    return Instruction(LD_IMM64, _reg(dst), imm=value)


def ld_map(dst: Operand, map_obj: Any) -> Instruction:
    """dst = pointer to a map (BPF_PSEUDO_MAP_FD); the map's fd is read again at encode."""
    return Instruction(LD_IMM64, _reg(dst), BPF_PSEUDO_MAP_FD, imm=map_fd(map_obj), map=map_obj)


def ld_map_value(dst: Operand, map_obj: Any, offset: int = 0) -> Instruction:
    """dst = pointer offset bytes into the value of element 0 (BPF_PSEUDO_MAP_VALUE)."""
    if not 0 <= offset < (1 << 32):
        raise AsmError(f"map value offset {offset} out of range")
    imm = (offset << 32) | map_fd(map_obj)
    return Instruction(LD_IMM64, _reg(dst), BPF_PSEUDO_MAP_VALUE, imm=imm, map=map_obj)


def ld_map_fd(dst: Operand, fd: int) -> Instruction:
    """dst = pointer to the map with this fd, with no map object attached."""
    return Instruction(LD_IMM64, _reg(dst), BPF_PSEUDO_MAP_FD, imm=fd)


def ld_btf_id(dst: Operand, btf_id: int) -> Instruction:
    """dst = address of a kernel variable by BTF id (BPF_PSEUDO_BTF_ID)."""
    return Instruction(LD_IMM64, _reg(dst), BPF_PSEUDO_BTF_ID, imm=btf_id)


def ld_func(dst: Operand, target: Target) -> Instruction:
    """dst = address of a subprogram (BPF_PSEUDO_FUNC), for callbacks."""
    value, name = _target(target)
    return Instruction(LD_IMM64, _reg(dst), BPF_PSEUDO_FUNC, imm=value & 0xFFFF_FFFF,
                       target=name)


# atomics ------------------------------------------------------------------------------


def _atomic(size: Size, dst: Operand, off: int, src: Operand, op: int) -> Instruction:
    code = _size(size)[0]
    if code not in (BPF_W, BPF_DW):
        raise AsmError("atomic operations are 32 or 64 bits")
    return Instruction(BPF_STX | BPF_ATOMIC | code, _reg(dst), _reg(src), off, op)


def atomic_add(size: Size, dst: Operand, off: int, src: Operand, fetch: bool = False
               ) -> Instruction:
    """lock *(size *)(dst + off) += src; with fetch, src receives the old value."""
    return _atomic(size, dst, off, src, BPF_ADD | (BPF_FETCH if fetch else 0))


def atomic_or(size: Size, dst: Operand, off: int, src: Operand, fetch: bool = False
              ) -> Instruction:
    return _atomic(size, dst, off, src, BPF_OR | (BPF_FETCH if fetch else 0))


def atomic_and(size: Size, dst: Operand, off: int, src: Operand, fetch: bool = False
               ) -> Instruction:
    return _atomic(size, dst, off, src, BPF_AND | (BPF_FETCH if fetch else 0))


def atomic_xor(size: Size, dst: Operand, off: int, src: Operand, fetch: bool = False
               ) -> Instruction:
    return _atomic(size, dst, off, src, BPF_XOR | (BPF_FETCH if fetch else 0))


def atomic_xchg(size: Size, dst: Operand, off: int, src: Operand) -> Instruction:
    """src = xchg(*(size *)(dst + off), src)."""
    return _atomic(size, dst, off, src, BPF_XCHG)


def atomic_cmpxchg(size: Size, dst: Operand, off: int, src: Operand) -> Instruction:
    """r0 = cmpxchg(*(size *)(dst + off), expected r0, new src)."""
    return _atomic(size, dst, off, src, BPF_CMPXCHG)


def load_acquire(size: Size, dst: Operand, src: Operand, off: int = 0) -> Instruction:
    code = _size(size)[0]
    return Instruction(BPF_STX | BPF_ATOMIC | code, _reg(dst), _reg(src), off, BPF_LOAD_ACQ)


def store_release(size: Size, dst: Operand, off: int, src: Operand) -> Instruction:
    code = _size(size)[0]
    return Instruction(BPF_STX | BPF_ATOMIC | code, _reg(dst), _reg(src), off, BPF_STORE_REL)


# jumps and calls ----------------------------------------------------------------------


def ja(target: Target) -> Instruction:
    """goto target (16-bit offset)."""
    off, name = _target(target)
    return Instruction(BPF_JMP | BPF_JA, off=off, target=name)


goto = ja


def gotol(target: Target) -> Instruction:
    """goto target with a 32-bit offset (BPF_JMP32 | BPF_JA)."""
    imm, name = _target(target)
    return Instruction(BPF_JMP32 | BPF_JA, imm=imm, target=name)


def may_goto(target: Target) -> Instruction:
    off, name = _target(target)
    return Instruction(BPF_JMP | BPF_JCOND, off=off, target=name)


def _jmp(cls: int, op: int) -> Callable[[Operand, Operand, Target], Instruction]:
    def build(dst: Operand, src: Operand, target: Target) -> Instruction:
        x, sreg, imm = _operand(src)
        off, name = _target(target)
        return Instruction(cls | op | x, _reg(dst), sreg, off, imm, target=name)

    width = "64" if cls == BPF_JMP else "32"
    build.__doc__ = f"{width}-bit conditional jump {op:#04x}: if dst op src goto target."
    return build


jeq, jeq32 = _jmp(BPF_JMP, BPF_JEQ), _jmp(BPF_JMP32, BPF_JEQ)
jne, jne32 = _jmp(BPF_JMP, BPF_JNE), _jmp(BPF_JMP32, BPF_JNE)
jgt, jgt32 = _jmp(BPF_JMP, BPF_JGT), _jmp(BPF_JMP32, BPF_JGT)
jge, jge32 = _jmp(BPF_JMP, BPF_JGE), _jmp(BPF_JMP32, BPF_JGE)
jlt, jlt32 = _jmp(BPF_JMP, BPF_JLT), _jmp(BPF_JMP32, BPF_JLT)
jle, jle32 = _jmp(BPF_JMP, BPF_JLE), _jmp(BPF_JMP32, BPF_JLE)
jsgt, jsgt32 = _jmp(BPF_JMP, BPF_JSGT), _jmp(BPF_JMP32, BPF_JSGT)
jsge, jsge32 = _jmp(BPF_JMP, BPF_JSGE), _jmp(BPF_JMP32, BPF_JSGE)
jslt, jslt32 = _jmp(BPF_JMP, BPF_JSLT), _jmp(BPF_JMP32, BPF_JSLT)
jsle, jsle32 = _jmp(BPF_JMP, BPF_JSLE), _jmp(BPF_JMP32, BPF_JSLE)
jset, jset32 = _jmp(BPF_JMP, BPF_JSET), _jmp(BPF_JMP32, BPF_JSET)


def call(helper: str | int) -> Instruction:
    """Call a helper by name (with or without ``bpf_``) or id."""
    imm = helper if isinstance(helper, int) else helper_id(helper)
    return Instruction(BPF_JMP | BPF_CALL, imm=imm)


def call_local(target: Target) -> Instruction:
    """bpf-to-bpf call (BPF_PSEUDO_CALL) to a label or a slot offset."""
    imm, name = _target(target)
    return Instruction(BPF_JMP | BPF_CALL, src=BPF_PSEUDO_CALL, imm=imm, target=name)


def call_kfunc(kfunc: str | int, module: int = 0) -> Instruction:
    """Call a kernel function by vmlinux BTF name or id; module is the fd_array index of
    the BTF that holds it (0 for vmlinux)."""
    imm = kfunc if isinstance(kfunc, int) else kfunc_id(kfunc)
    return Instruction(BPF_JMP | BPF_CALL, src=BPF_PSEUDO_KFUNC_CALL, off=module, imm=imm)


def exit() -> Instruction:
    """Return r0 from the program or subprogram."""
    return Instruction(BPF_JMP | BPF_EXIT)
