"""Python syntax -> IR: values that live in stack memory (a mixin of the Lowerer): string
constants, tuples, struct values, the keys and values of maps (converted to the map's
layout), and building them in place inside other aggregates."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from pybpf.compiler import intrinsics, ir
from pybpf.compiler.irtypes import (
    INTS,
    U64,
    ArrayT,
    FieldT,
    LitT,
    PtrT,
    StructT,
    Type,
    from_spec,
)

if TYPE_CHECKING:
    from pybpf.compiler.pyfront.lower import Lowerer


class AggregateLowering:
    def string_const(self: Lowerer, value: str | bytes, node: ast.AST,
                     size: int | None = None) -> ir.Expr:
        raw = value.encode() if isinstance(value, str) else value
        n = size if size is not None else len(raw) + 1
        if len(raw) > n:
            self.error(node, f"the string is longer than {n} bytes")
        t = ArrayT(INTS["s8"], n, is_str=True)
        var = self.temp(t, node, "str")
        init: list[ir.Stmt] = [ir.Zero(var, loc=self.loc(node))]
        for i in range(0, len(raw), 8):
            chunk = raw[i:i + 8]
            for width in (8, 4, 2, 1):
                while len(chunk) >= width:
                    part, chunk = chunk[:width], chunk[width:]
                    init.append(ir.Store(var, i + (len(raw[i:i + 8]) - len(chunk) - width),
                                         INTS[f"u{width * 8}"],
                                         ir.Const(INTS[f"u{width * 8}"],
                                                  int.from_bytes(part, "little")),
                                         loc=self.loc(node)))
        return ir.Agg(t, var, init, loc=self.loc(node))

    def e_Tuple(self: Lowerer, node: ast.Tuple) -> ir.Expr:
        """A tuple value: a C struct of its items (for map keys kept in a variable)."""
        values = [self.materialize(self.expr(elt), elt) for elt in node.elts]
        fields, offset, align = [], 0, 1
        for i, v in enumerate(values):
            t = v.type if not isinstance(v.type, LitT) else INTS["s64"]
            offset = (offset + t.align - 1) // t.align * t.align
            fields.append(FieldT(f"f{i}", t, offset))
            offset += t.size
            align = max(align, t.align)
        size = (offset + align - 1) // align * align
        st = StructT("tuple", tuple(fields), size, align)
        var = self.temp(st, node, "tuple")
        init: list[ir.Stmt] = [ir.Zero(var, loc=self.loc(node))]
        for f, v, elt in zip(fields, values, node.elts, strict=True):
            v = self.convert(v, f.type, elt) if f.type.is_scalar else v
            init += self.place(v, var, f.offset, f.type, elt)
        return ir.Agg(st, var, init, loc=self.loc(node))

    def is_map_value(self: Lowerer, value: Any) -> bool:
        from pybpf.maps import Map

        return isinstance(value, Map)

    def is_map(self: Lowerer, node: ast.expr) -> bool:
        if isinstance(node, ast.Name) and node.id in self.vars:
            return False
        if isinstance(node, ast.Name | ast.Attribute):
            try:
                return self.is_map_value(self.static_value(node))
            except Exception:  # noqa: BLE001 - not a compile-time name
                return False
        return False

    def map_ref(self: Lowerer, node: ast.expr) -> ir.MapRef:
        obj = self.static_value(node)
        return self.map_of(obj, ast.unparse(node))

    def map_of(self: Lowerer, obj: Any, name: str) -> ir.MapRef:
        from pybpf import maps

        ref = self.maps.get(id(obj))
        if ref is None:
            kind = obj.compiler_kind
            if kind in ("ringbuf", "perf_event_array"):
                key_t: Type = U64
                value_t: Type = U64
            elif isinstance(obj, maps.StackTrace):
                key_t, value_t = INTS["u32"], ArrayT(U64, obj.value_codec.size // 8)
            elif isinstance(obj, maps.LPMTrie):  # key: (prefix length, data)
                data_t = INTS["u32"] if obj.ip_version == 4 else from_spec(obj.data_codec)
                key_t = StructT("lpm_key", (FieldT("prefixlen", INTS["u32"], 0),
                                            FieldT("data", data_t, 4)),
                                4 + obj.data_codec.size, 4)
                value_t = from_spec(obj.value_codec)
            else:
                key_t, value_t = from_spec(obj.key_codec), from_spec(obj.value_codec)
            ref = ir.MapRef.of(obj, name, key_t, value_t)
            self.maps[id(obj)] = ref
        return ref

    def map_key(self: Lowerer, mref: ir.MapRef, node: ast.expr) -> ir.Expr:
        if isinstance(node, ast.Tuple) or isinstance(self.bound_tuple(node), TupleArg):
            return self.tuple_value(mref.key, node)
        return self.map_key_expr(mref, self.expr(node), node)

    def bound_tuple(self: Lowerer, node: ast.expr) -> TupleArg | None:
        if isinstance(node, ast.Name) and node.id not in self.vars:
            value = self.bound.get(node.id)
            if isinstance(value, TupleArg):
                return value
        return None

    def tuple_items(self: Lowerer, node: ast.expr) -> list[tuple[ir.Expr | None, ast.expr]]:
        """The elements of a tuple key, with tuples passed to inline functions spliced in:
        (value, node) pairs (value None: lower `node` here)."""
        bound = self.bound_tuple(node)
        if bound is not None:
            return [(e, node) for e in bound.items]
        if isinstance(node, ast.Tuple):
            out: list[tuple[ir.Expr | None, ast.expr]] = []
            for elt in node.elts:
                out += self.tuple_items(elt) if (isinstance(elt, ast.Tuple) or
                                                 self.bound_tuple(elt)) else [(None, elt)]
            return out
        return [(None, node)]

    def map_key_expr(self: Lowerer, mref: ir.MapRef, e: ir.Expr, node: ast.AST) -> ir.Expr:
        t = mref.key
        if t.is_scalar:
            return self.convert(e, t, node)
        return self.aggregate_as(e, t, node)

    def map_value(self: Lowerer, mref: ir.MapRef, e: ir.Expr, node: ast.AST) -> ir.Expr:
        t = mref.value
        if t.is_scalar:
            return self.convert(e, t, node)
        return self.aggregate_as(e, t, node)

    def materialize(self: Lowerer, e: ir.Expr, node: ast.AST) -> ir.Expr:
        """An aggregate that lives in the context (a tracepoint's char array) as a value."""
        if isinstance(e, ir.CtxArray):
            var = self.temp(e.type, node, "ctx")
            loc = self.loc(node)
            return ir.Agg(e.type, var, [ir.CtxCopy(var, e.offset, e.type.size, loc=loc)],
                          loc=loc)
        return e

    def aggregate_as(self: Lowerer, e: ir.Expr, t: Type, node: ast.AST) -> ir.Expr:
        """`e` as an aggregate of exactly type `t` (strings are copied into the bigger
        buffer, zero padded)."""
        e = self.materialize(e, node)
        if e.type == t:
            return e
        if isinstance(t, ArrayT) and t.is_str and isinstance(e.type, ArrayT) and e.type.is_str:
            if e.type.n > t.n:
                self.error(node, f"a {e.type} string does not fit in {t}")
            var = self.temp(t, node, "key")
            return ir.Agg(t, var, [ir.Zero(var, loc=self.loc(node)),
                                   *self.place(e, var, 0, e.type, node)], loc=self.loc(node))
        if isinstance(t, StructT) and isinstance(e.type, StructT) and \
                len(t.fields) == len(e.type.fields) and isinstance(e, ir.VarRef | ir.Agg):
            # a tuple value used as a key of another layout: converted field by field
            src = _storage_var(e)
            var = self.temp(t, node, "key")
            loc = self.loc(node)
            init: list[ir.Stmt] = [*(e.init if isinstance(e, ir.Agg) else []),
                                   ir.Zero(var, loc=loc)]
            for fd, fs in zip(t.fields, e.type.fields, strict=True):
                if fd.type.is_scalar and fs.type.is_scalar:
                    value = ir.MemLoad(fs.type, ir.AddrOf(PtrT(fs.type, "stack"), src, loc=loc),
                                       fs.offset, loc=loc)
                    init.append(ir.Store(var, fd.offset, fd.type,
                                         self.convert(value, fd.type, node), loc=loc))
                elif fd.type == fs.type or (isinstance(fd.type, ArrayT) and fd.type.is_str and
                                            isinstance(fs.type, ArrayT) and fs.type.is_str and
                                            fs.type.n <= fd.type.n):
                    init.append(ir.StackCopy(var, fd.offset, src, fs.offset, fs.type.size,
                                             loc=loc))
                else:
                    self.error(node, f"expected a {t} value, got {e.type}")
            return ir.Agg(t, var, init, loc=loc)
        from pybpf.compiler.pyfront.exprs import mismatch_hint

        self.error(node, f"expected a {t} value, got {e.type}", mismatch_hint(t, e.type))

    def tuple_value(self: Lowerer, t: Type, node: ast.expr) -> ir.Expr:
        items = self.tuple_items(node)
        if not isinstance(t, StructT) or len(t.fields) != len(items):
            self.error(node, f"this map's key is {t}, not a tuple of {len(items)}")
        var = self.temp(t, node, "tuple")
        init: list[ir.Stmt] = [ir.Zero(var, loc=self.loc(node))]
        for f, (value, elt) in zip(t.fields, items, strict=True):
            v = value if value is not None else self.expr(elt)
            v = self.convert(v, f.type, elt) if f.type.is_scalar else \
                self.aggregate_as(v, f.type, elt)
            init += self.place(v, var, f.offset, f.type, elt)
        return ir.Agg(t, var, init, loc=self.loc(node))

    def read_string(self: Lowerer, addr: ir.Expr, space: str, n: int,
                    node: ast.AST) -> ir.Expr:
        var = self.temp(ArrayT(INTS["s8"], n, is_str=True), node, "str")
        return intrinsics.read_string(var, self.convert(addr, U64, node), space, self.loc(node))

    def place(self: Lowerer, value: ir.Expr, var: ir.Var, offset: int, t: Type,
              node: ast.AST) -> list[ir.Stmt]:
        """Statements that store `value` (of type `t`) at `offset` inside aggregate `var`,
        building aggregates in place when they can."""
        if isinstance(value, ir.Agg) and value.fill is not None and value.type == t:
            return value.fill(var, offset)
        return [ir.Store(var, offset, t, value, loc=self.loc(node))]


class TupleArg:
    """A tuple passed to an inline function: its elements, already evaluated (in order)
    into variables. It can only be used inside a map key, where it is spliced in."""

    def __init__(self, items: list[ir.Expr]) -> None:
        self.items = items


def _storage_var(e: ir.Expr) -> ir.Var:
    assert isinstance(e, ir.VarRef | ir.Agg)
    return e.var
