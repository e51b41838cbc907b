"""Operators of one-liners, lowered to IR (a mixin of the ProbeLowerer): arithmetic and
comparisons with bpftrace's typing, string equality, truth values, ++/--, ?:, casts and
tuples."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pybpf.compiler import ir
from pybpf.compiler.errors import Loc
from pybpf.compiler.irtypes import LIT, S64, U8, U64, IntT, PtrT, common
from pybpf.lang import ast
from pybpf.lang.types import INT64, LT, UINT64, string, tuple_ir, tuple_layout

if TYPE_CHECKING:
    from pybpf.lang.lower import TV, ProbeLowerer

CASTS = {"int8": (8, True), "int16": (16, True), "int32": (32, True), "int64": (64, True),
         "uint8": (8, False), "uint16": (16, False), "uint32": (32, False),
         "uint64": (64, False), "s8": (8, True), "s16": (16, True), "s32": (32, True),
         "s64": (64, True), "u8": (8, False), "u16": (16, False), "u32": (32, False),
         "u64": (64, False), "char": (8, True), "int": (32, True), "short": (16, True),
         "long": (64, True), "bool": (8, False), "unsigned int": (32, False),
         "unsigned": (32, False), "unsigned long": (64, False), "unsigned char": (8, False),
         "unsigned short": (16, False)}
BINOPS = {"+": "add", "-": "sub", "*": "mul", "/": "div", "%": "mod", "&": "and", "|": "or",
          "^": "xor", "<<": "shl", ">>": "shr"}
CMPS = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}


class OperatorLowering:
    def binary(self: ProbeLowerer, e: ast.Binary) -> TV:
        op, loc = e.op, e.loc
        if op in ("&&", "||"):
            left, right = self.truth(e.left), self.truth(e.right)
            return ir.Logic(LIT, "and" if op == "&&" else "or", left, right, loc=loc), INT64
        lv, llt = self.expr(e.left)
        rv, rlt = self.expr(e.right)
        if op in ("==", "!=") and llt.kind == "str" and rlt.kind == "str":
            return self.str_equal(lv, llt, rv, rlt, op == "!=", loc), INT64
        if op in ("==", "!=") and llt.kind == "buf" and rlt.kind == "buf":
            # the length byte and the bytes (zeros past the length): bufs of different
            # capacities are equal when their lengths and contents are
            return self.str_equal(lv, LT("str", size=llt.size + 1), rv,
                                  LT("str", size=rlt.size + 1), op == "!=", loc), INT64
        for lt in (llt, rlt):
            if not lt.is_int:
                raise self.error(e, f"type mismatch for '{op}': {llt} and {rlt}")
        lt_ir = lv.type if isinstance(lv.type, IntT) else U64
        rt_ir = rv.type if isinstance(rv.type, IntT) else U64
        t = common(lt_ir, rt_ir)
        if op in CMPS:
            signed = t.signed and not (isinstance(t, type(LIT)) and False)
            return ir.Compare(LIT, CMPS[op], lv, rv, signed, loc=loc), INT64
        if isinstance(lv, ir.Const) and isinstance(rv, ir.Const) and t == LIT:
            return ir.BinOp(S64, BINOPS[op], ir.Const(S64, lv.value), ir.Const(S64, rv.value),
                            loc=loc), INT64
        if op in ("+", "-") and llt.kind == "ptr" and llt.target is not None \
                and rlt.kind == "int":  # typed pointer arithmetic counts elements, as in C
            from pybpf.lang import kstructs

            rv = kstructs.scaled(self, llt, rv, loc)
            return ir.BinOp(U64, BINOPS[op], self._as(lv, U64), self._as(rv, U64),
                            loc=loc), llt
        rt = S64 if t == LIT else t
        res = LT("int", rt.bits, rt.signed)
        return ir.BinOp(rt, BINOPS[op], self._as(lv, rt), self._as(rv, rt), loc=loc), res

    def _as(self: ProbeLowerer, v: ir.Expr, t: IntT) -> ir.Expr:
        if isinstance(v, ir.Const):
            return ir.Const(t, v.value, loc=v.loc)
        if v.type == t:
            return v
        return ir.Cast(t, v, loc=v.loc)

    def str_equal(self: ProbeLowerer, a: ir.Expr, alt: LT, b: ir.Expr, blt: LT, negate: bool,
                  loc: Loc) -> ir.Expr:
        if is_str_literal(a) and not is_str_literal(b):
            a, alt, b, blt = b, blt, a, alt
        va = self.storage_var(a, loc)
        if isinstance(b, ir.Agg) and b.text is not None:
            data = b.text.encode() + b"\0"
            if len(data) > alt.size:
                data = data[:alt.size]
            checks = [ir.Compare(LIT, "eq", _byte(va, i, loc), ir.Const(U8, c), loc=loc)
                      for i, c in enumerate(data)]
        else:
            vb = self.storage_var(b, loc)
            n = min(alt.size, blt.size)
            checks = [ir.Compare(LIT, "eq", _byte(va, i, loc), _byte(vb, i, loc), loc=loc)
                      for i in range(n)]
        cond: ir.Expr = checks[0]
        for c in checks[1:]:
            cond = ir.Logic(LIT, "and", cond, c, loc=loc)
        return ir.Not(LIT, cond, loc=loc) if negate else cond

    def evaluated_once(self: ProbeLowerer, value: ir.Expr, loc: Loc) -> ir.Expr:
        """`value` computed now, as an expression that reads the result (for a statement
        that uses it several times, such as a map key)."""
        if isinstance(value, ir.Const | ir.Load | ir.VarRef):
            return value
        if value.type.is_scalar:
            tmp = self.temp(value.type, loc, "once")
            self.emit(ir.Assign(tmp, value, loc=loc))
            return ir.Load(tmp.type, tmp, loc=loc)
        var = self.storage_var(value, loc)
        return ir.VarRef(var.type, var, loc=loc)

    def storage_var(self: ProbeLowerer, value: ir.Expr, loc: Loc) -> ir.Var:
        """An aggregate value in a variable of its own (built now)."""
        if isinstance(value, ir.VarRef):
            return value.var
        if isinstance(value, ir.Agg):
            for x in value.init:
                self.emit(x)
            return value.var
        tmp = self.temp(value.type, loc, "agg")
        self.emit(ir.Assign(tmp, value, loc=loc))
        return tmp

    def truth(self: ProbeLowerer, e: ast.Expr) -> ir.Expr:
        value, lt = self.expr(e)
        if lt.kind == "str":
            var = self.storage_var(value, e.loc)
            return ir.Compare(LIT, "ne", _byte(var, 0, e.loc), ir.Const(U8, 0), loc=e.loc)
        if not lt.is_int:
            raise self.error(e, f"a condition must be an integer, not {lt}")
        return value

    def unary(self: ProbeLowerer, e: ast.Unary) -> TV:
        loc = e.loc
        if e.op == "!":
            return ir.Not(LIT, self.truth(e.operand), loc=loc), INT64
        if e.op == "&":
            raise self.error(e, "the address-of operator (&) is not supported")
        value, lt = self.int_operand(e.operand, f"unary '{e.op}'")
        t = value.type if isinstance(value.type, IntT) and value.type != LIT else S64
        if e.op == "+":
            return value, lt
        if e.op == "*" and lt.kind == "ptr" and lt.target is not None:
            from pybpf.lang import kstructs

            return kstructs.element(self, e, value, lt, None)
        if e.op == "*":
            return ir.ProbeRead(U64, self._as(value, U64), "kernel", loc=loc), UINT64
        op = "neg" if e.op == "-" else "invert"
        assert isinstance(t, IntT)
        return ir.UnOp(t, op, self._as(value, t), loc=loc), LT("int", t.bits, t.signed)

    def incdec(self: ProbeLowerer, e: ast.IncDec, want_value: bool) -> TV:
        delta = 1 if e.op == "++" else -1
        loc = e.loc
        if isinstance(e.target, ast.Var):
            if e.target.name not in self.vars:
                raise self.error(e.target, f"undefined variable: ${e.target.name}")
            var, lt = self.vars[e.target.name]
            if not lt.is_int:
                raise self.error(e, f"{e.op} needs an integer variable, not {lt}")
            t = var.type
            old = self.temp(t, loc, "old")
            self.emit(ir.Assign(old, ir.Load(t, var, loc=loc), loc=loc))
            self.emit(ir.Assign(var, ir.BinOp(t, "add", ir.Load(t, var, loc=loc),
                                              ir.Const(t, delta), loc=loc), loc=loc))
            return (ir.Load(t, var if e.prefix else old, loc=loc), lt)
        assert isinstance(e.target, ast.Map)
        info = self.syms.map(e.target.name)
        if info.kind not in ("value", "count", "sum"):
            raise self.error(e, f"{e.op} on {info.display}, which holds {info.kind}() values")
        if info.kind == "value":
            self.syms.use_value(info, "value", INT64, loc)
        if info.value is not None and info.value.kind == "ptr":  # @p++: the next element
            target = info.value.target
            delta *= max(1, getattr(target, "size", 0) or 0)
        key = self.map_key(e.target, info)
        self.emit(ir.MapAdd(self.ref(info), key, ir.Const(S64, delta), loc=loc))
        if not want_value:
            return ir.Const(LIT, 0), INT64
        value, lt = self.map_read(e.target)
        if not e.prefix:
            t = value.type if isinstance(value.type, IntT) else S64
            value = ir.BinOp(t, "sub", value, ir.Const(t, delta), loc=loc)
        return value, lt

    def ternary(self: ProbeLowerer, e: ast.Ternary) -> TV:
        cond = self.truth(e.cond)
        saved, self.out = self.out, []
        a, alt = self.expr(e.then)
        pre_a, self.out = self.out, []
        b, blt = self.expr(e.other)
        pre_b, self.out = self.out, saved
        if alt.is_int and blt.is_int:
            if not pre_a and not pre_b:
                ta = a.type if isinstance(a.type, IntT) else U64
                tb = b.type if isinstance(b.type, IntT) else U64
                t = common(ta, tb)
                t = S64 if t == LIT else t
                return (ir.Cond(t, cond, self._as(a, t), self._as(b, t), loc=e.loc),
                        LT("int", t.bits, t.signed))
            want = LT("int", 64, alt.signed or blt.signed)
        elif alt.kind == blt.kind == "str":
            want = string(max(alt.size, blt.size))
        else:
            raise self.error(e, f"the branches of ?: have different types: {alt} and {blt}")
        tmp = self.temp(want.ir(), e.loc, "tern")
        saved, self.out = self.out, pre_a
        self.store_var(tmp, want, a, alt, e.loc)
        then_body, self.out = self.out, pre_b
        self.store_var(tmp, want, b, blt, e.loc)
        other_body, self.out = self.out, saved
        self.emit(ir.If(cond, then_body, other_body, loc=e.loc))
        if want.is_int:
            return ir.Load(tmp.type, tmp, loc=e.loc), want
        return ir.VarRef(tmp.type, tmp, loc=e.loc), want

    def cast(self: ProbeLowerer, e: ast.Cast) -> TV:
        value, lt = self.expr(e.operand)
        if e.type_name.endswith("*"):
            from pybpf.lang import kstructs

            if not lt.is_int:
                raise self.error(e, f"cannot cast {lt} to a pointer")
            target = kstructs.cast_target(self, e)
            space = lt.fmt or ("user" if self.probe.kind in ("uprobe", "uretprobe", "usdt")
                               else "kernel")
            return self._as(value, U64), (LT("ptr", 64, False) if target is None
                                          else kstructs.pointer(target, space))
        if e.type_name not in CASTS:
            raise self.error(e, f"unknown type {e.type_name!r} in cast")
        if not lt.is_int:
            raise self.error(e, f"cannot cast {lt} to {e.type_name}")
        bits, signed = CASTS[e.type_name]
        t = IntT(bits, signed)
        if isinstance(value, ir.Const):
            return ir.Const(t, t.wrap(value.value), loc=e.loc), LT("int", bits, signed)
        return ir.Cast(t, value, loc=e.loc), LT("int", bits, signed)

    def tuple(self: ProbeLowerer, e: ast.Tuple) -> TV:
        parts = [self.expr(i) for i in e.items]
        for (_, lt), node in zip(parts, e.items, strict=True):
            if lt.kind == "none":
                raise self.error(node, "this expression has no value to put in a tuple")
        lt = LT("tuple", items=tuple(p[1].widened() for p in parts))
        t = tuple_ir(lt.items)
        var = self.temp(t, e.loc, "tuple")
        saved, self.out = self.out, []
        self.emit(ir.Zero(var, loc=e.loc))
        for (value, have), w, off in zip(parts, lt.items, tuple_layout(lt.items), strict=True):
            self.place_into(var, off, w, value, have, e.loc)
        init, self.out = self.out, saved
        return ir.Agg(t, var, init, loc=e.loc), lt


def _byte(var: ir.Var, i: int, loc: Loc) -> ir.Expr:
    return ir.MemLoad(U8, ir.AddrOf(PtrT(U8, "stack"), var, 0, loc=loc), i, loc=loc)


def is_str_literal(e: ir.Expr) -> bool:
    return isinstance(e, ir.Agg) and e.text is not None
