"""The builtin functions of compiled Python: helpers (pid(), comm(), ...), str(), cast(),
min/max/abs, submit(), printk() and the histogram buckets. Each is a lowering registered in
`registry`; what a helper does in the kernel is built by `compiler.intrinsics`."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from pybpf.compiler import intrinsics, ir
from pybpf.compiler.irtypes import (
    INTS,
    LIT,
    S64,
    U64,
    ArrayT,
    IntT,
    LitT,
    PtrT,
    StructT,
    Type,
    common,
    str_type,
)
from pybpf.compiler.pyfront.contexts import BTFRef
from pybpf.compiler.pyfront.registry import builtin

if TYPE_CHECKING:
    from pybpf.compiler.pyfront.lower import Lowerer


def _register_scalar(name: str, scalar: intrinsics.Scalar) -> None:
    def lower(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
        return scalar.build(lw.loc(node))

    lower.__doc__ = scalar.doc
    builtin(name)(lower)


for _name, _scalar in intrinsics.SCALARS.items():
    _register_scalar(_name, _scalar)


@builtin("current_task")
def _task(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    from pybpf.btf import kernel_btf

    task = kernel_btf().struct("task_struct")
    return intrinsics.current_task(lw.loc(node), PtrT(BTFRef(task), "kernel"))


@builtin("comm")
def _comm(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    return intrinsics.comm(lw.temp(str_type(intrinsics.COMM_LEN), node, "comm"), lw.loc(node),
                           lw.target)


def _stack(lw: Lowerer, node: ast.Call, user: bool) -> ir.Expr:
    from pybpf.maps import StackTrace

    objects = lw.objects
    if objects.stacks is None:
        objects.stacks = StackTrace(max_entries=10240, name="stacks")
    return intrinsics.stack_id(lw.map_of(objects.stacks, "stacks"), user, lw.loc(node))


@builtin("kstack")
def _kstack(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    return _stack(lw, node, user=False)


@builtin("ustack")
def _ustack(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    return _stack(lw, node, user=True)


@builtin("str", (1, 2))
def _str(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    ptr = args[0]
    n = 64
    if len(args) == 2:
        if not isinstance(args[1], ir.Const) or not 1 <= args[1].value <= 256:
            lw.error(node.args[1], "str(ptr, n): n must be a constant between 1 and 256")
        n = args[1].value
    if isinstance(ptr.type, ArrayT) and ptr.type.is_str:
        return lw.materialize(ptr, node)
    if not isinstance(ptr.type, PtrT | IntT):
        lw.error(node.args[0], f"str() reads a string from a pointer, not from {ptr.type}")
    space = ptr.type.space if isinstance(ptr.type, PtrT) and ptr.type.space in (
        "user", "kernel") else "kernel"
    return lw.read_string(ptr, space, n, node)


def _str_from(lw: Lowerer, node: ast.Call, args: list[ir.Expr], space: str) -> ir.Expr:
    n = 64
    if len(args) == 2:
        if not isinstance(args[1], ir.Const) or not 1 <= args[1].value <= 256:
            lw.error(node.args[1], "the length must be a constant between 1 and 256")
        n = args[1].value
    t = args[0].type
    if not isinstance(t, PtrT | IntT):
        lw.error(node.args[0], f"a string is read from an address, not from {t}")
    known = {"btf": "kernel"}.get(t.space, t.space) if isinstance(t, PtrT) else ""
    if known in ("user", "kernel") and known != space:  # it would read '' every time
        fn = "user_str" if space == "user" else "kernel_str"
        lw.error(node.args[0], f"{fn}() of a {known} pointer: it points into {known} memory",
                 f"Use str(p) (it reads from where p points) or "
                 f"{'kernel_str' if known == 'kernel' else 'user_str'}(p).")
    return lw.read_string(args[0], space, n, node)


@builtin("user_str", (1, 2))
def _user_str(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    """A NUL-terminated string at a user-space address."""
    return _str_from(lw, node, args, "user")


@builtin("kernel_str", (1, 2))
def _kernel_str(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    return _str_from(lw, node, args, "kernel")


@builtin("cast", 2)
def _cast(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    """cast(ptr, "struct tcp_sock"): the same address as a pointer to another kernel type."""
    spec = node.args[1]
    if not (isinstance(spec, ast.Constant) and isinstance(spec.value, str)):
        lw.error(spec, 'cast() takes the type as a string, e.g. "struct tcp_sock"')
    ptr = args[0]
    if not isinstance(ptr.type, PtrT | IntT):
        lw.error(node.args[0], f"cast() takes a pointer or an address, not {ptr.type}")
    name = spec.value.replace("*", "").strip()
    from pybpf.btf import BTFError, kernel_btf

    try:
        kind = "union" if name.startswith("union ") else "struct"
        t = kernel_btf().find(name.removeprefix("struct ").removeprefix("union ").strip(),
                              kind=kind)
    except (BTFError, KeyError) as e:
        lw.error(spec, str(e).splitlines()[0])
    space = ptr.type.space if isinstance(ptr.type, PtrT) and ptr.type.space in (
        "kernel", "user", "btf") else "kernel"
    target = PtrT(BTFRef(t), space)
    return ir.Cast(target, ptr, loc=lw.loc(node)) if isinstance(ptr.type, IntT) else \
        _retyped(ptr, target)


def _retyped(e: ir.Expr, t: Type) -> ir.Expr:
    from pybpf.compiler.pyfront.exprs import _retype

    return _retype(e, t)


@builtin("min", 2)
def _min(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    return _minmax(lw, node, args, "lt")


@builtin("max", 2)
def _max(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    return _minmax(lw, node, args, "gt")


def _minmax(lw: Lowerer, node: ast.Call, args: list[ir.Expr], op: str) -> ir.Expr:
    a, b = args
    if not isinstance(a.type, IntT) or not isinstance(b.type, IntT):
        lw.error(node, "min()/max() take integers")
    if _untyped_constant(a) and _untyped_constant(b):
        # min(3, 9): computed now, as the code below would at run time (an s64, as .py()
        # types it: an untyped result would take the other operand's type in a comparison)
        s64 = INTS["s64"]
        wa, wb = s64.wrap(a.value), s64.wrap(b.value)  # type: ignore[attr-defined]
        return ir.Const(s64, min(wa, wb) if op == "lt" else max(wa, wb), loc=lw.loc(node))
    t = common(a.type, b.type)
    if isinstance(t, LitT):
        t = INTS["s64"]
    loc = lw.loc(node)
    ca, cb = lw.convert(a, t, node), lw.convert(b, t, node)
    if _pure(ca) and _pure(cb):  # reading twice costs nothing and changes nothing
        return ir.Cond(t, ir.Compare(LIT, op, ca, cb, t.signed, loc=loc), ca, cb, loc=loc)
    # evaluate each argument once, in order, where the call stands
    va, vb, res = lw.temp(t, node, "a"), lw.temp(t, node, "b"), lw.temp(t, node, "min")
    la, lb = ir.Load(t, va, loc=loc), ir.Load(t, vb, loc=loc)
    body: list[ir.Stmt] = [
        ir.Assign(va, lw.convert(a, t, node), loc=loc),
        ir.Assign(vb, lw.convert(b, t, node), loc=loc),
        ir.Assign(res, ir.Cond(t, ir.Compare(LIT, op, la, lb, t.signed, loc=loc), la, lb,
                               loc=loc), loc=loc)]
    return ir.Inline(t, body, res, loc=loc)


@builtin("abs", 1)
def _abs(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    (a,) = args
    if not isinstance(a.type, IntT):
        lw.error(node, "abs() takes an integer")
    if _untyped_constant(a):  # abs(-4): computed now, an s64 as at run time
        s64 = INTS["s64"]
        w = s64.wrap(a.value)  # type: ignore[attr-defined]
        return ir.Const(s64, s64.wrap(-w) if w < 0 else w, loc=lw.loc(node))
    t = a.type if not isinstance(a.type, LitT) else INTS["s64"]
    loc = lw.loc(node)
    ca = lw.convert(a, t, node)
    if not t.signed:  # the absolute value of an unsigned number is itself
        return ca
    if _pure(ca):
        return ir.Cond(t, ir.Compare(LIT, "lt", ca, ir.Const(t, 0), True, loc=loc),
                       ir.UnOp(t, "neg", ca, loc=loc), ca, loc=loc)
    v, res = lw.temp(t, node, "abs"), lw.temp(t, node, "absr")
    lv = ir.Load(t, v, loc=loc)
    body: list[ir.Stmt] = [
        ir.Assign(v, lw.convert(a, t, node), loc=loc),
        ir.Assign(res, ir.Cond(t, ir.Compare(LIT, "lt", lv, ir.Const(t, 0), True, loc=loc),
                               ir.UnOp(t, "neg", lv, loc=loc), lv, loc=loc), loc=loc)]
    return ir.Inline(t, body, res, loc=loc)


def _untyped_constant(e: ir.Expr) -> bool:
    return isinstance(e, ir.Const) and isinstance(e.type, LitT)


def _pure(e: ir.Expr) -> bool:
    """Expressions that may be evaluated twice: no effects, cheap."""
    if isinstance(e, ir.Cast):
        return _pure(e.operand)
    return isinstance(e, ir.Const | ir.Load)


@builtin("submit", 1)
def _submit(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    (ev,) = args
    if not isinstance(ev, ir.VarRef | ir.Agg) or not isinstance(ev.type, StructT | ArrayT):
        lw.error(node, "submit() sends a struct variable (an instance of a bpf.Struct)")
    objects = lw.objects
    if objects.events is None:
        from pybpf.maps import RingBuf

        objects.events = RingBuf(256 * 1024, name="events")
        objects.event_type = ev.type
    elif objects.event_type != ev.type:
        lw.error(node, "every submit() of a program must send the same struct type")
    return ring_output(lw, node, lw.map_of(objects.events, "events"), ev)


def ring_output(lw: Lowerer, node: ast.Call, ring: ir.MapRef, ev: ir.Expr) -> ir.Expr:
    """Send the struct `ev` to ring buffer `ring`: 0, or a negative errno (the ring was
    full: the record is counted as lost)."""
    assert isinstance(ev, ir.VarRef | ir.Agg)
    result = lw.temp(S64, node, "submitted")
    stmts: list[ir.Stmt] = list(ev.init) if isinstance(ev, ir.Agg) else []
    stmts.append(ir.RingOutput(ring, ev.var, result, loc=lw.loc(node)))
    return ir.Inline(S64, stmts, result, loc=lw.loc(node))


@builtin("printk", (1, 4))
def _printk(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    fmt = node.args[0]
    if not (isinstance(fmt, ast.Constant) and isinstance(fmt.value, str)):
        lw.error(fmt, "printk()'s format must be a string constant")
    text = args[0]
    assert isinstance(text, ir.Agg)
    values = [lw.convert(a, U64, n) if isinstance(a.type, IntT | PtrT) else
              lw.error(n, "printk() prints integers") for a, n in zip(args[1:], node.args[1:],
                                                                     strict=True)]
    loc = lw.loc(node)
    result = lw.temp(INTS["s64"], node, "printed")
    call = ir.Call(INTS["s64"], "bpf_trace_printk",
                   [ir.AddrOf(PtrT(text.type, "stack"), text.var, loc=loc),
                    ir.Const(U64, text.type.size, loc=loc), *values], loc=loc)
    return ir.Inline(INTS["s64"], [*text.init, ir.Assign(result, call, loc=loc)], result,
                     loc=loc)




@builtin("log2_bucket", 1)
def _log2_bucket(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    """0 for 0, else floor(log2(v)) + 1 (of the value as a u64)."""
    loc = lw.loc(node)
    value, bucket = lw.temp(U64, node, "lv"), lw.temp(U64, node, "bucket")
    body: list[ir.Stmt] = [ir.Assign(value, lw.convert(args[0], U64, node), loc=loc),
                           *intrinsics.log2_bucket(value, bucket, False, loc)]
    return ir.Inline(U64, body, bucket, loc=loc)


@builtin("linear_bucket", 4)
def _linear_bucket(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    """0 below lo, 1 + (v - lo) // step inside [lo, hi), the last bucket at or above hi
    (all as u64)."""
    loc = lw.loc(node)
    parts: list[ir.Expr] = []
    body: list[ir.Stmt] = []
    for a, n in zip(args, node.args, strict=True):  # each read once, where the call stands
        a = lw.convert(a, U64, n)
        if not isinstance(a, ir.Const):
            var = lw.temp(U64, n, "lb")
            body.append(ir.Assign(var, a, loc=loc))
            a = ir.Load(U64, var, loc=loc)
        parts.append(a)
    value, lo, hi, step = parts
    bucket = lw.temp(U64, node, "bucket")
    body += intrinsics.linear_bucket(value, bucket, lo, hi, step, False, loc)
    return ir.Inline(U64, body, bucket, loc=loc)
