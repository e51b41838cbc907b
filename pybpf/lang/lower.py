"""AST -> compiler IR, one probe at a time: scratch variables, maps, operators, control flow.
Builtins and functions are in `calls`; program-wide map types in `semantic`."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from pybpf.compiler import ir
from pybpf.compiler.errors import Loc
from pybpf.compiler.irtypes import LIT, S64, U8, U64, IntT, PtrT, Type, common, str_type
from pybpf.lang import ast
from pybpf.lang import probes as pr
from pybpf.lang.errors import LangError
from pybpf.lang.semantic import AGGREGATES, MapInfo, Symbols
from pybpf.lang.types import INT64, LT, UINT64, string, tuple_ir, tuple_layout

if TYPE_CHECKING:
    from pybpf.lang.compile import Compiler

TV = tuple[ir.Expr, LT]
BINOPS = {"+": "add", "-": "sub", "*": "mul", "/": "div", "%": "mod", "&": "and", "|": "or",
          "^": "xor", "<<": "shl", ">>": "shr"}
CMPS = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
CASTS = {"int8": (8, True), "int16": (16, True), "int32": (32, True), "int64": (64, True),
         "uint8": (8, False), "uint16": (16, False), "uint32": (32, False),
         "uint64": (64, False), "s8": (8, True), "s16": (16, True), "s32": (32, True),
         "s64": (64, True), "u8": (8, False), "u16": (16, False), "u32": (32, False),
         "u64": (64, False), "char": (8, True), "int": (32, True), "short": (16, True),
         "long": (64, True), "bool": (8, False), "unsigned int": (32, False),
         "unsigned": (32, False), "unsigned long": (64, False), "unsigned char": (8, False),
         "unsigned short": (16, False)}
WHILE_BOUND = 1000


class ProbeLowerer:
    def __init__(self, comp: Compiler, probe: pr.Probe, tree: ast.Probe) -> None:
        self.comp = comp
        self.syms: Symbols = comp.syms
        self.probe = probe
        self.tree = tree
        self.vars: dict[str, tuple[ir.Var, LT]] = {}
        self.out: list[ir.Stmt] = []
        self.counter = itertools.count()
        self.refs: dict[int, ir.MapRef] = {}
        self.fmt: Any = None
        if probe.kind == "tracepoint":
            self.fmt = comp.tracepoint_format(probe, tree.specs[0].loc)

    # -- plumbing --------------------------------------------------------------------------------
    def error(self, node: ast.Node | Loc, msg: str, hint: str = "") -> LangError:
        return LangError(msg, node if isinstance(node, Loc) else node.loc, hint)

    def temp(self, t: Type, loc: Loc, hint: str = "t") -> ir.Var:
        return ir.Var(f"__{hint}{next(self.counter)}", t, loc)

    def emit(self, s: ir.Stmt) -> None:
        self.out.append(s)

    def use_map(self, m: ir.MapRef) -> ir.MapRef:
        self.refs[id(m)] = m
        return m

    def lower(self) -> ir.Function:
        body = self.block(self.tree.body)
        if self.tree.pred is not None:
            saved, self.out = self.out, []
            cond = self.truth(self.tree.pred)
            body = [*self.out, ir.If(cond, body, [], loc=self.tree.pred.loc)]
            self.out = saved
        return ir.Function(self.probe.full_name, body, list(self.refs.values()), LIT,
                           source=self.comp.source, file=self.comp.file)

    def block(self, stmts: list[ast.Stmt]) -> list[ir.Stmt]:
        saved, self.out = self.out, []
        for s in stmts:
            self.stmt(s)
        out, self.out = self.out, saved
        return out

    # -- statements ------------------------------------------------------------------------------
    def stmt(self, s: ast.Stmt) -> None:
        loc = s.loc
        if isinstance(s, ast.ExprStmt):
            e = s.expr
            if isinstance(e, ast.IncDec):
                self.incdec(e, want_value=False)
                return
            if isinstance(e, ast.Call):
                from pybpf.lang import calls

                value = calls.call(self, e, statement=True)
                if value is not None and not isinstance(value[0], ir.Const) and \
                        not is_str_literal(value[0]):
                    self.emit(ir.ExprStmt(value[0], loc=loc))
                return
            value, _ = self.expr(e)
            self.emit(ir.ExprStmt(value, loc=loc))
        elif isinstance(s, ast.Assign):
            if isinstance(s.target, ast.Var):
                self.assign_var(s.target, s.op, s.value, loc)
            else:
                assert isinstance(s.target, ast.Map)
                self.assign_map(s.target, s.op, s.value, loc)
        elif isinstance(s, ast.If):
            cond = self.truth(s.cond)
            self.emit(ir.If(cond, self.block(s.then), self.block(s.other), loc=loc))
        elif isinstance(s, ast.Unroll):
            n = self.const_int(s.count, "unroll's count")
            if not 1 <= n <= 100:
                raise self.error(s.count, "unroll's count must be between 1 and 100")
            for _ in range(n):
                for x in self.block(s.body):
                    self.emit(x)
        elif isinstance(s, ast.While):
            saved, self.out = self.out, []
            cond = self.truth(s.cond)
            pre, self.out = self.out, saved
            if pre:
                raise self.error(s.cond, "this while condition is too complex: keep it to "
                                         "variables, constants and comparisons")
            counter = self.temp(S64, loc, "loop")
            self.emit(ir.Loop(counter, 0, WHILE_BOUND, 1, self.block(s.body), cond, loc=loc))
        elif isinstance(s, ast.Jump):
            if s.kind == "return":
                self.emit(ir.Return(None, loc=loc))
            else:
                self.emit(ir.Break(loc=loc) if s.kind == "break" else ir.Continue(loc=loc))
        else:  # pragma: no cover
            raise self.error(s, f"unsupported statement {type(s).__name__}")

    def assign_var(self, target: ast.Var, op: str, value_node: ast.Expr, loc: Loc) -> None:
        if op != "=":
            value_node = ast.Binary(op[:-1], target, value_node, loc=value_node.loc)
        value, lt = self.expr(value_node)
        if lt.kind == "none":
            raise self.error(value_node, "this expression has no value to assign")
        known = self.vars.get(target.name)
        if known is not None and not self.syms.final:
            self.comp.var_type(self.probe, target.name, lt)  # widen: "abc", then str(...)
        if known is None:
            want = self.comp.var_type(self.probe, target.name, lt)
            var = ir.Var(target.name, want.ir(), loc)
            self.vars[target.name] = (var, want)
            known = (var, want)
        var, want = known
        if want.kind != lt.kind and not (want.is_int and lt.is_int):
            raise self.error(value_node, f"type mismatch for ${target.name}: it holds {want}, "
                                         f"here {lt}")
        self.store_var(var, want, value, lt, loc)

    def store_var(self, var: ir.Var, want: LT, value: ir.Expr, lt: LT, loc: Loc) -> None:
        if want.ir().is_scalar:
            self.emit(ir.Assign(var, self.convert(value, lt, want), loc=loc))
        elif var.type == value.type:
            self.emit(ir.Assign(var, value, loc=loc))
        else:  # a smaller string or tuple into a bigger one
            self.emit(ir.Zero(var, loc=loc))
            self.place_into(var, 0, want, value, lt, loc)

    def place_into(self, var: ir.Var, off: int, want: LT, value: ir.Expr, lt: LT,
                   loc: Loc) -> None:
        """Store `value` (of type lt) at var+off as type `want` (wider ints, bigger strings)."""
        if want.ir().is_scalar:
            t = want.ir()
            self.emit(ir.Store(var, off, t, self.convert(value, lt, want), loc=loc))
            return
        if want.kind == "tuple" and value.type != want.ir():
            if not isinstance(value, ir.Agg | ir.VarRef):
                raise self.error(loc, "cannot convert this tuple")
            src = value.var
            if isinstance(value, ir.Agg):
                for x in value.init:
                    self.emit(x)
            for w, have, wo, ho in zip(want.items, lt.items, tuple_layout(want.items),
                                       tuple_layout(lt.items), strict=True):
                t = have.ir()
                if have.is_int:
                    part: ir.Expr = ir.MemLoad(t, ir.AddrOf(PtrT(t, "stack"), src, 0, loc=loc),
                                               ho, loc=loc)
                else:
                    part = ir.VarRef(t, src, ho, loc=loc)
                self.place_into(var, off + wo, w, part, have, loc)
            return
        if isinstance(value, ir.Agg) and value.fill is not None and value.type == want.ir():
            for x in value.fill(var, off):
                self.emit(x)
            return
        if isinstance(value, ir.VarRef) and value.offset:
            for x in copy_part(value, var, off):
                self.emit(x)
            return
        self.emit(ir.Store(var, off, value.type, value, loc=loc))

    def assign_map(self, target: ast.Map, op: str, value_node: ast.Expr, loc: Loc) -> None:
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

    def map_store(self, info: MapInfo, key: ir.Expr, value: ir.Expr, lt: LT, loc: Loc) -> None:
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

    # -- maps --------------------------------------------------------------------------------------
    def ref(self, info: MapInfo) -> ir.MapRef:
        if info.ref is None:
            # a hash map (created when every probe is lowered): full, it refuses inserts
            info.ref = ir.MapRef(None, info.name, info.ir_key(), info.value_lt.ir(),
                                 counted=True)
        return self.use_map(info.ref)

    def map_key(self, node: ast.Map, info: MapInfo, extra: list[TV] | None = None) -> ir.Expr:
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

    def map_read(self, node: ast.Map) -> TV:
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

    # -- expressions -------------------------------------------------------------------------------
    def expr(self, e: ast.Expr) -> TV:
        from pybpf.lang import calls

        loc = e.loc
        if isinstance(e, ast.Int):
            if e.value >= 2**63:
                return ir.Const(U64, e.value & (2**64 - 1), loc=loc), UINT64
            return ir.Const(LIT, e.value, loc=loc), INT64
        if isinstance(e, ast.Str):
            return self.str_lit(e.value, loc), string(len(e.value.encode()) + 1)
        if isinstance(e, ast.Var):
            if e.name not in self.vars:
                raise self.error(e, f"undefined variable: ${e.name}",
                                 "Assign it first in this probe: $x = ...")
            var, lt = self.vars[e.name]
            if lt.is_int:
                return ir.Load(var.type, var, loc=loc), lt
            return ir.VarRef(var.type, var, loc=loc), lt
        if isinstance(e, ast.Map):
            return self.map_read(e)
        if isinstance(e, ast.Param):
            return self.param(e)
        if isinstance(e, ast.Ident):
            return calls.builtin(self, e)
        if isinstance(e, ast.Call):
            value = calls.call(self, e, statement=False)
            if value is None:
                raise self.error(e, f"{e.name}() has no value")
            return value
        if isinstance(e, ast.Field):
            return calls.field(self, e)
        if isinstance(e, ast.Index):
            return calls.index(self, e)
        if isinstance(e, ast.Binary):
            return self.binary(e)
        if isinstance(e, ast.Unary):
            return self.unary(e)
        if isinstance(e, ast.IncDec):
            return self.incdec(e, want_value=True)
        if isinstance(e, ast.Ternary):
            return self.ternary(e)
        if isinstance(e, ast.Cast):
            return self.cast(e)
        if isinstance(e, ast.Tuple):
            return self.tuple(e)
        raise self.error(e, f"unsupported expression {type(e).__name__}")

    def str_lit(self, text: str, loc: Loc) -> ir.Expr:
        data = text.encode() + b"\0"
        t = str_type(len(data))
        var = self.temp(t, loc, "lit")

        def fill(v: ir.Var, off: int) -> list[ir.Stmt]:
            out: list[ir.Stmt] = []
            i = 0
            while i < len(data):
                w = 8
                while w > 1 and ((off + i) % w or i + w > len(data)):
                    w //= 2
                val = int.from_bytes(data[i:i + w], "little")
                out.append(ir.Store(v, off + i, IntT(w * 8, False), ir.Const(IntT(w * 8, False),
                                                                          val), loc=loc))
                i += w
            return out

        return ir.Agg(t, var, fill(var, 0), fill=fill, text=text, loc=loc)

    def param(self, e: ast.Param) -> TV:
        params = self.comp.params
        text = params[e.index - 1] if 0 < e.index <= len(params) else None
        if text is None:
            return ir.Const(LIT, 0, loc=e.loc), INT64
        try:
            return ir.Const(LIT, int(text, 0), loc=e.loc), INT64
        except ValueError:
            return self.str_lit(text, e.loc), string(len(text.encode()) + 1)

    def const_int(self, e: ast.Expr, what: str) -> int:
        if isinstance(e, ast.Int):
            return e.value
        if isinstance(e, ast.Param):
            value, _ = self.param(e)
            if isinstance(value, ir.Const):
                return value.value
        raise self.error(e, f"{what} must be an integer constant")

    def int_operand(self, e: ast.Expr, what: str) -> TV:
        value, lt = self.expr(e)
        if not lt.is_int:
            raise self.error(e, f"{what} needs integers, not {lt}")
        return value, lt

    def convert(self, value: ir.Expr, have: LT, want: LT) -> ir.Expr:
        if isinstance(value, ir.Const):
            return ir.Const(want.ir(), value.value, loc=value.loc)
        t = want.ir()
        if value.type == t:
            return value
        return ir.Cast(t, value, loc=value.loc)

    def binary(self, e: ast.Binary) -> TV:
        op, loc = e.op, e.loc
        if op in ("&&", "||"):
            left, right = self.truth(e.left), self.truth(e.right)
            return ir.Logic(LIT, "and" if op == "&&" else "or", left, right, loc=loc), INT64
        lv, llt = self.expr(e.left)
        rv, rlt = self.expr(e.right)
        if op in ("==", "!=") and llt.kind == "str" and rlt.kind == "str":
            return self.str_equal(lv, llt, rv, rlt, op == "!=", loc), INT64
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
        rt = S64 if t == LIT else t
        res = LT("int", rt.bits, rt.signed)
        return ir.BinOp(rt, BINOPS[op], self._as(lv, rt), self._as(rv, rt), loc=loc), res

    def _as(self, v: ir.Expr, t: IntT) -> ir.Expr:
        if isinstance(v, ir.Const):
            return ir.Const(t, v.value, loc=v.loc)
        if v.type == t:
            return v
        return ir.Cast(t, v, loc=v.loc)

    def str_equal(self, a: ir.Expr, alt: LT, b: ir.Expr, blt: LT, negate: bool,
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

    def storage_var(self, value: ir.Expr, loc: Loc) -> ir.Var:
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

    def truth(self, e: ast.Expr) -> ir.Expr:
        value, lt = self.expr(e)
        if lt.kind == "str":
            var = self.storage_var(value, e.loc)
            return ir.Compare(LIT, "ne", _byte(var, 0, e.loc), ir.Const(U8, 0), loc=e.loc)
        if not lt.is_int:
            raise self.error(e, f"a condition must be an integer, not {lt}")
        return value

    def unary(self, e: ast.Unary) -> TV:
        loc = e.loc
        if e.op == "!":
            return ir.Not(LIT, self.truth(e.operand), loc=loc), INT64
        if e.op == "&":
            raise self.error(e, "the address-of operator (&) is not supported")
        value, lt = self.int_operand(e.operand, f"unary '{e.op}'")
        t = value.type if isinstance(value.type, IntT) and value.type != LIT else S64
        if e.op == "+":
            return value, lt
        if e.op == "*":
            return ir.ProbeRead(U64, self._as(value, U64), "kernel", loc=loc), UINT64
        op = "neg" if e.op == "-" else "invert"
        assert isinstance(t, IntT)
        return ir.UnOp(t, op, self._as(value, t), loc=loc), LT("int", t.bits, t.signed)

    def incdec(self, e: ast.IncDec, want_value: bool) -> TV:
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
        key = self.map_key(e.target, info)
        self.emit(ir.MapAdd(self.ref(info), key, ir.Const(S64, delta), loc=loc))
        if not want_value:
            return ir.Const(LIT, 0), INT64
        value, lt = self.map_read(e.target)
        if not e.prefix:
            t = value.type if isinstance(value.type, IntT) else S64
            value = ir.BinOp(t, "sub", value, ir.Const(t, delta), loc=loc)
        return value, lt

    def ternary(self, e: ast.Ternary) -> TV:
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

    def cast(self, e: ast.Cast) -> TV:
        value, lt = self.expr(e.operand)
        if e.type_name.endswith("*"):
            if not lt.is_int:
                raise self.error(e, f"cannot cast {lt} to a pointer")
            return self._as(value, U64), LT("ptr", 64, False)
        if e.type_name not in CASTS:
            raise self.error(e, f"unknown type {e.type_name!r} in cast")
        if not lt.is_int:
            raise self.error(e, f"cannot cast {lt} to {e.type_name}")
        bits, signed = CASTS[e.type_name]
        t = IntT(bits, signed)
        if isinstance(value, ir.Const):
            return ir.Const(t, t.wrap(value.value), loc=e.loc), LT("int", bits, signed)
        return ir.Cast(t, value, loc=e.loc), LT("int", bits, signed)

    def tuple(self, e: ast.Tuple) -> TV:
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


def copy_part(part: ir.VarRef, dst: ir.Var, off: int) -> list[ir.Stmt]:
    """Stores that copy part of an aggregate (a tuple member) into dst at `off`."""
    out: list[ir.Stmt] = []
    i = 0
    size = part.type.size
    while i < size:
        w = 8
        while w > 1 and ((off + i) % w or (part.offset + i) % w or i + w > size):
            w //= 2
        t = IntT(w * 8, False)
        src = ir.MemLoad(t, ir.AddrOf(PtrT(t, "stack"), part.var, 0, loc=part.loc),
                         part.offset + i, loc=part.loc)
        out.append(ir.Store(dst, off + i, t, src, loc=part.loc))
        i += w
    return out


__all__ = ["ProbeLowerer", "TV", "U64"]
