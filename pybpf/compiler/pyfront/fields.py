"""Python syntax -> IR: attribute access (a mixin of the Lowerer): context fields, fields
of local structs and map values, header views of packets, and members of kernel structs
behind BTF-typed pointers (probe reads, or direct loads where the verifier allows them)."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from pybpf.compiler import ir
from pybpf.compiler.irtypes import (
    LIT,
    ArrayT,
    FieldT,
    IntT,
    PtrT,
    StructT,
    Type,
)
from pybpf.compiler.pyfront.aggregates import _storage_var
from pybpf.compiler.pyfront.contexts import BTFRef, btf_to_ir

if TYPE_CHECKING:
    from pybpf.compiler.pyfront.lower import Lowerer


class FieldLowering:
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
            if not f.type.is_scalar:  # m[k].name: the value copied out, then its field
                whole = self.temp(mref.value, node, "value")
                value = ir.Agg(mref.value, whole, [ir.MapCopy(mref, key, whole, loc=loc)],
                               loc=loc)
                return self.field_of(value, node.attr, node)
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
        from pybpf.compiler import kmembers

        loc = self.loc(node)
        try:
            if t.space == "btf":  # a BTF-typed pointer (trampolines): direct loads
                direct = _direct_load(ptr, name, loc)
                if direct is not None:
                    return direct
            value, mtype = kmembers.member(ptr, t.target, t.space, name, loc)
        except kmembers.MemberError as e:
            self.error(node, str(e), e.hint)
        if isinstance(mtype, ArrayT) and mtype.is_str:
            return self.read_string(value, value.type.space, mtype.n, node)
        return value

    def struct_field(self: Lowerer, t: Type, name: str, node: ast.AST) -> FieldT:
        if not isinstance(t, StructT):
            self.error(node, f"a {t} value has no fields")
        f = t.field(name)
        if f is None:
            self.error(node, f"{t} has no field {name!r}",
                       self.suggest(name, [x.name for x in t.fields]))
        return f


def _direct_load(ptr: ir.Expr, name: str, loc: ir.Loc) -> ir.Expr | None:
    """ptr->name as a direct load, for BTF-typed pointers whose scalar members the verifier
    lets a program load (trampoline arguments); None for the others."""
    from pybpf.btf import BTFError, kernel_btf
    from pybpf.compiler import kmembers

    try:
        assert isinstance(ptr.type, PtrT)
        m = kernel_btf().member(kmembers.struct_of(ptr.type.target), name,
                                follow_pointers=False)
    except BTFError:
        return None  # kmembers.member words the error
    mtype = btf_to_ir(m.type)
    if isinstance(mtype, PtrT) and isinstance(mtype.target, BTFRef):
        mtype = PtrT(mtype.target, "btf")
    if isinstance(mtype, IntT | PtrT) and not m.bitfield_size:
        return ir.MemLoad(mtype, ptr, m.offset, loc=loc)
    return None
