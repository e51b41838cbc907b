"""Pieces every part of the code generator uses: access sizes, the value of branching
expressions (Result), source-position scopes, constants as register values."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pybpf import asm
from pybpf.asm import R0
from pybpf.compiler import ir
from pybpf.compiler.errors import CompileError, Loc
from pybpf.compiler.frame import Temp
from pybpf.compiler.irtypes import IntT, LitT

if TYPE_CHECKING:
    from pybpf.compiler.codegen.generator import CodeGen

SIZE = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}


def canonical(c: ir.Const) -> int:
    """The 64-bit register value of a constant (sign- or zero-extended by its type)."""
    t = c.type
    return t.wrap(c.value) if isinstance(t, IntT) and not isinstance(t, LitT) else c.value


def is_simple_value(e: ir.Expr) -> bool:
    """Values that load into a register with no other register: constants and variables."""
    return isinstance(e, ir.Const | ir.Load)


def is_simple(e: ir.Expr) -> bool:
    return isinstance(e, ir.Const | ir.AddrOf | ir.VarRef | ir.Load | ir.CtxPtr | ir.MapPtr)


def container(bit_offset: int, bit_size: int) -> int:
    need = bit_offset + bit_size
    for size in (1, 2, 4, 8):
        if need <= size * 8:
            return size
    raise CompileError("bitfield wider than 64 bits")


class Result:
    """The value of an expression whose code branches (conditional expressions, truth
    values, map reads with a default): every path leaves it in r0 just before the join
    (nothing runs between that and the join), and the join copies it to a temporary. Live
    temporaries are spilled first, so that all paths agree on where each value lives."""

    def __init__(self, gen: CodeGen) -> None:
        self.gen = gen
        gen.pool.flush()

    def set_const(self, value: int) -> None:
        self.gen.emit(asm.mov(R0, value))

    def set(self, e: ir.Expr) -> None:
        if is_simple_value(e):
            self.gen.simple_into(R0, e)
            return
        v = self.gen.expr(e)
        (rv,) = self.gen.pool.reg(v)
        self.gen.pool.release(v)
        self.gen.pool.flush()
        self.gen.emit(asm.mov(R0, rv))

    def end(self) -> Temp:
        return self.gen.from_r0()


class LocScope:
    def __init__(self, gen: CodeGen, loc: Loc) -> None:
        self.gen, self.loc = gen, loc

    def __enter__(self) -> None:
        self.saved = self.gen.cur_loc
        if self.loc.line:
            self.gen.cur_loc = self.loc

    def __exit__(self, *exc: object) -> None:
        self.gen.cur_loc = self.saved
