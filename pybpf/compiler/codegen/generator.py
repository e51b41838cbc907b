"""The code generator: IR -> BPF instructions (see the package's docstring). The class
joins the mixins of the other modules and holds what they share: the instruction list,
labels, the frame and register pool, variables kept in registers, loops; statements and
calls are generated here."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable

from pybpf import asm
from pybpf.asm import R0, R1, R10, Reg
from pybpf.compiler import analysis, ir
from pybpf.compiler.codegen.arith import ArithCodeGen
from pybpf.compiler.codegen.branches import BranchCodeGen
from pybpf.compiler.codegen.callbacks import FRAME_REG, CallbackCodeGen, CallbackState, loop_key
from pybpf.compiler.codegen.common import LocScope, canonical, is_simple
from pybpf.compiler.codegen.maps import MapCodeGen
from pybpf.compiler.codegen.memory import MemoryCodeGen
from pybpf.compiler.codegen.packets import PacketCodeGen
from pybpf.compiler.errors import NO_LOC, CompileError, Loc
from pybpf.compiler.frame import SCRATCH, Frame, Pool, Scratch, Temp
from pybpf.compiler.irtypes import IntT, Type
from pybpf.compiler.loopcost import LoopBudget
from pybpf.compiler.target import Target

_ALU = {"add": asm.add, "sub": asm.sub, "mul": asm.mul, "and": asm.and_, "or": asm.or_,
        "xor": asm.xor, "shl": asm.lsh}
_EXIT = asm.exit().code
_JA = asm.ja(0).code
VAR_REGS = (9, 8)  # callee-saved registers given to the most used scalar variables


class CodeGen(ArithCodeGen, MemoryCodeGen, BranchCodeGen, MapCodeGen, PacketCodeGen,
              CallbackCodeGen):
    def __init__(self, fn: ir.Function, facts: analysis.Facts, target: Target,
                 scratch: Scratch | None = None,
                 callback_loops: frozenset[tuple[str, int, int]] = frozenset()) -> None:
        self.fn = fn
        # variables that live in a per-CPU scratch value (they do not fit the stack), and the
        # stack slot of that value's address
        self.scratch = scratch
        self.scratch_ptr: int | None = None
        self.facts = facts
        self.target = target
        self.out: list[asm.Instruction | asm.Label] = []
        self.frame = Frame()
        self.cur_loc: Loc = NO_LOC
        self.pool = Pool(self._emit, self.frame, lambda: self.cur_loc)
        self.labels = itertools.count()
        self.loops: list[tuple[str, str]] = []  # (continue label, break label)
        self.inline_ends: dict[int, str] = {}  # Inline token -> its end label
        # Inline token -> (label when the result is true, when false) of a tested inline
        self.inline_jumps: dict[int, tuple[str, str]] = {}
        self.ctx_slot: int | None = None
        self.reachable = True
        self.jump_targets: set[str] = set()
        self.var_reg: dict[int, int] = {}  # id(Var) -> register for variables kept in one
        self.budget = LoopBudget(self.out)  # what the verifier will walk through loops
        self.budgets = [self.budget]  # the function's and each callback's
        # loops run by bpf_loop (by loop_key), their bodies' code, and while one is being
        # generated, where its returns go
        self.callback_loops = callback_loops
        self.callbacks: list[list[asm.Instruction | asm.Label]] = []
        self.callback_state: CallbackState | None = None
        if callback_loops:
            self.pool.free.remove(FRAME_REG)

    def _emit(self, insn: asm.Instruction) -> None:
        # code after an exit or an unconditional jump that no jump reaches is dropped: the
        # verifier rejects unreachable instructions
        if not self.reachable:
            return
        placed = copy.copy(insn)  # already validated: no second __post_init__
        object.__setattr__(placed, "loc", self.cur_loc)
        self.out.append(placed)
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

    def at(self, loc: Loc) -> LocScope:
        return LocScope(self, loc)

    def emit_function(self) -> list[asm.Instruction | asm.Label]:
        """The function's code, labels unresolved (the pipeline's emit stage)."""
        facts = self.facts
        # the context pointer is saved first so that every later read can reload it
        self.ctx_slot = self.frame.alloc_fixed(8, NO_LOC, "the context pointer")
        if facts.reads_ctx:
            self.emit(asm.stx("u64", R10, self.ctx_slot, R1))
        if self.scratch is not None:
            self.scratch_prologue(self.scratch)
        in_registers = [] if self.callback_loops else facts.in_registers
        for var, reg in zip(in_registers, VAR_REGS, strict=False):
            self.var_reg[id(var)] = reg
            self.pool.free.remove(reg)
        local = {id(v) for vs in facts.statement_temps.values() for v in vs}
        for var in facts.variables:
            reg = self.var_reg.get(id(var))
            if id(var) in local and not (self.scratch is not None and
                                         id(var) in self.scratch.offsets):
                continue  # a slot of its own statement's (see stmt())
            if self.scratch is not None and id(var) in self.scratch.offsets:
                var.slot = SCRATCH + self.scratch.offsets[id(var)]
            elif reg is None:
                var.slot = self.frame.alloc_fixed(var.type.size, var.loc,
                                                  f"variable {var.name}")
            if var.type.is_scalar and id(var) in facts.needs_init:
                # a defined value on paths that never assign it
                if reg is None:
                    self.emit(asm.st("u64", R10, var.slot, 0))
                else:
                    self.emit(asm.mov(Reg(reg), 0))
        self.block(self.fn.body)
        # falling off the end returns the default
        self.cur_loc = NO_LOC
        self.ret(ir.Const(ir.LIT, self.fn.default_return))
        for body in self.callbacks:
            self.out.extend(body)
        return self.out

    def scratch_prologue(self, scratch: Scratch) -> None:
        """The address of this CPU's scratch value, kept in a stack slot (a per-CPU array
        of one element always has it: the exit is for the verifier)."""
        self.scratch_ptr = self.frame.alloc_fixed(8, NO_LOC, "the scratch address")
        mark = self.frame.mark()
        key = self.frame.alloc_scratch(4, NO_LOC, "the scratch key")
        self.emit(asm.st("u32", R10, key, 0))
        self.emit(asm.ld_map(R1, scratch.map))
        self.addr(asm.R2, key)
        self.emit(asm.call("bpf_map_lookup_elem"))
        self.frame.release(mark)
        found = self.label("scratch")
        self.emit(asm.jne(R0, 0, found))
        self.emit(asm.exit())  # r0 is 0
        self.place(found)
        self.emit(asm.stx("u64", R10, self.scratch_ptr, R0))

    def block(self, stmts: list[ir.Stmt]) -> None:
        for n, s in enumerate(stmts):
            if isinstance(s, ir.Loop) and s.cond is not None:
                trips = analysis.while_trips(stmts[:n], s)
                if trips is not None:
                    self.budget.plain_counter(s, trips)
            self.stmt(s)

    def stmt(self, s: ir.Stmt) -> None:
        mark = self.frame.mark()
        live = list(self.pool.live)
        for var in self.facts.statement_temps.get(id(s), ()):
            if self.scratch is None or id(var) not in self.scratch.offsets:
                var.slot = self.frame.alloc_scratch(var.type.size, var.loc,
                                                    f"variable {var.name}")
        with self.at(s.loc):
            STMT_GENERATORS[type(s)](self, s)
        assert self.pool.live == live, f"temporaries leaked by {s}"
        # a statement inside an expression (an aggregate's initialiser, an inlined body) may
        # have spilled the enclosing expression's temporaries: their slots stay taken
        spilled = [-t.slot - self.frame.fixed for t in live if t.slot is not None]
        self.frame.release(max([mark, *spilled]))

    def s_Assign(self, s: ir.Assign) -> None:
        var = s.var
        if id(var) in self.facts.dropped:  # an inline's result nothing reads: effects only
            self.s_ExprStmt(ir.ExprStmt(s.value, loc=s.loc))
            return
        reg = self.var_reg.get(id(var))
        if reg is not None:
            self.assign_reg(Reg(reg), var.type, s.value)
            return
        assert var.slot is not None
        if var.type.is_scalar:
            if isinstance(s.value, ir.Const) and isinstance(var.type, IntT) and \
                    -2**31 <= canonical(s.value) < 2**31:
                self.emit(asm.st("u64", R10, var.slot, canonical(s.value)))
                return
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
                value.op in ("add", "sub", "mul", "and", "or", "xor", "shl", "shr") and \
                isinstance(value.type, IntT):
            bits = value.type.bits
            op = _ALU.get(value.op) or (asm.arsh if value.type.signed else asm.rsh)
            imm = self.immediate(value.right, value.op, bits, value.type.signed)
            if imm is not None:
                self.emit(op(r, imm))
            else:
                b = self.expr(value.right)
                (rb,) = self.pool.reg(b)
                if value.op in ("shl", "shr"):
                    b = self.pool.own(b)
                    (rb,) = self.pool.reg(b)
                    self.emit(asm.and_(rb, 63 if bits == 64 else 31))
                self.emit(op(r, rb))
                self.pool.release(b)
            if value.op not in ("and", "or", "xor", "shr"):
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

    def s_HelperInto(self, s: ir.HelperInto) -> None:
        self.call(s.helper, s.args)
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
        # inside a callback every loop is one: the verifier walks a callback's body until
        # its states repeat, and an unrolled loop in it is walked again each time
        if loop_key(s) in self.callback_loops or self.callback_state is not None:
            self.loop_by_callback(s)
            return
        var = s.var
        reg = self.var_reg.get(id(var))
        head, cont, end = self.label("loop"), self.label("next"), self.label("done")
        counter = Reg(reg) if reg is not None else R0
        self.load_const(counter, ir.LIT, s.start)
        if reg is None:
            assert var.slot is not None
            self.emit(asm.stx("u64", R10, var.slot, R0))
        loop_start = len(self.out)
        self.place(head)
        if reg is None:
            self.emit(asm.ldx("u64", R0, R10, var.slot))
        jump = asm.jsge if s.step > 0 else asm.jsle
        if -2**31 <= s.stop < 2**31:
            self.emit(jump(counter, s.stop, end))
        else:  # a bound beyond an immediate: through a scratch register
            self.load_const(R1, ir.LIT, s.stop)
            self.emit(jump(counter, R1, end))
        body_start = len(self.out)
        if s.cond is not None:
            self.branch_false(s.cond, end)
            self.budget.counter_test(s, body_start)
        self.loops.append((cont, end))
        self.block(s.body)
        self.loops.pop()
        body_end = len(self.out)
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
        self.budget.loop(s, loop_start, body_start, body_end)

    def s_Break(self, s: ir.Break) -> None:
        self.emit(asm.ja(self.loops[-1][1]))

    def s_Continue(self, s: ir.Continue) -> None:
        self.emit(asm.ja(self.loops[-1][0]))

    def s_Return(self, s: ir.Return) -> None:
        self.ret(s.value)

    def ret(self, value: ir.Expr | None) -> None:
        if self.callback_state is not None:
            self.return_from_callback(value)
            return
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
        if isinstance(s.value, ir.Inline):
            self.inline_body(s.value)  # its value is not wanted
            return
        self.pool.release(self.expr(s.value))

    def s_InlineReturn(self, s: ir.InlineReturn) -> None:
        jumps = self.inline_jumps.get(s.token)
        if jumps is not None:  # a tested inline: go where the constant result decides
            value = s.value.value if isinstance(s.value, ir.Const) else 0
            self.emit(asm.ja(jumps[0] if value else jumps[1]))
            return
        if s.value is not None and s.result is not None:
            self.s_Assign(ir.Assign(s.result, s.value, loc=s.loc))
        self.emit(asm.ja(self.inline_ends[s.token]))

    def call(self, helper: str, args: list[ir.Expr]) -> None:
        """Evaluate args, move them to r1..r5, call; result in r0. Arguments that need no
        other register (constants, stack addresses, variables, the context, maps) are built
        straight in their argument register after the others are computed."""
        if len(args) > 5:
            raise CompileError(f"{helper} takes at most 5 arguments", self.cur_loc)
        complex_args = [(i, a) for i, a in enumerate(args) if not is_simple(a)]
        temps = [self.expr(a) for _, a in complex_args]
        regs = self.pool.reg(*temps)
        for (i, _), r in zip(complex_args, regs, strict=True):
            self.emit(asm.mov(Reg(i + 1), r))
        self.pool.release(*temps)
        for i, a in enumerate(args):
            if is_simple(a):
                self.simple_into(Reg(i + 1), a)
        self.emit(asm.call(helper))

    def simple_into(self, r: Reg, e: ir.Expr) -> None:
        if isinstance(e, ir.Const):
            self.load_const(r, e.type, e.value)
        elif isinstance(e, ir.AddrOf | ir.VarRef):
            assert e.var.slot is not None
            self.addr(r, e.var.slot + getattr(e, "offset", 0))
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

    def expr(self, e: ir.Expr) -> Temp:
        with self.at(e.loc if e.loc.line else self.cur_loc):
            return EXPR_GENERATORS[type(e)](self, e)

    def e_Load(self, e: ir.Load) -> Temp:
        reg = self.var_reg.get(id(e.var))
        if reg is not None:
            return self.pool.borrow(reg)
        t = self.pool.new()
        (r,) = self.pool.reg(t)
        assert e.var.slot is not None
        self.emit(asm.ldx("u64", r, R10, e.var.slot))
        return t

    def e_Call(self, e: ir.Call) -> Temp:
        self.call(e.helper, e.args)
        t = self.pool.new()
        (r,) = self.pool.reg(t)
        self.emit(asm.mov(r, R0))
        return t

    def from_r0(self) -> Temp:
        t = self.pool.new()
        (r,) = self.pool.reg(t)
        self.emit(asm.mov(r, R0))
        return t

    def branch_inline(self, e: ir.Inline, target: str, when: bool) -> None:
        """Jump to `target` when the tested inline's result is `when` (see
        analysis.branch_inlines): its returns jump there or past it."""
        end = self.label("tested")
        self.inline_jumps[e.token] = (target, end) if when else (end, target)
        self.pool.flush()
        self.block(e.body)
        if not when:  # falling off the end returns 0
            self.emit(asm.ja(target))
        self.place(end)
        del self.inline_jumps[e.token]

    def e_Inline(self, e: ir.Inline) -> Temp:
        self.inline_body(e)
        if e.result is None or id(e.result) in self.facts.dropped:
            return self.e_Const(ir.Const(ir.LIT, 0))
        return self.e_Load(ir.Load(e.result.type, e.result))

    def inline_body(self, e: ir.Inline) -> None:
        end = self.label("ret")
        if e.token:  # an inlined call's body: its returns jump to `end`
            self.inline_ends[e.token] = end
        saved = list(self.pool.live)
        self.pool.flush()
        self.block(e.body)
        self.place(end)
        if e.token:
            del self.inline_ends[e.token]
        assert self.pool.live == saved


def _generators(prefix: str, base: type) -> dict[type, Callable[..., object]]:
    """Node class -> the CodeGen method that generates it (`e_Foo` / `s_Foo` for ir.Foo)."""
    table: dict[type, Callable[..., object]] = {}
    for name in dir(CodeGen):
        node = getattr(ir, name[2:], None) if name.startswith(prefix) else None
        if isinstance(node, type) and issubclass(node, base):
            table[node] = getattr(CodeGen, name)
    return table


EXPR_GENERATORS = _generators("e_", ir.Expr)
STMT_GENERATORS = _generators("s_", ir.Stmt)
