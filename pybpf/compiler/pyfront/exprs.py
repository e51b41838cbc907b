"""Python syntax -> IR: expressions (a mixin of the Lowerer): names, constants, operators,
comparisons, conditional expressions, subscripts, calls. Attribute access is in `fields`,
values in stack memory (strings, tuples, map keys) in `aggregates`."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from pybpf.compiler import ir
from pybpf.compiler.irtypes import (
    LIT,
    S64,
    U64,
    ArrayT,
    IntT,
    LitT,
    PtrT,
    StructT,
    Type,
    binop_type,
    common,
    from_ctypes,
    is_tuple,
)
from pybpf.compiler.pyfront.strings import is_string, literal_bytes

if TYPE_CHECKING:
    from pybpf.compiler.pyfront.lower import Lowerer

_BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.FloorDiv: "div",
           ast.Mod: "mod", ast.BitAnd: "and", ast.BitOr: "or", ast.BitXor: "xor",
           ast.LShift: "shl", ast.RShift: "shr"}
_CMPOPS = {ast.Eq: "eq", ast.NotEq: "ne", ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt",
           ast.GtE: "ge"}
_FOLD = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
         "and": lambda a, b: a & b, "or": lambda a, b: a | b, "xor": lambda a, b: a ^ b}
_UNSUPPORTED_EXPR = {
    ast.Lambda: "lambdas cannot be compiled",
    ast.ListComp: "list comprehensions cannot be compiled (no heap in BPF)",
    ast.DictComp: "dict comprehensions cannot be compiled (no heap in BPF); use a map",
    ast.SetComp: "set comprehensions cannot be compiled (no heap in BPF)",
    ast.GeneratorExp: "generators cannot be compiled",
    ast.List: "lists cannot be compiled (no heap in BPF); use a fixed array variable or a map",
    ast.Dict: "dicts cannot be compiled (no heap in BPF); use a map",
    ast.Set: "sets cannot be compiled (no heap in BPF); use a map",
    ast.JoinedStr: "f-strings cannot be compiled; format in user space",
    ast.Await: "await cannot be compiled",
    ast.Yield: "generators cannot be compiled",
    ast.Starred: "*args cannot be compiled",
    ast.NamedExpr: "`:=` is not supported",
}


class ExprLowering:
    pending_stmts: list[ir.Stmt]

    def pending(self: Lowerer) -> list[ir.Stmt]:
        out = getattr(self, "pending_stmts", [])
        self.pending_stmts = []
        return out

    # -- entry ------------------------------------------------------------------------------
    def expr(self: Lowerer, node: ast.expr) -> ir.Expr:
        method = getattr(self, "e_" + type(node).__name__, None)
        if method is None:
            reason = _UNSUPPORTED_EXPR.get(type(node), f"{type(node).__name__} expressions "
                                                       "cannot be compiled")
            self.error(node, reason)
        return method(node)

    def condition(self: Lowerer, node: ast.expr) -> ir.Expr:
        e = self.expr(node)
        if not isinstance(e.type, IntT | PtrT):
            self.error(node, f"a {e.type} value cannot be used as a condition")
        return e

    def static_value(self: Lowerer, node: ast.expr) -> Any:
        """The compile-time Python value of a name or dotted name (types, maps, modules)."""
        if isinstance(node, ast.Name):
            if node.id in self.bound:
                return self.bound[node.id]
            if node.id in self.src.env:
                return self.src.env[node.id]
            import builtins

            if hasattr(builtins, node.id):
                return getattr(builtins, node.id)
            known = _pybpf_names()
            if node.id in known:  # e.g. `u64` imported inside a function, used in annotations
                return known[node.id]
            self.error(node, f"unknown name {node.id!r}",
                       self.suggest(node.id, [*self.vars, *self.src.env]))
        if isinstance(node, ast.Attribute):
            base = self.static_value(node.value)
            if not hasattr(base, node.attr):
                self.error(node, f"{ast.unparse(node.value)!r} has no attribute {node.attr!r}")
            return getattr(base, node.attr)
        if isinstance(node, ast.Constant):
            return node.value
        self.error(node, f"{ast.unparse(node)!r} must be known at compile time")

    # -- conversions ------------------------------------------------------------------------
    def convert(self: Lowerer, e: ir.Expr, t: Type, node: ast.AST) -> ir.Expr:
        if e.type == t:
            return e
        if isinstance(t, IntT | PtrT) and isinstance(e.type, IntT | PtrT):
            if isinstance(e, ir.Const) and isinstance(t, IntT):
                return ir.Const(t, e.value if isinstance(t, LitT) else t.wrap(e.value),
                                loc=e.loc)
            if isinstance(t, PtrT) or isinstance(e.type, PtrT):
                return ir.Cast(t, e, loc=e.loc) if isinstance(t, IntT) else _retype(e, t)
            return ir.Cast(t, e, loc=e.loc)
        self.error(node, f"expected a {t} value, got {e.type}", mismatch_hint(t, e.type))

    # -- leaves -----------------------------------------------------------------------------
    def e_Constant(self: Lowerer, node: ast.Constant) -> ir.Expr:
        v = node.value
        if isinstance(v, bool):
            return ir.Const(LIT, int(v), loc=self.loc(node))
        if isinstance(v, int):
            if not -2**63 <= v < 2**64:
                self.error(node, f"{v} does not fit in 64 bits")
            return ir.Const(LIT, v, loc=self.loc(node))
        if isinstance(v, float):
            self.error(node, "floating point cannot be compiled: BPF has integers only",
                       "Scale to integers (e.g. nanoseconds, or value * 1000).")
        if isinstance(v, str | bytes):
            return self.string_const(v, node)
        if v is None:
            self.error(node, "None cannot be compiled; use 0")
        self.error(node, f"{type(v).__name__} constants cannot be compiled")


    def e_Name(self: Lowerer, node: ast.Name) -> ir.Expr:
        loc = self.loc(node)
        var = self.vars.get(node.id)
        if var is not None:
            if var.type.is_scalar:
                return ir.Load(var.type, var, loc=loc)
            return ir.VarRef(var.type, var, loc=loc)
        if node.id == self.ctx_name:
            return ir.CtxPtr(PtrT(None, "ctx"), loc=loc)
        if self.bound_tuple(node) is not None:
            self.error(node, f"{node.id!r} is a tuple: it can only be used in a map key "
                             f"(m[{node.id}] or m[{node.id}, x])")
        value = self.static_value(node)
        if isinstance(value, bool | int):
            return ir.Const(LIT, int(value), loc=loc)
        if isinstance(value, str | bytes):
            return self.string_const(value, node)
        if self.is_map_value(value):
            self.error(node, f"map {node.id!r} cannot be used as a value",
                       f"Index it ({node.id}[key]) or call its methods.")
        self.error(node, f"{node.id!r} is a {type(value).__name__}, which cannot be used in a "
                         "compiled program", "Use integers, strings, maps and helpers.")

    # -- operators --------------------------------------------------------------------------
    def binop_name(self: Lowerer, op: ast.operator, node: ast.AST) -> str:
        name = _BINOPS.get(type(op))
        if name is None:
            hint = "Use // for integer division." if isinstance(op, ast.Div) else ""
            self.error(node, f"operator {type(op).__name__} cannot be compiled "
                             "(integers only)", hint)
        return name

    def e_BinOp(self: Lowerer, node: ast.BinOp) -> ir.Expr:
        if isinstance(node.op, ast.Pow):
            from pybpf.compiler.pyfront.constcalls import lower_power

            return lower_power(self, node)
        op = self.binop_name(node.op, node)
        a, b = self.expr(node.left), self.expr(node.right)
        return self.arith(op, a, b, node)

    def arith(self: Lowerer, op: str, a: ir.Expr, b: ir.Expr, node: ast.AST) -> ir.Expr:
        loc = self.loc(node)
        if isinstance(a.type, PtrT) and isinstance(b.type, IntT) and op in ("add", "sub"):
            return ir.BinOp(PtrT(None, a.type.space), op, a, self.convert(b, U64, node),
                            loc=loc)
        for side in (a, b):
            if not isinstance(side.type, IntT):
                self.error(node, f"cannot compute with a {side.type} value")
        t = binop_type(op, a.type, b.type)  # type: ignore[arg-type]
        # an untyped constant must fit the type it is given: its bits (sums and masks wrap
        # alike either way), and for a signed division its range (2**64 - 1 is not -1 there)
        ranged = t.signed and op in ("div", "mod") if isinstance(t, IntT) else False
        for side in (a, b):
            if isinstance(side, ir.Const) and isinstance(side.type, LitT) and \
                    not isinstance(t, LitT) and op not in ("shl", "shr") and \
                    side.value > (t.mask >> 1 if ranged else t.mask):
                self.error(node, f"the constant {side.value} does not fit in {t}, the type of "
                                 "the other operand",
                           f"Widen the other operand first, e.g. u64(x) {_OPSYM.get(op, op)} "
                           f"{side.value}.")
        if isinstance(a, ir.Const) and isinstance(b, ir.Const):
            value = _fold(op, a.value, b.value, t)
            if value is not None:
                return ir.Const(t, value, loc=loc)
        return ir.BinOp(t, op, self.convert(a, t, node), self.convert(b, t, node), loc=loc)

    def e_UnaryOp(self: Lowerer, node: ast.UnaryOp) -> ir.Expr:
        loc = self.loc(node)
        e = self.expr(node.operand)
        if isinstance(node.op, ast.Not):
            if not isinstance(e.type, IntT | PtrT):
                self.error(node, f"`not` needs an integer, not a {e.type} value")
            if isinstance(e, ir.Const):
                return ir.Const(LIT, int(not e.value), loc=loc)
            return ir.Not(LIT, e, loc=loc)
        if not isinstance(e.type, IntT):
            self.error(node, f"cannot apply {type(node.op).__name__} to a {e.type} value")
        if isinstance(node.op, ast.UAdd):
            return e
        if isinstance(e, ir.Const):
            v = -e.value if isinstance(node.op, ast.USub) else ~e.value
            if isinstance(e.type, LitT) and not -2**63 <= v < 2**64:
                self.error(node, f"{v} does not fit in 64 bits")
            return ir.Const(e.type, v if isinstance(e.type, LitT) else e.type.wrap(v), loc=loc)
        return ir.UnOp(e.type, "neg" if isinstance(node.op, ast.USub) else "invert", e, loc=loc)

    def e_BoolOp(self: Lowerer, node: ast.BoolOp) -> ir.Expr:
        op = "and" if isinstance(node.op, ast.And) else "or"
        values = [self.condition(v) for v in node.values]
        result = values[0]
        for v in values[1:]:
            result = ir.Logic(LIT, op, result, v, loc=self.loc(node))
        return result

    def e_Compare(self: Lowerer, node: ast.Compare) -> ir.Expr:
        loc = self.loc(node)
        if isinstance(node.left, ast.Tuple) and len(node.ops) == 1 and \
                isinstance(node.ops[0], ast.In | ast.NotIn):
            left: ir.Expr = ir.Const(LIT, 0)  # the tuple is built as the map key below
            left_lit = None
        else:
            left_lit = literal_bytes(node.left, self)
            left = ir.Const(LIT, 0) if left_lit is not None else self.expr(node.left)
        result: ir.Expr | None = None
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                if not self.is_map(right_node):
                    self.error(node, "`in` works with maps only (key in m)")
                mref = self.map_ref(right_node)
                key = self.map_key(mref, node.left) if isinstance(node.left, ast.Tuple) \
                    else self.map_key_expr(mref, left, node)
                test: ir.Expr = ir.MapHas(LIT, mref, key, loc=loc)
                if isinstance(op, ast.NotIn):
                    test = ir.Not(LIT, test, loc=loc)
                right = left
            else:
                name = _CMPOPS.get(type(op))
                if name is None:
                    self.error(node, f"comparison {type(op).__name__} cannot be compiled",
                               "Compare integers with == != < <= > >=.")
                right_lit = literal_bytes(right_node, self)
                right = ir.Const(LIT, 0) if right_lit is not None else self.expr(right_node)
                if left_lit is not None or right_lit is not None or is_string(left) or \
                        is_string(right):
                    test = self.string_compare(name, left, right, left_lit, right_lit, node)
                else:
                    test = self.compare(name, left, right, node)
                left_lit = right_lit
            result = test if result is None else ir.Logic(LIT, "and", result, test, loc=loc)
            left = right
        assert result is not None
        return result

    def compare(self: Lowerer, op: str, a: ir.Expr, b: ir.Expr, node: ast.AST) -> ir.Expr:
        loc = self.loc(node)
        if isinstance(a.type, ArrayT) or isinstance(b.type, ArrayT):
            self.error(node, f"cannot compare {a.type} with {b.type}",
                       "Strings compare with == and != (comm() == \"nginx\"); compare "
                       "arrays element by element.")
        if isinstance(a.type, PtrT) or isinstance(b.type, PtrT):
            return ir.Compare(LIT, op, self.convert(a, U64, node), self.convert(b, U64, node),
                              False, loc=loc)
        if not isinstance(a.type, IntT) or not isinstance(b.type, IntT):
            self.error(node, f"cannot compare {a.type} with {b.type}")
        t = common(a.type, b.type)
        if isinstance(a, ir.Const) and isinstance(b, ir.Const):
            x, y = (a.value, b.value) if isinstance(t, LitT) else (t.wrap(a.value),
                                                                   t.wrap(b.value))
            return ir.Const(LIT, int(_CMP[op](x, y)), loc=loc)
        if isinstance(a, ir.Const) and not isinstance(b, ir.Const):  # constant on the right
            a, b, op = b, a, _SWAP[op]
        return ir.Compare(LIT, op, self.convert(a, t, node), self.convert(b, t, node),
                          t.signed, loc=loc)

    def e_IfExp(self: Lowerer, node: ast.IfExp) -> ir.Expr:
        cond = self.condition(node.test)
        a, b = self.expr(node.body), self.expr(node.orelse)
        if not isinstance(a.type, IntT) or not isinstance(b.type, IntT):
            self.error(node, "conditional expressions must give integers")
        t = common(a.type, b.type)
        if isinstance(t, LitT) and not isinstance(cond, ir.Const):
            # a value known only at run time has a machine type: s64 unless a side needs u64
            big = any(isinstance(x, ir.Const) and x.value > S64.mask >> 1 for x in (a, b))
            t = U64 if big else S64
        # the type of every conditional expression by place, for the Python reference run
        loc = self.loc(node)
        self.cond_types[(loc.file, loc.line, loc.col)] = t
        if isinstance(cond, ir.Const):
            return self.convert(a if cond.value else b, t, node)
        return ir.Cond(t, cond, self.convert(a, t, node), self.convert(b, t, node),
                       loc=self.loc(node))

    # -- subscripts (attributes are in `fields`, tuples and map keys in `aggregates`) -------
    def e_Subscript(self: Lowerer, node: ast.Subscript) -> ir.Expr:
        loc = self.loc(node)
        if self.is_map(node.value):
            mref = self.map_ref(node.value)
            if mref.kind in ("ringbuf", "perf_event_array"):
                self.error(node, f"a {mref.kind} map cannot be read in the kernel")
            key = self.map_key(mref, node.slice)
            if not mref.value.is_scalar:  # a string or struct: copied out (zeros if absent)
                var = self.temp(mref.value, node, "value")
                return ir.Agg(mref.value, var, [ir.MapCopy(mref, key, var, loc=loc)], loc=loc)
            return ir.MapGet(mref.value, mref, key, ir.Const(mref.value, 0), loc=loc)
        base = self.expr(node.value)
        index = self.expr(node.slice)
        if isinstance(base, ir.CtxArray):
            if not isinstance(index, ir.Const):
                self.error(node.slice, "context arrays take constant indices")
            at = base.type
            assert isinstance(at, ArrayT)
            if not 0 <= index.value < at.n:
                self.error(node.slice, f"index {index.value} is out of range 0..{at.n - 1}")
            return ir.CtxLoad(at.elem, base.offset + index.value * at.elem.size,
                              at.elem.size, loc=loc)
        if isinstance(base.type, PtrT) and base.type.space in ("user", "kernel"):
            elem = base.type.target
            if not isinstance(elem, IntT | PtrT):
                self.error(node, f"a {base.type} pointer cannot be indexed: its target type "
                                 "is unknown", "Index pointers to integers or pointers, or "
                                               "read with str(ptr).")
            addr = ir.BinOp(PtrT(None, base.type.space), "add", base,
                            ir.BinOp(U64, "mul", self.convert(index, U64, node.slice),
                                     ir.Const(U64, elem.size), loc=loc), loc=loc)
            return ir.ProbeRead(elem, addr, base.type.space, loc=loc)
        if isinstance(base.type, ArrayT) and isinstance(base, ir.VarRef):
            elem = base.type.elem
            if isinstance(index, ir.Const):
                if not 0 <= index.value < base.type.n:
                    self.error(node.slice, f"index {index.value} is out of range for "
                                           f"{base.type}")
                addr = ir.AddrOf(PtrT(elem, "stack"), base.var, 0, loc=loc)
                return ir.MemLoad(elem, addr, index.value * elem.size, loc=loc)
            return ir.LoadIndex(elem, base.var, self.convert(index, U64, node.slice), loc=loc)
        if is_tuple(base.type) and isinstance(base, ir.VarRef | ir.Agg):
            assert isinstance(base.type, StructT)
            n = len(base.type.fields)
            if not isinstance(index, ir.Const) or not -n <= index.value < n:
                self.error(node.slice, f"a tuple of {n} is indexed by a constant in "
                                       f"{-n}..{n - 1}")
            return self.field_of(base, f"f{index.value % n}", node)
        self.error(node, f"a {base.type} value cannot be indexed")

    # -- calls --------------------------------------------------------------------------------
    def e_Call(self: Lowerer, node: ast.Call) -> ir.Expr:
        from pybpf.compiler.pyfront.calls import lower_call

        return lower_call(self, node)


def _pybpf_names() -> dict[str, Any]:
    """pybpf's own type names and helpers, found even when imported only inside a function
    (string annotations do not make closure variables)."""
    from pybpf import net, types
    from pybpf.compiler import runtime

    names: dict[str, Any] = {n: getattr(types, n) for n in
                             ("u8", "u16", "u32", "u64", "s8", "s16", "s32", "s64", "char")}
    names.update(runtime.BUILTIN_FUNCTIONS)
    names["net"] = net
    return names


def _retype(e: ir.Expr, t: Type) -> ir.Expr:
    """The same expression with another pointer type (no code)."""
    if isinstance(e, ir.BinOp):
        return ir.BinOp(t, e.op, e.left, e.right, loc=e.loc)
    if isinstance(e, ir.CtxLoad):
        return ir.CtxLoad(t, e.offset, e.size, loc=e.loc)
    if isinstance(e, ir.Call):
        return ir.Call(t, e.helper, e.args, loc=e.loc)
    if isinstance(e, ir.Load):
        return ir.Load(t, e.var, loc=e.loc)
    if isinstance(e, ir.ProbeRead):
        return ir.ProbeRead(t, e.addr, e.space, loc=e.loc)
    return ir.Cast(t, e, loc=e.loc)


def _fold(op: str, a: int, b: int, t: IntT) -> int | None:
    """Constant folding with the run-time semantics (wrap, BPF division)."""
    if not isinstance(t, LitT):
        a, b = t.wrap(a), t.wrap(b)
    if op in _FOLD:
        v = _FOLD[op](a, b)
    elif op in ("div", "mod"):
        if b == 0:
            v = 0 if op == "div" else a
        else:
            q = abs(a) // abs(b)
            if (a < 0) != (b < 0):
                q = -q
            v = q if op == "div" else a - q * b
    elif op in ("shl", "shr"):
        bits = 64 if isinstance(t, LitT) else (64 if t.bits == 64 else 32)
        b &= bits - 1
        if op == "shl":
            v = a << b
        else:
            v = a >> b if (t.signed or a >= 0) else (a & t.mask) >> b
    else:
        return None
    if isinstance(t, LitT):
        return v if -2**63 <= v < 2**64 else None
    return t.wrap(v)


_OPSYM = {"add": "+", "sub": "-", "mul": "*", "div": "//", "mod": "%", "and": "&", "or": "|",
          "xor": "^"}
_CMP = {"eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b,
        "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b}
_SWAP = {"eq": "eq", "ne": "ne", "lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}

__all__ = ["ExprLowering", "from_ctypes"]


def mismatch_hint(want: Type, have: Type) -> str:
    """What to write when a value of type `have` stands where `want` is expected."""
    if isinstance(want, ArrayT) and want.is_str and isinstance(have, PtrT | IntT):
        # a __data_loc field or a char * is an address: the string is read from it
        return f"Read the string it points to: str(p, {want.n})."
    return ""
