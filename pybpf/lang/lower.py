"""AST -> compiler IR, one probe at a time: scratch variables, maps, operators, control flow.
Builtins and functions are in `calls`; program-wide map types in `semantic`."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from pybpf.compiler import ir
from pybpf.compiler.errors import Loc
from pybpf.compiler.irtypes import LIT, S64, U64, IntT, PtrT, Type, str_type
from pybpf.lang import ast
from pybpf.lang import probes as pr
from pybpf.lang.errors import LangError
from pybpf.lang.mapops import MapLowering
from pybpf.lang.operators import OperatorLowering, is_str_literal
from pybpf.lang.semantic import Symbols
from pybpf.lang.types import INT64, LT, UINT64, string, tuple_layout

if TYPE_CHECKING:
    from pybpf.lang.compile import Compiler

TV = tuple[ir.Expr, LT]
WHILE_BOUND = 1000


class ProbeLowerer(MapLowering, OperatorLowering):
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
        return ir.Var(f"__{hint}{next(self.counter)}", t, loc, temp=True)

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
            if isinstance(e, ast.Ternary) and (isinstance(e.then, ast.Call) or
                                               isinstance(e.other, ast.Call)):
                # `cond ? printf(..) : printf(..)` as a statement: an if whose branches are
                # the calls (their values, if any, are not wanted)
                self.stmt(ast.If(e.cond, [ast.ExprStmt(e.then, loc=e.then.loc)],
                                 [ast.ExprStmt(e.other, loc=e.other.loc)], loc=loc))
                return
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
            if n > 100:  # bpftrace's words
                raise self.error(s, "unroll maximum value is 100")
            if n < 1:
                raise self.error(s, "unroll minimum value is 1")
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


    # -- maps --------------------------------------------------------------------------------------


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
