"""Code generation for maps: lookups, updates, in-place adds, deletes, ring buffer output,
and the kernel-side counts of inserts and records a full map or ring refused (a mixin of
CodeGen). Keys and values are built in fully written stack slots; every lookup is
null-checked on the register it returns."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pybpf import asm
from pybpf.asm import R0, R1, R2, R3, R4, R10, Reg
from pybpf.compiler import ir
from pybpf.compiler.codegen.common import SIZE, Result
from pybpf.compiler.frame import Temp, access_width
from pybpf.compiler.irtypes import IntT, Type
from pybpf.sys.constants import BPF_NOEXIST

if TYPE_CHECKING:
    from pybpf.compiler.codegen.generator import CodeGen


class MapCodeGen:
    def s_MapUpdate(self: CodeGen, s: ir.MapUpdate) -> None:
        key = self.key_slot(s.map, s.key)
        value = self.value_slot(s.map.value, s.value)
        self.map_call("bpf_map_update_elem", s.map, key, value, s.flags)
        if s.flags == 0:  # BPF_ANY fails only when the map cannot take the key
            self.count_refused(s.map.failed, always=False)

    def count_refused(self: CodeGen, where: tuple[object, int] | None, always: bool) -> None:
        """Add 1 to a count of refused updates or records (counter map, byte offset): always,
        or when r0 (the helper's result) is negative. The count lives in a one-element array
        reached by direct value access, so that counting needs no branch (a loop keeps no
        more states pending)."""
        if where is None:
            return
        counter, offset = where
        if always:
            self.emit(asm.mov(R1, 1))
        else:
            self.emit(asm.mov(R1, R0))
            self.emit(asm.rsh(R1, 63))  # 1 for an error (a negative errno), else 0
        self.emit(asm.ld_map_value(R2, counter, offset))
        self.emit(asm.atomic_add("u64", R2, 0, R1))

    def s_MapCopy(self: CodeGen, s: ir.MapCopy) -> None:
        assert s.var.slot is not None
        size = s.var.type.size
        key = self.key_slot(s.map, s.key)
        self.zero(s.var.slot, size)
        self.map_call("bpf_map_lookup_elem", s.map, key)
        done = self.label("copied")
        self.emit(asm.jeq(R0, 0, done))
        base, at = self.base(s.var.slot, R2)
        off = 0
        while off < size:
            width = access_width(size - off, s.var.slot + off)
            self.emit(asm.ldx(SIZE[width], R1, R0, off))
            self.emit(asm.stx(SIZE[width], base, at + off, R1))
            off += width
        self.place(done)

    def s_MapDelete(self: CodeGen, s: ir.MapDelete) -> None:
        key = self.key_slot(s.map, s.key)
        self.map_call("bpf_map_delete_elem", s.map, key)

    def s_MapAdd(self: CodeGen, s: ir.MapAdd) -> None:
        key = self.key_slot(s.map, s.key)
        delta = self.expr(s.delta)
        self.pool.hold(delta)
        done, miss = self.label("added"), self.label("insert")
        self.pool.flush(keep=(delta,))
        self.map_call("bpf_map_lookup_elem", s.map, key)
        if s.map.kind == "array" or not s.insert:  # a miss: out of range, or not wanted
            self.emit(asm.jeq(R0, 0, done))
            self.add_into(R0, s.offset, s.vtype, delta, atomic=not s.map.percpu)
            self.place(done)
            self.pool.release(delta)
            return
        self.emit(asm.jeq(R0, 0, miss))
        self.add_into(R0, s.offset, s.vtype, delta, atomic=not s.map.percpu)
        self.emit(asm.ja(done))
        self.place(miss)
        # absent: insert a zeroed value holding delta; if another CPU inserted first
        # (BPF_NOEXIST fails), add to theirs
        vslot = self.frame.alloc_scratch(s.map.value.size, self.cur_loc, "a map value")
        if s.map.value.size != s.vtype.size:  # other fields of the new value start at zero
            self.zero(vslot, s.map.value.size)
        (rd,) = self.pool.reg(delta)
        self.emit(asm.stx(SIZE[s.vtype.size], R10, vslot + s.offset, rd))
        self.map_call("bpf_map_update_elem", s.map, key, vslot, BPF_NOEXIST)
        self.emit(asm.jeq(R0, 0, done))
        self.map_call("bpf_map_lookup_elem", s.map, key)
        self.refused_if_null(s.map, done)
        self.add_into(R0, s.offset, s.vtype, delta, atomic=not s.map.percpu)
        self.place(done)
        self.pool.release(delta)

    def add_into(self: CodeGen, ptr: Reg, offset: int, vtype: IntT, delta: Temp, atomic: bool) -> None:
        (rd,) = self.pool.reg(delta)
        size = SIZE[vtype.size]
        if atomic and vtype.size in (4, 8):
            self.emit(asm.atomic_add(size, ptr, offset, rd))
            return
        self.emit(asm.ldx(size, R1, ptr, offset))
        self.emit(asm.add(R1, rd))
        self.emit(asm.stx(size, ptr, offset, R1))

    def refused_if_null(self: CodeGen, m: ir.MapRef, done: str) -> None:
        """After inserting a key and looking it up again: no element means the map refused
        the key (it is full); count that and go to `done`."""
        if m.failed is None:
            self.emit(asm.jeq(R0, 0, done))
            return
        present = self.label("present")
        self.emit(asm.jne(R0, 0, present))
        self.count_refused(m.failed, always=True)
        self.emit(asm.ja(done))
        self.place(present)

    def s_MapStoreField(self: CodeGen, s: ir.MapStoreField) -> None:
        key = self.key_slot(s.map, s.key)
        val = self.expr(s.value)
        self.pool.hold(val)
        self.pool.flush(keep=(val,))
        found, done = self.label("found"), self.label("stored")
        self.map_call("bpf_map_lookup_elem", s.map, key)
        self.emit(asm.jne(R0, 0, found))
        vslot = self.frame.alloc_scratch(s.map.value.size, self.cur_loc, "a map value")
        self.zero(vslot, s.map.value.size)
        self.map_call("bpf_map_update_elem", s.map, key, vslot, BPF_NOEXIST)
        self.map_call("bpf_map_lookup_elem", s.map, key)
        self.refused_if_null(s.map, done)
        self.place(found)
        (rv,) = self.pool.reg(val)
        self.emit(asm.stx(SIZE[s.type.size], R0, s.offset, rv))
        self.place(done)
        self.pool.release(val)

    def s_RingOutput(self: CodeGen, s: ir.RingOutput) -> None:
        assert s.var.slot is not None
        self.emit(asm.ld_map(R1, s.map.obj))
        self.addr(R2, s.var.slot)
        self.emit(asm.mov(R3, s.var.type.size))
        self.emit(asm.mov(R4, 0))
        self.emit(asm.call("bpf_ringbuf_output"))
        if s.result is not None:
            self.var_store(s.result, R0)
        self.count_refused(s.map.failed, always=False)  # the ring was full: a lost record

    def key_slot(self: CodeGen, m: ir.MapRef, key: ir.Expr) -> int:
        return self.value_slot(m.key, key)

    def value_slot(self: CodeGen, t: Type, e: ir.Expr) -> int:
        """A fully written stack buffer of type `t` holding `e`."""
        if t.is_scalar:
            v = self.expr(e)
            slot = self.frame.alloc_scratch(t.size, self.cur_loc, "a map key or value")
            (r,) = self.pool.reg(v)
            self.emit(asm.stx(SIZE[t.size], R10, slot, r))
            self.pool.release(v)
            return slot
        return self.storage(e)

    def map_call(self: CodeGen, helper: str, m: ir.MapRef, key: int, value: int | None = None,
                 flags: int | None = None) -> None:
        self.emit(asm.ld_map(R1, m.obj))
        self.addr(R2, key)
        if value is not None:
            self.addr(R3, value)
        if flags is not None:
            self.emit(asm.mov(R4, flags))
        self.emit(asm.call(helper))

    def e_MapPtr(self: CodeGen, e: ir.MapPtr) -> Temp:
        t = self.pool.new()
        (r,) = self.pool.reg(t)
        self.emit(asm.ld_map(r, e.map.obj))
        return t

    def e_MapGet(self: CodeGen, e: ir.MapGet) -> Temp:
        key = self.key_slot(e.map, e.key)
        size = e.type.size
        miss, done = self.label("miss"), self.label("got")
        res = Result(self)
        self.map_call("bpf_map_lookup_elem", e.map, key)
        self.emit(asm.jeq(R0, 0, miss))
        self.emit(asm.ldx(SIZE[size], R0, R0, e.offset))
        self.normalize(R0, e.type, from_bits=size * 8)
        self.emit(asm.ja(done))
        self.place(miss)
        res.set(e.default)
        self.place(done)
        return res.end()

    def e_MapHas(self: CodeGen, e: ir.MapHas) -> Temp:
        key = self.key_slot(e.map, e.key)
        self.map_call("bpf_map_lookup_elem", e.map, key)
        t = self.pool.new()
        (r,) = self.pool.reg(t)
        done = self.label("has")
        self.emit(asm.mov(r, 0))
        self.emit(asm.jeq(R0, 0, done))
        self.emit(asm.mov(r, 1))
        self.place(done)
        return t
