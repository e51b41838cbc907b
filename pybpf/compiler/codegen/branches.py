"""Code generation for conditions: comparisons and `and`/`or`/`not` as jumps (short-
circuit, the branch taken on the decided side), truth values and conditional expressions
as values."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pybpf import asm
from pybpf.compiler import ir
from pybpf.compiler.codegen.common import Result
from pybpf.compiler.frame import Temp
from pybpf.compiler.irtypes import IntT, LitT

if TYPE_CHECKING:
    from pybpf.compiler.codegen.generator import CodeGen

_JUMP = {  # (op, signed) -> jump builder taking the branch when the comparison holds
    ("eq", False): asm.jeq, ("ne", False): asm.jne, ("eq", True): asm.jeq,
    ("ne", True): asm.jne, ("lt", False): asm.jlt, ("le", False): asm.jle,
    ("gt", False): asm.jgt, ("ge", False): asm.jge, ("lt", True): asm.jslt,
    ("le", True): asm.jsle, ("gt", True): asm.jsgt, ("ge", True): asm.jsge,
}
_NEGATE = {"eq": "ne", "ne": "eq", "lt": "ge", "ge": "lt", "gt": "le", "le": "gt"}


def _fits_imm(c: ir.Const, cmp: ir.Compare) -> bool:
    v = _imm_of(c, cmp)
    # a jump immediate is sign-extended to 64 bits: it must equal the canonical value
    return -2**31 <= v < 2**31


def _imm_of(c: ir.Const, cmp: ir.Compare) -> int:
    t = c.type
    v = t.wrap(c.value) if isinstance(t, IntT) and not isinstance(t, LitT) else c.value
    return v


class BranchCodeGen:
    """A mixin of CodeGen."""

    def truth(self: CodeGen, e: ir.Expr) -> Temp:
        """0/1 from a condition, through branches."""
        if isinstance(e, ir.Compare):
            return self.compare_value(e)
        res = Result(self)
        false, done = self.label("f"), self.label("t")
        self.branch_false(e, false)
        res.set_const(1)
        self.emit(asm.ja(done))
        self.place(false)
        res.set_const(0)
        self.place(done)
        return res.end()

    e_Compare = e_Logic = e_Not = truth

    def compare_value(self: CodeGen, e: ir.Compare) -> Temp:
        """a op b as 0/1, in the left operand's register (no third register needed)."""
        a = self.pool.own(self.expr(e.left))
        true, done = self.label("ct"), self.label("cd")
        if isinstance(e.right, ir.Const) and _fits_imm(e.right, e):
            (ra,) = self.pool.reg(a)
            self.emit(_JUMP[e.op, e.signed](ra, _imm_of(e.right, e), true))
        else:
            b = self.expr(e.right)
            ra, rb = self.pool.reg(a, b)
            self.pool.release(b)
            self.emit(_JUMP[e.op, e.signed](ra, rb, true))
        self.emit(asm.mov(ra, 0))
        self.emit(asm.ja(done))
        self.place(true)
        self.emit(asm.mov(ra, 1))
        self.place(done)
        return a

    def e_Cond(self: CodeGen, e: ir.Cond) -> Temp:
        res = Result(self)
        other, done = self.label("c"), self.label("cd")
        self.branch_false(e.cond, other)
        res.set(e.then)
        self.emit(asm.ja(done))
        self.place(other)
        res.set(e.other)
        self.place(done)
        return res.end()

    def branch_false(self: CodeGen, e: ir.Expr, target: str) -> None:
        """Jump to `target` when `e` is false; fall through when true."""
        self.branch(e, target, when=False)

    def branch(self: CodeGen, e: ir.Expr, target: str, when: bool) -> None:
        """Jump to `target` when the truth of `e` is `when`; fall through otherwise.
        `and`/`or` short-circuit: the operator that decides on its own (or when jumping on
        true, and when jumping on false) jumps straight from each side."""
        with self.at(e.loc if e.loc.line else self.cur_loc):
            if isinstance(e, ir.Compare):
                self.compare_jump(e, target, negate=not when)
            elif isinstance(e, ir.Not):
                self.branch(e.operand, target, not when)
            elif isinstance(e, ir.Logic) and (e.op == "or") == when:
                self.branch(e.left, target, when)
                self.branch(e.right, target, when)
            elif isinstance(e, ir.Logic):
                skip = self.label("sc")
                self.branch(e.left, skip, not when)
                self.branch(e.right, target, when)
                self.place(skip)
            elif isinstance(e, ir.Const):
                if bool(e.value) == when:
                    self.emit(asm.ja(target))
            elif isinstance(e, ir.Inline) and id(e) in self.facts.branch_inlines:
                self.branch_inline(e, target, when)
            else:
                t = self.expr(e)
                (r,) = self.pool.reg(t)
                self.pool.release(t)
                self.emit((asm.jne if when else asm.jeq)(r, 0, target))

    def compare_jump(self: CodeGen, e: ir.Compare, target: str, negate: bool) -> None:
        op = _NEGATE[e.op] if negate else e.op
        a = self.expr(e.left)
        if isinstance(e.right, ir.Const) and _fits_imm(e.right, e):
            (ra,) = self.pool.reg(a)
            self.pool.release(a)
            self.emit(_JUMP[op, e.signed](ra, _imm_of(e.right, e), target))
            return
        b = self.expr(e.right)
        ra, rb = self.pool.reg(a, b)
        self.pool.release(a, b)
        self.emit(_JUMP[op, e.signed](ra, rb, target))
