"""Calls in compiled Python: builtins (looked up in `registry`), casts (u32(x)), struct
constructors, map methods, and calls of other compiled functions (inlined)."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from pybpf.compiler import ir
from pybpf.compiler.irtypes import INTS, LIT, IntT, StructT, from_spec
from pybpf.compiler.pyfront import builtins as _builtins  # noqa: F401 - registers the helpers
from pybpf.compiler.pyfront import constcalls
from pybpf.compiler.pyfront import packets as _packets  # noqa: F401 - registers net.*
from pybpf.compiler.pyfront.builtins import ring_output
from pybpf.compiler.pyfront.registry import BUILTINS

if TYPE_CHECKING:
    from pybpf.compiler.pyfront.lower import Lowerer


def lower_call(lw: Lowerer, node: ast.Call) -> ir.Expr:
    if node.keywords and not _is_struct_call(lw, node):
        lw.error(node, "keyword arguments are only for struct constructors")
    func = node.func
    # methods: m.get(k, default), m.lookup / ev.field...
    if isinstance(func, ast.Attribute) and lw.is_map(func.value):
        return _map_method(lw, node, func)
    if isinstance(func, ast.Attribute) and func.attr == "startswith":
        return lw.string_startswith(node)
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
    if constcalls.is_constant_call(lw, node):  # ord("W"), len(b"abc"), int("ff", 16)
        return constcalls.lower_constant_call(lw, node)
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
    if name == "print" and isinstance(func, ast.Name):
        lw.error(node, "print() cannot run in the kernel",
                 "Use printk(\"fmt %d\", x) (read with `cat /sys/kernel/tracing/trace_pipe`), "
                 "or send a struct with submit(ev) and print it in Python.")
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
        return ring_output(lw, node, mref, ev)
    lw.error(node, f"maps have no method {func.attr!r} in compiled code",
             "Use m[k], m[k] = v, m[k] += v, del m[k], k in m, m.get(k, default).")


_PY_BUILTIN: dict[str, Any] = {}


def register_python_builtins() -> None:
    """Names that are Python builtins too (str, min, max, abs, int): resolved to ours."""
    import builtins as b

    for name in ("str", "min", "max", "abs"):
        _PY_BUILTIN[name] = getattr(b, name)


register_python_builtins()

