"""Kernel types as IR, and the members of kernel structs behind BTF-typed pointers: what
both front ends read when a program follows `task->real_parent->tgid` (one-liners) or
`task.real_parent.tgid` (restricted Python).

A member is read with a probe read at its offset: a scalar (integer, enum, pointer, bitfield)
is its value; an embedded struct, an array or a char array is its address, typed, for the
next field access, index or string read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pybpf.compiler import ir
from pybpf.compiler.errors import Loc
from pybpf.compiler.irtypes import S64, U64, ArrayT, IntT, PtrT, Type, str_type


@dataclass(frozen=True)
class BTFRef(Type):
    """A kernel type behind a pointer, resolved lazily from BTF when a field is accessed."""

    btf_type: Any = field(compare=False, hash=False)

    @property
    def size(self) -> int:
        t = self.btf_type.resolve()
        return getattr(t, "size", 0) or 0

    def __str__(self) -> str:
        return str(self.btf_type)


def btf_to_ir(t: Any, depth: int = 0) -> Type:
    """The IR type of a kernel BTF type (pointers keep their target for field access)."""
    t = t.resolve() if hasattr(t, "resolve") else t
    kind = getattr(t, "kind", "")
    if kind == "int":
        if t.is_bool:
            return IntT(8, False)
        return IntT(t.size * 8, bool(t.signed)) if t.size in (1, 2, 4, 8) else U64
    if kind in ("enum", "enum64"):
        return IntT(t.size * 8, bool(getattr(t, "signed", False))) if t.size in (1, 2, 4, 8) \
            else S64
    if kind == "ptr":
        target = t.target.resolve()
        kind = getattr(target, "kind", "")
        if kind in ("struct", "union"):
            return PtrT(BTFRef(target), "kernel")
        if kind in ("int", "enum", "ptr") and depth < 4:  # pointers to integers / pointers
            return PtrT(btf_to_ir(target, depth + 1), "kernel")
        return PtrT(None, "kernel")
    if kind == "array":
        elem = btf_to_ir(t.elem, depth + 1)
        e = t.elem.resolve()
        if isinstance(elem, IntT) and elem.bits == 8 and (getattr(e, "is_char", False)
                                                          or e.name == "char"):
            return str_type(t.nelems)
        return ArrayT(elem, t.nelems)
    if kind in ("struct", "union"):
        return BTFRef(t)
    return U64


# C's integer names in tracepoint formats, as IR types
C_INTS = {"char": IntT(8, True), "unsigned char": IntT(8, False), "short": IntT(16, True),
          "unsigned short": IntT(16, False), "int": IntT(32, True),
          "unsigned int": IntT(32, False), "long": IntT(64, True),
          "unsigned long": IntT(64, False), "u8": IntT(8, False), "u16": IntT(16, False),
          "u32": IntT(32, False), "u64": U64, "s32": IntT(32, True), "s64": S64,
          "size_t": U64, "pid_t": IntT(32, True), "umode_t": IntT(16, False)}


def c_pointer_type(c_type: str, space: str) -> PtrT:
    """The IR type of a C pointer type from a tracepoint format ("const char *const *argv":
    pointer to pointer to char; "struct __kernel_timespec *": pointer to that BTF struct),
    so that indexing, str() and fields know what they read."""
    depth = c_type.count("*")
    base = " ".join(w for w in c_type.split("*")[0].replace("const", "").split()
                    if w not in ("volatile", "__user")).strip()
    t: Any = C_INTS.get(base)
    if t is None and base.startswith(("struct ", "union ")):
        t = kernel_type(base)
    for _ in range(depth):
        t = PtrT(t, space)
    return t if isinstance(t, PtrT) else PtrT(None, space)


def kernel_type(name: str) -> BTFRef | None:
    """BTFRef of a type of the kernel's BTF ("struct task_struct"); None where there is no
    such type or no BTF."""
    from pybpf.btf import BTFError, kernel_btf

    try:
        return BTFRef(kernel_btf().find(name))
    except (BTFError, KeyError, OSError):
        return None


class MemberError(Exception):
    """ptr->name cannot be read: the message, and a hint (both one line)."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


def struct_of(target: Type | None) -> Any:
    """The BTF struct/union a pointer's target type is (MemberError otherwise)."""
    if not isinstance(target, BTFRef):
        raise MemberError("the pointer's target type is unknown",
                          "Only pointers typed from kernel BTF can be followed: cast it, "
                          "e.g. (struct task_struct *)ptr.")
    t = target.btf_type.resolve()
    if getattr(t, "kind", "") not in ("struct", "union"):
        raise MemberError(f"a {t} has no fields")
    return t


def member(ptr: ir.Expr, target: Type | None, space: str, name: str, loc: Loc
           ) -> tuple[ir.Expr, Type]:
    """ptr->name for a pointer to `target` (a BTFRef of a struct or union) in `space`
    ("kernel", "user"; "btf" for trampoline arguments): the expression and the member's IR
    type. Scalars are read (bitfields shifted and masked); an embedded struct is
    its address typed PtrT(BTFRef, space); an integer array is its address typed
    PtrT(element, space); a char array is its address typed PtrT(char[n], space), for a
    string read of n bytes."""
    from pybpf.btf import BTFError

    struct_t = struct_of(target)
    try:  # through the struct's own BTF: the kernel's, or a script's split BTF on it
        m = struct_t.btf.member(struct_t, name, follow_pointers=False)
    except BTFError as e:
        # BTF's message names the struct's near member names already
        raise MemberError(str(e).split("\n")[0]) from None
    mtype = btf_to_ir(m.type)
    space = "kernel" if space == "btf" else space
    addr = ir.BinOp(PtrT(None, space), "add", ptr, ir.Const(U64, m.offset, loc=loc), loc=loc)
    if isinstance(mtype, IntT | PtrT):
        return ir.ProbeRead(mtype, addr, space, m.bit_offset % 8 if m.bitfield_size else 0,
                            m.bitfield_size or 0, loc=loc), mtype
    if isinstance(mtype, BTFRef):
        return retyped(addr, PtrT(mtype, space)), mtype
    if isinstance(mtype, ArrayT) and (mtype.is_str or isinstance(mtype.elem, IntT | PtrT)):
        return retyped(addr, PtrT(mtype if mtype.is_str else mtype.elem, space)), mtype
    raise MemberError(f"field {name!r} is a {m.type}, which cannot be read yet")


def retyped(e: ir.BinOp, t: Type) -> ir.BinOp:
    """The same address with another pointer type (no code)."""
    return ir.BinOp(t, e.op, e.left, e.right, loc=e.loc)
