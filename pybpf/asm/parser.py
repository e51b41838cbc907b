"""Parse assembly text (kernel or LLVM syntax) into Instructions.

Both syntaxes share one grammar; they differ in one place: ``rN = 0x2a`` is a 64-bit
``ld_imm64`` in the kernel's syntax (the verifier prints ld_imm64 in hex and a mov in
decimal) and a 32-bit-immediate mov in LLVM's, where ld_imm64 needs ``ll``. A trailing
``ll`` always means ld_imm64, and a decimal too wide for 32 bits is ld_imm64 in both.

Map references: ``rN = map[NAME]`` (``BPF_PSEUDO_MAP_FD``) and ``rN = map[NAME][0]+OFF``
(``BPF_PSEUDO_MAP_VALUE``, a pointer OFF bytes into the value), with NAME a key of
``maps=``, or ``fd:N`` / ``id:N`` for a raw number and ``idx:N`` for
``BPF_PSEUDO_MAP_IDX(_VALUE)``; ``ll`` may follow. ``btf_id[N]`` is BPF_PSEUDO_BTF_ID,
``subprog[pc+N]`` or ``subprog[LABEL]`` is BPF_PSEUDO_FUNC.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from .errors import AsmError
from .helpers import helper_id, kfunc_id
from .instruction import Instruction, decode, map_fd
from .lines import IDENT, Statement, split_statements
from .opcodes import (
    BPF_ABS,
    BPF_ADD,
    BPF_ADDR_SPACE_CAST,
    BPF_ALU,
    BPF_ALU64,
    BPF_AND,
    BPF_ARSH,
    BPF_ATOMIC,
    BPF_CALL,
    BPF_CMPXCHG,
    BPF_DIV,
    BPF_DW,
    BPF_END,
    BPF_EXIT,
    BPF_FETCH,
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
    BPF_PSEUDO_MAP_IDX,
    BPF_PSEUDO_MAP_IDX_VALUE,
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
    BYTES_SIZE,
    LD_IMM64,
)
from .resolve import Label, SourceLoc, resolve

NUM = r"[-+]?\s*(?:0[xX][0-9a-fA-F]+|\d+)"
REG = r"[rw]\d+"
SIZE = r"\*\s*\(\s*([us]\d+)\s*\*\s*\)"  # *(u32 *)
PSIZE = r"\(\s*([us]\d+)\s*\*\s*\)"  # (u32 *)
MEM = r"\(\s*(r\d+)\s*(?:([+-])\s*(" + NUM + r"))?\s*\)"  # (r1 +4), (r1 - 8), (r1)
BARE_MEM = r"(r\d+)\s*(?:([+-])\s*(" + NUM + r"))?"  # r1 + 4 (llvm xchg/cmpxchg)
TARGET = r"(?:pc)?([+-]\s*\d+)(?:\s*<[^>]*>)?|(" + IDENT + r")"

ALU_OPS: dict[str, tuple[int, int]] = {  # symbol -> (op, off)
    "+=": (BPF_ADD, 0), "-=": (BPF_SUB, 0), "*=": (BPF_MUL, 0), "/=": (BPF_DIV, 0),
    "|=": (BPF_OR, 0), "&=": (BPF_AND, 0), "<<=": (BPF_LSH, 0), ">>=": (BPF_RSH, 0),
    "%=": (BPF_MOD, 0), "^=": (BPF_XOR, 0), "s>>=": (BPF_ARSH, 0), "s/=": (BPF_DIV, 1),
    "s%=": (BPF_MOD, 1), "=": (BPF_MOV, 0),
}
JMP_OPS: dict[str, int] = {
    "==": BPF_JEQ, "!=": BPF_JNE, ">": BPF_JGT, ">=": BPF_JGE, "<": BPF_JLT, "<=": BPF_JLE,
    "s>": BPF_JSGT, "s>=": BPF_JSGE, "s<": BPF_JSLT, "s<=": BPF_JSLE, "&": BPF_JSET,
}
ATOMIC_OPS: dict[str, int] = {"add": BPF_ADD, "or": BPF_OR, "and": BPF_AND, "xor": BPF_XOR}
LOCK_OPS: dict[str, int] = {"+=": BPF_ADD, "|=": BPF_OR, "&=": BPF_AND, "^=": BPF_XOR}


class _Fail(Exception):
    def __init__(self, message: str, col: int = 0) -> None:
        super().__init__(message)
        self.message, self.col = message, col


def _num(text: str) -> int:
    text = text.replace(" ", "")
    return int(text, 0) if "x" in text.lower() else int(text, 10)


def _reg(text: str) -> tuple[str, int]:
    width, n = text[0], int(text[1:])
    if n > 10:
        raise _Fail(f"no register {text} (r0..r10)")
    return width, n


def _size(text: str, signed_ok: bool = False) -> tuple[int, bool]:
    signed = text.startswith("s")
    bits = int(text[1:])
    if bits not in (8, 16, 32, 64) or (signed and (not signed_ok or bits == 64)):
        raise _Fail(f"bad access size {text}")
    return BYTES_SIZE[bits // 8], signed


def _mem(m: re.Match[str], first: int) -> tuple[int, int]:
    reg, sign, off = m.group(first), m.group(first + 1), m.group(first + 2)
    if reg[0] != "r":
        raise _Fail(f"memory base must be an r register, not {reg}")
    value = _num(off) if off else 0
    return _reg(reg)[1], -value if sign == "-" else value


def _rel(text: str) -> int:
    return _num(text)


class _Parser:
    def __init__(self, syntax: str, maps: Mapping[str, Any], labels: set[str]) -> None:
        if syntax not in ("kernel", "llvm"):
            raise AsmError(f"unknown syntax {syntax!r}; use 'kernel' or 'llvm'")
        self.llvm = syntax == "llvm"
        self.maps = maps
        self.labels = labels
        self.rules: list[tuple[re.Pattern[str], Callable[[re.Match[str]], Instruction]]] = [
            (re.compile(p + r"\s*$"), f) for p, f in self._patterns()
        ]

    def _patterns(self) -> list[tuple[str, Callable[[re.Match[str]], Instruction]]]:
        return [
            (r"exit", lambda m: Instruction(BPF_JMP | BPF_EXIT)),
            (r"(goto|gotol|ja|may_goto)\s+(?:" + TARGET + ")", self.goto),
            (r"if\s+(" + REG + r")\s*(s?[<>]=?|[=!]=|&)\s*(" + REG + "|" + NUM
             + r")\s+goto\s+(?:" + TARGET + ")", self.jcc),
            (r"call\s+(.+?)", self.call),
            (r"lock\s+" + SIZE + r"\s*" + MEM + r"\s*([+|&^]=)\s*(" + REG + ")", self.lock),
            (r"store_release\s*\(\s*" + PSIZE + r"\s*" + MEM + r"\s*,\s*(" + REG + r")\s*\)",
             self.store_release),
            (SIZE + r"\s*" + MEM + r"\s*=\s*(" + REG + "|" + NUM + ")", self.store),
            (r"(" + REG + r")\s*=\s*" + SIZE + r"\s*" + MEM, self.ldx),
            (r"(" + REG + r")\s*=\s*" + SIZE + r"\s*skb\s*\[\s*(?:(r\d+)\s*(?:([+-])\s*("
             + NUM + r"))?|(" + NUM + r"))\s*\]", self.ld_pkt),
            (r"(" + REG + r")\s*=\s*atomic(64)?_fetch_(add|or|and|xor)\s*\(\s*" + PSIZE
             + r"\s*" + MEM + r"\s*,\s*(" + REG + r")\s*\)", self.fetch),
            (r"(" + REG + r")\s*=\s*atomic(64)?_xchg\s*\(\s*" + PSIZE + r"\s*" + MEM
             + r"\s*,\s*(" + REG + r")\s*\)", self.xchg),
            (r"(" + REG + r")\s*=\s*atomic(64)?_cmpxchg\s*\(\s*" + PSIZE + r"\s*" + MEM
             + r"\s*,\s*(" + REG + r")\s*,\s*(" + REG + r")\s*\)", self.cmpxchg),
            (r"(" + REG + r")\s*=\s*xchg(_64|32_32)\s*\(\s*" + BARE_MEM + r"\s*,\s*("
             + REG + r")\s*\)", self.llvm_xchg),
            (r"(" + REG + r")\s*=\s*cmpxchg(_64|32_32)\s*\(\s*" + BARE_MEM + r"\s*,\s*("
             + REG + r")\s*,\s*(" + REG + r")\s*\)", self.llvm_cmpxchg),
            (r"(" + REG + r")\s*=\s*load_acquire\s*\(\s*" + PSIZE + r"\s*" + MEM + r"\s*\)",
             self.load_acquire),
            (r"(" + REG + r")\s*=\s*(be|le|bswap)(\d+)\s+(" + REG + ")", self.endian),
            (r"(" + REG + r")\s*=\s*-\s*(" + REG + ")", self.neg),
            (r"(" + REG + r")\s*=\s*\(\s*s(\d+)\s*\)\s*(" + REG + ")", self.movsx),
            (r"(" + REG + r")\s*=\s*addr_space_cast\s*\(\s*(" + REG + r")\s*,\s*(" + NUM
             + r")\s*,\s*(" + NUM + r")\s*\)", self.addr_space_cast),
            (r"(" + REG + r")\s*=\s*(map|btf_id|subprog)\s*\[\s*([^\]]*?)\s*\]((?:\s*\[\s*0\s*\])?"
             r"(?:\s*\+\s*" + NUM + r")?)(\s+ll)?", self.pseudo),
            (r"(" + REG + r")\s*=\s*(" + NUM + r")(\s+ll)?", self.imm),
            (r"(" + REG + r")\s*(s>>=|<<=|>>=|s/=|s%=|[-+*/|&%^]=|=)\s*(" + REG + "|" + NUM + ")",
             self.alu),
            (r"\.insn\s+(" + NUM + r")\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*(" + NUM + r")\s*,\s*("
             + NUM + ")", self.raw),
            (r"\.raw\s+((?:[0-9a-fA-F]{2}\s*)+)", self.raw_bytes),
        ]

    def parse(self, text: str) -> Instruction:
        for pattern, handler in self.rules:
            m = pattern.match(text)
            if m:
                return handler(m)
        raise _Fail("cannot parse instruction")

    # jumps and calls
    def _target(self, rel: str | None, name: str | None) -> tuple[int, str | None]:
        if rel is not None:
            return _rel(rel), None
        assert name is not None
        if name not in self.labels:
            raise _Fail(f"unknown label {name!r}")
        return 0, name

    def goto(self, m: re.Match[str]) -> Instruction:
        value, target = self._target(m.group(2), m.group(3))
        mnemonic = m.group(1)
        if mnemonic == "gotol":
            return Instruction(BPF_JMP32 | BPF_JA, imm=value, target=target)
        code = BPF_JMP | (BPF_JCOND if mnemonic == "may_goto" else BPF_JA)
        return Instruction(code, off=value, target=target)

    def jcc(self, m: re.Match[str]) -> Instruction:
        width, dst = _reg(m.group(1))
        if m.group(2) not in JMP_OPS:
            raise _Fail(f"unknown comparison {m.group(2)!r}")
        cls = BPF_JMP32 if width == "w" else BPF_JMP
        off, target = self._target(m.group(4), m.group(5))
        rhs = m.group(3)
        if rhs[0] in "rw" and rhs[1:].isdigit():
            w2, src = _reg(rhs)
            if w2 != width:
                raise _Fail("both registers of a comparison must be r or both w")
            return Instruction(cls | BPF_X | JMP_OPS[m.group(2)], dst, src, off, target=target)
        return Instruction(cls | BPF_K | JMP_OPS[m.group(2)], dst, 0, off, _num(rhs),
                           target=target)

    def call(self, m: re.Match[str]) -> Instruction:
        arg = m.group(1).strip()
        code = BPF_JMP | BPF_CALL
        # "call pc+6", or bpftool's "call pc+6#bpf_prog_0eb5405ba529d7d5_F"
        rel = re.fullmatch(r"pc\s*([+-]\s*\d+)(?:#\S*)?", arg)
        if rel:
            return Instruction(code, src=BPF_PSEUDO_CALL, imm=_rel(rel.group(1)))
        k = re.fullmatch(r"(?:kfunc|kernel-function)#(" + NUM + r")(?:@(\d+))?", arg)
        if k:
            return Instruction(code, src=BPF_PSEUDO_KFUNC_CALL, imm=_num(k.group(1)),
                               off=int(k.group(2) or 0))
        named = re.fullmatch(r"(" + IDENT + r")#(" + NUM + ")", arg)
        if named:
            name, number = named.group(1), _num(named.group(2))
            if name == "unknown" or _is_helper(name):
                # a helper: its number as printed (bpftool's xlated dumps print the
                # rewritten call offset after the helper's name)
                return Instruction(code, imm=number)
            return Instruction(code, src=BPF_PSEUDO_KFUNC_CALL, imm=number)
        if re.fullmatch(NUM, arg):
            return Instruction(code, imm=_num(arg))
        if re.fullmatch(IDENT, arg):
            if arg in self.labels:
                return Instruction(code, src=BPF_PSEUDO_CALL, target=arg)
            try:
                return Instruction(code, imm=helper_id(arg))
            except AsmError:
                pass
            try:
                return Instruction(code, src=BPF_PSEUDO_KFUNC_CALL, imm=kfunc_id(arg))
            except AsmError:
                raise _Fail(f"{arg!r} is neither a label, a helper nor a kernel function"
                            ) from None
        raise _Fail(f"bad call target {arg!r}")

    # loads and stores
    def store(self, m: re.Match[str]) -> Instruction:
        size, _ = _size(m.group(1))
        dst, off = _mem(m, 2)
        rhs = m.group(5)
        if rhs[0] in "rw" and rhs[1:].isdigit():
            return Instruction(BPF_STX | BPF_MEM | size, dst, _reg(rhs)[1], off)
        return Instruction(BPF_ST | BPF_MEM | size, dst, 0, off, _num(rhs))

    def ldx(self, m: re.Match[str]) -> Instruction:
        size, signed = _size(m.group(2), signed_ok=True)
        src, off = _mem(m, 3)
        mode = BPF_MEMSX if signed else BPF_MEM
        return Instruction(BPF_LDX | mode | size, _reg(m.group(1))[1], src, off)

    def ld_pkt(self, m: re.Match[str]) -> Instruction:
        if _reg(m.group(1))[1] != 0:
            raise _Fail("legacy packet loads always load into r0")
        size, _ = _size(m.group(2))
        if size == BPF_DW:
            raise _Fail("legacy packet loads are 8, 16 or 32 bits")
        if m.group(6) is not None:
            return Instruction(BPF_LD | BPF_ABS | size, imm=_num(m.group(6)))
        imm = _num(m.group(5)) if m.group(5) else 0
        imm = -imm if m.group(4) == "-" else imm
        return Instruction(BPF_LD | BPF_IND | size, src=_reg(m.group(3))[1], imm=imm)

    def _atomic(self, size_text: str, m: re.Match[str], mem_at: int, src: str, op: int
                ) -> Instruction:
        size, _ = _size(size_text)
        if size not in (BPF_DW, BPF_W):
            raise _Fail("atomic operations are 32 or 64 bits")
        dst, off = _mem(m, mem_at)
        return Instruction(BPF_STX | BPF_ATOMIC | size, dst, _reg(src)[1], off, op)

    def lock(self, m: re.Match[str]) -> Instruction:
        return self._atomic(m.group(1), m, 2, m.group(6), LOCK_OPS[m.group(5)])

    def fetch(self, m: re.Match[str]) -> Instruction:
        self._same(m.group(1), m.group(8))
        return self._atomic(m.group(4), m, 5, m.group(8), ATOMIC_OPS[m.group(3)] | BPF_FETCH)

    def xchg(self, m: re.Match[str]) -> Instruction:
        self._same(m.group(1), m.group(7))
        return self._atomic(m.group(3), m, 4, m.group(7), BPF_XCHG)

    def cmpxchg(self, m: re.Match[str]) -> Instruction:
        self._r0(m.group(1), m.group(7))
        return self._atomic(m.group(3), m, 4, m.group(8), BPF_CMPXCHG)

    def llvm_xchg(self, m: re.Match[str]) -> Instruction:
        self._same(m.group(1), m.group(6))
        size = "u64" if m.group(2) == "_64" else "u32"
        return self._atomic(size, m, 3, m.group(6), BPF_XCHG)

    def llvm_cmpxchg(self, m: re.Match[str]) -> Instruction:
        self._r0(m.group(1), m.group(6))
        size = "u64" if m.group(2) == "_64" else "u32"
        return self._atomic(size, m, 3, m.group(7), BPF_CMPXCHG)

    @staticmethod
    def _same(a: str, b: str) -> None:
        if _reg(a)[1] != _reg(b)[1]:
            raise _Fail(f"{a} and {b} must be the same register")

    @staticmethod
    def _r0(a: str, b: str) -> None:
        if _reg(a)[1] != 0 or _reg(b)[1] != 0:
            raise _Fail("cmpxchg compares with and returns into r0")

    def load_acquire(self, m: re.Match[str]) -> Instruction:
        size, _ = _size(m.group(2))
        src, off = _mem(m, 3)
        return Instruction(BPF_STX | BPF_ATOMIC | size, _reg(m.group(1))[1], src, off,
                           BPF_LOAD_ACQ)

    def store_release(self, m: re.Match[str]) -> Instruction:
        size, _ = _size(m.group(1))
        dst, off = _mem(m, 2)
        return Instruction(BPF_STX | BPF_ATOMIC | size, dst, _reg(m.group(5))[1], off,
                           BPF_STORE_REL)

    # ALU
    def endian(self, m: re.Match[str]) -> Instruction:
        dst, dst2 = _reg(m.group(1))[1], _reg(m.group(4))[1]
        if dst != dst2:
            raise _Fail("byte swaps work in place: use the same register on both sides")
        bits = int(m.group(3))
        if bits not in (16, 32, 64):
            raise _Fail("byte swap width must be 16, 32 or 64")
        kind = m.group(2)
        if kind == "bswap":
            return Instruction(BPF_ALU64 | BPF_END | BPF_TO_LE, dst, imm=bits)
        order = BPF_TO_BE if kind == "be" else BPF_TO_LE
        return Instruction(BPF_ALU | BPF_END | order, dst, imm=bits)

    def neg(self, m: re.Match[str]) -> Instruction:
        (w1, dst), (w2, dst2) = _reg(m.group(1)), _reg(m.group(2))
        if (w1, dst) != (w2, dst2):
            raise _Fail("negation works in place: use the same register on both sides")
        return Instruction((BPF_ALU if w1 == "w" else BPF_ALU64) | BPF_NEG | BPF_K, dst)

    def movsx(self, m: re.Match[str]) -> Instruction:
        (w1, dst), (w2, src) = _reg(m.group(1)), _reg(m.group(3))
        bits = int(m.group(2))
        if w1 != w2 or bits not in ((8, 16) if w1 == "w" else (8, 16, 32)):
            raise _Fail(f"bad sign extension (s{bits}) for {m.group(1)}")
        cls = BPF_ALU if w1 == "w" else BPF_ALU64
        return Instruction(cls | BPF_MOV | BPF_X, dst, src, bits)

    def addr_space_cast(self, m: re.Match[str]) -> Instruction:
        dst, src = _reg(m.group(1))[1], _reg(m.group(2))[1]
        imm = (_num(m.group(3)) << 16) | (_num(m.group(4)) & 0xFFFF)
        return Instruction(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, BPF_ADDR_SPACE_CAST, imm)

    def pseudo(self, m: re.Match[str]) -> Instruction:
        width, dst = _reg(m.group(1))
        if width != "r":
            raise _Fail("ld_imm64 loads a 64-bit register (r), not w")
        kind, inner, tail = m.group(2), m.group(3), m.group(4)
        value_ref = tail.strip() != ""
        offset = 0
        plus = re.search(r"\+\s*(" + NUM + ")", tail)
        if plus:
            offset = _num(plus.group(1))
        if kind == "btf_id":
            if value_ref:
                raise _Fail("btf_id[...] takes no offset")
            if not re.fullmatch(NUM, inner):
                raise _Fail(f"btf_id[...] takes a number, not {inner!r}")
            return Instruction(LD_IMM64, dst, BPF_PSEUDO_BTF_ID, imm=_num(inner))
        if kind == "subprog":
            if value_ref:
                raise _Fail("subprog[...] takes no offset")
            rel = re.fullmatch(r"(?:pc)?\s*([+-]\s*\d+)", inner)
            if rel:
                return Instruction(LD_IMM64, dst, BPF_PSEUDO_FUNC,
                                   imm=_rel(rel.group(1)) & 0xFFFF_FFFF)
            _, target = self._target(None, inner)
            return Instruction(LD_IMM64, dst, BPF_PSEUDO_FUNC, target=target)
        if not 0 <= offset < (1 << 32):
            raise _Fail(f"map value offset {offset} out of range")
        raw = re.fullmatch(r"(fd|id|idx)\s*:\s*(\d+)", inner)
        if raw:
            if raw.group(1) == "idx":
                src = BPF_PSEUDO_MAP_IDX_VALUE if value_ref else BPF_PSEUDO_MAP_IDX
            else:
                src = BPF_PSEUDO_MAP_VALUE if value_ref else BPF_PSEUDO_MAP_FD
            return Instruction(LD_IMM64, dst, src, imm=(offset << 32) | int(raw.group(2)))
        if inner not in self.maps:
            raise _Fail(f"unknown map {inner!r} (pass it in maps=)")
        obj = self.maps[inner]
        try:
            fd = map_fd(obj) & 0xFFFF_FFFF
        except AsmError:
            fd = 0  # no fd yet: encode() reads it when the program is loaded
        src = BPF_PSEUDO_MAP_VALUE if value_ref else BPF_PSEUDO_MAP_FD
        return Instruction(LD_IMM64, dst, src, imm=(offset << 32) | fd, map=obj)

    def imm(self, m: re.Match[str]) -> Instruction:
        width, dst = _reg(m.group(1))
        text, ll = m.group(2), m.group(3) is not None
        value = _num(text)
        fits32 = -(1 << 31) <= value < (1 << 32)
        hex_literal = "x" in text.lower()
        wide = ll or not fits32 or (not self.llvm and hex_literal)
        if width == "r" and wide:
            if not -(1 << 63) <= value < (1 << 64):
                raise _Fail(f"{text} does not fit in 64 bits")
            return Instruction(LD_IMM64, dst, imm=value)
        if ll:
            raise _Fail("ld_imm64 (ll) needs an r register")
        if not fits32:
            raise _Fail(f"{text} does not fit in 32 bits")
        cls = BPF_ALU if width == "w" else BPF_ALU64
        return Instruction(cls | BPF_MOV | BPF_K, dst, imm=value)

    def alu(self, m: re.Match[str]) -> Instruction:
        width, dst = _reg(m.group(1))
        op, off = ALU_OPS[m.group(2)]
        cls = BPF_ALU if width == "w" else BPF_ALU64
        rhs = m.group(3)
        if rhs[0] in "rw" and rhs[1:].isdigit():
            w2, src = _reg(rhs)
            if w2 != width:
                raise _Fail("mixing r and w registers in one ALU operation")
            return Instruction(cls | op | BPF_X, dst, src, off)
        value = _num(rhs)
        if not -(1 << 31) <= value < (1 << 32):
            raise _Fail(f"{rhs} does not fit in a 32-bit immediate")
        return Instruction(cls | op | BPF_K, dst, 0, off, value)

    def raw_bytes(self, m: re.Match[str]) -> Instruction:
        insns = decode(bytes.fromhex(m.group(1).replace(" ", "")))
        if len(insns) != 1:
            raise _Fail("raw bytes must hold exactly one instruction")
        return insns[0]

    def raw(self, m: re.Match[str]) -> Instruction:
        values = [_num(g) for g in m.groups()]
        return Instruction(*values)


def _is_helper(name: str) -> bool:
    if not name.startswith("bpf_"):  # the kernel prints helpers as bpf_NAME#ID
        return False
    try:
        helper_id(name)
    except AsmError:
        return False
    return True


def assemble(text: str, maps: Mapping[str, Any] | None = None, *, syntax: str = "kernel"
             ) -> list[Instruction]:
    """Assemble text in the kernel's (``syntax="kernel"``) or LLVM's syntax.

    ``maps`` maps the names used in ``map[NAME]`` to map objects (with ``.fd``, ``.name``).
    Raises AsmError with line:col and the offending line.
    """
    statements = list(split_statements(text))
    labels = {s.text for s in statements if s.kind == "label"}
    parser = _Parser(syntax, maps or {}, labels)
    items: list[Instruction | Label] = []
    for stmt in statements:
        loc = SourceLoc(stmt.line, stmt.col, stmt.source)
        if stmt.kind == "label":
            items.append(Label(stmt.text, loc))
            continue
        try:
            insn = parser.parse(stmt.text)
        except _Fail as exc:
            raise _error(stmt, exc) from None
        except AsmError as exc:
            raise AsmError(exc.message, line=stmt.line, col=stmt.col, text=stmt.source) from None
        items.append(_with_loc(insn, loc))
    return resolve(items)


def _with_loc(insn: Instruction, loc: SourceLoc) -> Instruction:
    return Instruction(insn.code, insn.dst, insn.src, insn.off, insn.imm, map=insn.map,
                       target=insn.target, loc=loc)


def _error(stmt: Statement, exc: _Fail) -> AsmError:
    return AsmError(f"{exc.message}: {stmt.text!r}", line=stmt.line, col=stmt.col + exc.col,
                    text=stmt.source)

