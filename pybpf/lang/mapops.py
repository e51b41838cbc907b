"""Maps in one-liners, lowered to IR (a mixin of the ProbeLowerer): assignments to
@map[key] (aggregates, +=, plain values), reads, and the key of @map[k1, k2...] in the map's
settled layout (plus hidden parts such as a histogram's bucket)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pybpf.compiler import ir
from pybpf.compiler.errors import Loc
from pybpf.compiler.irtypes import LIT, S64, U64
from pybpf.lang import ast
from pybpf.lang.semantic import AGGREGATES, MapInfo
from pybpf.lang.types import INT64, LT, tuple_ir, tuple_layout

if TYPE_CHECKING:
    from pybpf.lang.lower import TV, ProbeLowerer


class MapLowering:
    def assign_map(self: ProbeLowerer, target: ast.Map, op: str, value_node: ast.Expr, loc: Loc) -> None:
        info = self.syms.map(target.name)
        if op == "=" and isinstance(value_node, ast.Call) and value_node.name in AGGREGATES:
            from pybpf.lang import calls

            calls.aggregate(self, target, info, value_node)
            return
        if op in ("+=", "-=") and info.kind in ("value", "count", "sum"):
            delta, dlt = self.expr(value_node)
            if not dlt.is_int:
                raise self.error(value_node, f"{op} needs an integer, not {dlt}")
            if self.syms.final and info.kind == "value" and info.value is not None \
                    and not info.value.is_int:
                raise self.error(loc, f"{op} on {info.display}, which holds {info.value}")
            self.syms.use_value(info, info.kind if info.kind != "value" else "value",
                                dlt if info.kind == "value" else None, loc)
            key = self.map_key(target, info)
            d = self.convert(delta, dlt, INT64)
            if info.value is not None and info.value.kind == "ptr":  # @p += 1: one element
                from pybpf.lang import kstructs

                d = kstructs.scaled(self, info.value, d, loc)
            if op == "-=":
                d = ir.UnOp(S64, "neg", d, loc=loc)
            self.emit(ir.MapAdd(self.ref(info), key, d, loc=loc))
            return
        if op != "=":
            value_node = ast.Binary(op[:-1], target, value_node, loc=value_node.loc)
        value, lt = self.expr(value_node)
        if lt.kind == "none":
            raise self.error(value_node, "this expression has no value to store in a map")
        # the value's kind first: a map that holds hist() has a hidden bucket key part
        self.syms.use_value(info, "value", lt, loc)
        key = self.map_key(target, info)
        self.map_store(info, key, value, lt, loc)

    def map_store(self: ProbeLowerer, info: MapInfo, key: ir.Expr, value: ir.Expr, lt: LT, loc: Loc) -> None:
        want = info.value_lt
        if want.ir().is_scalar:
            v = self.convert(value, lt, want)
        elif value.type != want.ir():
            tmp = self.temp(want.ir(), loc, "mv")
            self.emit(ir.Zero(tmp, loc=loc))
            self.place_into(tmp, 0, want, value, lt, loc)
            v = ir.VarRef(tmp.type, tmp, loc=loc)
        else:
            v = value
        self.emit(ir.MapUpdate(self.ref(info), key, v, loc=loc))

    def ref(self: ProbeLowerer, info: MapInfo) -> ir.MapRef:
        if info.ref is None:
            # a hash map (created when every probe is lowered): full, it refuses inserts
            info.ref = ir.MapRef(None, info.name, info.ir_key(), info.value_lt.ir(),
                                 counted=True)
        return self.use_map(info.ref)

    def map_key(self: ProbeLowerer, node: ast.Map, info: MapInfo, extra: list[TV] | None = None) -> ir.Expr:
        """The key expression of @m[k...] (plus hidden parts such as a histogram bucket)."""
        parts = [self.expr(k) for k in node.keys]
        for (_, lt), k in zip(parts, node.keys, strict=True):
            if lt.kind == "none":
                raise self.error(k, "this expression has no value to use as a map key")
        self.syms.use_keys(info, tuple(lt for _, lt in parts), node.loc)
        parts += extra or []
        loc = node.loc
        if not self.syms.final:
            return ir.Const(U64, 0, loc=loc)
        want = info.key_lt
        if want.kind != "tuple":
            if not parts:
                return ir.Const(U64, 0, loc=loc)
            (value, lt), = parts
            if want.ir().is_scalar:
                return self.convert(value, lt, want)
            if value.type == want.ir():
                return value
            tmp = self.temp(want.ir(), loc, "key")
            saved, self.out = self.out, []
            self.emit(ir.Zero(tmp, loc=loc))
            self.place_into(tmp, 0, want, value, lt, loc)
            init, self.out = self.out, saved
            return ir.Agg(tmp.type, tmp, init, loc=loc)
        if len(parts) != len(want.items):  # a histogram's hidden bucket part, used otherwise
            raise self.error(node, f"type mismatch for {info.display}: it holds "
                                   f"{info.kind}() values, used here as a plain map")
        t = tuple_ir(want.items)
        tmp = self.temp(t, loc, "key")
        saved, self.out = self.out, []
        self.emit(ir.Zero(tmp, loc=loc))
        for (value, lt), w, off in zip(parts, want.items, tuple_layout(want.items), strict=True):
            self.place_into(tmp, off, w, value, lt, loc)
        init, self.out = self.out, saved
        return ir.Agg(t, tmp, init, loc=loc)

    def map_read(self: ProbeLowerer, node: ast.Map) -> TV:
        info = self.syms.map(node.name)
        loc = node.loc
        if info.keys is None and info.value is None and info.kind == "value":
            if self.syms.final:
                raise self.error(node, f"undefined map: {info.display}",
                                 "Maps are created by assigning to them: @x = 1, @x = count().")
            return ir.Const(LIT, 0, loc=loc), INT64
        if info.kind in ("hist", "lhist", "stats"):
            raise self.error(node, f"{info.display} holds {info.kind}() values, which can only "
                                   "be printed")
        key = self.map_key(node, info)
        if not self.syms.final:
            return ir.Const(LIT, 0, loc=loc), info.value_lt if info.kind != "avg" else INT64
        m = self.ref(info)
        if info.kind == "avg":
            total = ir.MapGet(S64, m, key, ir.Const(S64, 0), 8, loc=loc)
            count = ir.MapGet(U64, m, key, ir.Const(U64, 1), 0, loc=loc)
            return ir.BinOp(S64, "div", total, ir.Cast(S64, count, loc=loc), loc=loc), INT64
        lt = info.value_lt
        if lt.is_int:
            t = lt.ir()
            return ir.MapGet(t, m, key, ir.Const(t, 0), loc=loc), lt
        tmp = self.temp(lt.ir(), loc, "mval")
        self.emit(ir.MapCopy(m, key, tmp, loc=loc))
        return ir.VarRef(tmp.type, tmp, loc=loc), lt
