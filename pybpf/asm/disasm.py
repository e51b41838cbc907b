"""Print instructions as text, in the kernel's syntax or in LLVM's.

``syntax="kernel"`` follows kernel/bpf/disasm.c (the verifier log) and bpftool's
``prog dump xlated`` for pseudo ld_imm64 operands; ``syntax="llvm"`` follows what
``llvm-mc -triple bpf`` accepts and ``llvm-objdump -d`` prints. Instructions that are not
canonical (a reserved field set, an unknown opcode) print as a raw ``.insn`` line, so
``assemble(disassemble(x), ...) == x`` holds for every decodable instruction.

Forms without an LLVM or kernel spelling use one shared form in both syntaxes:
``map[NAME]``, ``map[NAME][0]+OFF``, ``map[fd:N]``, ``map[idx:N]``, ``btf_id[N]``,
``subprog[pc+N]``, ``call pc+N`` (bpf-to-bpf), ``call kfunc#ID`` (``kfunc#ID@OFF`` when
the kfunc lives in module BTF number OFF).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .errors import AsmError
from .helpers import helper_name
from .instruction import Instruction, encode, slot_offsets
from .isa import classify
from .opcodes import (
    BPF_ADD,
    BPF_ALU,
    BPF_AND,
    BPF_ARSH,
    BPF_CLASS,
    BPF_CMPXCHG,
    BPF_DIV,
    BPF_DW,
    BPF_FETCH,
    BPF_JEQ,
    BPF_JGE,
    BPF_JGT,
    BPF_JLE,
    BPF_JLT,
    BPF_JMP32,
    BPF_JNE,
    BPF_JSET,
    BPF_JSGE,
    BPF_JSGT,
    BPF_JSLE,
    BPF_JSLT,
    BPF_LSH,
    BPF_MOD,
    BPF_MOV,
    BPF_MUL,
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
    BPF_SUB,
    BPF_TO_BE,
    BPF_X,
    BPF_XCHG,
    BPF_XOR,
    SIZE_BYTES,
)

SYNTAXES = ("kernel", "llvm")

ALU_STR: dict[int, str] = {
    BPF_ADD: "+=", BPF_SUB: "-=", BPF_MUL: "*=", BPF_DIV: "/=", BPF_OR: "|=",
    BPF_AND: "&=", BPF_LSH: "<<=", BPF_RSH: ">>=", BPF_MOD: "%=", BPF_XOR: "^=",
    BPF_MOV: "=", BPF_ARSH: "s>>=",
}
SIGNED_ALU_STR: dict[int, str] = {BPF_DIV: "s/=", BPF_MOD: "s%="}
JMP_STR: dict[int, str] = {
    BPF_JEQ: "==", BPF_JGT: ">", BPF_JLT: "<", BPF_JGE: ">=", BPF_JLE: "<=",
    BPF_JSET: "&", BPF_JNE: "!=", BPF_JSGT: "s>", BPF_JSLT: "s<", BPF_JSGE: "s>=",
    BPF_JSLE: "s<=",
}
ATOMIC_NAME: dict[int, str] = {BPF_ADD: "add", BPF_OR: "or", BPF_AND: "and", BPF_XOR: "xor"}


def size_name(code: int, signed: bool = False) -> str:
    bits = SIZE_BYTES[BPF_SIZE(code)] * 8
    return f"{'s' if signed else 'u'}{bits}"


def _s32(value: int) -> int:
    value &= 0xFFFF_FFFF
    return value - (1 << 32) if value & 0x8000_0000 else value


class _Printer:
    def __init__(self, syntax: str) -> None:
        if syntax not in SYNTAXES:
            raise AsmError(f"unknown syntax {syntax!r}; use one of {', '.join(SYNTAXES)}")
        self.llvm = syntax == "llvm"

    def mem(self, reg: int, off: int) -> str:
        if self.llvm:
            return f"(r{reg} {'-' if off < 0 else '+'} {abs(off)})"
        return f"(r{reg} {off:+d})"

    label: str | None = None  # set while formatting a jump whose target has a label

    def rel(self, off: int) -> str:
        if self.label is not None:
            return self.label
        return f"{off:+d}" if self.llvm else f"pc{off:+d}"

    def format(self, insn: Instruction) -> str:
        form = classify(insn)
        if form is None:
            return raw(insn)
        return getattr(self, "f_" + form)(insn)

    # ALU
    def f_alu(self, i: Instruction) -> str:
        r = "w" if BPF_CLASS(i.code) == BPF_ALU else "r"
        op = BPF_OP(i.code)
        sym = SIGNED_ALU_STR[op] if i.off == 1 else ALU_STR[op]
        rhs = f"{r}{i.src}" if BPF_SRC(i.code) == BPF_X else str(i.imm)
        return f"{r}{i.dst} {sym} {rhs}"

    def f_neg(self, i: Instruction) -> str:
        r = "w" if BPF_CLASS(i.code) == BPF_ALU else "r"
        return f"{r}{i.dst} = -{r}{i.dst}"

    def f_end(self, i: Instruction) -> str:
        order = "be" if BPF_SRC(i.code) == BPF_TO_BE else "le"
        return f"r{i.dst} = {order}{i.imm} r{i.dst}"

    def f_bswap(self, i: Instruction) -> str:
        return f"r{i.dst} = bswap{i.imm} r{i.dst}"

    def f_movsx(self, i: Instruction) -> str:
        r = "w" if BPF_CLASS(i.code) == BPF_ALU else "r"
        return f"{r}{i.dst} = (s{i.off}){r}{i.src}"

    def f_addr_space_cast(self, i: Instruction) -> str:
        imm = i.imm & 0xFFFF_FFFF
        return f"r{i.dst} = addr_space_cast(r{i.src}, {imm >> 16}, {imm & 0xFFFF})"

    # loads and stores
    def f_ld_imm64(self, i: Instruction) -> str:
        lo, hi = i.imm & 0xFFFF_FFFF, i.imm >> 32
        if i.src == 0:
            value = f"{i.imm:#x}"
        elif i.src in (BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE):
            ref = f"map[{i.map.name}]" if i.map is not None else f"map[fd:{lo}]"
            value = ref if i.src == BPF_PSEUDO_MAP_FD else f"{ref}[0]+{hi}"
        elif i.src == BPF_PSEUDO_MAP_IDX:
            value = f"map[idx:{lo}]"
        elif i.src == BPF_PSEUDO_MAP_IDX_VALUE:
            value = f"map[idx:{lo}][0]+{hi}"
        elif i.src == BPF_PSEUDO_BTF_ID:
            value = f"btf_id[{lo}]"
        else:
            assert i.src == BPF_PSEUDO_FUNC
            value = f"subprog[{self.label or f'pc{_s32(lo):+d}'}]"
        return f"r{i.dst} = {value}{' ll' if self.llvm else ''}"

    def f_ld_abs(self, i: Instruction) -> str:
        return f"r0 = *({size_name(i.code)} *)skb[{i.imm}]"

    def f_ld_ind(self, i: Instruction) -> str:
        if self.llvm and i.imm == 0:
            return f"r0 = *({size_name(i.code)} *)skb[r{i.src}]"
        return f"r0 = *({size_name(i.code)} *)skb[r{i.src} + {i.imm}]"

    def f_ldx(self, i: Instruction) -> str:
        return f"r{i.dst} = *({size_name(i.code)} *){self.mem(i.src, i.off)}"

    def f_ldsx(self, i: Instruction) -> str:
        return f"r{i.dst} = *({size_name(i.code, True)} *){self.mem(i.src, i.off)}"

    def f_st(self, i: Instruction) -> str:
        return f"*({size_name(i.code)} *){self.mem(i.dst, i.off)} = {i.imm}"

    def f_stx(self, i: Instruction) -> str:
        return f"*({size_name(i.code)} *){self.mem(i.dst, i.off)} = r{i.src}"

    def f_atomic(self, i: Instruction) -> str:
        dw = BPF_SIZE(i.code) == BPF_DW
        sz, mem = size_name(i.code), self.mem(i.dst, i.off)
        r = "w" if self.llvm and not dw else "r"
        bits = "64" if dw else ""
        op = i.imm
        if op in ATOMIC_NAME:
            return f"lock *({sz} *){mem} {ALU_STR[op]} {r}{i.src}"
        if op & ~BPF_FETCH in ATOMIC_NAME:
            name = ATOMIC_NAME[op & ~BPF_FETCH]
            atomic = "atomic" if self.llvm else f"atomic{bits}"
            return f"{r}{i.src} = {atomic}_fetch_{name}(({sz} *){mem}, {r}{i.src})"
        if self.llvm:
            bare = mem[1:-1]
            suffix = "_64" if dw else "32_32"
            if op == BPF_XCHG:
                return f"{r}{i.src} = xchg{suffix}({bare}, {r}{i.src})"
            return f"{r}0 = cmpxchg{suffix}({bare}, {r}0, {r}{i.src})"
        if op == BPF_XCHG:
            return f"r{i.src} = atomic{bits}_xchg(({sz} *){mem}, r{i.src})"
        assert op == BPF_CMPXCHG
        return f"r0 = atomic{bits}_cmpxchg(({sz} *){mem}, r0, r{i.src})"

    def f_load_acq(self, i: Instruction) -> str:
        r = "w" if self.llvm and BPF_SIZE(i.code) != BPF_DW else "r"
        return f"{r}{i.dst} = load_acquire(({size_name(i.code)} *){self.mem(i.src, i.off)})"

    def f_store_rel(self, i: Instruction) -> str:
        r = "w" if self.llvm and BPF_SIZE(i.code) != BPF_DW else "r"
        return f"store_release(({size_name(i.code)} *){self.mem(i.dst, i.off)}, {r}{i.src})"

    # jumps
    def f_ja(self, i: Instruction) -> str:
        return f"goto {self.rel(i.off)}"

    def f_gotol(self, i: Instruction) -> str:
        return f"gotol {self.rel(i.imm)}"

    def f_may_goto(self, i: Instruction) -> str:
        return f"may_goto {self.rel(i.off)}"

    def f_jcc(self, i: Instruction) -> str:
        r = "w" if BPF_CLASS(i.code) == BPF_JMP32 else "r"
        if BPF_SRC(i.code) == BPF_X:
            rhs = f"{r}{i.src}"
        elif self.llvm:
            rhs = str(i.imm)
        else:
            rhs = f"{i.imm & 0xFFFF_FFFF:#x}"
        return f"if {r}{i.dst} {JMP_STR[BPF_OP(i.code)]} {rhs} goto {self.rel(i.off)}"

    def f_call(self, i: Instruction) -> str:
        if i.src == BPF_PSEUDO_CALL:
            return f"call {self.label or f'pc{i.imm:+d}'}"
        if i.src == BPF_PSEUDO_KFUNC_CALL:
            return f"call kfunc#{i.imm}" + (f"@{i.off}" if i.off else "")
        if self.llvm:
            return f"call {i.imm}"
        try:
            name = helper_name(i.imm)
        except AsmError:
            name = "unknown"
        return f"call {name}#{i.imm}"

    def f_exit(self, i: Instruction) -> str:
        return "exit"


def raw(insn: Instruction) -> str:
    """The raw form: ``.insn CODE, DST, SRC, OFF, IMM``."""
    imm = f"{insn.imm:#x}" if insn.is_ld_imm64 else str(insn.imm)
    return f".insn {insn.code:#04x}, {insn.dst}, {insn.src}, {insn.off}, {imm}"


def format_instruction(insn: Instruction, syntax: str = "kernel") -> str:
    """One instruction as text, without an index prefix."""
    return _Printer(syntax).format(insn)


def relative_target(insn: Instruction) -> int | None:
    """The slot offset a jump, gotol, bpf-to-bpf call or subprog address refers to."""
    form = classify(insn)
    if form in ("ja", "may_goto", "jcc"):
        return insn.off
    if form == "gotol" or (form == "call" and insn.src == BPF_PSEUDO_CALL):
        return insn.imm
    if form == "ld_imm64" and insn.src == BPF_PSEUDO_FUNC:
        return _s32(insn.imm)
    return None


_IDENT = re.compile(r"[A-Za-z_][\w.]*\Z")


def _label_names(insns: list[Instruction]) -> dict[int, str]:
    """Label name for each slot some instruction targets (its ``target`` name if usable)."""
    starts = set(slot_offsets(insns))
    wanted: dict[int, list[str]] = {}
    for pos, insn in zip(slot_offsets(insns), insns, strict=True):
        rel = relative_target(insn)
        if rel is not None and pos + 1 + rel in starts:
            names = wanted.setdefault(pos + 1 + rel, [])
            if insn.target and _IDENT.match(insn.target):
                names.append(insn.target)
    out: dict[int, str] = {}
    used: set[str] = set()
    for slot in sorted(wanted):
        name = next((n for n in wanted[slot] if n not in used), f"L{slot}")
        while name in used:
            name += "_"
        out[slot] = name
        used.add(name)
    return out


def disassemble(
    insns: Iterable[Instruction],
    syntax: str = "kernel",
    *,
    prefix: bool = False,
    labels: bool = False,
) -> str:
    """Instructions as text, one per line.

    With ``prefix=True`` each line carries what the kernel (``12: (b7) ``) or
    llvm-objdump (``      12:\\tb7 00 ...\\t``) puts before it; the parser accepts both.
    With ``labels=True`` jump and call targets inside the program become labels (the
    instructions' ``target`` names where they have them, else ``L<slot>``).
    """
    insns = list(insns)
    printer = _Printer(syntax)
    names = _label_names(insns) if labels else {}
    lines: list[str] = []
    for pc, insn in zip(slot_offsets(insns), insns, strict=True):
        if pc in names:
            lines.append(f"{names[pc]}:")
        rel = relative_target(insn) if names else None
        printer.label = names.get(pc + 1 + rel) if rel is not None else None
        text = printer.format(insn)
        printer.label = None
        if not prefix:
            lines.append(text)
        elif printer.llvm:
            data = encode([insn])
            for k in range(0, len(data), 8):
                hexes = " ".join(f"{b:02x}" for b in data[k:k + 8])
                lines.append(f"{pc + k // 8:>8}:\t{hexes}\t{text if k == 0 else ''}".rstrip())
        else:
            lines.append(f"{pc}: ({insn.code:02x}) {text}")
    return "\n".join(lines)
