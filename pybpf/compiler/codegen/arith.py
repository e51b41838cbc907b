"""Code generation for integer arithmetic: constants, operators with C's wrap-around in
the operation's type (values stay canonical: zero- or sign-extended to 64 bits), BPF's
division (emulated for signed operands on kernels without the v4 ISA), casts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pybpf import asm
from pybpf.asm import R0, Reg
from pybpf.compiler import ir
from pybpf.compiler.frame import Temp
from pybpf.compiler.irtypes import IntT, LitT, PtrT, Type

if TYPE_CHECKING:
    from pybpf.compiler.codegen.generator import CodeGen

_ALU = {"add": asm.add, "sub": asm.sub, "mul": asm.mul, "and": asm.and_, "or": asm.or_,
        "xor": asm.xor, "shl": asm.lsh}


class ArithCodeGen:
    """A mixin of CodeGen."""

    def e_Const(self: CodeGen, e: ir.Const) -> Temp:
        t = self.pool.new()
        (r,) = self.pool.reg(t)
        self.load_const(r, e.type, e.value)
        return t

    def load_const(self: CodeGen, r: Reg, t: Type, value: int) -> None:
        if isinstance(t, IntT) and not isinstance(t, LitT):
            value = t.wrap(value)
        if -2**31 <= value < 2**31:
            self.emit(asm.mov(r, value))
        elif 0 <= value < 2**32:
            self.emit(asm.mov32(r, value - 2**32 if value >= 2**31 else value))
        else:
            self.emit(asm.ld_imm64(r, value & (2**64 - 1)))

    def e_BinOp(self: CodeGen, e: ir.BinOp) -> Temp:
        t = e.type
        assert isinstance(t, IntT | PtrT)
        op = e.op
        signed = isinstance(t, IntT) and t.signed
        bits = t.bits if isinstance(t, IntT) else 64
        imm = self.immediate(e.right, op, bits, signed)
        if imm is not None:
            a = self.pool.own(self.expr(e.left))
            (ra,) = self.pool.reg(a)
            if op == "shr":
                self.emit((asm.arsh if signed else asm.rsh)(ra, imm))
            else:
                self.emit(_ALU[op](ra, imm))
            if isinstance(t, IntT) and op not in ("and", "or", "xor", "shr"):
                self.normalize(ra, t)
            return a
        a = self.pool.own(self.expr(e.left))
        b = self.expr(e.right)
        if op in ("shl", "shr", "div", "mod"):  # these modify the right operand too
            b = self.pool.own(b)
        ra, rb = self.pool.reg(a, b)
        if op in ("shl", "shr"):
            self.emit(asm.and_(rb, 63 if bits == 64 else 31))
            if op == "shl":
                self.emit(asm.lsh(ra, rb))
            else:
                self.emit((asm.arsh if signed else asm.rsh)(ra, rb))
        elif op in ("div", "mod"):
            if signed and not self.target.cpu_v4:
                self.signed_divmod(ra, rb, op)
            elif signed:
                self.emit((asm.sdiv if op == "div" else asm.smod)(ra, rb))
            else:
                self.emit((asm.div if op == "div" else asm.mod)(ra, rb))
        else:
            self.emit(_ALU[op](ra, rb))
        if isinstance(t, IntT) and op not in ("and", "or", "xor"):
            self.normalize(ra, t)
        self.pool.release(b)
        return a

    def immediate(self: CodeGen, e: ir.Expr, op: str, bits: int, signed: bool) -> int | None:
        """The right operand as an instruction immediate, when that keeps the semantics."""
        if not isinstance(e, ir.Const) or op in ("div", "mod"):
            return None
        v = e.value
        if op in ("shl", "shr"):
            return v & (63 if bits == 64 else 31)
        if isinstance(e.type, IntT) and not isinstance(e.type, LitT):
            v = e.type.wrap(v)
        # the immediate is sign-extended to 64 bits: it must equal the 64-bit operand
        return v if -2**31 <= v < 2**31 else None

    def signed_divmod(self: CodeGen, ra: Reg, rb: Reg, op: str) -> None:
        """Signed division for kernels without sdiv/smod: divide magnitudes, fix the sign.
        r0 = sign flag (a < 0 for mod, (a ^ b) < 0 for div)."""
        pos_a, pos_b, done = self.label("pa"), self.label("pb"), self.label("sd")
        self.emit(asm.mov(R0, ra))
        if op == "div":
            self.emit(asm.xor(R0, rb))
        self.emit(asm.jsge(ra, 0, pos_a))
        self.emit(asm.neg(ra))
        self.place(pos_a)
        self.emit(asm.jsge(rb, 0, pos_b))
        self.emit(asm.neg(rb))
        self.place(pos_b)
        self.emit((asm.div if op == "div" else asm.mod)(ra, rb))
        self.emit(asm.jsge(R0, 0, done))
        self.emit(asm.neg(ra))
        self.place(done)

    def normalize(self: CodeGen, r: Reg, t: Type, from_bits: int = 64) -> None:
        """Make `r` canonical for `t`: zero-extend unsigned, sign-extend signed values."""
        if not isinstance(t, IntT) or isinstance(t, LitT):
            return
        bits = t.bits
        if t.signed:
            if bits < 64:
                self.emit(asm.lsh(r, 64 - bits))
                self.emit(asm.arsh(r, 64 - bits))
        elif bits == 32:
            if from_bits > 32:
                self.emit(asm.mov32(r, r))
        elif bits < 32 and from_bits > bits:
            self.emit(asm.and_(r, (1 << bits) - 1))

    def e_UnOp(self: CodeGen, e: ir.UnOp) -> Temp:
        a = self.pool.own(self.expr(e.operand))
        (r,) = self.pool.reg(a)
        if e.op == "neg":
            self.emit(asm.neg(r))
        elif e.op.startswith("bswap"):  # host <-> network order
            self.emit(asm.be(r, int(e.op[5:])))
        else:
            self.emit(asm.xor(r, -1))
        self.normalize(r, e.type)
        return a

    def e_Cast(self: CodeGen, e: ir.Cast) -> Temp:
        if e.operand.type == e.type:  # already canonical for this type
            return self.expr(e.operand)
        a = self.pool.own(self.expr(e.operand))
        (r,) = self.pool.reg(a)
        self.normalize(r, e.type)
        return a
