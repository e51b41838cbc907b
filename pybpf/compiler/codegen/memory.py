"""Code generation for memory: stack aggregates (stores, copies, zeroing, indexed
access), the program context, direct loads through verified pointers, probe reads of
kernel and user memory, bitfields."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pybpf import asm
from pybpf.asm import R0, R1, R2, R3, R10, Reg
from pybpf.compiler import ir
from pybpf.compiler.codegen.common import SIZE, container
from pybpf.compiler.errors import CompileError
from pybpf.compiler.frame import SCRATCH, Temp, access_width, in_scratch
from pybpf.compiler.irtypes import ArrayT, IntT, Type

if TYPE_CHECKING:
    from pybpf.compiler.codegen.generator import CodeGen


class MemoryCodeGen:
    """A mixin of CodeGen."""

    def s_Store(self: CodeGen, s: ir.Store) -> None:
        assert s.var.slot is not None
        if not s.type.is_scalar:
            src = self.storage(s.value)
            self.copy(s.var.slot + s.offset, src, s.type.size)
            return
        t = self.expr(s.value)
        (r,) = self.pool.reg(t)
        base, off = self.base(s.var.slot + s.offset, R1)
        self.emit(asm.stx(SIZE[s.type.size], base, off, r))
        self.pool.release(t)

    def s_StoreIndex(self: CodeGen, s: ir.StoreIndex) -> None:
        assert s.var.slot is not None and isinstance(s.var.type, ArrayT)
        n = s.var.type.n
        idx = self.pool.own(self.expr(s.index))
        val = self.expr(s.value)
        ri, rv = self.pool.reg(idx, val)
        skip = self.label("oob")
        self.emit(asm.jge(ri, n, skip))  # unsigned: negative indices are out of range too
        self.emit(asm.mul(ri, s.elem.size))
        base, off = self.base(s.var.slot, R1)
        self.emit(asm.add(ri, base))
        self.emit(asm.stx(SIZE[s.elem.size], ri, off, rv))
        self.place(skip)
        self.pool.release(idx, val)

    def s_Zero(self: CodeGen, s: ir.Zero) -> None:
        assert s.var.slot is not None
        size = s.var.type.size if s.size is None else s.size
        self.zero(s.var.slot + s.offset, size)

    def s_CtxCopy(self: CodeGen, s: ir.CtxCopy) -> None:
        assert s.var.slot is not None and self.ctx_slot is not None
        self.emit(asm.ldx("u64", R1, R10, self.ctx_slot))
        dst = s.var.slot + s.offset
        base, at = self.base(dst, R3)
        off = 0
        while off < s.size:
            width = access_width(s.size - off, dst + off, s.ctx_offset + off)
            self.emit(asm.ldx(SIZE[width], R2, R1, s.ctx_offset + off))
            self.emit(asm.stx(SIZE[width], base, at + off, R2))
            off += width

    def s_StackCopy(self: CodeGen, s: ir.StackCopy) -> None:
        assert s.dst.slot is not None and s.src.slot is not None
        self.copy(s.dst.slot + s.dst_offset, s.src.slot + s.src_offset, s.size)

    def e_CtxDataLoc(self: CodeGen, e: ir.CtxDataLoc) -> Temp:
        t = self.e_CtxPtr(ir.CtxPtr(e.type, loc=e.loc))
        (r,) = self.pool.reg(t)
        self.emit(asm.ldx("u32", R1, r, e.offset))
        self.emit(asm.and_(R1, 0xFFFF))
        self.emit(asm.add(r, R1))
        return t

    def zero(self: CodeGen, slot: int, size: int) -> None:
        base, at = self.base(slot, R1)
        off = 0
        while off < size:
            width = access_width(size - off, slot + off)
            self.emit(asm.st(SIZE[width], base, at + off, 0))
            off += width

    def copy(self: CodeGen, dst: int, src: int, size: int) -> None:
        dbase, dat = self.base(dst, R1)
        sbase, sat = self.base(src, R2)
        off = 0
        while off < size:
            width = access_width(size - off, dst + off, src + off)
            self.emit(asm.ldx(SIZE[width], R0, sbase, sat + off))
            self.emit(asm.stx(SIZE[width], dbase, dat + off, R0))
            off += width

    def base(self: CodeGen, slot: int, spare: Reg) -> tuple[Reg, int]:
        """(register, offset) that address `slot`: the frame pointer for the stack; for a
        variable in scratch memory, `spare` loaded with the scratch value's address."""
        if not in_scratch(slot):
            return R10, slot
        assert self.scratch_ptr is not None
        self.emit(asm.ldx("u64", spare, R10, self.scratch_ptr))
        return spare, slot - SCRATCH

    def addr(self: CodeGen, r: Reg, slot: int) -> None:
        """r = the address of `slot` (on the stack or in scratch memory)."""
        if not in_scratch(slot):
            self.emit(asm.mov(r, R10))
            self.emit(asm.add(r, slot))
            return
        _, off = self.base(slot, r)
        if off:
            self.emit(asm.add(r, off))

    def storage(self: CodeGen, e: ir.Expr) -> int:
        """The stack slot that holds an aggregate-valued expression."""
        if isinstance(e, ir.VarRef):
            assert e.var.slot is not None
            return e.var.slot + e.offset
        if isinstance(e, ir.Agg):
            self.block(e.init)
            assert e.var.slot is not None
            return e.var.slot
        raise CompileError(f"a {e.type} value cannot be used here", e.loc)

    def e_AddrOf(self: CodeGen, e: ir.AddrOf) -> Temp:
        t = self.pool.new()
        (r,) = self.pool.reg(t)
        assert e.var.slot is not None
        self.addr(r, e.var.slot + e.offset)
        return t

    def e_VarRef(self: CodeGen, e: ir.VarRef) -> Temp:
        return self.e_AddrOf(ir.AddrOf(e.type, e.var, e.offset, loc=e.loc))

    def e_Agg(self: CodeGen, e: ir.Agg) -> Temp:
        self.block(e.init)
        return self.e_AddrOf(ir.AddrOf(e.type, e.var, loc=e.loc))

    def e_CtxPtr(self: CodeGen, e: ir.CtxPtr) -> Temp:
        t = self.pool.new()
        (r,) = self.pool.reg(t)
        assert self.ctx_slot is not None
        self.emit(asm.ldx("u64", r, R10, self.ctx_slot))
        return t

    def e_CtxLoad(self: CodeGen, e: ir.CtxLoad) -> Temp:
        t = self.pool.own(self.e_CtxPtr(e))
        (r,) = self.pool.reg(t)
        self.emit(asm.ldx(SIZE[e.size], r, r, e.offset))
        self.normalize(r, e.type, from_bits=e.size * 8)
        return t

    def e_MemLoad(self: CodeGen, e: ir.MemLoad) -> Temp:
        t = self.pool.own(self.expr(e.ptr))
        (r,) = self.pool.reg(t)
        size = e.type.size if not e.bit_size else container(e.bit_offset, e.bit_size)
        if e.checked:  # a view that may be 0 (None): the value reads 0 (a scalar)
            load, done = self.label("view"), self.label("read")
            self.emit(asm.jne(r, 0, load))
            self.emit(asm.mov(r, 0))
            self.emit(asm.ja(done))
            self.place(load)
            self.emit(asm.ldx(SIZE[size], r, r, e.offset))
            self.extract(r, e.type, size, e.bit_offset, e.bit_size)
            self.place(done)
            return t
        self.emit(asm.ldx(SIZE[size], r, r, e.offset))
        self.extract(r, e.type, size, e.bit_offset, e.bit_size)
        return t

    def e_LoadIndex(self: CodeGen, e: ir.LoadIndex) -> Temp:
        assert e.var.slot is not None and isinstance(e.var.type, ArrayT)
        idx = self.pool.own(self.expr(e.index))
        (ri,) = self.pool.reg(idx)
        oob, done = self.label("oob"), self.label("idx")
        self.emit(asm.jge(ri, e.var.type.n, oob))
        self.emit(asm.mul(ri, e.type.size))
        base, off = self.base(e.var.slot, R1)
        self.emit(asm.add(ri, base))
        self.emit(asm.ldx(SIZE[e.type.size], ri, ri, off))
        self.normalize(ri, e.type, from_bits=e.type.size * 8)
        self.emit(asm.ja(done))
        self.place(oob)
        self.emit(asm.mov(ri, 0))
        self.place(done)
        return idx

    def e_ProbeRead(self: CodeGen, e: ir.ProbeRead) -> Temp:
        size = e.type.size if not e.bit_size else container(e.bit_offset, e.bit_size)
        slot = self.frame.alloc_scratch(8, self.cur_loc, "a probe-read buffer")
        addr = self.expr(e.addr)
        (ra,) = self.pool.reg(addr)
        self.emit(asm.mov(R3, ra))
        self.pool.release(addr)
        self.emit(asm.mov(R1, R10))
        self.emit(asm.add(R1, slot))
        self.emit(asm.mov(R2, size))
        self.emit(asm.call(f"bpf_probe_read_{e.space}"))
        t = self.pool.new()
        (r,) = self.pool.reg(t)
        self.emit(asm.ldx(SIZE[size], r, R10, slot))
        self.extract(r, e.type, size, e.bit_offset, e.bit_size)
        return t

    def extract(self: CodeGen, r: Reg, t: Type, size: int, bit_offset: int, bit_size: int) -> None:
        if bit_size:
            signed = isinstance(t, IntT) and t.signed
            if not signed:  # the bits at bit_offset (the loaded value is zero-extended)
                if bit_offset:
                    self.emit(asm.rsh(r, bit_offset))
                if bit_offset + bit_size < size * 8:
                    self.emit(asm.and_(r, (1 << bit_size) - 1))
                return
            # signed: shift the field to the top of the register, then arithmetic back down
            self.emit(asm.lsh(r, 64 - bit_offset - bit_size))
            self.emit(asm.arsh(r, 64 - bit_size))
            return
        self.normalize(r, t, from_bits=size * 8)
