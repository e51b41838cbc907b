"""The Instruction value, registers, and the byte encoding (``struct bpf_insn``)."""

from __future__ import annotations

import operator
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from .errors import AsmError
from .opcodes import (
    BPF_PSEUDO_MAP_FD,
    BPF_PSEUDO_MAP_VALUE,
    LD_IMM64,
)

SLOT = struct.Struct("<BBhi")  # code, src:4|dst:4, off, imm
SLOT_SIZE = SLOT.size

MAP_SRCS = (BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE)


class Reg(IntEnum):
    """The eleven eBPF registers; R10 is the read-only frame pointer."""

    R0 = 0
    R1 = 1
    R2 = 2
    R3 = 3
    R4 = 4
    R5 = 5
    R6 = 6
    R7 = 7
    R8 = 8
    R9 = 9
    R10 = 10

    def __str__(self) -> str:
        return f"r{int(self)}"


R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 = Reg
RFP = R10


def _signed(value: int, bits: int, what: str) -> int:
    lo, span = -(1 << (bits - 1)), 1 << bits
    if not lo <= value < span:
        raise AsmError(f"{what} {value} does not fit in {bits} bits")
    return value - span if value >= span // 2 else value


@dataclass(frozen=True, slots=True)
class Instruction:
    """One logical eBPF instruction.

    ``ld_imm64`` (``BPF_LD | BPF_IMM | BPF_DW``) is one Instruction that occupies two
    slots; its ``imm`` holds the full 64-bit value (unsigned). Every other ``imm`` is a
    signed 32-bit value (unsigned 32-bit inputs are wrapped) and ``off`` a signed 16-bit
    value.
    Jump and call offsets count slots, as the kernel does.

    ``map``, ``target`` and ``loc`` are metadata that take no part in equality:
    ``map`` is the map object a ld_imm64 refers to (anything with an integer ``.fd`` and
    a ``.name``), ``target`` the symbolic label of a jump or call before resolution (and
    for display), ``loc`` a source position for the compiler's messages.
    """

    code: int
    dst: int = 0
    src: int = 0
    off: int = 0
    imm: int = 0
    map: Any = field(default=None, compare=False)
    target: str | None = field(default=None, compare=False)
    loc: Any = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not 0 <= self.code <= 0xFF:
            raise AsmError(f"opcode {self.code:#x} is not a byte")
        for name in ("dst", "src"):
            reg = getattr(self, name)
            if not 0 <= reg <= 0xF:
                raise AsmError(f"{name} register {reg} out of range 0..15")
            object.__setattr__(self, name, int(reg))
        off = int(self.off)
        if not -(1 << 15) <= off < (1 << 15):
            raise AsmError(f"offset {off} does not fit in 16 signed bits")
        object.__setattr__(self, "off", off)
        if self.code == LD_IMM64:
            imm = int(self.imm)
            if not -(1 << 63) <= imm < (1 << 64):
                raise AsmError(f"immediate {imm} does not fit in 64 bits")
            object.__setattr__(self, "imm", imm & 0xFFFF_FFFF_FFFF_FFFF)
        else:
            object.__setattr__(self, "imm", _signed(int(self.imm), 32, "immediate"))

    @property
    def size(self) -> int:
        """Number of 8-byte slots: 2 for ld_imm64, else 1."""
        return 2 if self.code == LD_IMM64 else 1

    @property
    def is_ld_imm64(self) -> bool:
        return self.code == LD_IMM64

    def encoded_imm(self) -> int:
        """The immediate as it goes to the kernel: a map's current fd replaces the low half."""
        if self.code == LD_IMM64 and self.map is not None and self.src in MAP_SRCS:
            fd = map_fd(self.map)
            return (self.imm & ~0xFFFF_FFFF) | (fd & 0xFFFF_FFFF)
        return self.imm

    def __str__(self) -> str:
        from .disasm import format_instruction

        return format_instruction(self)


def map_fd(map_obj: Any) -> int:
    """The fd of a map object: its ``.fd`` as an int (an int, or anything with
    ``__index__`` or ``fileno()``, like pybpf's FD)."""
    fd = getattr(map_obj, "fd", None)
    try:
        return operator.index(fd)
    except TypeError:
        pass
    fileno = getattr(fd, "fileno", None)
    if callable(fileno):
        return int(fileno())
    raise AsmError(f"{map_obj!r} has no integer .fd")


def encode(insns: Iterable[Instruction]) -> bytes:
    """Encode instructions to the kernel's little-endian ``struct bpf_insn`` array."""
    out = bytearray()
    for insn in insns:
        regs = (insn.src << 4) | insn.dst
        if insn.code == LD_IMM64:
            imm = insn.encoded_imm()
            lo, hi = imm & 0xFFFF_FFFF, imm >> 32
            out += SLOT.pack(insn.code, regs, insn.off, _signed(lo, 32, "imm"))
            out += SLOT.pack(0, 0, 0, _signed(hi, 32, "imm"))
        else:
            out += SLOT.pack(insn.code, regs, insn.off, insn.imm)
    return bytes(out)


def decode(data: bytes | bytearray | memoryview) -> list[Instruction]:
    """Decode a ``struct bpf_insn`` array; ld_imm64 pairs become one Instruction."""
    data = bytes(data)
    if len(data) % SLOT_SIZE:
        raise AsmError(f"{len(data)} bytes is not a whole number of 8-byte instructions")
    slots = [SLOT.unpack_from(data, i) for i in range(0, len(data), SLOT_SIZE)]
    insns: list[Instruction] = []
    i = 0
    while i < len(slots):
        code, regs, off, imm = slots[i]
        if code == LD_IMM64:
            if i + 1 >= len(slots):
                raise AsmError(f"slot {i}: ld_imm64 is missing its second half")
            code2, regs2, off2, imm2 = slots[i + 1]
            if code2 or regs2 or off2:
                raise AsmError(f"slot {i + 1}: second half of ld_imm64 has nonzero fields")
            full = (imm & 0xFFFF_FFFF) | ((imm2 & 0xFFFF_FFFF) << 32)
            insns.append(Instruction(code, regs & 0xF, regs >> 4, off, full))
            i += 2
        else:
            insns.append(Instruction(code, regs & 0xF, regs >> 4, off, imm))
            i += 1
    return insns


def slot_offsets(insns: Iterable[Instruction]) -> list[int]:
    """The slot index at which each instruction starts."""
    out, pos = [], 0
    for insn in insns:
        out.append(pos)
        pos += insn.size
    return out
