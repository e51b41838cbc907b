"""IR nodes the one-liner language adds to the compiler's IR, and the code generator that
knows them (a subclass of pybpf.compiler.codegen.CodeGen: it dispatches on class names)."""

from __future__ import annotations

from dataclasses import dataclass

from pybpf import asm
from pybpf.asm import R0, R1, R10
from pybpf.compiler import ir
from pybpf.compiler.codegen import CodeGen

_SIZE = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}


def _width(remaining: int, *addrs: int) -> int:
    """The widest access that fits and is aligned at every address (the verifier rejects
    misaligned stack and context accesses)."""
    for width in (8, 4, 2, 1):
        if remaining >= width and all(a % width == 0 for a in addrs):
            return width
    return 1


@dataclass(eq=False)
class StrLit(ir.Agg):
    """A string literal built on the stack (zero padded); `text` kept for comparisons."""

    text: str = ""


@dataclass(eq=False)
class MapCopyInto(ir.Stmt):
    """var = copy of map[key] (an aggregate value), or zeros when absent."""

    var: ir.Var
    map: ir.MapRef
    key: ir.Expr


@dataclass(eq=False)
class CtxCopyInto(ir.CtxCopy):
    """Copy `size` bytes of the context at `ctx_offset` into var + `dst` (a subclass of the
    core's CtxCopy, so that the code generator knows the context pointer is needed)."""

    dst: int = 0  # offset inside var


class LangCodeGen(CodeGen):
    e_StrLit = CodeGen.e_Agg

    def s_MapCopyInto(self, s: MapCopyInto) -> None:
        assert s.var.slot is not None
        key = self.key_slot(s.map, s.key)
        self.pool.flush()
        miss, done = self.label("cmiss"), self.label("cgot")
        self.map_call("bpf_map_lookup_elem", s.map, key)
        self.emit(asm.jeq(R0, 0, miss))
        size = s.var.type.size
        off = 0
        while off < size:
            w = _width(size - off, s.var.slot + off, off)
            self.emit(asm.ldx(_SIZE[w], R1, R0, off))
            self.emit(asm.stx(_SIZE[w], R10, s.var.slot + off, R1))
            off += w
        self.emit(asm.ja(done))
        self.place(miss)
        self.zero(s.var.slot, size)
        self.place(done)

    def s_CtxCopyInto(self, s: CtxCopyInto) -> None:
        assert s.var.slot is not None and self.ctx_slot is not None
        self.emit(asm.ldx("u64", R1, R10, self.ctx_slot))
        off = 0
        while off < s.size:
            w = _width(s.size - off, s.var.slot + s.dst + off, s.ctx_offset + off)
            self.emit(asm.ldx(_SIZE[w], R0, R1, s.ctx_offset + off))
            self.emit(asm.stx(_SIZE[w], R10, s.var.slot + s.dst + off, R0))
            off += w
