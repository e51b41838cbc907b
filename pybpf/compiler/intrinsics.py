"""IR for the kernel's helpers and the builtins built on them, once for both front ends.

The restricted-Python front end (`pyfront/builtins.py`) and the one-liner language
(`lang/calls.py`) are tables from their own names to these builders; what a helper returns,
how wide it is, which bits of a combined result a builtin takes, and what the verifier or an
older kernel needs around a call (a zeroed buffer, a bounded read) is written here only.

A builder takes the IR pieces it works on (variables for its results, the map of stack
traces) and the source position; it creates no variables itself, so each front end keeps its
own naming of temporaries.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from pybpf.compiler import ir
from pybpf.compiler.errors import NO_LOC, Loc
from pybpf.compiler.irtypes import LIT, S64, U32, U64, IntT, PtrT, Type
from pybpf.compiler.target import Target
from pybpf.sys.constants import BPF_F_USER_STACK

# x86-64 struct pt_regs: the context of kprobes, uprobes and perf events
PT_REGS = {"r15": 0, "r14": 8, "r13": 16, "r12": 24, "bp": 32, "bx": 40, "r11": 48,
           "r10": 56, "r9": 64, "r8": 72, "ax": 80, "cx": 88, "dx": 96, "si": 104, "di": 112,
           "orig_ax": 120, "ip": 128, "cs": 136, "flags": 144, "sp": 152, "ss": 160}
#: the registers of a function's first six arguments (the System V calling convention)
ARG_REGS = ("di", "si", "dx", "cx", "r8", "r9")
COMM_LEN = 16  # TASK_COMM_LEN


def call(helper: str, t: Type, loc: Loc, *args: ir.Expr) -> ir.Call:
    return ir.Call(t, helper, list(args), loc=loc)


def _high32(e: ir.Expr, t: IntT, loc: Loc) -> ir.Expr:
    return ir.Cast(t, ir.BinOp(U64, "shr", e, ir.Const(U64, 32), loc=loc), loc=loc)


# -- scalar builtins: one helper call, part of its result ----------------------------------
def pid(loc: Loc, t: IntT = U32) -> ir.Expr:
    """The process id (the kernel's tgid): the upper half of bpf_get_current_pid_tgid."""
    return _high32(call("bpf_get_current_pid_tgid", U64, loc), t, loc)


def tid(loc: Loc) -> ir.Expr:
    """The thread id (the kernel's pid): the lower half."""
    return ir.Cast(U32, call("bpf_get_current_pid_tgid", U64, loc), loc=loc)


def uid(loc: Loc) -> ir.Expr:
    return ir.Cast(U32, call("bpf_get_current_uid_gid", U64, loc), loc=loc)


def gid(loc: Loc) -> ir.Expr:
    return _high32(call("bpf_get_current_uid_gid", U64, loc), U32, loc)


def ktime_ns(loc: Loc) -> ir.Expr:
    return call("bpf_ktime_get_ns", U64, loc)


def cpu(loc: Loc) -> ir.Expr:
    return call("bpf_get_smp_processor_id", U32, loc)


def numa_node(loc: Loc) -> ir.Expr:
    """The NUMA node of the CPU the program runs on."""
    return call("bpf_get_numa_node_id", U32, loc)


def cgroup_id(loc: Loc) -> ir.Expr:
    return call("bpf_get_current_cgroup_id", U64, loc)


def prandom(loc: Loc) -> ir.Expr:
    return call("bpf_get_prandom_u32", U32, loc)


def current_task(loc: Loc, t: Type = U64) -> ir.Expr:
    """The current task_struct's address (`t`: the pointer type a front end gives it)."""
    return call("bpf_get_current_task", t, loc)


@dataclass(frozen=True)
class Scalar:
    """A builtin of no arguments that is one integer. One entry in SCALARS makes it a
    builtin of compiled Python (`from pybpf import NAME`; `.py()` runs take `python()`),
    and of the one-liner language under the name `oneliner`."""

    build: Callable[[Loc], ir.Expr]
    doc: str
    python: Callable[[], int]  # the closest plain-Python value, for reference runs
    oneliner: str | None = None  # its name in bpftrace's language

    @property
    def type(self) -> IntT:
        t = self.build(NO_LOC).type
        assert isinstance(t, IntT)
        return t


def _random_u32() -> int:
    return int.from_bytes(os.urandom(4), "little")


#: the builtins that are one helper call, by their restricted-Python name
SCALARS: dict[str, Scalar] = {
    "pid": Scalar(pid, "The process id (the kernel's tgid) of the current task.",
                  os.getpid, "pid"),
    "tid": Scalar(tid, "The thread id (the kernel's pid) of the current task.",
                  threading.get_native_id, "tid"),
    "uid": Scalar(uid, "The user id of the current task.", os.getuid, "uid"),
    "gid": Scalar(gid, "The group id of the current task.", os.getgid, "gid"),
    "ktime_ns": Scalar(ktime_ns, "Monotonic time in nanoseconds (the kernel's ktime_get_ns).",
                       time.monotonic_ns, "nsecs"),
    "cpu": Scalar(cpu, "The CPU the program runs on.", lambda: 0, "cpu"),
    "numa_node": Scalar(numa_node, "The NUMA node of the CPU the program runs on.",
                        lambda: 0, "numaid"),
    "cgroup_id": Scalar(cgroup_id, "The cgroup v2 id of the current task.", lambda: 0,
                        "cgroup"),
    "prandom": Scalar(prandom, "A pseudo-random u32.", _random_u32, "rand"),
}
#: the same, by their one-liner name
ONELINER_SCALARS: dict[str, Scalar] = {s.oneliner: s for s in SCALARS.values() if s.oneliner}


# -- aggregates: helpers that fill stack memory ---------------------------------------------
def comm(var: ir.Var, loc: Loc, target: Target) -> ir.Agg:
    """The current task's name, in `var` (char[16]); `fill` builds it in place inside
    another aggregate (a map key)."""
    t = var.type

    def fill(v: ir.Var, off: int) -> list[ir.Stmt]:
        out: list[ir.Stmt] = []
        if not target.comm_zero_padded:  # keys must not keep stale bytes after the NUL
            out.append(ir.Zero(v, off, COMM_LEN, loc=loc))
        out.append(ir.HelperInto("bpf_get_current_comm",
                                 [ir.AddrOf(PtrT(t, "stack"), v, off, loc=loc),
                                  ir.Const(U64, COMM_LEN, loc=loc)], loc=loc))
        return out

    return ir.Agg(t, var, fill(var, 0), fill=fill, loc=loc)


def read_string(var: ir.Var, addr: ir.Expr, space: str, loc: Loc,
                fill_in_place: bool = True) -> ir.Agg:
    """The NUL-terminated string at `addr` in `var` (char[n]), read with
    bpf_probe_read_{user,kernel}_str (`space` "user"/"kernel"; "" when the address may be
    either: bpf_probe_read_str). The buffer is zeroed first, so that what follows the NUL
    is the same every time (map keys). `fill_in_place=False` when `addr` must be computed
    where `var` is (it reads the context pointer itself)."""
    t = var.type
    n = t.size
    helper = f"bpf_probe_read_{space}_str" if space else "bpf_probe_read_str"

    def fill(v: ir.Var, off: int) -> list[ir.Stmt]:
        return [ir.Zero(v, off, n, loc=loc),
                ir.HelperInto(helper, [ir.AddrOf(PtrT(t, "stack"), v, off, loc=loc),
                                       ir.Const(U64, n, loc=loc), addr], loc=loc)]

    return ir.Agg(t, var, fill(var, 0), fill=fill if fill_in_place else None, loc=loc)


def stack_id(stacks: ir.MapRef, user: bool, loc: Loc) -> ir.Expr:
    """bpf_get_stackid(ctx, stacks, flags): the id of the kernel (or user) stack in the
    stack-trace map, negative when it could not be taken."""
    return ir.Call(S64, "bpf_get_stackid",
                   [ir.CtxPtr(PtrT(None, "ctx"), loc=loc), ir.MapPtr(U64, stacks, loc=loc),
                    ir.Const(U64, BPF_F_USER_STACK if user else 0, loc=loc)], loc=loc)


# -- the context of kprobes, uprobes and perf events -----------------------------------------
def register(name: str, loc: Loc, t: Type = U64, base: int = 0) -> ir.CtxLoad:
    """A register saved in the pt_regs context (`base`: where pt_regs starts in it)."""
    return ir.CtxLoad(t, base + PT_REGS[name], 8, loc=loc)


def argument(i: int, loc: Loc, t: Type = U64, base: int = 0, space: str = "kernel"
             ) -> ir.Expr:
    """Argument i of the probed function: a register for the first six, then the caller's
    stack (the return address is at sp, argument 6 at sp + 8), read from `space`: "user"
    for uprobes, whose stack is the process's."""
    if i < len(ARG_REGS):
        return register(ARG_REGS[i], loc, t, base)
    sp = register("sp", loc, U64, base)
    addr = ir.BinOp(U64, "add", sp, ir.Const(U64, 8 * (i - len(ARG_REGS) + 1)), loc=loc)
    return ir.ProbeRead(t, addr, space, loc=loc)


def return_value(loc: Loc, t: Type = U64, base: int = 0) -> ir.CtxLoad:
    return register("ax", loc, t, base)


# -- histogram buckets ------------------------------------------------------------------------
def log2_bucket(value: ir.Var, bucket: ir.Var, signed: bool, loc: Loc) -> list[ir.Stmt]:
    """Statements that set `bucket` (u64) to the log2 bucket of `value` (a variable they
    change). Unsigned: 0 holds 0, bucket k >= 1 holds [2^(k-1), 2^k). Signed (bpftrace's
    hist()): 0 holds the negatives, then the same buckets one higher (1 holds 0). A binary
    search over the bit length: six compares, no loop."""
    t = value.type

    def v() -> ir.Expr:
        return ir.Load(t, value, loc=loc)

    def b() -> ir.Expr:
        return ir.Load(U64, bucket, loc=loc)

    steps: list[ir.Stmt] = [ir.Assign(bucket, ir.Const(U64, 2 if signed else 1), loc=loc)]
    for shift in (32, 16, 8, 4, 2):
        big = ir.Compare(LIT, "ge", v(), ir.Const(t, 1 << shift), signed, loc=loc)
        steps.append(ir.If(big, [
            ir.Assign(value, ir.BinOp(t, "shr", v(), ir.Const(t, shift), loc=loc), loc=loc),
            ir.Assign(bucket, ir.BinOp(U64, "add", b(), ir.Const(U64, shift), loc=loc),
                      loc=loc)], [], loc=loc))
    steps.append(ir.If(ir.Compare(LIT, "ge", v(), ir.Const(t, 2), signed, loc=loc), [
        ir.Assign(bucket, ir.BinOp(U64, "add", b(), ir.Const(U64, 1), loc=loc), loc=loc)],
        [], loc=loc))
    zero = ir.Compare(LIT, "eq", v(), ir.Const(t, 0), signed, loc=loc)
    if not signed:
        return [ir.If(zero, [ir.Assign(bucket, ir.Const(U64, 0), loc=loc)], steps, loc=loc)]
    negative = ir.Compare(LIT, "lt", v(), ir.Const(t, 0), True, loc=loc)
    return [ir.If(negative, [ir.Assign(bucket, ir.Const(U64, 0), loc=loc)],
                  [ir.If(zero, [ir.Assign(bucket, ir.Const(U64, 1), loc=loc)], steps,
                         loc=loc)], loc=loc)]


def linear_bucket(value: ir.Expr, bucket: ir.Var, lo: ir.Expr, hi: ir.Expr, step: ir.Expr,
                  signed: bool, loc: Loc) -> list[ir.Stmt]:
    """Statements that set `bucket` (u64) to the linear bucket of `value` (of lo..hi, all of
    the value's type): 0 below lo, 1 + (value - lo) // step inside [lo, hi), and the last,
    (hi - lo) // step + 1, at or above hi. `value`, `lo`, `hi` and `step` are read more than
    once: pass constants or loads of variables."""
    t = value.type

    def index(of: ir.Expr) -> ir.Expr:
        diff: ir.Expr = ir.BinOp(t, "sub", of, lo, loc=loc)
        if signed:
            diff = ir.Cast(U64, diff, loc=loc)
        quotient = ir.BinOp(U64, "div", diff, _as_u64(step, loc), loc=loc)
        return ir.BinOp(U64, "add", quotient, ir.Const(U64, 1), loc=loc)

    last = index(hi)
    if all(isinstance(x, ir.Const) for x in (lo, hi, step)):  # the usual case: known now
        last = ir.Const(U64, (hi.value - lo.value) // step.value + 1)  # type: ignore[attr-defined]
    return [ir.If(ir.Compare(LIT, "lt", value, lo, signed, loc=loc),
                  [ir.Assign(bucket, ir.Const(U64, 0), loc=loc)],
                  [ir.If(ir.Compare(LIT, "ge", value, hi, signed, loc=loc),
                         [ir.Assign(bucket, last, loc=loc)],
                         [ir.Assign(bucket, index(value), loc=loc)], loc=loc)], loc=loc)]


def _as_u64(e: ir.Expr, loc: Loc) -> ir.Expr:
    if isinstance(e, ir.Const):
        return ir.Const(U64, e.value, loc=e.loc)
    return e if e.type == U64 else ir.Cast(U64, e, loc=loc)


__all__ = ["ARG_REGS", "COMM_LEN", "ONELINER_SCALARS", "PT_REGS", "SCALARS", "argument", "call", "comm",
           "current_task", "linear_bucket", "log2_bucket", "read_string", "register",
           "return_value", "stack_id"]
