"""Raw instruction editing in a bytearray of 8-byte slots (code, regs, off, imm), and the
patching of CO-RE relocated values into them (the rules of libbpf's bpf_core_patch_insn)."""

from __future__ import annotations

import struct

from pybpf.elf.core import CoreKind, Resolution

_INSN = struct.Struct("<BBhi")

CLASS_LD, CLASS_LDX, CLASS_ST, CLASS_STX = 0, 1, 2, 3
CLASS_ALU, CLASS_JMP, CLASS_ALU64 = 4, 5, 7
LD_IMM64 = 0x18
CALL = 0x85
SRC_K = 0x00
PSEUDO_MAP_FD = 1
PSEUDO_MAP_VALUE = 2
PSEUDO_CALL = 1
PSEUDO_KFUNC_CALL = 2
PSEUDO_BTF_ID = 3
PSEUDO_FUNC = 4
#: the helper id libbpf uses for instructions whose CO-RE relocation failed ("bad relo")
POISON_HELPER = 0xBAD2310
_SIZES = {0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8}  # BPF_W, BPF_H, BPF_B, BPF_DW
_SIZE_CODES = {v: k for k, v in _SIZES.items()}


class PatchError(Exception):
    pass


def get(buf: bytearray, i: int) -> tuple[int, int, int, int, int]:
    """(code, dst, src, off, imm) of slot i."""
    code, regs, off, imm = _INSN.unpack_from(buf, i * 8)
    return code, regs & 0xF, regs >> 4, off, imm


def put(buf: bytearray, i: int, code: int, dst: int, src: int, off: int, imm: int) -> None:
    imm = imm - (1 << 32) if imm >= 1 << 31 else imm
    _INSN.pack_into(buf, i * 8, code, (src << 4) | dst, off, imm)


def set_imm(buf: bytearray, i: int, imm: int) -> None:
    code, dst, src, off, _ = get(buf, i)
    put(buf, i, code, dst, src, off, imm)


def set_src(buf: bytearray, i: int, src: int) -> None:
    code, dst, _, off, imm = get(buf, i)
    put(buf, i, code, dst, src, off, imm)


def is_call(buf: bytearray, i: int) -> bool:
    return buf[i * 8] == CALL


def is_ld_imm64(buf: bytearray, i: int) -> bool:
    return buf[i * 8] == LD_IMM64


def set_map_ref(buf: bytearray, i: int, fd: int, value_offset: int | None) -> None:
    """ld_imm64 of a map fd (value_offset None) or of an address inside its value."""
    code, dst, _, off, _ = get(buf, i)
    put(buf, i, code, dst, PSEUDO_MAP_FD if value_offset is None else PSEUDO_MAP_VALUE, off, fd)
    c2, d2, s2, o2, _ = get(buf, i + 1)
    put(buf, i + 1, c2, d2, s2, o2, value_offset or 0)


def poison(buf: bytearray, i: int) -> None:
    """Make slot i a call to a helper that does not exist: the verifier rejects it only if
    the program can reach it (code guarded by bpf_core_field_exists() stays loadable)."""
    wide = is_ld_imm64(buf, i)
    put(buf, i, CALL, 0, 0, 0, POISON_HELPER)
    if wide:
        put(buf, i + 1, CALL, 0, 0, 0, POISON_HELPER)


def patch_core(buf: bytearray, i: int, kind: CoreKind, res: Resolution) -> None:
    """Put the kernel's value of a CO-RE relocation into instruction i."""
    if res.poison:
        poison(buf, i)
        return
    code, dst, src, off, imm = get(buf, i)
    cls = code & 7
    value = res.target
    if cls in (CLASS_ALU, CLASS_ALU64):
        if code & 0x08 != SRC_K:
            raise PatchError("ALU instruction with a register operand")
        if not -(1 << 31) <= value < (1 << 32):
            raise PatchError(f"value {value} does not fit in 32 bits")
        put(buf, i, code, dst, src, off, value & 0xFFFFFFFF)
    elif cls in (CLASS_LDX, CLASS_ST, CLASS_STX):
        if kind != CoreKind.FIELD_BYTE_OFFSET:
            raise PatchError(f"memory instruction with a {kind.name} relocation")
        if not -(1 << 15) <= value < (1 << 15):
            raise PatchError(f"offset {value} does not fit in 16 bits")
        size = _SIZES[code & 0x18]
        if res.target_size != res.local_size and cls != CLASS_ST:
            if size != res.local_size:
                raise PatchError(f"{size}-byte access of a {res.local_size}-byte field")
            if not res.target_is_int or res.target_size not in _SIZE_CODES:
                raise PatchError(f"the kernel's field is {res.target_size} bytes, not "
                                 f"{res.local_size}")
            code = (code & ~0x18) | _SIZE_CODES[res.target_size]
        put(buf, i, code, dst, src, value, imm)
    elif code == LD_IMM64:
        put(buf, i, code, dst, src, off, value & 0xFFFFFFFF)
        c2, d2, s2, o2, _ = get(buf, i + 1)
        put(buf, i + 1, c2, d2, s2, o2, (value >> 32) & 0xFFFFFFFF)
    else:
        raise PatchError(f"cannot relocate instruction code {code:#04x}")
