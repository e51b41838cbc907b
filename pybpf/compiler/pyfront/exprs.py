"""Python syntax -> IR: expressions (a mixin of the Lowerer)."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from pybpf.compiler import intrinsics, ir
from pybpf.compiler.irtypes import (
    INTS,
    LIT,
    S64,
    U64,
    ArrayT,
    FieldT,
    IntT,
    LitT,
    PtrT,
    StructT,
    Type,
    common,
    from_ctypes,
    from_spec,
)
from pybpf.compiler.pyfront.contexts import BTFRef, btf_to_ir

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
        self.error(node, f"expected a {t} value, got {e.type}")

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
        t = common(a.type, b.type)  # type: ignore[arg-type]
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
        else:
            left = self.expr(node.left)
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
                right = self.expr(right_node)
                test = self.compare(name, left, right, node)
            result = test if result is None else ir.Logic(LIT, "and", result, test, loc=loc)
            left = right
        assert result is not None
        return result

    def compare(self: Lowerer, op: str, a: ir.Expr, b: ir.Expr, node: ast.AST) -> ir.Expr:
        loc = self.loc(node)
        if isinstance(a.type, ArrayT) or isinstance(b.type, ArrayT):
            self.error(node, "strings and arrays cannot be compared yet",
                       "Compare integer fields, or filter in user space.")
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

    # -- attributes and subscripts ------------------------------------------------------------
    def e_Attribute(self: Lowerer, node: ast.Attribute) -> ir.Expr:
        loc = self.loc(node)
        base = node.value
        if isinstance(base, ast.Name) and base.id == self.ctx_name and base.id not in self.vars:
            return self.context.field(node.attr, loc)
        if isinstance(base, ast.Name) and base.id not in self.vars \
                and base.id != self.ctx_name:
            value = self.static_value(node)
            if isinstance(value, bool | int):
                return ir.Const(LIT, int(value), loc=loc)
            self.error(node, f"{ast.unparse(node)!r} cannot be used as a value")
        if isinstance(base, ast.Subscript) and self.is_map(base.value):
            mref = self.map_ref(base.value)
            f = self.struct_field(mref.value, node.attr, node)
            key = self.map_key(mref, base.slice)
            return ir.MapGet(f.type, mref, key, ir.Const(f.type, 0), f.offset, loc=loc)
        obj = self.expr(base)
        return self.field_of(obj, node.attr, node)

    def field_of(self: Lowerer, obj: ir.Expr, name: str, node: ast.AST) -> ir.Expr:
        loc = self.loc(node)
        t = obj.type
        if isinstance(t, StructT) and isinstance(obj, ir.VarRef | ir.Agg):
            f = self.struct_field(t, name, node)
            addr = ir.AddrOf(PtrT(f.type, "stack"), _storage_var(obj), 0, loc=loc)
            if f.type.is_scalar:
                load = ir.MemLoad(f.type, addr, f.offset, loc=loc)
                if isinstance(obj, ir.Agg):  # build the struct where it stands, then read
                    res = self.temp(f.type, node, "field")
                    return ir.Inline(f.type, [*obj.init, ir.Assign(res, load, loc=loc)], res,
                                     loc=loc)
                return load
            var = self.temp(f.type, node, name)  # a string/array field: copied out
            init = list(obj.init) if isinstance(obj, ir.Agg) else []
            init.append(ir.StackCopy(var, 0, _storage_var(obj), f.offset, f.type.size,
                                     loc=loc))
            return ir.Agg(f.type, var, init, loc=loc)
        if isinstance(t, PtrT) and t.space in ("kernel", "user", "btf"):
            return self.kernel_field(obj, name, node)
        if isinstance(t, PtrT) and t.space == "packet" and isinstance(t.target, StructT):
            return self.packet_field(obj, name, node)
        self.error(node, f"a {t} value has no field {name!r}")

    def known_nonnull(self: Lowerer, e: ir.Expr) -> bool:
        """Whether a header view is known not to be None here (after `if not v: return`)."""
        return isinstance(e, ir.Load) and id(e.var) in self.nonnull

    def packet_field(self: Lowerer, ptr: ir.Expr, name: str, node: ast.AST) -> ir.Expr:
        """A field of a header view: read directly from the packet (0 from a None view)."""
        assert isinstance(ptr.type, PtrT) and isinstance(ptr.type.target, StructT)
        f = self.struct_field(ptr.type.target, name, node)
        loc = self.loc(node)
        if f.type.is_scalar:
            return ir.MemLoad(f.type, ptr, f.offset, f.bit_offset, f.bit_size,
                              checked=not self.known_nonnull(ptr), loc=loc)
        var = self.temp(f.type, node, name)
        return ir.Agg(f.type, var, [ir.PktCopy(var, 0, ptr, f.offset, f.type.size, loc=loc)],
                      loc=loc)

    def kernel_field(self: Lowerer, ptr: ir.Expr, name: str, node: ast.AST) -> ir.Expr:
        """ptr->name for a BTF-typed kernel pointer: a probe read at the member's offset."""
        t = ptr.type
        assert isinstance(t, PtrT)
        target = t.target
        if not isinstance(target, BTFRef):
            self.error(node, f"cannot read field {name!r}: the pointer's target type is "
                             "unknown", "Only pointers typed from kernel BTF can be followed.")
        from pybpf.btf import BTFError, kernel_btf

        struct_t = target.btf_type.resolve()
        try:
            member = kernel_btf().member(struct_t, name, follow_pointers=False)
        except BTFError as e:
            self.error(node, str(e).split("\n")[0])
        mtype = btf_to_ir(member.type)
        if t.space == "btf":  # a BTF-typed pointer (trampolines): direct loads
            if isinstance(mtype, PtrT) and isinstance(mtype.target, BTFRef):
                mtype = PtrT(mtype.target, "btf")
            if isinstance(mtype, IntT | PtrT) and not member.bitfield_size:
                return ir.MemLoad(mtype, ptr, member.offset, loc=self.loc(node))
        addr = ir.BinOp(PtrT(None, t.space), "add", ptr, ir.Const(U64, member.offset),
                        loc=self.loc(node))
        space = "kernel" if t.space == "btf" else t.space
        if isinstance(mtype, IntT | PtrT):
            return ir.ProbeRead(mtype, addr, space, member.bit_offset if member.bitfield_size
                                else 0, member.bitfield_size or 0, loc=self.loc(node))
        if isinstance(mtype, BTFRef):  # an embedded struct: its address, typed
            return _retype(addr, PtrT(mtype, t.space))
        if isinstance(mtype, ArrayT) and mtype.is_str:
            return self.read_string(addr, space, mtype.n, node)
        if isinstance(mtype, ArrayT) and isinstance(mtype.elem, IntT | PtrT):
            # an array member is its address (as in C): index it, e.g. u6_addr32[3]
            return _retype(addr, PtrT(mtype.elem, space))
        self.error(node, f"field {name!r} is a {mtype}, which cannot be read yet")

    def struct_field(self: Lowerer, t: Type, name: str, node: ast.AST) -> FieldT:
        if not isinstance(t, StructT):
            self.error(node, f"a {t} value has no fields")
        f = t.field(name)
        if f is None:
            self.error(node, f"{t} has no field {name!r}",
                       self.suggest(name, [x.name for x in t.fields]))
        return f

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
        self.error(node, f"a {base.type} value cannot be indexed")

    # -- maps -------------------------------------------------------------------------------
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
        self.error(node, f"expected a {t} value, got {e.type}")

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

    # -- calls --------------------------------------------------------------------------------
    def e_Call(self: Lowerer, node: ast.Call) -> ir.Expr:
        from pybpf.compiler.pyfront.calls import lower_call

        return lower_call(self, node)

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


def _storage_var(e: ir.Expr) -> ir.Var:
    assert isinstance(e, ir.VarRef | ir.Agg)
    return e.var


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
