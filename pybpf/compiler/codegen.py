"""IR -> BPF instructions.

Statements are generated in order; expressions into pool temporaries (see `frame`). Code is
shaped for the verifier: map keys and values are built in fully written stack slots, map
lookups are null-checked on the register they return, probe reads go through the stack,
and loops have constant bounds. Every instruction carries the source position of the IR
node it came from.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools

from pybpf import asm
from pybpf.asm import R0, R1, R2, R3, R4, R10, Reg
from pybpf.compiler import analysis, ir
from pybpf.compiler.codegen_packets import PacketCodeGen
from pybpf.compiler.errors import NO_LOC, CompileError, Loc
from pybpf.compiler.frame import Frame, Pool, Temp, access_width, round8
from pybpf.compiler.irtypes import ArrayT, IntT, LitT, PtrT, Type

_SIZE = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}
_JUMP = {  # (op, signed) -> jump builder taking the branch when the comparison holds
    ("eq", False): asm.jeq, ("ne", False): asm.jne, ("eq", True): asm.jeq,
    ("ne", True): asm.jne, ("lt", False): asm.jlt, ("le", False): asm.jle,
    ("gt", False): asm.jgt, ("ge", False): asm.jge, ("lt", True): asm.jslt,
    ("le", True): asm.jsle, ("gt", True): asm.jsgt, ("ge", True): asm.jsge,
}
_NEGATE = {"eq": "ne", "ne": "eq", "lt": "ge", "ge": "lt", "gt": "le", "le": "gt"}
_ALU = {"add": asm.add, "sub": asm.sub, "mul": asm.mul, "and": asm.and_, "or": asm.or_,
        "xor": asm.xor, "shl": asm.lsh}

_EXIT = asm.exit().code
_JA = asm.ja(0).code
BPF_NOEXIST = 1


@functools.cache
def has_cpu_v4() -> bool:
    """Whether the kernel accepts the v4 ISA (sdiv/smod): probed once."""
    from pybpf.program import Program
    from pybpf.sys import BPFError

    try:
        Program.load("socket_filter", [asm.mov(R0, 7), asm.sdiv(R0, 2), asm.exit()]).close()
        return True
    except BPFError:
        return False


VAR_REGS = (9, 8)  # callee-saved registers given to the most used scalar variables


class CodeGen(PacketCodeGen):
    def __init__(self, fn: ir.Function) -> None:
        self.fn = fn
        self.out: list[asm.Instruction | asm.Label] = []
        self.frame = Frame()
        self.cur_loc: Loc = NO_LOC
        self.pool = Pool(self._emit, self.frame, lambda: self.cur_loc)
        self.labels = itertools.count()
        self.loops: list[tuple[str, str]] = []  # (continue label, break label)
        self.inline_ends: dict[int, str] = {}  # Inline token -> its end label
        self.ctx_slot: int | None = None
        self.reachable = True
        self.jump_targets: set[str] = set()
        self.var_reg: dict[int, int] = {}  # id(Var) -> register for variables kept in one

    # -- plumbing ---------------------------------------------------------------------------
    def _emit(self, insn: asm.Instruction) -> None:
        # code after an exit or an unconditional jump that no jump reaches is dropped: the
        # verifier rejects unreachable instructions
        if not self.reachable:
            return
        self.out.append(dataclasses.replace(insn, loc=self.cur_loc))
        if insn.target is not None:
            self.jump_targets.add(insn.target)
        if insn.code in (_EXIT, _JA):
            self.reachable = False

    emit = _emit

    def label(self, hint: str = "L") -> str:
        return f".{hint}{next(self.labels)}"

    def place(self, name: str) -> None:
        self.out.append(asm.label(name))
        if name in self.jump_targets:
            self.reachable = True

    def at(self, loc: Loc) -> _LocScope:
        return _LocScope(self, loc)

    # -- entry ----------------------------------------------------------------------------
    def generate(self) -> list[asm.Instruction]:
        variables = list(analysis.collect_vars(self.fn.body))
        # the context pointer is saved first so that every later read can reload it
        self.ctx_slot = self.frame.alloc_fixed(8, NO_LOC, "the context pointer")
        if analysis.uses_ctx(self.fn.body) or self.fn.ret_mode.startswith("ctx:"):
            self.emit(asm.stx("u64", R10, self.ctx_slot, R1))
        in_regs = analysis.register_candidates(self.fn.body, variables, VAR_REGS)
        for var, reg in zip(in_regs, VAR_REGS, strict=False):
            self.var_reg[id(var)] = reg
            self.pool.free.remove(reg)
        needs_init = analysis.read_before_assigned(self.fn.body)
        for var in variables:
            reg = self.var_reg.get(id(var))
            if reg is None:
                var.slot = self.frame.alloc_fixed(var.type.size, var.loc,
                                                  f"variable {var.name}")
            if var.type.is_scalar and id(var) in needs_init:
                # a defined value on paths that never assign it
                if reg is None:
                    self.emit(asm.st("u64", R10, var.slot, 0))
                else:
                    self.emit(asm.mov(Reg(reg), 0))
        self.block(self.fn.body)
        # falling off the end returns the default
        self.cur_loc = NO_LOC
        self.ret(ir.Const(ir.LIT, self.fn.default_return))
        from pybpf.compiler import peephole

        return asm.resolve(peephole.run(self.out))

    # -- statements -------------------------------------------------------------------------
    def block(self, stmts: list[ir.Stmt]) -> None:
        for s in stmts:
            self.stmt(s)

    def stmt(self, s: ir.Stmt) -> None:
        mark = self.frame.mark()
        live = list(self.pool.live)
        with self.at(s.loc):
            method = getattr(self, "s_" + type(s).__name__)
            method(s)
        assert self.pool.live == live, f"temporaries leaked by {s}"
        self.frame.release(mark)

    def s_Assign(self, s: ir.Assign) -> None:
        var = s.var
        reg = self.var_reg.get(id(var))
        if reg is not None:
            self.assign_reg(Reg(reg), var.type, s.value)
            return
        assert var.slot is not None
        if var.type.is_scalar:
            t = self.expr(s.value)
            (r,) = self.pool.reg(t)
            self.emit(asm.stx("u64", R10, var.slot, r))
            self.pool.release(t)
            return
        src = self.storage(s.value)
        if src != var.slot:
            self.copy(var.slot, src, var.type.size)

    def assign_reg(self, r: Reg, t: Type, value: ir.Expr) -> None:
        """var = value for a register variable; `var = var op x` is done in place."""
        if isinstance(value, ir.BinOp) and isinstance(value.left, ir.Load) and \
                self.var_reg.get(id(value.left.var)) == int(r) and \
                value.op in ("add", "sub", "mul", "and", "or", "xor", "shl") and \
                isinstance(value.type, IntT):
            bits = value.type.bits
            imm = self.immediate(value.right, value.op, bits, value.type.signed)
            if imm is not None:
                self.emit(_ALU[value.op](r, imm))
            else:
                b = self.expr(value.right)
                (rb,) = self.pool.reg(b)
                if value.op == "shl":
                    b = self.pool.own(b)
                    (rb,) = self.pool.reg(b)
                    self.emit(asm.and_(rb, 63 if bits == 64 else 31))
                self.emit(_ALU[value.op](r, rb))
                self.pool.release(b)
            if value.op not in ("and", "or", "xor"):
                self.normalize(r, value.type)
            if value.type != t:
                self.normalize(r, t)
            return
        v = self.expr(value)
        (rv,) = self.pool.reg(v)
        if rv != r:
            self.emit(asm.mov(r, rv))
        self.pool.release(v)

    def var_store(self, var: ir.Var, src: Reg) -> None:
        reg = self.var_reg.get(id(var))
        if reg is not None:
            self.emit(asm.mov(Reg(reg), src))
        else:
            assert var.slot is not None
            self.emit(asm.stx("u64", R10, var.slot, src))

    def s_Store(self, s: ir.Store) -> None:
        assert s.var.slot is not None
        if not s.type.is_scalar:
            src = self.storage(s.value)
            self.copy(s.var.slot + s.offset, src, s.type.size)
            return
        t = self.expr(s.value)
        (r,) = self.pool.reg(t)
        self.emit(asm.stx(_SIZE[s.type.size], R10, s.var.slot + s.offset, r))
        self.pool.release(t)

    def s_StoreIndex(self, s: ir.StoreIndex) -> None:
        assert s.var.slot is not None and isinstance(s.var.type, ArrayT)
        n = s.var.type.n
        idx = self.pool.own(self.expr(s.index))
        val = self.expr(s.value)
        ri, rv = self.pool.reg(idx, val)
        skip = self.label("oob")
        self.emit(asm.jge(ri, n, skip))  # unsigned: negative indices are out of range too
        self.emit(asm.mul(ri, s.elem.size))
        self.emit(asm.add(ri, R10))
        self.emit(asm.stx(_SIZE[s.elem.size], ri, s.var.slot, rv))
        self.place(skip)
        self.pool.release(idx, val)

    def s_Zero(self, s: ir.Zero) -> None:
        assert s.var.slot is not None
        size = s.var.type.size if s.size is None else s.size
        self.zero(s.var.slot + s.offset, size)

    def s_HelperInto(self, s: ir.HelperInto) -> None:
        self.call(s.helper, s.args)
        if s.result is not None:
            self.var_store(s.result, R0)

    def s_MapUpdate(self, s: ir.MapUpdate) -> None:
        key = self.key_slot(s.map, s.key)
        value = self.value_slot(s.map.value, s.value)
        self.map_call("bpf_map_update_elem", s.map, key, value, s.flags)

    def s_MapCopy(self, s: ir.MapCopy) -> None:
        assert s.var.slot is not None
        size = s.var.type.size
        key = self.key_slot(s.map, s.key)
        self.zero(s.var.slot, size)
        self.map_call("bpf_map_lookup_elem", s.map, key)
        done = self.label("copied")
        self.emit(asm.jeq(R0, 0, done))
        off = 0
        while off < size:
            width = access_width(size - off, s.var.slot + off)
            self.emit(asm.ldx(_SIZE[width], R1, R0, off))
            self.emit(asm.stx(_SIZE[width], R10, s.var.slot + off, R1))
            off += width
        self.place(done)

    def s_CtxCopy(self, s: ir.CtxCopy) -> None:
        assert s.var.slot is not None and self.ctx_slot is not None
        self.emit(asm.ldx("u64", R1, R10, self.ctx_slot))
        off = 0
        while off < s.size:
            width = access_width(s.size - off, s.var.slot + off, s.ctx_offset + off)
            self.emit(asm.ldx(_SIZE[width], R2, R1, s.ctx_offset + off))
            self.emit(asm.stx(_SIZE[width], R10, s.var.slot + off, R2))
            off += width

    def s_MapDelete(self, s: ir.MapDelete) -> None:
        key = self.key_slot(s.map, s.key)
        self.map_call("bpf_map_delete_elem", s.map, key)

    def s_MapAdd(self, s: ir.MapAdd) -> None:
        key = self.key_slot(s.map, s.key)
        delta = self.expr(s.delta)
        self.pool.hold(delta)
        done, miss = self.label("added"), self.label("insert")
        self.pool.flush(keep=(delta,))
        self.map_call("bpf_map_lookup_elem", s.map, key)
        if s.map.kind == "array":  # every index exists: a failed lookup is out of range
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
        self.zero(vslot, s.map.value.size)
        (rd,) = self.pool.reg(delta)
        self.emit(asm.stx(_SIZE[s.vtype.size], R10, vslot + s.offset, rd))
        self.map_call("bpf_map_update_elem", s.map, key, vslot, BPF_NOEXIST)
        self.emit(asm.jeq(R0, 0, done))
        self.map_call("bpf_map_lookup_elem", s.map, key)
        self.emit(asm.jeq(R0, 0, done))
        self.add_into(R0, s.offset, s.vtype, delta, atomic=not s.map.percpu)
        self.place(done)
        self.pool.release(delta)

    def add_into(self, ptr: Reg, offset: int, vtype: IntT, delta: Temp, atomic: bool) -> None:
        (rd,) = self.pool.reg(delta)
        size = _SIZE[vtype.size]
        if atomic and vtype.size in (4, 8):
            self.emit(asm.atomic_add(size, ptr, offset, rd))
            return
        self.emit(asm.ldx(size, R1, ptr, offset))
        self.emit(asm.add(R1, rd))
        self.emit(asm.stx(size, ptr, offset, R1))

    def s_MapStoreField(self, s: ir.MapStoreField) -> None:
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
        self.emit(asm.jeq(R0, 0, done))
        self.place(found)
        (rv,) = self.pool.reg(val)
        self.emit(asm.stx(_SIZE[s.type.size], R0, s.offset, rv))
        self.place(done)
        self.pool.release(val)

    def s_RingOutput(self, s: ir.RingOutput) -> None:
        assert s.var.slot is not None
        self.emit(asm.ld_map(R1, s.map.obj))
        self.emit(asm.mov(R2, R10))
        self.emit(asm.add(R2, s.var.slot))
        self.emit(asm.mov(R3, s.var.type.size))
        self.emit(asm.mov(R4, 0))
        self.emit(asm.call("bpf_ringbuf_output"))
        if s.result is not None:
            self.var_store(s.result, R0)

    def s_If(self, s: ir.If) -> None:
        other, end = self.label("else"), self.label("endif")
        self.branch_false(s.cond, other if s.other else end)
        self.block(s.then)
        if s.other:
            self.emit(asm.ja(end))
            self.place(other)
            self.block(s.other)
        self.place(end)

    def s_Loop(self, s: ir.Loop) -> None:
        var = s.var
        reg = self.var_reg.get(id(var))
        head, cont, end = self.label("loop"), self.label("next"), self.label("done")
        counter = Reg(reg) if reg is not None else R0
        self.load_const(counter, ir.LIT, s.start)
        if reg is None:
            assert var.slot is not None
            self.emit(asm.stx("u64", R10, var.slot, R0))
        self.place(head)
        if reg is None:
            self.emit(asm.ldx("u64", R0, R10, var.slot))
        jump = asm.jsge if s.step > 0 else asm.jsle
        if -2**31 <= s.stop < 2**31:
            self.emit(jump(counter, s.stop, end))
        else:  # a bound beyond an immediate: through a scratch register
            self.load_const(R1, ir.LIT, s.stop)
            self.emit(jump(counter, R1, end))
        if s.cond is not None:
            self.branch_false(s.cond, end)
        self.loops.append((cont, end))
        self.block(s.body)
        self.loops.pop()
        self.place(cont)
        if reg is None:
            assert var.slot is not None
            self.emit(asm.ldx("u64", R0, R10, var.slot))
        if -2**31 <= s.step < 2**31:
            self.emit(asm.add(counter, s.step))
        else:
            self.load_const(R1, ir.LIT, s.step)
            self.emit(asm.add(counter, R1))
        if reg is None:
            self.emit(asm.stx("u64", R10, var.slot, R0))
        self.emit(asm.ja(head))
        self.place(end)

    def s_Break(self, s: ir.Break) -> None:
        self.emit(asm.ja(self.loops[-1][1]))

    def s_Continue(self, s: ir.Continue) -> None:
        self.emit(asm.ja(self.loops[-1][0]))

    def s_Return(self, s: ir.Return) -> None:
        self.ret(s.value)

    def ret(self, value: ir.Expr | None) -> None:
        mode = self.fn.ret_mode
        if value is None:
            value = ir.Const(ir.LIT, self.fn.default_return)
        t = self.expr(value)
        (r,) = self.pool.reg(t)
        if mode.startswith("ctx:"):
            assert self.ctx_slot is not None
            self.emit(asm.ldx("u64", R1, R10, self.ctx_slot))
            self.emit(asm.stx("u64", R1, int(mode[4:]), r))
            self.emit(asm.mov(R0, 0))
        else:
            self.emit(asm.mov(R0, r))
        self.pool.release(t)
        self.emit(asm.exit())

    def s_ExprStmt(self, s: ir.ExprStmt) -> None:
        if isinstance(s.value, ir.Load | ir.Const | ir.VarRef):
            return  # no effect
        self.pool.release(self.expr(s.value))

    def s_InlineReturn(self, s: ir.InlineReturn) -> None:
        if s.value is not None and s.result is not None:
            self.s_Assign(ir.Assign(s.result, s.value, loc=s.loc))
        self.emit(asm.ja(self.inline_ends[s.token]))

    # -- memory helpers ---------------------------------------------------------------------
    def zero(self, slot: int, size: int) -> None:
        off = 0
        while off < size:
            width = access_width(size - off, slot + off)
            self.emit(asm.st(_SIZE[width], R10, slot + off, 0))
            off += width

    def copy(self, dst: int, src: int, size: int) -> None:
        off = 0
        while off < size:
            width = access_width(size - off, dst + off, src + off)
            self.emit(asm.ldx(_SIZE[width], R0, R10, src + off))
            self.emit(asm.stx(_SIZE[width], R10, dst + off, R0))
            off += width

    def storage(self, e: ir.Expr) -> int:
        """The stack slot that holds an aggregate-valued expression."""
        if isinstance(e, ir.VarRef):
            assert e.var.slot is not None
            return e.var.slot
        if isinstance(e, ir.Agg):
            self.block(e.init)
            assert e.var.slot is not None
            return e.var.slot
        raise CompileError(f"a {e.type} value cannot be used here", e.loc)

    def key_slot(self, m: ir.MapRef, key: ir.Expr) -> int:
        return self.value_slot(m.key, key)

    def value_slot(self, t: Type, e: ir.Expr) -> int:
        """A fully written stack buffer of type `t` holding `e`."""
        if t.is_scalar:
            v = self.expr(e)
            slot = self.frame.alloc_scratch(t.size, self.cur_loc, "a map key or value")
            (r,) = self.pool.reg(v)
            self.emit(asm.stx(_SIZE[t.size], R10, slot, r))
            self.pool.release(v)
            return slot
        return self.storage(e)

    def map_call(self, helper: str, m: ir.MapRef, key: int, value: int | None = None,
                 flags: int | None = None) -> None:
        self.emit(asm.ld_map(R1, m.obj))
        self.emit(asm.mov(R2, R10))
        self.emit(asm.add(R2, key))
        if value is not None:
            self.emit(asm.mov(R3, R10))
            self.emit(asm.add(R3, value))
        if flags is not None:
            self.emit(asm.mov(R4, flags))
        self.emit(asm.call(helper))

    def call(self, helper: str, args: list[ir.Expr]) -> None:
        """Evaluate args, move them to r1..r5, call; result in r0. Arguments that need no
        other register (constants, stack addresses, variables, the context, maps) are built
        straight in their argument register after the others are computed."""
        if len(args) > 5:
            raise CompileError(f"{helper} takes at most 5 arguments", self.cur_loc)
        complex_args = [(i, a) for i, a in enumerate(args) if not _is_simple(a)]
        temps = [self.expr(a) for _, a in complex_args]
        regs = self.pool.reg(*temps)
        for (i, _), r in zip(complex_args, regs, strict=True):
            self.emit(asm.mov(Reg(i + 1), r))
        self.pool.release(*temps)
        for i, a in enumerate(args):
            if _is_simple(a):
                self.simple_into(Reg(i + 1), a)
        self.emit(asm.call(helper))

    def simple_into(self, r: Reg, e: ir.Expr) -> None:
        if isinstance(e, ir.Const):
            self.load_const(r, e.type, e.value)
        elif isinstance(e, ir.AddrOf | ir.VarRef):
            assert e.var.slot is not None
            self.emit(asm.mov(r, R10))
            self.emit(asm.add(r, e.var.slot + getattr(e, "offset", 0)))
        elif isinstance(e, ir.Load):
            reg = self.var_reg.get(id(e.var))
            if reg is not None:
                if reg != r:
                    self.emit(asm.mov(r, Reg(reg)))
            else:
                assert e.var.slot is not None
                self.emit(asm.ldx("u64", r, R10, e.var.slot))
        elif isinstance(e, ir.CtxPtr):
            assert self.ctx_slot is not None
            self.emit(asm.ldx("u64", r, R10, self.ctx_slot))
        elif isinstance(e, ir.MapPtr):
            self.emit(asm.ld_map(r, e.map.obj))
        else:
            raise AssertionError(e)

    def e_MapPtr(self, e: ir.MapPtr) -> Temp:
        t = self.pool.new()
        (r,) = self.pool.reg(t)
        self.emit(asm.ld_map(r, e.map.obj))
        return t

    # -- expressions ------------------------------------------------------------------------
    def expr(self, e: ir.Expr) -> Temp:
        with self.at(e.loc if e.loc.line else self.cur_loc):
            return getattr(self, "e_" + type(e).__name__)(e)

    def e_Const(self, e: ir.Const) -> Temp:
        t = self.pool.new()
        (r,) = self.pool.reg(t)
        self.load_const(r, e.type, e.value)
        return t

    def load_const(self, r: Reg, t: Type, value: int) -> None:
        if isinstance(t, IntT) and not isinstance(t, LitT):
            value = t.wrap(value)
        if -2**31 <= value < 2**31:
            self.emit(asm.mov(r, value))
        elif 0 <= value < 2**32:
            self.emit(asm.mov32(r, value - 2**32 if value >= 2**31 else value))
        else:
            self.emit(asm.ld_imm64(r, value & (2**64 - 1)))

    def e_Load(self, e: ir.Load) -> Temp:
        reg = self.var_reg.get(id(e.var))
        if reg is not None:
            return self.pool.borrow(reg)
        t = self.pool.new()
        (r,) = self.pool.reg(t)
        assert e.var.slot is not None
        self.emit(asm.ldx("u64", r, R10, e.var.slot))
        return t

    def e_AddrOf(self, e: ir.AddrOf) -> Temp:
        t = self.pool.new()
        (r,) = self.pool.reg(t)
        assert e.var.slot is not None
        self.emit(asm.mov(r, R10))
        self.emit(asm.add(r, e.var.slot + e.offset))
        return t

    def e_VarRef(self, e: ir.VarRef) -> Temp:
        return self.e_AddrOf(ir.AddrOf(e.type, e.var, loc=e.loc))

    def e_Agg(self, e: ir.Agg) -> Temp:
        self.block(e.init)
        return self.e_AddrOf(ir.AddrOf(e.type, e.var, loc=e.loc))

    def e_CtxPtr(self, e: ir.CtxPtr) -> Temp:
        t = self.pool.new()
        (r,) = self.pool.reg(t)
        assert self.ctx_slot is not None
        self.emit(asm.ldx("u64", r, R10, self.ctx_slot))
        return t

    def e_CtxLoad(self, e: ir.CtxLoad) -> Temp:
        t = self.pool.own(self.e_CtxPtr(e))
        (r,) = self.pool.reg(t)
        self.emit(asm.ldx(_SIZE[e.size], r, r, e.offset))
        self.normalize(r, e.type, from_bits=e.size * 8)
        return t

    def e_MemLoad(self, e: ir.MemLoad) -> Temp:
        t = self.pool.own(self.expr(e.ptr))
        (r,) = self.pool.reg(t)
        size = e.type.size if not e.bit_size else _container(e.bit_offset, e.bit_size)
        if e.checked:  # a view that may be 0 (None): the value reads 0 (a scalar)
            load, done = self.label("view"), self.label("read")
            self.emit(asm.jne(r, 0, load))
            self.emit(asm.mov(r, 0))
            self.emit(asm.ja(done))
            self.place(load)
            self.emit(asm.ldx(_SIZE[size], r, r, e.offset))
            self.extract(r, e.type, size, e.bit_offset, e.bit_size)
            self.place(done)
            return t
        self.emit(asm.ldx(_SIZE[size], r, r, e.offset))
        self.extract(r, e.type, size, e.bit_offset, e.bit_size)
        return t

    def e_LoadIndex(self, e: ir.LoadIndex) -> Temp:
        assert e.var.slot is not None and isinstance(e.var.type, ArrayT)
        idx = self.pool.own(self.expr(e.index))
        (ri,) = self.pool.reg(idx)
        oob, done = self.label("oob"), self.label("idx")
        self.emit(asm.jge(ri, e.var.type.n, oob))
        self.emit(asm.mul(ri, e.type.size))
        self.emit(asm.add(ri, R10))
        self.emit(asm.ldx(_SIZE[e.type.size], ri, ri, e.var.slot))
        self.normalize(ri, e.type, from_bits=e.type.size * 8)
        self.emit(asm.ja(done))
        self.place(oob)
        self.emit(asm.mov(ri, 0))
        self.place(done)
        return idx

    def e_ProbeRead(self, e: ir.ProbeRead) -> Temp:
        size = e.type.size if not e.bit_size else _container(e.bit_offset, e.bit_size)
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
        self.emit(asm.ldx(_SIZE[size], r, R10, slot))
        self.extract(r, e.type, size, e.bit_offset, e.bit_size)
        return t

    def extract(self, r: Reg, t: Type, size: int, bit_offset: int, bit_size: int) -> None:
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

    def e_BinOp(self, e: ir.BinOp) -> Temp:
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
            if signed and not has_cpu_v4():
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

    def immediate(self, e: ir.Expr, op: str, bits: int, signed: bool) -> int | None:
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

    def signed_divmod(self, ra: Reg, rb: Reg, op: str) -> None:
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

    def normalize(self, r: Reg, t: Type, from_bits: int = 64) -> None:
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

    def e_UnOp(self, e: ir.UnOp) -> Temp:
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

    def e_Cast(self, e: ir.Cast) -> Temp:
        if e.operand.type == e.type:  # already canonical for this type
            return self.expr(e.operand)
        a = self.pool.own(self.expr(e.operand))
        (r,) = self.pool.reg(a)
        self.normalize(r, e.type)
        return a

    def e_Call(self, e: ir.Call) -> Temp:
        self.call(e.helper, e.args)
        t = self.pool.new()
        (r,) = self.pool.reg(t)
        self.emit(asm.mov(r, R0))
        return t

    def truth(self, e: ir.Expr) -> Temp:
        """0/1 from a condition, through branches."""
        if isinstance(e, ir.Compare):
            return self.compare_value(e)
        res = _Result(self)
        false, done = self.label("f"), self.label("t")
        self.branch_false(e, false)
        res.set_const(1)
        self.emit(asm.ja(done))
        self.place(false)
        res.set_const(0)
        self.place(done)
        return res.end()

    e_Compare = e_Logic = e_Not = truth

    def compare_value(self, e: ir.Compare) -> Temp:
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

    def e_Cond(self, e: ir.Cond) -> Temp:
        res = _Result(self)
        other, done = self.label("c"), self.label("cd")
        self.branch_false(e.cond, other)
        res.set(e.then)
        self.emit(asm.ja(done))
        self.place(other)
        res.set(e.other)
        self.place(done)
        return res.end()

    def from_r0(self) -> Temp:
        t = self.pool.new()
        (r,) = self.pool.reg(t)
        self.emit(asm.mov(r, R0))
        return t

    def e_MapGet(self, e: ir.MapGet) -> Temp:
        key = self.key_slot(e.map, e.key)
        size = e.type.size
        miss, done = self.label("miss"), self.label("got")
        res = _Result(self)
        self.map_call("bpf_map_lookup_elem", e.map, key)
        self.emit(asm.jeq(R0, 0, miss))
        self.emit(asm.ldx(_SIZE[size], R0, R0, e.offset))
        self.normalize(R0, e.type, from_bits=size * 8)
        self.emit(asm.ja(done))
        self.place(miss)
        res.set(e.default)
        self.place(done)
        return res.end()

    def e_MapHas(self, e: ir.MapHas) -> Temp:
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

    def e_Inline(self, e: ir.Inline) -> Temp:
        end = self.label("ret")
        self.inline_ends[e.token] = end
        saved = list(self.pool.live)
        self.pool.flush()
        self.block(e.body)
        self.place(end)
        del self.inline_ends[e.token]
        assert self.pool.live == saved
        if e.result is None:
            return self.e_Const(ir.Const(ir.LIT, 0))
        return self.e_Load(ir.Load(e.result.type, e.result))

    # -- conditions -------------------------------------------------------------------------
    def branch_false(self, e: ir.Expr, target: str) -> None:
        """Jump to `target` when `e` is false; fall through when true."""
        self.branch(e, target, when=False)

    def branch_true(self, e: ir.Expr, target: str) -> None:
        self.branch(e, target, when=True)

    def branch(self, e: ir.Expr, target: str, when: bool) -> None:
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
            else:
                t = self.expr(e)
                (r,) = self.pool.reg(t)
                self.pool.release(t)
                self.emit((asm.jne if when else asm.jeq)(r, 0, target))

    def compare_jump(self, e: ir.Compare, target: str, negate: bool) -> None:
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


def _is_simple_value(e: ir.Expr) -> bool:
    """Values that load into a register with no other register: constants and variables."""
    return isinstance(e, ir.Const | ir.Load)


def _is_simple(e: ir.Expr) -> bool:
    return isinstance(e, ir.Const | ir.AddrOf | ir.VarRef | ir.Load | ir.CtxPtr | ir.MapPtr)


def _fits_imm(c: ir.Const, cmp: ir.Compare) -> bool:
    v = _imm_of(c, cmp)
    # a jump immediate is sign-extended to 64 bits: it must equal the canonical value
    return -2**31 <= v < 2**31


def _imm_of(c: ir.Const, cmp: ir.Compare) -> int:
    t = c.type
    v = t.wrap(c.value) if isinstance(t, IntT) and not isinstance(t, LitT) else c.value
    return v


def _container(bit_offset: int, bit_size: int) -> int:
    need = bit_offset + bit_size
    for size in (1, 2, 4, 8):
        if need <= size * 8:
            return size
    raise CompileError("bitfield wider than 64 bits")


class _Result:
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
        if _is_simple_value(e):
            self.gen.simple_into(R0, e)
            return
        v = self.gen.expr(e)
        (rv,) = self.gen.pool.reg(v)
        self.gen.pool.release(v)
        self.gen.pool.flush()
        self.gen.emit(asm.mov(R0, rv))

    def end(self) -> Temp:
        return self.gen.from_r0()


class _LocScope:
    def __init__(self, gen: CodeGen, loc: Loc) -> None:
        self.gen, self.loc = gen, loc

    def __enter__(self) -> None:
        self.saved = self.gen.cur_loc
        if self.loc.line:
            self.gen.cur_loc = self.loc

    def __exit__(self, *exc: object) -> None:
        self.gen.cur_loc = self.saved


def generate(fn: ir.Function) -> list[asm.Instruction]:
    return CodeGen(fn).generate()


__all__ = ["CodeGen", "generate", "has_cpu_v4", "round8"]
