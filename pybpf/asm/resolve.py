"""Labels and their resolution into slot offsets."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from .errors import AsmError
from .instruction import Instruction
from .opcodes import (
    BPF_CALL,
    BPF_CLASS,
    BPF_JA,
    BPF_JMP,
    BPF_JMP32,
    BPF_OP,
    BPF_PSEUDO_CALL,
    BPF_PSEUDO_FUNC,
    LD_IMM64,
)


@dataclass(frozen=True, slots=True)
class Label:
    """A position in an instruction stream; jumps name it as their ``target``."""

    name: str
    loc: object = None


@dataclass(frozen=True, slots=True)
class SourceLoc:
    """Where a parsed instruction came from (1-based line and column, and the line)."""

    line: int
    col: int
    text: str


def _error(message: str, loc: object) -> AsmError:
    if isinstance(loc, SourceLoc):
        return AsmError(message, line=loc.line, col=loc.col, text=loc.text)
    if loc is not None:
        return AsmError(f"{message} (at {loc})")
    return AsmError(message)


def label(name: str) -> Label:
    """A label to put between instructions: ``[..., label("out"), exit()]``."""
    return Label(name)


def _target_field(insn: Instruction) -> str:
    """Which field a resolved target goes into: ``off`` or ``imm``."""
    cls = BPF_CLASS(insn.code)
    if insn.code == LD_IMM64:
        if insn.src != BPF_PSEUDO_FUNC:
            raise AsmError("only a ld_imm64 of a function (BPF_PSEUDO_FUNC) takes a label")
        return "imm"
    if cls not in (BPF_JMP, BPF_JMP32):
        raise AsmError(f"instruction {insn.code:#04x} does not take a label")
    if BPF_OP(insn.code) == BPF_CALL:
        if insn.src != BPF_PSEUDO_CALL:
            raise AsmError("only a bpf-to-bpf call (BPF_PSEUDO_CALL) takes a label")
        return "imm"
    if cls == BPF_JMP32 and BPF_OP(insn.code) == BPF_JA:
        return "imm"
    return "off"


def resolve(items: Iterable[Instruction | Label]) -> list[Instruction]:
    """Drop labels and fill in the offsets of instructions whose ``target`` names one.

    Offsets count slots from the instruction after the jump (ld_imm64 is two slots).
    Raises AsmError for a duplicate or unknown label and for an offset that does not fit.
    """
    items = list(items)
    positions: dict[str, int] = {}
    pos = 0
    for item in items:
        if isinstance(item, Label):
            if item.name in positions:
                raise _error(f"duplicate label {item.name!r}", item.loc)
            positions[item.name] = pos
        elif isinstance(item, Instruction):
            pos += item.size
        else:
            raise AsmError(f"not an Instruction or Label: {item!r}")
    out: list[Instruction] = []
    pos = 0
    for item in items:
        if isinstance(item, Label):
            continue
        insn = item
        if insn.target is not None:
            if insn.target not in positions:
                raise _error(f"unknown label {insn.target!r}", insn.loc)
            rel = positions[insn.target] - (pos + 1)
            try:
                field = _target_field(insn)
            except AsmError as exc:
                raise _error(exc.message, insn.loc) from None
            bits = 16 if field == "off" else 32
            if not -(1 << (bits - 1)) <= rel < (1 << (bits - 1)):
                raise _error(
                    f"jump to {insn.target!r} is {rel} slots, out of range for a "
                    f"{bits}-bit offset" + (" (use gotol)" if field == "off" else ""),
                    insn.loc,
                )
            value = rel & 0xFFFF_FFFF if insn.code == LD_IMM64 else rel
            insn = replace(insn, **{field: value})
        out.append(insn)
        pos += insn.size
    return out
