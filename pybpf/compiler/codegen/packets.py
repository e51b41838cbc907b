"""Code generation for packet header views (XDP, tc): bounds checks against data_end on the
pointer the verifier tracks, stores and swaps skipped for a missing header (a mixin of
CodeGen)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pybpf import asm
from pybpf.asm import R1, R2, R3, R10
from pybpf.compiler import ir
from pybpf.compiler.codegen.common import SIZE
from pybpf.compiler.frame import Temp, access_width

if TYPE_CHECKING:
    from pybpf.compiler.codegen.generator import CodeGen


class PacketCodeGen:
    def e_PktHeader(self: CodeGen, e: ir.PktHeader) -> Temp:
        """ptr = (prev or ctx->data) + offset, kept only when ptr + size <= ctx->data_end."""
        null, done = self.label("short"), self.label("hdr")
        if e.prev is None:
            t = self.pool.new()
            (r,) = self.pool.reg(t)
            self.emit(asm.ldx("u64", R1, R10, self.ctx_slot))
            self.emit(asm.ldx("u32", r, R1, e.data_off))
        else:
            t = self.pool.own(self.expr(e.prev))
            (r,) = self.pool.reg(t)
            if e.checked:
                self.emit(asm.jeq(r, 0, null))
        if isinstance(e.offset, ir.Const):
            if e.offset.value:
                self.emit(asm.add(r, e.offset.value))
        else:
            off = self.pool.own(self.expr(e.offset))
            r, ro = self.pool.reg(t, off)
            self.emit(asm.and_(ro, 0xFF))  # bounded, so the verifier can follow the pointer
            if e.min_offset:
                self.emit(asm.jlt(ro, e.min_offset, null))
            self.emit(asm.add(r, ro))
            self.pool.release(off)
        (r,) = self.pool.reg(t)
        self.emit(asm.mov(R2, r))
        self.emit(asm.add(R2, e.size))
        self.emit(asm.ldx("u64", R1, R10, self.ctx_slot))
        self.emit(asm.ldx("u32", R3, R1, e.end_off))
        self.emit(asm.jgt(R2, R3, null))
        self.emit(asm.ja(done))
        self.place(null)
        self.emit(asm.mov(r, 0))
        self.place(done)
        return t

    def s_PktStore(self: CodeGen, s: ir.PktStore) -> None:
        p = self.expr(s.ptr)
        v = self.expr(s.value)
        rp, rv = self.pool.reg(p, v)
        skip = self.label("null")
        if s.checked:
            self.emit(asm.jeq(rp, 0, skip))
        self.emit(asm.stx(SIZE[s.type.size], rp, s.offset, rv))
        self.place(skip)
        self.pool.release(p, v)

    def s_PktSwap(self: CodeGen, s: ir.PktSwap) -> None:
        p = self.expr(s.ptr)
        (rp,) = self.pool.reg(p)
        skip = self.label("null")
        if s.checked:
            self.emit(asm.jeq(rp, 0, skip))
        off = 0
        while off < s.size:
            width = 4 if s.size - off >= 4 else 2 if s.size - off >= 2 else 1
            self.emit(asm.ldx(SIZE[width], R1, rp, s.a + off))
            self.emit(asm.ldx(SIZE[width], R2, rp, s.b + off))
            self.emit(asm.stx(SIZE[width], rp, s.a + off, R2))
            self.emit(asm.stx(SIZE[width], rp, s.b + off, R1))
            off += width
        self.place(skip)
        self.pool.release(p)

    def s_PktCopy(self: CodeGen, s: ir.PktCopy) -> None:
        assert s.var.slot is not None
        dst = s.var.slot + s.var_offset
        self.zero(dst, s.size)
        p = self.expr(s.ptr)
        (rp,) = self.pool.reg(p)
        skip = self.label("null")
        self.emit(asm.jeq(rp, 0, skip))
        base, at = self.base(dst, R2)
        off = 0
        while off < s.size:
            width = access_width(s.size - off, dst + off)
            self.emit(asm.ldx(SIZE[width], R1, rp, s.offset + off))
            self.emit(asm.stx(SIZE[width], base, at + off, R1))
            off += width
        self.place(skip)
        self.pool.release(p)
