"""Calls in compiled code: helpers (pid(), comm(), ...), casts (u32(x)), map methods,
struct constructors, submit(), printk(), str(), min/max/abs, and inlined calls to other
compiled functions."""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pybpf.compiler import ir
from pybpf.compiler.irtypes import (
    INTS,
    LIT,
    U32,
    U64,
    ArrayT,
    IntT,
    LitT,
    PtrT,
    StructT,
    Type,
    common,
    from_spec,
    str_type,
)
from pybpf.compiler.pyfront.contexts import BTFRef

if TYPE_CHECKING:
    from pybpf.compiler.pyfront.lower import Lowerer

Builtin = Callable[["Lowerer", ast.Call, list[ir.Expr]], ir.Expr]
BUILTINS: dict[str, Builtin] = {}
BPF_F_USER_STACK = 1 << 8


def builtin(name: str, nargs: int | tuple[int, int] = 0) -> Callable[[Builtin], Builtin]:
    lo, hi = (nargs, nargs) if isinstance(nargs, int) else nargs

    def register(fn: Builtin) -> Builtin:
        def checked(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
            if not lo <= len(args) <= hi:
                want = str(lo) if lo == hi else f"{lo} to {hi}"
                lw.error(node, f"{name}() takes {want} argument{'s' if hi != 1 else ''}, "
                               f"got {len(args)}")
            return fn(lw, node, args)

        BUILTINS[name] = checked
        return checked

    return register


def _call(lw: Lowerer, node: ast.AST, helper: str, t: Type, *args: ir.Expr) -> ir.Call:
    return ir.Call(t, helper, list(args), loc=lw.loc(node))


def _shift(lw: Lowerer, node: ast.AST, e: ir.Expr, n: int, t: IntT) -> ir.Expr:
    return ir.Cast(t, ir.BinOp(U64, "shr", e, ir.Const(U64, n), loc=lw.loc(node)),
                   loc=lw.loc(node))


@builtin("pid")
def _pid(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    return _shift(lw, node, _call(lw, node, "bpf_get_current_pid_tgid", U64), 32, U32)


@builtin("tid")
def _tid(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    return ir.Cast(U32, _call(lw, node, "bpf_get_current_pid_tgid", U64), loc=lw.loc(node))


@builtin("uid")
def _uid(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    return ir.Cast(U32, _call(lw, node, "bpf_get_current_uid_gid", U64), loc=lw.loc(node))


@builtin("gid")
def _gid(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    return _shift(lw, node, _call(lw, node, "bpf_get_current_uid_gid", U64), 32, U32)


@builtin("ktime_ns")
def _ktime(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    return _call(lw, node, "bpf_ktime_get_ns", U64)


@builtin("cpu")
def _cpu(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    return _call(lw, node, "bpf_get_smp_processor_id", U32)


@builtin("cgroup_id")
def _cgroup(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    return _call(lw, node, "bpf_get_current_cgroup_id", U64)


@builtin("prandom")
def _rand(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    return _call(lw, node, "bpf_get_prandom_u32", U32)


@builtin("current_task")
def _task(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    from pybpf.btf import kernel_btf

    task = kernel_btf().struct("task_struct")
    return _call(lw, node, "bpf_get_current_task", PtrT(BTFRef(task), "kernel"))


@builtin("comm")
def _comm(lw: Lowerer, node: ast.Call, args: list[ir.Expr]) -> ir.Expr:
    t = str_type(16)
    var = lw.temp(t, node, "comm")
    loc = lw.loc(node)

    def fill(v: ir.Var, off: int) -> list[ir.Stmt]:
        return [ir.HelperInto("bpf_get_current_comm",
                              [ir.AddrOf(PtrT(t, "stack"), v, off, loc=loc),
                               ir.Const(U64, 16, loc=loc)], loc=loc)]

    return ir.Agg(t, var, fill(var, 0), fill=fill, loc=loc)


def _stack(lw: Lowerer, node: ast.Call, user: bool) -> ir.Expr:
    from pybpf.maps import StackTrace

    stacks = lw.extra.get("stacks")
    if stacks is None:
        stacks = lw.extra["stacks"] = StackTrace(max_entries=10240, name="stacks")
    mref = lw.map_of(stacks, "stacks")
    loc = lw.loc(node)
    return ir.Call(INTS["s64"], "bpf_get_stackid",
                   [ir.CtxPtr(PtrT(None, "ctx"), loc=loc),
                    ir.MapPtr(U64, mref, loc=loc),
                    ir.Const(U64, BPF_F_USER_STACK if user else 0, loc=loc)], loc=loc)


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
    if not isinstance(args[0].type, PtrT | IntT):
        lw.error(node.args[0], f"a string is read from an address, not from {args[0].type}")
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
    events = lw.extra.get("events")
    if events is None:
        from pybpf.maps import RingBuf

        events = lw.extra["events"] = RingBuf(256 * 1024, name="events")
        lw.extra["event_type"] = ev.type
    elif lw.extra.get("event_type") != ev.type:
        lw.error(node, "every submit() of a program must send the same struct type")
    mref = lw.map_of(events, "events")
    result = lw.temp(INTS["s64"], node, "submitted")
    stmts: list[ir.Stmt] = list(ev.init) if isinstance(ev, ir.Agg) else []
    stmts.append(ir.RingOutput(mref, ev.var, result, _lost_counter(lw), loc=lw.loc(node)))
    return ir.Inline(INTS["s64"], stmts, result, loc=lw.loc(node))


def _lost_counter(lw: Lowerer) -> ir.MapRef:
    """The program's count of events its ring buffers refused (full): `prog.lost_events()`."""
    lost = lw.extra.get("lost")
    if lost is None:
        from pybpf.maps import Array

        lost = lw.extra["lost"] = Array(value="u64", max_entries=1, name="lost")
    return lw.map_of(lost, "lost")


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


def lower_call(lw: Lowerer, node: ast.Call) -> ir.Expr:
    if node.keywords and not _is_struct_call(lw, node):
        lw.error(node, "keyword arguments are only for struct constructors")
    func = node.func
    # methods: m.get(k, default), m.lookup / ev.field...
    if isinstance(func, ast.Attribute) and lw.is_map(func.value):
        return _map_method(lw, node, func)
    if isinstance(func, ast.Name) and func.id in lw.vars:
        lw.error(node, f"{func.id!r} is a variable, not a function")
    target = lw.static_value(func)
    name = func.id if isinstance(func, ast.Name) else func.attr \
        if isinstance(func, ast.Attribute) else ""
    # helpers, by identity with pybpf's helper objects or by name
    helper_name = getattr(target, "__bpf_builtin__", None) or (
        name if isinstance(func, ast.Name) and name in BUILTINS and target is _PY_BUILTIN.get(
            name, target) else None)
    if helper_name is not None and helper_name in BUILTINS:
        # maps are passed by name (the builtin reads node.args itself)
        args = [ir.Const(LIT, 0) if lw.is_map(a) else _arg(lw, a) for a in node.args]
        return BUILTINS[helper_name](lw, node, args)
    # casts: u32(x), s8(x)
    if _is_int_type(target):
        t = from_spec(target)
        assert isinstance(t, IntT)
        if len(node.args) != 1:
            lw.error(node, f"{name}() takes one value")
        return lw.convert(lw.expr(node.args[0]), t, node)
    if target is int:
        if len(node.args) != 1:
            lw.error(node, "int() takes one value")
        return lw.convert(lw.expr(node.args[0]), INTS["s64"], node)
    if target is bool:
        return ir.Not(LIT, ir.Not(LIT, lw.expr(node.args[0]), loc=lw.loc(node)),
                      loc=lw.loc(node))
    if _is_struct_call(lw, node):
        return _construct(lw, node, target)
    compiled = getattr(target, "__bpf_inline__", None)
    if compiled is not None:
        from pybpf.compiler.pyfront.inline import inline_call

        return inline_call(lw, node, target)
    if callable(target) and getattr(target, "__module__", "").startswith("pybpf.compiler.lib"):
        lw.error(node, f"{name}() must be called with maps and values it can compile")
    lw.error(node, f"{ast.unparse(func)!r} cannot be called in a compiled program",
             "Call helpers (pid(), comm(), ktime_ns(), ...), casts (u32(x)), map methods, "
             "or functions decorated with @bpf.inline / @bpf.function.")


def _arg(lw: Lowerer, node: ast.expr) -> ir.Expr:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return lw.string_const(node.value, node)
    return lw.expr(node)


def _is_int_type(target: Any) -> bool:
    import ctypes

    return isinstance(target, type) and issubclass(target, ctypes._SimpleCData) and \
        target in {c for c in _int_ctypes()}


def _int_ctypes() -> set[Any]:
    from pybpf import types

    return {types.u8, types.u16, types.u32, types.u64, types.s8, types.s16, types.s32,
            types.s64}


def _is_struct_call(lw: Lowerer, node: ast.Call) -> bool:
    from pybpf.compiler.structs import Struct

    try:
        target = lw.static_value(node.func)
    except Exception:  # noqa: BLE001
        return False
    return isinstance(target, type) and issubclass(target, Struct)


def _construct(lw: Lowerer, node: ast.Call, cls: Any) -> ir.Expr:
    t = from_spec(cls)
    assert isinstance(t, StructT)
    var = lw.temp(t, node, cls.__name__)
    loc = lw.loc(node)
    init: list[ir.Stmt] = [ir.Zero(var, loc=loc)]
    if len(node.args) > len(t.fields):
        lw.error(node, f"{cls.__name__}() takes at most {len(t.fields)} field values, got "
                       f"{len(node.args)}")
    given = list(zip([f.name for f in t.fields], node.args, strict=False))
    given += [(k.arg, k.value) for k in node.keywords if k.arg]
    for fname, value_node in given:
        f = lw.struct_field(t, fname, value_node)
        v = lw.expr(value_node)
        v = lw.convert(v, f.type, value_node) if f.type.is_scalar else \
            lw.aggregate_as(v, f.type, value_node)
        init += lw.place(v, var, f.offset, f.type, value_node)
    return ir.Agg(t, var, init, loc=loc)


def _map_method(lw: Lowerer, node: ast.Call, func: ast.Attribute) -> ir.Expr:
    mref = lw.map_ref(func.value)
    loc = lw.loc(node)
    if func.attr == "get":
        if not 1 <= len(node.args) <= 2:
            lw.error(node, "m.get(key, default=0) takes one or two arguments")
        key = lw.map_key(mref, node.args[0])
        if not mref.value.is_scalar:
            lw.error(node, "m.get() reads integer values; read struct fields with m[k].field")
        default = lw.expr(node.args[1]) if len(node.args) == 2 else ir.Const(mref.value, 0)
        return ir.MapGet(mref.value, mref, key, lw.convert(default, mref.value, node), loc=loc)
    if func.attr in ("submit", "output") and mref.kind == "ringbuf":
        (ev_node,) = node.args
        ev = lw.expr(ev_node)
        if not isinstance(ev, ir.VarRef | ir.Agg):
            lw.error(node, "submit() sends a struct variable")
        result = lw.temp(INTS["s64"], node, "submitted")
        stmts: list[ir.Stmt] = list(ev.init) if isinstance(ev, ir.Agg) else []
        stmts.append(ir.RingOutput(mref, ev.var, result, _lost_counter(lw), loc=loc))
        return ir.Inline(INTS["s64"], stmts, result, loc=loc)
    lw.error(node, f"maps have no method {func.attr!r} in compiled code",
             "Use m[k], m[k] = v, m[k] += v, del m[k], k in m, m.get(k, default).")


_PY_BUILTIN: dict[str, Any] = {}


def register_python_builtins() -> None:
    """Names that are Python builtins too (str, min, max, abs, int): resolved to ours."""
    import builtins as b

    for name in ("str", "min", "max", "abs"):
        _PY_BUILTIN[name] = getattr(b, name)


register_python_builtins()


from pybpf.compiler.pyfront import packets as _packets  # noqa: E402,F401 - net.* builtins
