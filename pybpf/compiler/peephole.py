"""Peephole clean-up of generated code (instructions and labels, before jump resolution):
jumps to the next instruction, jumps to jumps (taken straight to the final target), code
no jump reaches any more, a reload of the slot just stored, and a temporary that is computed
only to be copied into a variable's register."""

from __future__ import annotations

import dataclasses

from pybpf import asm
from pybpf.asm import Instruction, Label

Item = Instruction | Label

_ALU, _ALU64, _LDX, _ST, _STX, _LD, _JMP, _JMP32 = 0x04, 0x07, 0x01, 0x02, 0x03, 0x00, 0x05, 0x06
_MOV, _END, _NEG = 0xB0, 0xD0, 0x80
_CALL, _EXIT, _JA = 0x80, 0x90, 0x00
_ATOMIC, _FETCH = 0xC0, 0x01
_SRC_X = 0x08
_ARGS = frozenset(range(1, 6))
_CLOBBERED = frozenset(range(0, 6))


def effects(insn: Instruction) -> tuple[frozenset[int], frozenset[int], str]:
    """(registers read, registers written, control kind: "", "jump", "call", "exit")."""
    code, cls = insn.code, insn.code & 0x07
    if cls in (_ALU, _ALU64):
        op = code & 0xF0
        reads = set() if op == _MOV else {insn.dst}
        if code & _SRC_X and op not in (_NEG, _END):
            reads.add(insn.src)
        return frozenset(reads), frozenset({insn.dst}), ""
    if cls == _LDX:
        return frozenset({insn.src}), frozenset({insn.dst}), ""
    if cls == _ST:
        return frozenset({insn.dst}), frozenset(), ""
    if cls == _STX:
        if code & 0xE0 == _ATOMIC and insn.imm & _FETCH:
            return frozenset({insn.dst, insn.src, 0}), frozenset({insn.src, 0}), ""
        return frozenset({insn.dst, insn.src}), frozenset(), ""
    if cls == _LD:
        if insn.is_ld_imm64:
            return frozenset(), frozenset({insn.dst}), ""
        return frozenset({6, insn.src}), _CLOBBERED, "call"  # legacy packet loads
    if cls in (_JMP, _JMP32):
        op = code & 0xF0
        if op == _CALL:
            return _ARGS, _CLOBBERED, "call"
        if op == _EXIT:
            return frozenset({0}), frozenset(), "exit"
        if op == _JA and cls == _JMP:
            return frozenset(), frozenset(), "jump"
        reads = {insn.dst} | ({insn.src} if code & _SRC_X else set())
        return frozenset(reads), frozenset(), "jump"
    return frozenset(range(11)), frozenset(range(11)), "jump"


def dead_after(items: list[Item], i: int, reg: int) -> bool:
    """Whether `reg`'s value is never read after position i (scanning one straight path)."""
    for item in items[i + 1:]:
        if isinstance(item, Label):
            continue
        reads, writes, kind = effects(item)
        if reg in reads:
            return False
        if kind == "exit":
            return True
        if reg in writes:
            return True
        if kind == "jump":
            return False
    return True


_GOTO = asm.ja(0).code
_MOV_X = asm.mov(asm.R0, asm.R1).code
_EXIT_CODE = asm.exit().code


def _next_instructions(items: list[Item]) -> list[int | None]:
    """For each position, the index of the first instruction after it (None at the end)."""
    out: list[int | None] = [None] * len(items)
    nxt: int | None = None
    for i in range(len(items) - 1, -1, -1):
        out[i] = nxt
        if isinstance(items[i], Instruction):
            nxt = i
    return out


def run(items: list[Item]) -> list[Item]:
    changed = True
    while changed:
        changed = False
        for rule in (_thread_jumps, _drop_unreachable, _drop_jump_to_next, _drop_reload,
                     _retarget_copy):
            items, did = rule(items)
            changed |= did
    return items


def _drop_jump_to_next(items: list[Item]) -> tuple[list[Item], bool]:
    # the labels that stand right before each position (between it and the previous
    # instruction), found in one backward pass
    labels_after: list[frozenset[str]] = [frozenset()] * len(items)
    pending: set[str] = set()
    for i in range(len(items) - 1, -1, -1):
        labels_after[i] = frozenset(pending)
        item = items[i]
        if isinstance(item, Label):
            pending.add(item.name)
        else:
            pending = set()
    out: list[Item] = []
    changed = False
    for i, item in enumerate(items):
        if isinstance(item, Instruction) and item.code == _GOTO and item.target and \
                item.target in labels_after[i]:
            changed = True
            continue
        out.append(item)
    return out, changed


def _is_jump(item: Item) -> bool:
    return isinstance(item, Instruction) and item.target is not None


def _is_goto(item: Item | None) -> bool:
    return isinstance(item, Instruction) and item.code == _GOTO and item.target is not None


def _thread_jumps(items: list[Item]) -> tuple[list[Item], bool]:
    """A jump to a label whose first instruction is `goto M` jumps to M itself."""
    goto_at: dict[str, str] = {}  # label -> the target of the goto right after it
    following = _next_instructions(items)
    for i, item in enumerate(items):
        if isinstance(item, Label):
            j = following[i]
            if j is not None and _is_goto(items[j]):
                goto_at[item.name] = items[j].target  # type: ignore[union-attr]
    changed = False
    out = list(items)
    for i, item in enumerate(out):
        if not _is_jump(item):
            continue
        target, seen = item.target, set()  # type: ignore[union-attr]
        while target in goto_at and target not in seen:  # a cycle of gotos stays as it is
            seen.add(target)
            target = goto_at[target]
        if target != item.target:  # type: ignore[union-attr]
            out[i] = dataclasses.replace(item, target=target)  # type: ignore[arg-type]
            changed = True
    return out, changed


def _drop_unreachable(items: list[Item]) -> tuple[list[Item], bool]:
    """Instructions after a goto or exit that no jump reaches (the verifier refuses them)."""
    targets = {item.target for item in items if _is_jump(item)}  # type: ignore[union-attr]
    out: list[Item] = []
    reachable, changed = True, False
    for item in items:
        if isinstance(item, Label):
            reachable = reachable or item.name in targets
            out.append(item)
            continue
        if not reachable:
            changed = True
            continue
        out.append(item)
        if _is_goto(item) or item.code == _EXIT_CODE:
            reachable = False
    return out, changed


_STX64 = asm.stx("u64", 10, 0, 0).code
_LDX64 = asm.ldx("u64", 0, 10, 0).code


def _is_slot_store(insn: Instruction) -> bool:
    return insn.code == _STX64 and insn.dst == 10


def _is_slot_load(insn: Instruction) -> bool:
    return insn.code == _LDX64 and insn.src == 10


def _drop_reload(items: list[Item]) -> tuple[list[Item], bool]:
    """`*(u64 *)(r10 off) = rX` then `rY = *(u64 *)(r10 off)`: the load becomes `rY = rX`
    (or nothing when rY is rX)."""
    changed = False
    out = list(items)
    for i, item in enumerate(out):
        if not isinstance(item, Instruction) or not _is_slot_store(item):
            continue
        j = i + 1
        if j >= len(out) or not isinstance(out[j], Instruction):
            continue
        nxt = out[j]
        assert isinstance(nxt, Instruction)
        if _is_slot_load(nxt) and nxt.off == item.off:
            out[j] = None  # type: ignore[call-overload]
            if nxt.dst != item.src:
                out[j] = dataclasses.replace(asm.mov(asm.Reg(nxt.dst), asm.Reg(item.src)),
                                             loc=nxt.loc)
            changed = True
    return [x for x in out if x is not None], changed


def _retarget_copy(items: list[Item]) -> tuple[list[Item], bool]:
    """`rT = <value>; rV = rT` with rT dead afterwards: compute straight into rV."""
    out = list(items)
    changed = False
    mov_x = _MOV_X
    for i in range(len(out) - 1):
        first = out[i]
        if not isinstance(first, Instruction):
            continue
        j = i + 1
        second = out[j]
        if not isinstance(second, Instruction) or second.code != mov_x:
            continue
        t, v = second.src, second.dst
        if t == v or first.dst != t:
            continue
        reads, writes, kind = effects(first)
        pure_def = kind == "" and writes == {t} and t not in reads and v not in reads
        if not pure_def or not dead_after(out, j, t):
            continue
        out[i] = dataclasses.replace(first, dst=v)
        out[j] = None  # type: ignore[call-overload]
        changed = True
    return [x for x in out if x is not None], changed
