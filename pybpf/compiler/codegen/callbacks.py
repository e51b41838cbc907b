"""Loops run by the bpf_loop helper (Linux 5.17): for a loop too costly for the verifier to
follow iteration by iteration, the body becomes a callback subprogram that the verifier
checks once, and the loop is one helper call.

The callback works on its caller's frame: bpf_loop passes it the caller's frame pointer as
its context, the callback keeps it in r9, and every frame access generated for the body
(`r10 + slot`) is rewritten to `r9 + slot`. Variables, spills, map keys and the saved
context pointer therefore stay where the rest of the function has them; the callback's own
stack stays empty, so the two frames together still fit the kernel's 512 bytes. A function
with such a loop keeps no variables in registers (the callback could not see them) and
leaves r9 out of the register pool. Loops inside a callback are callbacks too: the verifier
walks a callback's body until its states repeat, an unrolled loop in it again each time.

`break` returns 1 from the callback (bpf_loop stops), `continue` and the end of the body
return 0. A `return` in the body stores the value and a flag in the caller's frame and
stops the loop; the caller returns it after the call."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from pybpf import asm
from pybpf.asm import R0, R1, R2, R3, R4, R9, R10
from pybpf.compiler import analysis, ir
from pybpf.compiler.errors import NO_LOC, CompileError
from pybpf.compiler.frame import POOL, in_scratch
from pybpf.compiler.irtypes import IntT
from pybpf.compiler.loopcost import LoopBudget, trips

if TYPE_CHECKING:
    from pybpf.compiler.codegen.generator import CodeGen

FRAME_REG = 9  # the callback's copy of its caller's frame pointer
BPF_MAX_LOOPS = 8 * 1024 * 1024  # the kernel's bound on bpf_loop's nr_loops
_LD_IMM64, _CALL = 0x18, 0x85
_FP = int(R10)


def loop_key(s: ir.Loop) -> tuple[str, int, int]:
    """A loop's identity across compilations of the same source: its position."""
    return (s.loc.file, s.loc.line, s.loc.col)


class CallbackState:
    """The caller's frame slots where a `return` in the callback's body leaves its value."""

    def __init__(self, returned: int, value: int) -> None:
        self.returned = returned  # caller's slot: 1 when the body returned
        self.value = value  # caller's slot: the returned value


class CallbackCodeGen:
    """A mixin of CodeGen."""

    def loop_by_callback(self: CodeGen, s: ir.Loop) -> None:
        # the pipeline makes callbacks only for a target with bpf_loop (else the budget's
        # error stands)
        assert self.target.bpf_loop
        n = trips(s)
        if n > BPF_MAX_LOOPS:
            raise CompileError(
                f"this loop runs {n} times; bpf_loop runs at most {BPF_MAX_LOOPS}", s.loc,
                "Spread the work over several events with a map.")
        var = s.var
        assert var.slot is not None
        entry = self.label("callback")
        returned = self.frame.alloc_scratch(16, s.loc, "a loop's return flag")
        state = CallbackState(returned, returned + 8)
        self.emit(asm.st("u64", R10, state.returned, 0))
        # the body, generated apart with fresh control state
        saved = (self.out, self.reachable, self.loops, self.budget, self.pool.live,
                 self.pool.free, self.callback_state)
        self.out = []
        self.reachable = True
        self.budget = LoopBudget(self.out)
        self.budgets.append(self.budget)
        self.pool.live = []
        self.pool.free = [r for r in POOL if r != FRAME_REG]
        self.callback_state = state
        cont, stop = self.label("cbnext"), self.label("cbstop")
        try:
            self.place(entry)
            self.emit(asm.mov(R9, R2))
            self.forget_values(s)
            # the loop variable: start + index * step (r1 is the u32 index)
            if s.step != 1:
                self.emit(asm.mul(R1, s.step))
            if -2**31 <= s.start < 2**31:
                if s.start:
                    self.emit(asm.add(R1, s.start))
            else:
                self.load_const(R0, ir.LIT, s.start)
                self.emit(asm.add(R1, R0))
            self.emit(asm.stx("u64", R10, var.slot, R1))
            if s.cond is not None:
                self.branch_false(s.cond, stop)
            self.loops = [(cont, stop)]
            self.block(s.body)
            self.place(cont)
            self.emit(asm.mov(R0, 0))
            self.emit(asm.exit())
            self.place(stop)
            self.emit(asm.mov(R0, 1))
            self.emit(asm.exit())
            body = self.out
        finally:
            (self.out, self.reachable, self.loops, self.budget, self.pool.live,
             self.pool.free, self.callback_state) = saved
        _check_jumps(body)
        self.callbacks.append(_on_caller_frame(body))
        # the call: the caller's frame pointer is the callback's context
        self.load_const(R1, ir.LIT, n)
        self.emit(asm.ld_func(R2, entry))
        self.emit(asm.mov(R3, R10))
        self.emit(asm.mov(R4, 0))
        self.emit(asm.call("bpf_loop"))
        went_on = self.label("looped")
        self.emit(asm.ldx("u64", R0, R10, state.returned))
        self.emit(asm.jeq(R0, 0, went_on))
        value = self.spill_var(state.value)
        self.ret(ir.Load(ir.LIT, value))
        self.place(went_on)

    def forget_values(self: CodeGen, s: ir.Loop) -> None:
        """Make the verifier forget the exact values of the integers the body assigns.
        It checks a callback as a loop that runs until its states repeat; an integer it
        knows exactly (a counter compared with a bound: the comparison makes it precise)
        differs in every iteration, so they never repeat and it gives up at its limits.
        `x = (x + index) - index` leaves x as it was, known to the verifier only as a
        range, which it then widens as it does for other loops."""
        for var in _assigned_integers(s.body):
            assert var.slot is not None
            self.emit(asm.ldx("u64", R0, R10, var.slot))
            self.emit(asm.add(R0, R1))
            self.emit(asm.sub(R0, R1))
            self.emit(asm.stx("u64", R10, var.slot, R0))

    def return_from_callback(self: CodeGen, value: ir.Expr | None) -> None:
        """`return` inside a callback's body: keep the value for the caller, stop the loop."""
        state = self.callback_state
        assert state is not None
        if value is None:
            value = ir.Const(ir.LIT, self.fn.default_return)
        t = self.expr(value)
        (r,) = self.pool.reg(t)
        self.emit(asm.stx("u64", R10, state.value, r))
        self.pool.release(t)
        self.emit(asm.st("u64", R10, state.returned, 1))
        self.emit(asm.mov(R0, 1))
        self.emit(asm.exit())

    def spill_var(self: CodeGen, slot: int) -> ir.Var:
        """A variable that names the frame slot `slot` (for a value kept there)."""
        v = ir.Var("<returned>", ir.LIT, NO_LOC)
        v.slot = slot
        return v


def _assigned_integers(body: list[ir.Stmt]) -> list[ir.Var]:
    """The integer variables on the stack that statements of `body` assign, in order."""
    seen: dict[int, ir.Var] = {}
    for node in analysis.walk(body):
        if isinstance(node, ir.Assign) and isinstance(node.var.type, IntT) and \
                node.var.slot is not None and not in_scratch(node.var.slot):
            seen.setdefault(id(node.var), node.var)
    return list(seen.values())


def _check_jumps(body: list[asm.Instruction | asm.Label]) -> None:
    """A jump out of a callback (a return of an inlined function from inside the loop)
    cannot be compiled: the callback is a function of its own."""
    here = {x.name for x in body if isinstance(x, asm.Label)}
    for x in body:
        if isinstance(x, asm.Instruction) and x.target is not None and \
                x.code != _LD_IMM64 and x.target not in here:  # (a callback's own address)
            raise CompileError(
                "a return from an inlined function inside this loop cannot be compiled: "
                "the loop runs through bpf_loop, whose body is a function of its own",
                x.loc if x.loc is not None else NO_LOC,
                "Return a flag from the loop with `break` and test it after the loop.")


def _on_caller_frame(body: list[asm.Instruction | asm.Label]) -> list[asm.Instruction | asm.Label]:
    """The body with every frame access (r10) made through the caller's frame pointer (in
    a ld_imm64 or a call, `src` is not a register)."""
    out: list[asm.Instruction | asm.Label] = []
    for x in body:
        if isinstance(x, asm.Instruction) and x.code not in (_LD_IMM64, _CALL) and \
                _FP in (x.dst, x.src):
            x = copy.copy(x)
            for name in ("dst", "src"):
                if getattr(x, name) == _FP:
                    object.__setattr__(x, name, FRAME_REG)
        out.append(x)
    return out


__all__ = ["BPF_MAX_LOOPS", "FRAME_REG", "CallbackCodeGen", "CallbackState", "loop_key"]
